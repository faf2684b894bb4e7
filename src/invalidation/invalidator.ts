// The invalidation model (docs/model.md §5 and the teardown of §2): the gather
// of unmapped chunks and its syncs, page- and domain-selective IOTLB commands
// per (instance, DID, PASID) tag, device-TLB commands, wait descriptors,
// domain-wide flushes, and lazy mode's per-domain flush queue; for a nested
// parent (§8) also the commands for the nested domains' tags. It removes what
// each command covers from the IOTLBs and device TLBs and counts it all.
import type { Iotlb } from '../caches/iotlb.js';
import type { SetAssocTable } from '../caches/table.js';
import type { TagSpace } from '../caches/tags.js';
import { POW2 } from '../caches/indexing.js';
import { M, DOMAIN_FIELDS, type Counters } from '../stats/counters.js';
import { T_PAGING, T_SVA, T_IDENTITY, T_NESTED } from '../trace/domain-codes.js';
import { psiCover, psiOut } from './psi.js';
import { modeRules } from './modes.js';
import type { InvalidationMode } from '../config/config.js';
import { grow } from '../typed.js';

/** What the invalidator needs to see of the replay's state. */
export interface InvalidationTarget {
  readonly counters: Counters;
  readonly iotlbs: Iotlb[];
  /** Per instance, its walk caches (one per non-leaf level); empty when off. */
  readonly walkCaches: SetAssocTable[][];
  /** Per device slot: its device TLB, or null. */
  readonly devtlbs: (SetAssocTable | null)[];
  readonly deviceInstance: Int32Array;
  readonly domainType: Uint8Array;
  readonly domainTraceId: Float64Array;
  /** Per domain slot: the attachment slots attached to it. */
  readonly domainAttachments: number[][];
  /** Per attachment slot: its device slot. */
  readonly attDevice: Int32Array;
  /**
   * Per attachment slot: the IOTLB tag of its (instance, DID, PASID) while
   * attached; its device-TLB tag is the slot itself.
   */
  readonly attTag: Int32Array;
  readonly tags: TagSpace;
  /** Per domain slot: the nested domains over it (empty unless it is a parent, docs/model.md §8). */
  readonly domainNested: number[][];
  /** Per domain slot: 1 for a parent, whose stage-2 unmaps are always strict. */
  readonly domainIsParent: Uint8Array;
}

export class Invalidator {
  /** The mode's unmaps go to the flush queue (modes.ts). */
  private readonly lazy: boolean;
  private readonly maxMask: number;
  private readonly fqSize: number;
  private readonly fqTimeoutNs: number;

  // The gather of the unmap in progress (pfns; end exclusive; len 0 = empty).
  private gStart = 0;
  private gEnd = 0;
  private gLen = 0;

  /** Instances touched by the current command batch (for wait descriptors). */
  private touched: Uint8Array;
  private touchedList: Int32Array;
  private touchedCount = 0;

  // Flush queue, per domain slot.
  private fqCount = new Int32Array(16);
  private fqFirstTs = new Float64Array(16);
  /** Domains whose queue may be non-empty, each once (inPending marks them). */
  private pending: number[] = [];
  private inPending = new Uint8Array(16);
  /** The earliest ts at which some queue times out. */
  nextDeadline = Infinity;

  constructor(
    private readonly t: InvalidationTarget,
    opts: { mode: InvalidationMode; maxInvalidationMask: number; fqSize: number; fqTimeoutNs: number; instances: number },
  ) {
    this.lazy = modeRules(opts.mode).deferred;
    this.maxMask = opts.maxInvalidationMask;
    this.fqSize = opts.fqSize;
    this.fqTimeoutNs = opts.fqTimeoutNs;
    this.touched = new Uint8Array(opts.instances);
    this.touchedList = new Int32Array(opts.instances);
  }

  ensureDomains(n: number): void {
    if (n <= this.fqCount.length) return;
    const cap = Math.max(n, this.fqCount.length * 2);
    this.fqCount = grow(this.fqCount, cap);
    this.fqFirstTs = grow(this.fqFirstTs, cap);
    this.inPending = grow(this.inPending, cap);
  }

