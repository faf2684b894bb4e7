// AMD-Vi as Linux drives it (drivers/iommu/amd/iommu.c, 6.1), behind the seam
// of vendor.ts (docs/model.md §9; the evidence in docs/vendors-evidence.md §1):
// one domain-ID space for every instance, tags (domain ID, PASID) per
// instance, a gather that merges every chunk of an unmap, and per instance one
// INVALIDATE_IOMMU_PAGES per tag over `build_inv_address()`'s power-of-two
// cover, one INVALIDATE_IOTLB_PAGES per attachment with a device TLB, one
// COMPLETION_WAIT. With `amd.npCache` (the NpCache capability of emulated
// IOMMUs: QEMU's) flushes are split into naturally aligned blocks and every
// map is followed by a flush of its range.
//
// Counters (§9.3): INVALIDATE_IOMMU_PAGES of a range is M.cmdPage, of all
// addresses M.cmdDomain; INVALIDATE_IOTLB_PAGES M.cmdDevtlb; COMPLETION_WAIT
// M.cmdWait.
import { POW2, alignDown, pageNumber } from '../caches/indexing.js';
import { TagSpace } from '../caches/tags.js';
import { DOMAIN_FIELDS, M } from '../stats/counters.js';
import { T_IDENTITY, T_PAGING, T_SVA } from '../trace/domain-codes.js';
import { grow } from '../typed.js';
import { Removal } from './removal.js';
import type { InvalidationTarget, Vendor, VendorOptions } from './vendor.js';

/** `build_inv_address()` covers every address when the highest differing bit is above 51: 2^41 pages of 4 KiB and more. */
const ALL_ABOVE_ORDER = 40;

/** Set by `amdCover`: first pfn of the cover. */
export const amdCoverOut = { start: 0 };

/**
 * The cover of pfns [start, end) as Linux `build_inv_address()` makes it
 * (4 KiB pages): one page when the range is one page; else the naturally
 * aligned block of 2^(b+1) bytes holding it, b the highest bit in which the
 * first and last byte differ. Returns the cover's order (2^order pages at
 * amdCoverOut.start), or -1 for all addresses (b > 51).
 */
export function amdCover(start: number, end: number): number {
  if (end - start === 1) {
    amdCoverOut.start = start;
    return 0;
  }
  const last = end - 1;
  // The smallest order at which first and last page share a block: one above
  // their highest differing pfn bit (that bit + 12 is b).
  let order = 0;
  while (pageNumber(start, order) !== pageNumber(last, order)) order++;
  if (order > ALL_ABOVE_ORDER) return -1;
  amdCoverOut.start = alignDown(start, order);
  return order;
}

/**
 * The order of the next block of NpCache's split of [start, end) (Linux 6.1
 * `domain_flush_pages()`): the largest power of two no larger than what is
 * left and to which `start` is aligned (address 0 is aligned to anything).
 */
export function npCacheBlockOrder(start: number, end: number): number {
  const left = end - start;
  let order = 0;
  while (POW2[order + 1] <= left) order++; // __fls(size)
  if (start !== 0) {
    let align = 0;
    while (pageNumber(start, align + 1) * POW2[align + 1] === start) align++; // __ffs(address)
    if (align < order) order = align;
  }
  return order;
}

/** A domain's ID is taken at its first attach and kept for the rest of the trace (IDs are freed with the domain, which a trace does not record). */
function ownsId(type: number): boolean {
  return type === T_PAGING || type === T_SVA;
}

/** The tag of identity and blocked attachments: ID 0 (reserved, never allocated); nothing is looked up under it. */
const NO_ID = 0;

export class Amd implements Vendor {
  private readonly npCache: boolean;
  /** IOTLB tags of (instance, domain ID, PASID); a tag's group is its (instance, ID). */
  private readonly tags = new TagSpace();
  /** Per domain slot: its domain ID, 0 until its first attach. */
  private domainId: Int32Array = new Int32Array(16);
  /** The ID space: `domainIds` IDs, 0 reserved (Linux 6.1 `domain_id_alloc()`, one bitmap for every IOMMU). */
  private readonly idUsed: Uint8Array;
  private lowestFree = 1;
  private readonly rm: Removal;

  constructor(
    private readonly t: InvalidationTarget,
    opts: VendorOptions,
  ) {
    this.npCache = opts.amd.npCache;
    this.idUsed = new Uint8Array(opts.domainIds);
    this.idUsed[0] = 1;
    this.rm = new Removal(t, opts.instances, opts.generic);
    // Only paging domains are mapped through iommu_map(), whose iotlb_sync_map flushes; SVA maps are the CPU's.
    this.mapped = this.npCache
      ? (domain, start, end, nowNs) => {
          if (t.domainType[domain] === T_PAGING) this.flushRange(domain, start, end, nowNs, false);
        }
      : undefined;
  }

