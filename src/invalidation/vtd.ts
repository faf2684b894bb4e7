// Intel VT-d as Linux drives it (drivers/iommu/intel/), the first vendor
// behind the seam of vendor.ts: DIDs per instance (docs/model.md §2), tags
// (DID, PASID) per instance, page-selective commands over the PSI cover with
// a domain-selective fallback (§5, psi.ts), one wait descriptor per instance
// touched, domain-selective teardown (§2), and a nested parent's commands for
// its nested domains (§8).
import { POW2 } from '../caches/indexing.js';
import { TagSpace } from '../caches/tags.js';
import { DOMAIN_FIELDS, M } from '../stats/counters.js';
import { T_IDENTITY, T_NESTED, T_PAGING, T_SVA } from '../trace/domain-codes.js';
import { psiCover, psiOut } from './psi.js';
import { Removal } from './removal.js';
import type { MemoryBudget } from '../config/limits.js';
import type { InvalidationTarget, Vendor, VendorOptions } from './vendor.js';

/** DID 1 (FLPT_DEFAULT_DID): identity and SVA domains on every instance. */
export const SHARED_DID = 1;

/**
 * Lowest free DID >= 2 of one instance (VT-d `ida_alloc_range(&iommu->domain_ida,
 * IDA_START_DID, ...)`); 0 and 1 are reserved. Its map of DIDs (a byte each,
 * `domainIds` of them) is made at the instance's first allocation and charged
 * to the budget: a trace may name thousands of instances and use a few.
 */
export class DidAllocator {
  private used: Uint8Array | null = null;
  private lowestFree = 2;
  /** `what` names the instance in the memory-limit line ("the domain-ID space of dmar0"). */
  constructor(
    readonly size: number,
    private readonly budget: MemoryBudget | null = null,
    private readonly what = 'the domain-ID space of an instance',
  ) {}
  /** A DID, or -1 when none is free (ENOSPC). */
  alloc(): number {
    if (this.used === null) {
      this.budget?.charge(this.size, this.what);
      this.used = new Uint8Array(this.size);
      this.used[0] = 1;
      if (this.size > 1) this.used[1] = 1;
    }
    const used = this.used;
    for (let d = this.lowestFree; d < this.size; d++) {
      if (used[d] === 0) {
        used[d] = 1;
        this.lowestFree = d + 1;
        return d;
      }
    }
    this.lowestFree = this.size;
    return -1;
  }
  release(did: number): void {
    this.used![did] = 0;
    if (did < this.lowestFree) this.lowestFree = did;
  }
}

/** A (domain, instance) pair's DID and reference count: two map entries, about. */
const DID_ENTRY_BYTES = 2 * 40;

/** Paging and nested domains own a DID on each instance they are attached on; the others share DID 1. */
function ownsDid(type: number): boolean {
  return type === T_PAGING || type === T_NESTED;
}

export class Vtd implements Vendor {
  private readonly maxMask: number;
  private readonly nInst: number;
  private readonly didAllocators: DidAllocator[];
  /** IOTLB tags of (instance, DID, PASID); a tag's group is its (instance, DID), which a domain-selective command removes. */
  private readonly tags = new TagSpace();
  /**
   * [slot * nInst + inst]: a paging or nested domain's DID there, and its
   * attachments there (§2: the DID is taken at the domain's first attach on an
   * instance, given back at its last detach). Only pairs in use are held, in
   * maps with number keys: a table of domains by instances grew with every
   * instance a trace names.
   */
  private readonly domainDid = new Map<number, number>();
  private readonly domainDidRef = new Map<number, number>();
  private readonly budget: MemoryBudget | null;
  private readonly rm: Removal;

  constructor(
    private readonly t: InvalidationTarget,
    opts: VendorOptions,
  ) {
    this.maxMask = opts.maxInvalidationMask;
    this.nInst = opts.instances;
    this.budget = opts.budget ?? null;
    this.didAllocators = Array.from(
      { length: opts.instances },
      (_, i) => new DidAllocator(opts.domainIds, this.budget, `the domain-ID space of ${opts.instanceNames?.[i] ?? `instance ${i}`}`),
    );
    this.rm = new Removal(t, opts.instances, opts.generic);
  }