  // ---- gather (iommu_iotlb_gather_add_page / iommu_iotlb_sync) ----

  beginUnmap(): void {
    this.gLen = 0;
  }

  /** Adds the chunk [start, start+len) of `domain`'s unmap; may sync first. */
  addChunk(domain: number, start: number, len: number, nowNs: number): void {
    // The flush queue replaces the gather (gather->queued), except on a
    // parent: iommufd domains have no flush queue (§8).
    if (this.lazy && this.t.domainIsParent[domain] === 0) return;
    const end = start + len;
    if (this.gLen !== 0 && (this.gLen !== len || end < this.gStart || start > this.gEnd)) {
      this.sync(domain, this.gStart, this.gEnd, nowNs);
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

  /** The end of an unmap: syncs what is left (strict) or takes a flush-queue slot (lazy). */
  endUnmap(domain: number, removedAny: boolean, nowNs: number): void {
    if (!this.lazy || this.t.domainIsParent[domain] !== 0) {
      if (this.gLen !== 0) this.sync(domain, this.gStart, this.gEnd, nowNs);
      this.gLen = 0;
      return;
    }
    if (!removedAny) return;
    if (this.fqCount[domain] >= this.fqSize) {
      this.flushDomain(domain, nowNs);
      this.fqCount[domain] = 0;
    }
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
      this.flushDomain(d, nowNs);
      this.fqCount[d] = 0;
      this.inPending[d] = 0;
    }
    this.pending = keep;
    this.nextDeadline = next;
  }

  // ---- commands ----

  private touch(instance: number): void {
    if (this.touched[instance] === 0) {
      this.touched[instance] = 1;
      this.touchedList[this.touchedCount++] = instance;
    }
  }

  /** One wait descriptor per instance touched since the last call. */
  private waits(base: number): void {
    const c = this.t.counters.domain;
    c[base + M.cmdWait] += this.touchedCount;
    for (let k = 0; k < this.touchedCount; k++) this.touched[this.touchedList[k]] = 0;
    this.touchedCount = 0;
  }


  /**
   * Removes every IOTLB and walk-cache entry of `tag` on `inst`, or with
   * `wholeDid` every entry of its (instance, DID) whatever the PASID.
   */
  private removeTags(inst: number, tag: number, wholeDid: boolean, base: number, nowNs: number): void {
    const iotlb = this.t.iotlbs[inst];
    const groups = wholeDid ? this.t.tags.group : null;
    this.t.counters.domain[base + M.entriesRemoved] += iotlb.removeTags(tag, groups, nowNs);
    for (const w of this.t.walkCaches[inst]) w.removeTags(tag, groups, nowNs);
    iotlb.drain(this.t.counters.domain, base);
  }

  /**
   * One device-TLB command for attachment `att` (its device and PASID): over
   * pfns [start, end), or all addresses when `start` is -1. (Device TLBs know
   * no DIDs.)
   */
  private devtlbCommand(att: number, start: number, end: number, base: number, nowNs: number): void {
    const devtlb = this.t.devtlbs[this.t.attDevice[att]]!;
    this.t.counters.domain[base + M.cmdDevtlb]++;
    if (start < 0) devtlb.removeTags(att, null, nowNs);
    else devtlb.removeRange(att, start, end, nowNs);
  }

  /** One device-TLB command per attachment on a device with a device TLB (range as devtlbCommand). */
  private devtlbCommands(atts: number[], start: number, end: number, base: number, nowNs: number): void {
    for (let k = 0; k < atts.length; k++) {
      const dev = this.t.attDevice[atts[k]];
      if (this.t.devtlbs[dev] === null) continue;
      this.devtlbCommand(atts[k], start, end, base, nowNs);
      this.touch(this.t.deviceInstance[dev]);
    }
  }

  /**
   * Whether attachment k of `atts` is the first with its tag, so that each
   * distinct (instance, DID, PASID) gets one command.
   */
  private firstOfTag(atts: number[], k: number): boolean {
    const attTag = this.t.attTag;
    const tag = attTag[atts[k]];
    for (let j = 0; j < k; j++) if (attTag[atts[j]] === tag) return false;
    return true;
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
    for (let n = 0; n < nested.length; n++) {
      const atts = t.domainAttachments[nested[n]];
      for (let k = 0; k < atts.length; k++) {
        if (!this.firstOfTag(atts, k)) continue;
        const inst = t.deviceInstance[t.attDevice[atts[k]]];
        t.counters.domain[base + field]++;
        this.removeTags(inst, t.attTag[atts[k]], false, base, nowNs);
        this.touch(inst);
      }
      this.devtlbCommands(atts, -1, 0, base, nowNs);
    }
  }

  /** A sync of the gathered pfn range [start, end) (docs/model.md §5; on a parent, §8's S2 sync). */
  sync(domain: number, start: number, end: number, nowNs: number): void {
    const t = this.t;
    const c = t.counters.domain;
    const base = domain * DOMAIN_FIELDS;
    c[base + M.syncs]++;
    const atts = t.domainAttachments[domain];
    const nested = t.domainNested[domain];
    if (atts.length === 0 && nested.length === 0) return;
    const mask = psiCover(start, end);
    const cs = psiOut.start;
    const ce = cs + POW2[mask];
    const pageSelective = mask <= this.maxMask;
    for (let k = 0; k < atts.length; k++) {
      if (!this.firstOfTag(atts, k)) continue;
      const inst = t.deviceInstance[t.attDevice[atts[k]]];
      const tag = t.attTag[atts[k]];
      const iotlb = t.iotlbs[inst];
      if (pageSelective) {
        c[base + M.cmdPage]++;
        c[base + M.entriesRemoved] += iotlb.removeRange(tag, cs, ce, nowNs);
        for (const w of t.walkCaches[inst]) w.removeRange(tag, cs, ce, nowNs);
        iotlb.drain(this.t.counters.domain, base);
      } else {
        c[base + M.cmdDomain]++;
        this.removeTags(inst, tag, false, base, nowNs);
      }
      this.touch(inst);
    }
    this.devtlbCommands(atts, cs, ce, base, nowNs);
    if (nested.length !== 0) this.nestedCommands(nested, pageSelective ? M.cmdPage : M.cmdDomain, base, nowNs);
    this.waits(base);
  }

  /**
   * Domain-wide flush (`flush_iotlb_all`): one domain-selective command per
   * tag, one all-addresses device-TLB command per attachment with a device
   * TLB, one wait per instance. Used by the flush queue and `flush` ops. On
   * a parent, also §8's commands for its nested domains, all domain-selective.
   */
  flushDomain(domain: number, nowNs: number): void {
    const t = this.t;
    const c = t.counters.domain;
    const base = domain * DOMAIN_FIELDS;
    c[base + M.flushes]++;
    const atts = t.domainAttachments[domain];
    for (let k = 0; k < atts.length; k++) {
      if (!this.firstOfTag(atts, k)) continue;
      const inst = t.deviceInstance[t.attDevice[atts[k]]];
      c[base + M.cmdDomain]++;
      this.removeTags(inst, t.attTag[atts[k]], false, base, nowNs);
      this.touch(inst);
    }
    this.devtlbCommands(atts, -1, 0, base, nowNs);
    const nested = t.domainNested[domain];
    if (nested.length !== 0) this.nestedCommands(nested, M.cmdDomain, base, nowNs);
    this.waits(base);
  }

  /**
   * Teardown of `domain`'s attachment `att` (a device and PASID, with IOTLB
   * tag `tag`) when it is replaced or removed, as VT-d does when it clears a
   * context or PASID entry (docs/model.md §2): paging or nested (§8),
   * domain-selective on its DID (every PASID); SVA, every entry of (DID 1, pasid); identity, no IOTLB
   * command. Then one wait if an IOTLB command went out, and a device-TLB
   * command on a device with a device TLB.
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
      this.removeTags(t.deviceInstance[dev], tag, type !== T_SVA, base, nowNs);
    } else if (type !== T_IDENTITY) {
      return; // blocked: nothing attached, nothing cached
    }
    if (t.devtlbs[dev] !== null) this.devtlbCommand(att, -1, 0, base, nowNs);
  }
}