  ensureDomains(n: number): void {
    if (n <= this.domainId.length) return;
    this.domainId = grow(this.domainId, Math.max(n, this.domainId.length * 2));
  }

  // ---------------------------------------------------------------- tags (§9.1)

  /** The lowest free ID >= 1, or -1 when none is (ENOSPC). */
  private allocId(): number {
    for (let id = this.lowestFree; id < this.idUsed.length; id++) {
      if (this.idUsed[id] === 0) {
        this.idUsed[id] = 1;
        this.lowestFree = id + 1;
        return id;
      }
    }
    this.lowestFree = this.idUsed.length;
    return -1;
  }

  attachTag(domain: number, type: number, instance: number, pasid: number): number {
    let id = NO_ID;
    if (ownsId(type)) {
      if (this.domainId[domain] === 0) {
        const fresh = this.allocId();
        if (fresh < 0) return -1; // ENOSPC
        this.domainId[domain] = fresh;
      }
      id = this.domainId[domain];
    }
    return this.tags.idOf(instance, id, pasid);
  }

  detached(): void {
    // The ID stays with the domain (§9.1): nothing goes back.
  }

  // ---------------------------------------------------------------- commands (§9.3)

  /**
   * Linux `amd_iommu_iotlb_gather_add_page()`: every chunk joins the gather
   * (`iommu_iotlb_gather_add_range()`), whatever its size; with NpCache a
   * chunk disjoint from the gathered range syncs it first.
   */
  gatherBreaks(gStart: number, gEnd: number, _gLen: number, start: number, end: number): boolean {
    return this.npCache && (end < gStart || start > gEnd);
  }

  /**
   * One INVALIDATE_IOMMU_PAGES per distinct tag of `atts` over the cover of
   * `order` at `cs` (-1: all addresses), and one INVALIDATE_IOTLB_PAGES over
   * the same cover per attachment with a device TLB (Linux
   * `__domain_flush_pages()`). Waits are the caller's. Pfns [unmappedFrom,
   * unmappedTo) as Removal.range's: unmapped now, marked as they are removed.
   */
  private commands(atts: number[], order: number, cs: number, base: number, nowNs: number, unmappedFrom: number, unmappedTo: number): void {
    const t = this.t;
    const rm = this.rm;
    const c = t.counters.domain;
    const ce = order < 0 ? 0 : cs + POW2[order];
    for (let k = 0; k < atts.length; k++) {
      if (!rm.firstOfTag(atts, k)) continue;
      const inst = t.deviceInstance[t.attDevice[atts[k]]];
      const tag = t.attTag[atts[k]];
      if (order < 0) {
        c[base + M.cmdDomain]++;
        rm.tags(inst, tag, null, base, nowNs, unmappedFrom, unmappedTo);
      } else {
        c[base + M.cmdPage]++;
        rm.range(inst, tag, cs, ce, base, nowNs, unmappedFrom, unmappedTo);
      }
      rm.touch(inst);
    }
    rm.devtlbCommands(atts, order < 0 ? -1 : cs, ce, base, nowNs);
  }

  /**
   * The commands of a flush of pfns [start, end): one cover, or NpCache's
   * aligned blocks on a paging domain (the PASID flushes of SVA have no
   * split: Linux `amd_iommu_dev_flush_pasid_pages()`); then a wait per
   * instance. With `unmapped`, [start, end) was unmapped now (commands).
   */
  private flushRange(domain: number, start: number, end: number, nowNs: number, unmapped: boolean): void {
    const atts = this.t.domainAttachments[domain];
    if (atts.length === 0) return;
    const base = domain * DOMAIN_FIELDS;
    if (!this.npCache || this.t.domainType[domain] !== T_PAGING) {
      const order = amdCover(start, end);
      this.commands(atts, order, amdCoverOut.start, base, nowNs, unmapped ? start : 0, unmapped ? end : 0);
    } else {
      for (let s = start; s < end;) {
        const blockEnd = s + POW2[npCacheBlockOrder(s, end)];
        const order = amdCover(s, blockEnd); // a block is its own cover (all addresses past 2^52 bytes)
        this.commands(atts, order, amdCoverOut.start, base, nowNs, unmapped ? s : 0, unmapped ? blockEnd : 0); // a block's own pages
        s = blockEnd;
      }
    }
    this.rm.waitPerTouched(base);
  }

  /** Linux `amd_iommu_iotlb_sync()` -> `domain_flush_pages()` + `amd_iommu_domain_flush_complete()`. */
  sync(domain: number, start: number, end: number, nowNs: number): void {
    this.syncOf(domain, start, end, nowNs, false);
  }

