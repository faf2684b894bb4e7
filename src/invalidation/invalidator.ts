// The invalidation model's *when* (docs/model.md §5 and the teardown of §2):
// the gather of an unmap's chunks and its syncs (strict), lazy mode's
// per-domain flush queue and its timeout, `flush` ops and teardowns. What
// each of them sends, on which tags, is the vendor's (vendor.ts; VT-d in
// vtd.ts); the caches it removes entries from are the target's.
import { M, DOMAIN_FIELDS } from '../stats/counters.js';
import type { InvalidationMode, ReplayConfig } from '../config/config.js';
import { grow } from '../typed.js';
import { modeRules } from './modes.js';
import type { InvalidationTarget, Vendor } from './vendor.js';
import type { MemoryBudget } from '../config/limits.js';
import { VENDORS, type VendorName } from './vendors.js';
import { QueuedIovas } from './queued-iovas.js';

export type { InvalidationTarget } from './vendor.js';

export interface InvalidatorOptions {
  mode: InvalidationMode;
  maxInvalidationMask: number;
  fqSize: number;
  fqTimeoutNs: number;
  instances: number;
  /** The configuration's `domainIds`: the DID space per instance (§2). */
  domainIds: number;
  /** Whose commands (§9); default VT-d. */
  vendor?: VendorName;
  /** The page table's granule (log2 of 4 KiB pages, §9.2); default 0. */
  granuleOrder?: number;
  /** What the model's state may hold (--max-table-memory), and the instances' names for its line. */
  budget?: MemoryBudget;
  instanceNames?: string[];
  /** The configuration's vendor blocks (§9.4); default: config.md's defaults. */
  amd?: ReplayConfig['amd'];
  smmu?: ReplayConfig['smmu'];
  /** The vendor takes its general command path only (VendorOptions.generic). */
  generic?: boolean;
}

const DEFAULT_AMD: ReplayConfig['amd'] = { npCache: false };
const DEFAULT_SMMU: ReplayConfig['smmu'] = { rangeInvalidation: true, forceSyncErratum: false, asidBits: 16 };

export class Invalidator {
  /** The mode's unmaps go to the flush queue (modes.ts). */
  private readonly lazy: boolean;
  private readonly fqSize: number;
  private readonly fqTimeoutNs: number;
  /** What is sent, and the tags it is sent on. */
  readonly vendor: Vendor;
  /** Strict, and the vendor has syncUnmapped (decided once: syncedUnmapped). */
  private readonly syncsUnmapped: boolean;
  /** Whether the vendor gathers each removed leaf (addLeaf) rather than each chunk (addChunk): §9.3. */
  readonly gathersLeaves: boolean;

  // The gather of the unmap in progress (pfns; end exclusive; len 0 = empty).
  private gStart = 0;
  private gEnd = 0;
  private gLen = 0;

  // Flush queue, per domain slot.
  private fqCount = new Int32Array(16);
  private fqFirstTs = new Float64Array(16);
  /** Domains whose queue may be non-empty, each once (inPending marks them). */
  private pending: number[] = [];
  private inPending = new Uint8Array(16);
  /** The earliest ts at which some queue times out. */
  nextDeadline = Infinity;
  /** Lazy mode: the IOVA ranges in the flush queues, for the maps that reuse them (queued-iovas.ts); null in strict mode. */
  private readonly queued: QueuedIovas | null;

  constructor(
    private readonly t: InvalidationTarget,
    opts: InvalidatorOptions,
  ) {
    this.lazy = modeRules(opts.mode).deferred;
    this.fqSize = opts.fqSize;
    this.fqTimeoutNs = opts.fqTimeoutNs;
    this.queued = this.lazy ? new QueuedIovas() : null;
    this.vendor = VENDORS[opts.vendor ?? 'vtd'](t, {
      instances: opts.instances,
      domainIds: opts.domainIds,
      maxInvalidationMask: opts.maxInvalidationMask,
      budget: opts.budget,
      instanceNames: opts.instanceNames,
      granuleOrder: opts.granuleOrder ?? 0,
      amd: opts.amd ?? DEFAULT_AMD,
      smmu: opts.smmu ?? DEFAULT_SMMU,
      generic: opts.generic,
    });
    this.gathersLeaves = this.vendor.gathersLeaves === true;
    this.syncsUnmapped = !this.lazy && this.vendor.syncUnmapped !== undefined;
  }

