// Arm SMMUv3 as Linux's arm-smmu-v3 driver drives it (docs/model.md §9,
// docs/vendors-evidence.md §2), behind the seam of vendor.ts:
// - ASIDs (§9.1): one space for every SMMU (Linux's global
//   `arm_smmu_asid_xa`), the lowest free ≥ 1 taken at a domain's first attach
//   and kept for the rest of the trace (freed with the domain, which a trace
//   does not record); `smmu.asidBits` bounds it (IDs 1..2^bits − 1,
//   `XA_LIMIT(1, (1 << asid_bits) - 1)`). An entry is tagged by the ASID
//   alone: a domain at several PASIDs (SSIDs) shares its entries.
// - A paging domain belongs to the SMMU of its first use; attaching it behind
//   another fails (`arm_smmu_attach_dev()`, -EINVAL since 6.3; the previous
//   attachment stays, as ≥6.10's check-before-commit does).
// - Gather (§9.3): per leaf (io-pgtable-arm's `io_pgtable_tlb_add_page()`
//   per cleared leaf, with the leaf's size, into the core's
//   `iommu_iotlb_gather_add_page()`).
// - Strict sync (`arm_smmu_iotlb_sync()` → `__arm_smmu_tlb_inv_range()`):
//   TLBI_NH_VA range commands (RIL split, or one per leaf of the gather's
//   size), in batches of 64 with one CMD_SYNC at the submit (or one per 63
//   commands under MMU-700's erratum), then ATC_INV over the power-of-two span
//   per ATS attachment (`arm_smmu_atc_inv_to_cmd()`) and one CMD_SYNC.
// - Domain-wide flush (`arm_smmu_tlb_inv_context()`): TLBI_NH_ASID + CMD_SYNC,
//   then ATC_INV all per ATS attachment + CMD_SYNC.
// - Teardown (`arm_smmu_detach_dev()`): no TLBI (the entries stay tagged with
//   the ASID the domain keeps); on an ATS device ATC_INV all + CMD_SYNC
//   (`arm_smmu_disable_ats()`). A paging domain attached nowhere still sends
//   its syncs' and flushes' TLBIs to its SMMU (tlbiTags).
// Counters: TLBI_NH_VA = page, TLBI_NH_ASID = domain, ATC_INV = devtlb,
// CMD_SYNC = wait (§9.3's table).
import { pageNumber, alignDown } from '../caches/indexing.js';
import { TagSpace } from '../caches/tags.js';
import { DOMAIN_FIELDS, M } from '../stats/counters.js';
import { T_PAGING, T_SVA } from '../trace/domain-codes.js';
import { grow } from '../typed.js';
import { Removal } from './removal.js';
import type { InvalidationTarget, Vendor, VendorOptions } from './vendor.js';

/** CMDQ_BATCH_ENTRIES (BITS_PER_LONG on arm64). */
export const CMDQ_BATCH_ENTRIES = 64;
/** CMDQ_TLBI_RANGE_NUM_MAX: a range command covers at most 31 · 2^scale granules. */
const RANGE_NUM_MAX = 31;

/**
 * TLBI_NH_VA commands of a range invalidation of `pages` granules with RIL
 * (`__arm_smmu_tlb_inv_range()`): while pages remain, scale = the lowest set
 * bit, num = (pages >> scale) & 31, pages −= num << scale. 35 pages: 3, then
 * 32: 2 commands.
 */
export function rilCommands(pages: number): number {
  let n = pages;
  let count = 0;
  while (n > 0) {
    let scale = 0;
    while (pageNumber(n, scale) % 2 === 0) scale++;
    const num = pageNumber(n, scale) % (RANGE_NUM_MAX + 1);
    n -= num * 2 ** scale;
    count++;
  }
  return count;
}

/**
 * CMD_SYNCs of a batch submit of `commands` commands (`arm_smmu_cmdq_batch_add()`
 * / `_submit()`): one at the submit; a full batch of 64 goes out without one.
 * With ARM_SMMU_OPT_CMDQ_FORCE_SYNC (MMU-700 erratum 2812531) a batch holding
 * 63 is issued with a sync before the next command is added: 1 + floor((n − 1) / 63).
 */
export function cmdSyncs(commands: number, forceSync: boolean): number {
  return forceSync ? 1 + Math.floor((commands - 1) / (CMDQ_BATCH_ENTRIES - 1)) : 1;
}

/** Set by atcSpan: the first pfn of the span. */
export const atcOut = { start: 0 };