  ensureDomains(_n: number): void {
    // DIDs are kept per (domain, instance) pair in use: nothing grows with the domains.
  }

  // ---------------------------------------------------------------- tags (§2)

  attachTag(domain: number, type: number, instance: number, pasid: number): number {
    let did = SHARED_DID;
    if (ownsDid(type)) {
      const k = domain * this.nInst + instance;
      const refs = this.domainDidRef.get(k) ?? 0;
      if (refs === 0) {
        const fresh = this.didAllocators[instance].alloc(); // before the old domain's DID is released
        if (fresh < 0) return -1; // ENOSPC
        this.budget?.charge(DID_ENTRY_BYTES, 'a domain ID in use');
        this.domainDid.set(k, fresh);
      }
      this.domainDidRef.set(k, refs + 1);
      did = this.domainDid.get(k)!;
    }
    return this.tags.idOf(instance, did, pasid);
  }

  detached(domain: number, type: number, instance: number): void {
    if (!ownsDid(type)) return;
    const k = domain * this.nInst + instance;
    const refs = this.domainDidRef.get(k)! - 1;
    if (refs > 0) {
      this.domainDidRef.set(k, refs);
      return;
    }
    this.didAllocators[instance].release(this.domainDid.get(k)!);
    this.domainDid.delete(k);
    this.domainDidRef.delete(k);
    this.budget?.release(DID_ENTRY_BYTES);
  }

  // ---------------------------------------------------------------- commands (§5)

  /** Linux iommu_iotlb_gather_add_page(): another page size, or a chunk disjoint from the gather, syncs it first. */
  gatherBreaks(gStart: number, gEnd: number, gLen: number, start: number, end: number, len: number): boolean {
    return gLen !== len || end < gStart || start > gEnd;
  }

  /**
   * The commands of a parent's stage-2 change for the nested domains over it
   * (docs/model.md §8, Linux `cache_tag_flush_range()` on the parent's
   * CACHE_TAG_NESTING_IOTLB / _DEVTLB tags): one IOTLB command per distinct
   * nested tag, counted in `field` (page or domain, as the parent's own
   * commands), that removes every entry of the tag since combined entries
   * are tagged by IOVA, not IPA; one all-addresses device-TLB command per
   * nested attachment on a device with a device TLB. Counted in the parent's
   * counters at `base`.
   */
  private nestedCommands(nested: number[], field: number, base: number, nowNs: number): void {
    const t = this.t;
    const rm = this.rm;
    for (let n = 0; n < nested.length; n++) {
      const atts = t.domainAttachments[nested[n]];
      for (let k = 0; k < atts.length; k++) {
        if (!rm.firstOfTag(atts, k)) continue;
        const inst = t.deviceInstance[t.attDevice[atts[k]]];
        t.counters.domain[base + field]++;
        rm.tags(inst, t.attTag[atts[k]], null, base, nowNs);
        rm.touch(inst);
      }
      rm.devtlbCommands(atts, -1, 0, base, nowNs);
    }
  }

  /**
   * A sync (`intel_iommu_tlb_sync` -> `cache_tag_flush_range`): per distinct
   * tag, one page-selective command over the PSI cover of [start, end), or a
   * domain-selective one when the cover's mask exceeds the limit; device-TLB
   * commands over the cover; §8's commands on a parent; one wait per
   * instance touched.
   */
  sync(domain: number, start: number, end: number, nowNs: number): void {
    this.syncOf(domain, start, end, nowNs, false);
  }

  /**
   * Vendor syncUnmapped: sync's commands, with no nested domain over the
   * domain (whose commands remove other tags' entries, not the marked ones).
   */
  syncUnmapped(domain: number, start: number, end: number, nowNs: number): boolean {
    if (this.t.domainNested[domain].length !== 0 || !this.rm.shortcuts) return false;
    this.syncOf(domain, start, end, nowNs, true);
    return true;
  }