  ensureDomains(n: number): void {
    this.vendor.ensureDomains(n);
    if (n <= this.fqCount.length) return;
    const cap = Math.max(n, this.fqCount.length * 2);
    this.fqCount = grow(this.fqCount, cap);
    this.fqFirstTs = grow(this.fqFirstTs, cap);
    this.inPending = grow(this.inPending, cap);
    this.queued?.ensureDomains(cap);
  }

  // ---- gather (iommu_iotlb_gather_add_page / iommu_iotlb_sync) ----

  beginUnmap(): void {
    this.gLen = 0;
  }

  /** Adds the chunk [start, start+len) of `domain`'s unmap; may sync first. */
  addChunk(domain: number, start: number, len: number, nowNs: number): void {
    // The flush queue replaces the gather (gather->queued), except on a
    // domain that has none: a parent (iommufd, §8) or an SVA domain (§5).
    if (this.lazy && this.t.domainAlwaysStrict[domain] === 0) return;
    this.add(domain, start, len, nowNs);
  }

  /**
   * Adds one removed leaf [start, start+len) of `domain`'s unmap, for a
   * vendor that gathers leaves (io-pgtable-arm's io_pgtable_tlb_add_page(),
   * §9.3); may sync first. Lazy mode gathers nothing (gather->queued).
   */
  addLeaf(domain: number, start: number, len: number, nowNs: number): void {
    if (this.lazy && this.t.domainAlwaysStrict[domain] === 0) return; // an SVA domain has no flush queue (§5)
    this.add(domain, start, len, nowNs);
  }

  /** iommu_iotlb_gather_add_page(): the vendor says when the gather syncs first. */
  private add(domain: number, start: number, len: number, nowNs: number): void {
    const end = start + len;
    if (this.gLen !== 0 && this.vendor.gatherBreaks(this.gStart, this.gEnd, this.gLen, start, end, len)) {
      this.sync(domain, this.gStart, this.gEnd, nowNs, this.gLen);
      this.gLen = 0;
    }
    if (this.gLen === 0) {
      this.gStart = start;
      this.gEnd = end;
    } else {
      if (start < this.gStart) this.gStart = start;
      if (end > this.gEnd) this.gEnd = end;
    }
    this.gLen = len;
  }

  /**
   * The end of an unmap: syncs what is left (strict) or takes a flush-queue
   * slot (lazy) holding pfns [start, end), the range it removed leaves from.
   */
  endUnmap(domain: number, removedAny: boolean, nowNs: number, start: number, end: number): void {
    if (!this.lazy || this.t.domainAlwaysStrict[domain] !== 0) {
      if (this.gLen !== 0) this.sync(domain, this.gStart, this.gEnd, nowNs, this.gLen);
      this.gLen = 0;
      return;
    }
    if (removedAny) this.enqueue(domain, nowNs, start, end);
  }

  /**
   * The whole of an unmap that removed one leaf of one 4 KiB page at `pfn`
   * (model/mapping.ts's fast path): what beginUnmap, its one addChunk or
   * addLeaf of [pfn, pfn + 1) and endUnmap do, without the gather. Strict,
   * that gather is the page, synced at once, as it is in lazy mode on a
   * domain with no flush queue (a parent, §8; an SVA domain, §5); lazy,
   * the flush queue takes a slot.
   */
  unmappedPage(domain: number, pfn: number, nowNs: number): void {
    if (this.lazy && this.t.domainAlwaysStrict[domain] === 0) this.enqueue(domain, nowNs, pfn, pfn + 1);
    else this.sync(domain, pfn, pfn + 1, nowNs, 1);
  }

  /**
   * The strict sync of an unmap that removed the 4K leaves of pfns [start,
   * end) as one chunk (unmappedPage's, or beginUnmap, addChunk and
   * endUnmap's), whose IOTLB entries are not yet marked unmapped: the vendor
   * marks them as it removes them (vendor.ts syncUnmapped), one IOTLB search.
   * Returns false, having done nothing, otherwise (lazy mode, SMMUv3, a
   * nested domain over it...): the caller marks the pages' entries and syncs.
   */
  syncedUnmapped(domain: number, start: number, end: number, nowNs: number): boolean {
    if (!this.syncsUnmapped || !this.vendor.syncUnmapped!(domain, start, end, nowNs)) return false;
    this.t.counters.domain[domain * DOMAIN_FIELDS + M.syncs]++;
    return true;
  }

