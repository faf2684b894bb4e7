// The vendor seam of invalidation (docs/model.md §5, §9; docs/architecture.md).
//
// invalidator.ts decides *when* invalidations happen: the gather of an
// unmap's chunks and its syncs (strict), the per-domain flush queue and its
// timeout (lazy), `flush` ops, and the teardown of an attachment. A Vendor
// decides *what is sent* then: which commands, over which cover, with which
// waits, on which tags, and which IDs those tags are made of (VT-d's DIDs per
// instance; AMD's domain IDs and SMMUv3's ASIDs would be one space for every
// instance). VT-d (vtd.ts) is the first vendor; a second is one file that
// implements Vendor, and one line in VENDORS (vendors.ts).
//
// Invalidation imports nothing from the model: what it sees of the replay's
// state is InvalidationTarget, which the model implements.
import type { Iotlb } from '../caches/iotlb.js';
import type { ReplayConfig } from '../config/config.js';
import type { SetAssocTable } from '../caches/table.js';
import type { MemoryBudget } from '../config/limits.js';
import type { Counters } from '../stats/counters.js';

/** What invalidation sees of the replay's state (model/ implements it). */
export interface InvalidationTarget {
  readonly counters: Counters;
  readonly iotlbs: Iotlb[];
  /** Per instance, its walk caches (one per non-leaf level); empty when off. */
  readonly walkCaches: SetAssocTable[][];
  /** Per device slot: its device TLB, or null. */
  readonly devtlbs: (SetAssocTable | null)[];
  readonly deviceInstance: Int32Array;
  /** Per domain slot: its type's code (trace/domain-codes.ts). */
  readonly domainType: Uint8Array;
  readonly domainTraceId: Float64Array;
  /** Per domain slot: the attachment slots attached to it. */
  readonly domainAttachments: number[][];
  /** Per attachment slot: its device slot. */
  readonly attDevice: Int32Array;
  /**
   * Per attachment slot: the IOTLB tag its vendor gave it (Vendor.attachTag)
   * while attached; its device-TLB tag is the slot itself.
   */
  readonly attTag: Int32Array;
  /** Per domain slot: the nested domains over it (empty unless it is a parent, docs/model.md §8). */
  readonly domainNested: number[][];
  /** Per domain slot: 1 when its unmaps are synced in lazy mode too (a parent, §8; an SVA domain, §5): it has no flush queue. */
  readonly domainAlwaysStrict: Uint8Array;
  /** Per domain slot: the instance whose bitmap a paging domain took at its first use (§2), -1 before; an SVA domain's is the SVA set. */
  readonly domainSizes: Int16Array;
}

/** What a vendor is built with. */
export interface VendorOptions {
  /** Instances (IOMMUs) of the topology. */
  instances: number;
  /** The configuration's `domainIds`: VT-d's DID space per instance (§2). */
  domainIds: number;
  /** Largest page-selective mask (§5); VT-d's, as other vendors have no such limit. */
  maxInvalidationMask: number;
  /** The page table's granule (log2 of 4 KiB pages; one format a configuration, §9.2): SMMUv3's range commands count granules. */
  granuleOrder?: number;
  /** What the model's state may hold (--max-table-memory): ID spaces and the IDs in use are charged to it. */
  budget?: MemoryBudget;
  /** The instances' names, for the memory-limit line. */
  instanceNames?: string[];
  /** The configuration's `amd` block (§9.4). */
  amd: ReplayConfig['amd'];
  /** The configuration's `smmu` block (§9.4). */
  smmu: ReplayConfig['smmu'];
  /** Take the general command path even where a shortcut for a common case exists: the reference the shortcuts are tested against. */
  generic?: boolean;
}

/**
 * What a vendor sends (§9.3) and how it tags (§9.1). Counters: every command
 * is counted under one of §5's kinds (M.cmdPage, M.cmdDomain, M.cmdDevtlb,
 * M.cmdWait) in the domain's counters, so that vendors compare line by line;
 * a vendor's own command names would be counted beside them.
 */