/**
 * `arm_smmu_atc_inv_to_cmd()`: the naturally aligned block of 2^fls(ps ^ pe)
 * 4 KiB pages around pfns [start, end) ("ATC invalidates are always on
 * 4096-bytes pages"); returns its log2 length and sets atcOut.start.
 */
export function atcSpan(start: number, end: number): number {
  const last = end - 1;
  let log2 = 0;
  while (pageNumber(start, log2) !== pageNumber(last, log2)) log2++;
  atcOut.start = alignDown(start, log2);
  return log2;
}

export class Smmuv3 implements Vendor {
  readonly gathersLeaves = true;
  private readonly asidLimit: number;
  private nextAsid = 1;
  /** Per domain slot: its ASID (0: none yet). */
  private domainAsid: Int32Array = new Int32Array(16);
  /** Per domain slot: the (instance, tag) pairs it was ever attached with, flat (keptTags). */
  private domainTags: number[][] = [];
  /** IOTLB tags of (SMMU, ASID): one per instance an ASID's domain is attached behind. */
  private readonly tags = new TagSpace();
  private readonly rm: Removal;
  private readonly ril: boolean;
  private readonly forceSync: boolean;
  /** The granule (log2 pfns) every domain's table has (one format a configuration, §9.2). */
  private readonly granuleOrder: number;

  constructor(
    private readonly t: InvalidationTarget,
    opts: VendorOptions,
  ) {
    this.asidLimit = 2 ** opts.smmu.asidBits - 1;
    this.ril = opts.smmu.rangeInvalidation;
    this.forceSync = opts.smmu.forceSyncErratum;
    this.granuleOrder = opts.granuleOrder ?? 0;
    this.rm = new Removal(t, opts.instances);
  }

  ensureDomains(n: number): void {
    if (n > this.domainAsid.length) this.domainAsid = grow(this.domainAsid, Math.max(n, this.domainAsid.length * 2));
    while (this.domainTags.length < n) this.domainTags.push([]);
  }

  /**
   * The entries of a detached domain stay in the IOTLB, tagged with the ASID
   * it keeps, and hit again when it comes back: an unmap marks them too
   * (their stale window starts then, attached or not).
   */
  readonly keptTags = (domain: number): readonly number[] => this.domainTags[domain];

  // ---------------------------------------------------------------- tags (§9.1)

  attachTag(domain: number, type: number, instance: number, _pasid: number): number {
    if (type !== T_PAGING && type !== T_SVA) return this.tags.idOf(instance, 0, 0); // identity: no lookup, no ASID
    // One SMMU per paging domain: the one whose bitmap it took at its first use (§2).
    const home = this.t.domainSizes[domain];
    if (type === T_PAGING && home >= 0 && home !== instance) return -1; // EINVAL: "cannot attach to SMMU"
    let asid = this.domainAsid[domain];
    if (asid === 0) {
      if (this.nextAsid > this.asidLimit) return -1; // the ASID space is full: the attach fails
      asid = this.domainAsid[domain] = this.nextAsid++; // lowest free: ASIDs are never freed within a trace
    }
    const tag = this.tags.idOf(instance, asid, 0);
    const kept = this.domainTags[domain];
    let known = false;
    for (let k = 0; k < kept.length; k += 2) if (kept[k + 1] === tag) known = true;
    if (!known) kept.push(instance, tag);
    return tag;
  }

  detached(): void {
    // The ASID stays with its domain (freed in arm_smmu_domain_free()).
  }

  // ---------------------------------------------------------------- commands (§9.3)

  /** iommu_iotlb_gather_add_page() with one leaf a call: another leaf size, or a leaf disjoint from the gather, syncs it first. */
  gatherBreaks(gStart: number, gEnd: number, gLen: number, start: number, end: number, len: number): boolean {
    return gLen !== len || end < gStart || start > gEnd;
  }

  /**
   * A strict sync of the leaves of `leafLen` pfns gathered in [start, end):
   * per SMMU it sends to (tlbiTags), its TLBI_NH_VA commands and
   * their CMD_SYNCs; then the ATC commands.
   */
  sync(domain: number, start: number, end: number, nowNs: number, leafLen: number): void {
    this.rangeCommands(domain, start, end, nowNs, leafLen);
  }

  /**
   * `arm_smmu_tlb_inv_walk()`: a table entry cleared at unmap is invalidated
   * at once over its span, non-leaf, with the table's granule as the command
   * size (without RIL one command per granule: 512 for a 2 MiB table).
   */
  flushWalk(domain: number, start: number, end: number, nowNs: number): void {
    this.rangeCommands(domain, start, end, nowNs, 2 ** this.granuleOrder);
  }