  /** A lazy unmap of pfns [start, end) that removed something takes a slot in its domain's flush queue, flushed first when full. */
  private enqueue(domain: number, nowNs: number, start: number, end: number): void {
    if (this.fqCount[domain] >= this.fqSize) this.flushQueue(domain, nowNs);
    this.queued!.add(domain, start, end);
    if (this.fqCount[domain]++ === 0) {
      this.fqFirstTs[domain] = nowNs;
      if (this.inPending[domain] === 0) {
        this.inPending[domain] = 1;
        this.pending.push(domain);
      }
      const deadline = nowNs + this.fqTimeoutNs;
      if (deadline < this.nextDeadline) this.nextDeadline = deadline;
    }
  }

  /** Flushes every queue that has timed out by `nowNs`, in increasing domain id order. */
  fireTimeouts(nowNs: number): void {
    const due: number[] = [];
    const keep: number[] = [];
    let next = Infinity;
    for (const d of this.pending) {
      if (this.fqCount[d] === 0) {
        this.inPending[d] = 0; // emptied by a full-queue flush and not refilled
        continue;
      }
      const deadline = this.fqFirstTs[d] + this.fqTimeoutNs;
      if (deadline <= nowNs) due.push(d);
      else {
        keep.push(d);
        if (deadline < next) next = deadline;
      }
    }
    due.sort((a, b) => this.t.domainTraceId[a] - this.t.domainTraceId[b]);
    for (const d of due) {
      this.flushQueue(d, nowNs);
      this.inPending[d] = 0;
    }
    this.pending = keep;
    this.nextDeadline = next;
  }

  /** A domain-wide flush that empties `domain`'s flush queue (full, or timed out): its IOVAs are free again (fq_ring_free()). */
  private flushQueue(domain: number, nowNs: number): void {
    this.flushDomain(domain, nowNs);
    this.fqCount[domain] = 0;
    this.queued!.clear(domain);
  }

  // ---- the moments a vendor sends commands ----

  /** A sync of the gathered pfn range [start, end) (docs/model.md §5; on a parent, §8's S2 sync): counted even when nothing is attached. */
  sync(domain: number, start: number, end: number, nowNs: number, gatherLen = end - start): void {
    this.t.counters.domain[domain * DOMAIN_FIELDS + M.syncs]++;
    this.vendor.sync(domain, start, end, nowNs, gatherLen);
  }

  /** A table entry cleared by an unmap (LPAE, §9.3 smmuv3): its walk flush, now, outside the gather and the flush queue. */
  flushWalk(domain: number, start: number, end: number, nowNs: number): void {
    this.vendor.flushWalk?.(domain, start, end, nowNs);
  }

  /** Domain-wide flush (`flush_iotlb_all`): the flush queue's, and `flush` ops' (§5, whatever the domain's type). */
  flushDomain(domain: number, nowNs: number): void {
    this.t.counters.domain[domain * DOMAIN_FIELDS + M.flushes]++;
    this.vendor.flushDomain(domain, nowNs);
  }

  /**
   * Lazy mode: a successful map of pfns [start, end) of `domain`; counted
   * when it reuses a page of an unmap still in the domain's flush queue,
   * which Linux never does (queued-iovas.ts). Not called in strict mode.
   */
  mappedLazy(domain: number, start: number, end: number): void {
    const queued = this.queued!;
    if (!queued.overlap(domain, start, end)) return;
    const c = this.t.counters.domain;
    c[domain * DOMAIN_FIELDS + M.mapsReusedBeforeFlush]++;
    c[domain * DOMAIN_FIELDS + M.pagesReusedBeforeFlush] += queued.pages;
  }

  /** Whether unmaps go to the flush queue (lazy mode), for the map path's mappedLazy: decided once. */
  get queuesUnmaps(): boolean {
    return this.lazy;
  }

  /** Whether maps send commands (the vendor's `mapped`): decided once, so that the map path asks nothing per map otherwise. */
  get flushesMaps(): boolean {
    return this.vendor.mapped !== undefined;
  }

  /** A successful map of pfns [start, end) of `domain`: the vendor's commands after it, if its maps send any (§9.3). */
  mapped(domain: number, start: number, end: number, nowNs: number): void {
    this.vendor.mapped?.(domain, start, end, nowNs);
  }

  /** Teardown of `domain`'s attachment `att` (IOTLB tag `tag`) when it is replaced or removed (§2). */
  teardown(domain: number, att: number, tag: number, nowNs: number): void {
    this.vendor.teardown(domain, att, tag, nowNs);
  }
}
