// What an invalidation command does to the caches, whoever sends it: remove
// a range or every entry of a tag from an instance's IOTLB and walk caches,
// or an attachment's entries from its device's TLB, counting what was
// removed and crediting the stale windows (docs/model.md §5, report-keys.md).
// And the wait bookkeeping every vendor needs: the instances a batch of
// commands touched. Vendors (vtd.ts) send commands through this.
import { removeUnmappedPage, removeUnmappedRange } from '../caches/iotlb.js';
import { M } from '../stats/counters.js';
import type { InvalidationTarget } from './vendor.js';

export class Removal {
  /** Instances touched by the current command batch (for wait descriptors). */
  private readonly touched: Uint8Array;
  private readonly touchedList: Int32Array;
  private touchedCount = 0;

  /**
   * Whether onePage and the vendors' syncUnmapped take their shortcuts (not
   * under VendorOptions.generic, the reference they are tested against).
   */
  readonly shortcuts: boolean;

  constructor(
    private readonly t: InvalidationTarget,
    instances: number,
    generic = false,
  ) {
    this.shortcuts = !generic;
    this.touched = new Uint8Array(instances);
    this.touchedList = new Int32Array(instances);
  }

  /** Notes that a command of this batch went to `instance`. */
  touch(instance: number): void {
    if (this.touched[instance] === 0) {
      this.touched[instance] = 1;
      this.touchedList[this.touchedCount++] = instance;
    }
  }

  /** Counts one wait per instance touched since the last call (in the domain counters at `base`), and forgets them. */
  waitPerTouched(base: number): void {
    this.t.counters.domain[base + M.cmdWait] += this.touchedCount;
    for (let k = 0; k < this.touchedCount; k++) this.touched[this.touchedList[k]] = 0;
    this.touchedCount = 0;
  }

  /**
   * Removes `tag`'s entries overlapping pfns [start, end) from `inst`'s IOTLB
   * and walk caches. Pfns [unmappedFrom, unmappedTo), inside [start, end)
   * (none by default), are 4K leaves unmapped now whose IOTLB entries are not
   * yet marked so (Iotlb markUnmapped): they are, in the removal's search.
   */
  range(inst: number, tag: number, start: number, end: number, base: number, nowNs: number, unmappedFrom = 0, unmappedTo = 0): void {
    const t = this.t;
    const iotlb = t.iotlbs[inst];
    const walkCaches = t.walkCaches[inst];
    if (end - start === 1) {
      // One page (most syncs of a streaming workload): the tables' one-page removal, the same removals.
      t.counters.domain[base + M.entriesRemoved] +=
        unmappedFrom <= start && start < unmappedTo ? removeUnmappedPage(iotlb, tag, start, nowNs) : iotlb.removePage(tag, start, nowNs);
      for (let k = 0; k < walkCaches.length; k++) walkCaches[k].removePage(tag, start, nowNs);
    } else {
      t.counters.domain[base + M.entriesRemoved] +=
        unmappedFrom < unmappedTo ? removeUnmappedRange(iotlb, tag, start, end, unmappedFrom, unmappedTo, nowNs) : iotlb.removeRange(tag, start, end, nowNs);
      for (const w of walkCaches) w.removeRange(tag, start, end, nowNs);
    }
    iotlb.drain(t.counters.domain, base);
  }

  /**
   * A sync of [start, end) of `domain` when that is one page of a domain with
   * one attachment (a NIC's strict unmap), whose cover is that page under
   * VT-d and AMD alike: one page command on the attachment's tag, a
   * device-TLB command on the page when its device has a device TLB, and one
   * wait, counted in the domain counters at `base`. What those vendors'
   * general paths do in that case, without the per-tag and per-instance
   * bookkeeping. Returns whether it was that case (false: nothing sent).
   * With `unmapped`, the page was unmapped now and its IOTLB entry is marked
   * so as it is removed (range's unmappedFrom; vendor.ts syncUnmapped).
   */
  onePage(domain: number, start: number, end: number, base: number, nowNs: number, unmapped = false): boolean {
    const t = this.t;
    const atts = t.domainAttachments[domain];
    if (end - start !== 1 || atts.length !== 1 || !this.shortcuts) return false;
    const att = atts[0];
    const c = t.counters.domain;
    const dev = t.attDevice[att];
    c[base + M.cmdPage]++;
    this.range(t.deviceInstance[dev], t.attTag[att], start, end, base, nowNs, unmapped ? start : 0, unmapped ? end : 0);
    if (t.devtlbs[dev] !== null) this.devtlbCommand(att, start, end, base, nowNs);
    c[base + M.cmdWait]++;
    return true;
  }

  /**
   * Removes every entry of `tag` from `inst`'s IOTLB and walk caches, or with
   * `groups` (caches/tags.ts TagSpace.group) every entry of the tag's group;
   * `unmappedFrom`, `unmappedTo` as range's.
   */
  tags(inst: number, tag: number, groups: Int32Array | null, base: number, nowNs: number, unmappedFrom = 0, unmappedTo = 0): void {
    const t = this.t;
    const iotlb = t.iotlbs[inst];
    // Pfns [unmappedFrom, unmappedTo) as range's: 4K leaves unmapped now, their entries marked before they go.
    for (let p = unmappedFrom; p < unmappedTo; p++) iotlb.markUnmapped(tag, p, 0, nowNs);
    t.counters.domain[base + M.entriesRemoved] += iotlb.removeTags(tag, groups, nowNs);
    for (const w of t.walkCaches[inst]) w.removeTags(tag, groups, nowNs);
    iotlb.drain(t.counters.domain, base);
  }

  /**
   * One device-TLB command for attachment `att` (its device and PASID): over
   * pfns [start, end), or all addresses when `start` is -1. (Device TLBs know
   * no DIDs.)
   */
  devtlbCommand(att: number, start: number, end: number, base: number, nowNs: number): void {
    const t = this.t;
    const devtlb = t.devtlbs[t.attDevice[att]]!;
    t.counters.domain[base + M.cmdDevtlb]++;
    if (start < 0) devtlb.removeTags(att, null, nowNs);
    else if (end - start === 1) devtlb.removePage(att, start, nowNs);
    else devtlb.removeRange(att, start, end, nowNs);
  }

  /** One device-TLB command per attachment on a device with a device TLB (range as devtlbCommand); touches their instances. */
  devtlbCommands(atts: number[], start: number, end: number, base: number, nowNs: number): void {
    const t = this.t;
    for (let k = 0; k < atts.length; k++) {
      const dev = t.attDevice[atts[k]];
      if (t.devtlbs[dev] === null) continue;
      this.devtlbCommand(atts[k], start, end, base, nowNs);
      this.touch(t.deviceInstance[dev]);
    }
  }

  /**
   * Whether attachment k of `atts` is the first with its tag, so that each
   * distinct tag gets one command.
   */
  firstOfTag(atts: number[], k: number): boolean {
    const attTag = this.t.attTag;
    const tag = attTag[atts[k]];
    for (let j = 0; j < k; j++) if (attTag[atts[j]] === tag) return false;
    return true;
  }
}