  /**
   * `arm_smmu_tlb_inv_range_domain()` over pfns [start, end) with commands of
   * `commandLen` pfns without RIL: per SMMU it sends to (tlbiTags),
   * its TLBI_NH_VA commands and their CMD_SYNCs; then ATC_INV over the span
   * per ATS attachment (`arm_smmu_atc_inv_domain()`) and one CMD_SYNC.
   */
  private rangeCommands(domain: number, start: number, end: number, nowNs: number, commandLen: number): void {
    const tags = this.tlbiTags(domain);
    if (tags.length === 0) return;
    const t = this.t;
    const c = t.counters.domain;
    const base = domain * DOMAIN_FIELDS;
    const commands = this.ril ? rilCommands(pageNumber(end - start, this.granuleOrder)) : (end - start) / commandLen;
    const syncs = cmdSyncs(commands, this.forceSync);
    for (let k = 0; k < tags.length; k += 2) {
      c[base + M.cmdPage] += commands;
      c[base + M.cmdWait] += syncs;
      // The commands tile [start, end): together they remove the ASID's entries overlapping it.
      this.rm.range(tags[k], tags[k + 1], start, end, base, nowNs);
    }
    // ATC_INV per ATS attachment (none when attached nowhere: nr_ats_masters is 0).
    const log2 = atcSpan(start, end);
    const cs = atcOut.start;
    this.rm.devtlbCommands(t.domainAttachments[domain], cs, cs + 2 ** log2, base, nowNs);
    this.rm.waitPerTouched(base);
  }

  /** `arm_smmu_tlb_inv_context()`: TLBI_NH_ASID + CMD_SYNC per SMMU, then ATC_INV all per ATS attachment + CMD_SYNC. */
  flushDomain(domain: number, nowNs: number): void {
    const t = this.t;
    const c = t.counters.domain;
    const base = domain * DOMAIN_FIELDS;
    const tags = this.tlbiTags(domain);
    for (let k = 0; k < tags.length; k += 2) {
      c[base + M.cmdDomain]++;
      c[base + M.cmdWait]++;
      this.rm.tags(tags[k], tags[k + 1], null, base, nowNs);
    }
    this.rm.devtlbCommands(t.domainAttachments[domain], -1, 0, base, nowNs);
    this.rm.waitPerTouched(base);
  }

  /** tlbiTags' scratch: the pairs of a domain's attachments. */
  private readonly attachedTags: number[] = [];

  /**
   * The (SMMU, tag) pairs, flat, that a sync or flush of `domain` sends its
   * TLBIs to. A paging domain's is the pair it keeps (keptTags), attached or
   * not: Linux keeps `smmu_domain->smmu` and the ASID after the last
   * `arm_smmu_detach_dev()`, and neither `arm_smmu_iotlb_sync()` →
   * `arm_smmu_tlb_inv_range_domain()` nor `arm_smmu_flush_iotlb_all()` →
   * `arm_smmu_tlb_inv_context()` looks at the domain's masters, so an unmap
   * (or a flush) of a detached domain removes the entries kept since its
   * teardown. It is attached behind one SMMU only, so that is one pair (none
   * before its first attach: no ASID). Another domain's (SVA) are those of
   * its attachments, one per distinct tag: its mmu notifier goes with its
   * last bond (6.1), so attached nowhere it sends nothing.
   */
  private tlbiTags(domain: number): readonly number[] {
    const t = this.t;
    if (t.domainType[domain] === T_PAGING) return this.domainTags[domain];
    const out = this.attachedTags;
    out.length = 0;
    const atts = t.domainAttachments[domain];
    for (let k = 0; k < atts.length; k++) if (this.rm.firstOfTag(atts, k)) out.push(t.deviceInstance[t.attDevice[atts[k]]], t.attTag[atts[k]]);
    return out;
  }

  /**
   * `arm_smmu_detach_dev()`: no TLBI; `arm_smmu_disable_ats()` sends ATC_INV
   * all + CMD_SYNC on a device whose ATS was on, i.e. under a translating
   * domain (an identity domain's bypass STE leaves ATS off).
   */
  teardown(domain: number, att: number, _tag: number, nowNs: number): void {
    const t = this.t;
    const type = t.domainType[domain];
    if (type !== T_PAGING && type !== T_SVA) return;
    if (t.devtlbs[t.attDevice[att]] === null) return;
    const base = domain * DOMAIN_FIELDS;
    this.rm.devtlbCommand(att, -1, 0, base, nowNs);
    t.counters.domain[base + M.cmdWait]++;
  }
}