export interface Vendor {
  /**
   * Whether an unmap gathers each removed leaf with its own size (io-pgtable-arm's
   * `io_pgtable_tlb_add_page()`, §9.3) rather than each chunk with its length (§5).
   */
  readonly gathersLeaves?: boolean;

  /**
   * For a vendor whose IOTLB entries outlive the attachments that filled them
   * (SMMUv3: no TLBI at teardown, the domain keeps its ASID): every (instance,
   * tag) the domain's entries may still carry, flat as [instance, tag, ...],
   * so that an unmap marks them all. Absent: the attachments' tags (a
   * teardown removes everything else).
   */
  readonly keptTags?: (domain: number) => readonly number[];

  ensureDomains(n: number): void;

  // ---- tags and IDs (§2, §9.1)

  /**
   * The IOTLB tag of `domain` (its slot and type code) attached at (instance,
   * pasid), taking an ID for it when it needs one there; -1 when none is
   * free (ENOSPC: the attach fails and nothing changes). Called before the
   * previous domain of that attachment is released.
   */
  attachTag(domain: number, type: number, instance: number, pasid: number): number;
  /** `domain` lost an attachment on `instance` (after its teardown): what attachTag took goes back when the vendor's rules say so. */
  detached(domain: number, type: number, instance: number): void;

  // ---- what is sent

  /**
   * Whether chunk [start, end) (pfns) of `len` pages cannot join the gather
   * [gStart, gEnd) of chunks of `gLen` pages, which is synced first (Linux
   * iommu_iotlb_gather_add_page, or the vendor's own gather).
   */
  gatherBreaks(gStart: number, gEnd: number, gLen: number, start: number, end: number, len: number): boolean;
  /**
   * The commands of a sync of `domain`'s gathered pfn range [start, end) (§5;
   * on a parent, §8's S2 sync), whose gathered unit (a chunk's length, or under
   * gathersLeaves the leaves' size) is `gatherLen` pfns. Not counted in
   * `syncs`: the caller counts.
   */
  sync(domain: number, start: number, end: number, nowNs: number, gatherLen: number): void;
  /**
   * A strict sync of pfns [start, end) of `domain`, 4K leaves just unmapped
   * whose IOTLB entries are not yet marked unmapped (Iotlb markUnmapped):
   * sync's commands, each marking the entries as it removes them (one search
   * of the IOTLB, removal.ts Removal.range). Returns false, having done
   * nothing, when the vendor's commands would not remove every entry the
   * marks stamp (VT-d: a nested domain over it) or under `generic`: the
   * caller marks and syncs. Vendors without it leave it out.
   */
  syncUnmapped?(domain: number, start: number, end: number, nowNs: number): boolean;
  /**
   * The commands of a table entry's walk flush at unmap, at once and in either
   * mode (io-pgtable-arm `io_pgtable_tlb_flush_walk()`, §9.3 smmuv3): pfns
   * [start, end) are the cleared table's span. Vendors without it leave it out.
   */
  flushWalk?(domain: number, start: number, end: number, nowNs: number): void;
  /**
   * The commands that follow a map of pfns [start, end) of `domain`, for a
   * vendor whose maps send some (AMD with NpCache: Linux
   * `amd_iommu_iotlb_sync_map()`); absent when maps send nothing (§9.3).
   */
  readonly mapped?: (domain: number, start: number, end: number, nowNs: number) => void;
  /** The commands of a domain-wide flush (`flush_iotlb_all`: the flush queue, `flush` ops). Not counted in `flushes`: the caller counts. */
  flushDomain(domain: number, nowNs: number): void;
  /** The commands of the teardown of `domain`'s attachment `att`, whose IOTLB tag was `tag` (§2), with whatever it counts. */
  teardown(domain: number, att: number, tag: number, nowNs: number): void;
}