  /** Vendor syncUnmapped: sync's commands. */
  syncUnmapped(domain: number, start: number, end: number, nowNs: number): boolean {
    if (!this.rm.shortcuts) return false;
    this.syncOf(domain, start, end, nowNs, true);
    return true;
  }

  /** sync; `unmapped` as flushRange's. */
  private syncOf(domain: number, start: number, end: number, nowNs: number, unmapped: boolean): void {
    // One page of a domain on one attachment: its own cover, one NpCache block.
    if (this.rm.onePage(domain, start, end, domain * DOMAIN_FIELDS, nowNs, unmapped)) return;
    this.flushRange(domain, start, end, nowNs, unmapped);
  }

  /**
   * With NpCache, Linux `amd_iommu_iotlb_sync_map()` -> `domain_flush_np_cache()`:
   * the mapped range is flushed as an unmap's would be. Absent without
   * NpCache: maps send nothing.
   */
  readonly mapped: Vendor['mapped'];

  /**
   * Domain-wide flush (`amd_iommu_flush_iotlb_all()` ->
   * `amd_iommu_domain_flush_tlb_pde()`): one all-addresses
   * INVALIDATE_IOMMU_PAGES per tag and instance, INVALIDATE_IOTLB_PAGES of
   * all addresses per attachment with a device TLB, one COMPLETION_WAIT per
   * instance. One command even with NpCache (docs/model.md §9, "Departures").
   */
  flushDomain(domain: number, nowNs: number): void {
    const atts = this.t.domainAttachments[domain];
    const base = domain * DOMAIN_FIELDS;
    this.commands(atts, -1, 0, base, nowNs, 0, 0);
    this.rm.waitPerTouched(base);
  }

  /**
   * Teardown of `domain`'s attachment `att` (Linux 6.1 `do_detach()`): for a
   * paging domain, INVALIDATE_IOMMU_PAGES of all addresses on its ID on every
   * instance where it is still attached and on the departing device's
   * (`amd_iommu_domain_flush_tlb_pde()` before the instance's refcount
   * drops), INVALIDATE_IOTLB_PAGES of all addresses for the departing device
   * and every other attachment of the domain with a device TLB, one
   * COMPLETION_WAIT per instance; for an SVA attachment, the same on its
   * (ID, PASID) tag only. An identity domain's teardown is a paging domain's:
   * do_detach() flushes whatever domain it detaches, and 6.1 gives identity
   * domains an ID (`protection_domain_init_v1()` → `domain_id_alloc()`) that
   * the model does not take (§9.5): the commands go out and are waited for,
   * and remove nothing (an identity domain has no IOTLB entries).
   */
  teardown(domain: number, att: number, tag: number, nowNs: number): void {
    const t = this.t;
    const rm = this.rm;
    const c = t.counters.domain;
    const base = domain * DOMAIN_FIELDS;
    const type = t.domainType[domain];
    const dev = t.attDevice[att];
    const inst = t.deviceInstance[dev];
    if (type === T_PAGING || type === T_IDENTITY) {
      const groups = this.tags.group;
      const atts = t.domainAttachments[domain];
      // One command per instance: on the departing device's, then on each other instance of the domain.
      c[base + M.cmdDomain]++;
      rm.tags(inst, tag, groups, base, nowNs);
      rm.touch(inst);
      for (let k = 0; k < atts.length; k++) {
        const other = t.deviceInstance[t.attDevice[atts[k]]];
        if (this.touchedBefore(atts, k, other, inst)) continue;
        c[base + M.cmdDomain]++;
        rm.tags(other, t.attTag[atts[k]], groups, base, nowNs);
        rm.touch(other);
      }
      if (t.devtlbs[dev] !== null) rm.devtlbCommand(att, -1, 0, base, nowNs);
      rm.devtlbCommands(atts, -1, 0, base, nowNs);
      c[base + M.flushes]++;
      rm.waitPerTouched(base);
      return;
    }
    if (type === T_SVA) {
      c[base + M.cmdDomain]++;
      c[base + M.flushes]++;
      rm.tags(inst, tag, null, base, nowNs);
      rm.touch(inst);
      if (t.devtlbs[dev] !== null) rm.devtlbCommand(att, -1, 0, base, nowNs);
      rm.waitPerTouched(base);
    }
  }

  /** Whether instance `inst` of attachment k of `atts` is `first` or the instance of an earlier attachment. */
  private touchedBefore(atts: number[], k: number, inst: number, first: number): boolean {
    if (inst === first) return true;
    const t = this.t;
    for (let j = 0; j < k; j++) if (t.deviceInstance[t.attDevice[atts[j]]] === inst) return true;
    return false;
  }
}