  /** sync; with `unmapped`, [start, end) was unmapped now, and each command marks its IOTLB entries as it removes them (Removal.range). */
  private syncOf(domain: number, start: number, end: number, nowNs: number, unmapped: boolean): void {
    const t = this.t;
    const rm = this.rm;
    const c = t.counters.domain;
    const base = domain * DOMAIN_FIELDS;
    const atts = t.domainAttachments[domain];
    const nested = t.domainNested[domain];
    if (atts.length === 0 && nested.length === 0) return;
    // One page of a domain on one attachment, no nested domain over it:
    // mask 0, page-selective under any limit, one instance touched.
    if (nested.length === 0 && rm.onePage(domain, start, end, base, nowNs, unmapped)) return;
    const mask = psiCover(start, end);
    const cs = psiOut.start;
    const ce = cs + POW2[mask];
    const pageSelective = mask <= this.maxMask;
    const unmappedFrom = unmapped ? start : 0;
    const unmappedTo = unmapped ? end : 0;
    for (let k = 0; k < atts.length; k++) {
      if (!rm.firstOfTag(atts, k)) continue;
      const inst = t.deviceInstance[t.attDevice[atts[k]]];
      const tag = t.attTag[atts[k]];
      if (pageSelective) {
        c[base + M.cmdPage]++;
        rm.range(inst, tag, cs, ce, base, nowNs, unmappedFrom, unmappedTo);
      } else {
        c[base + M.cmdDomain]++;
        rm.tags(inst, tag, null, base, nowNs, unmappedFrom, unmappedTo);
      }
      rm.touch(inst);
    }
    rm.devtlbCommands(atts, cs, ce, base, nowNs);
    if (nested.length !== 0) this.nestedCommands(nested, pageSelective ? M.cmdPage : M.cmdDomain, base, nowNs);
    rm.waitPerTouched(base);
  }

  /**
   * Domain-wide flush (`flush_iotlb_all`): one domain-selective command per
   * tag, one all-addresses device-TLB command per attachment with a device
   * TLB, one wait per instance. On a parent, also §8's commands for its
   * nested domains, all domain-selective.
   */
  flushDomain(domain: number, nowNs: number): void {
    const t = this.t;
    const rm = this.rm;
    const c = t.counters.domain;
    const base = domain * DOMAIN_FIELDS;
    const atts = t.domainAttachments[domain];
    for (let k = 0; k < atts.length; k++) {
      if (!rm.firstOfTag(atts, k)) continue;
      const inst = t.deviceInstance[t.attDevice[atts[k]]];
      c[base + M.cmdDomain]++;
      rm.tags(inst, t.attTag[atts[k]], null, base, nowNs);
      rm.touch(inst);
    }
    rm.devtlbCommands(atts, -1, 0, base, nowNs);
    const nested = t.domainNested[domain];
    if (nested.length !== 0) this.nestedCommands(nested, M.cmdDomain, base, nowNs);
    rm.waitPerTouched(base);
  }

  /**
   * Teardown of `domain`'s attachment `att` (a device and PASID, with IOTLB
   * tag `tag`) when it is replaced or removed, as VT-d does when it clears a
   * context or PASID entry (docs/model.md §2): paging or nested (§8),
   * domain-selective on its DID (every PASID); SVA, every entry of (DID 1,
   * pasid); identity, no IOTLB command. Counted as a flush, with one wait if
   * an IOTLB command went out; then a device-TLB command on a device with a
   * device TLB.
   */
  teardown(domain: number, att: number, tag: number, nowNs: number): void {
    const t = this.t;
    const c = t.counters.domain;
    const base = domain * DOMAIN_FIELDS;
    const type = t.domainType[domain];
    const dev = t.attDevice[att];
    if (type === T_PAGING || type === T_SVA || type === T_NESTED) {
      c[base + M.cmdDomain]++;
      c[base + M.flushes]++;
      c[base + M.cmdWait]++;
      this.rm.tags(t.deviceInstance[dev], tag, type !== T_SVA ? this.tags.group : null, base, nowNs);
    } else if (type !== T_IDENTITY) {
      return; // blocked: nothing attached, nothing cached
    }
    if (t.devtlbs[dev] !== null) this.rm.devtlbCommand(att, -1, 0, base, nowNs);
  }
}
