// One set-associative table on typed arrays (struct-of-arrays indexed
// `set * ways + way`) that serves as every IOTLB, every device TLB and any
// walk cache: the ChampSim/gem5 split of tags, indexing and replacement.
//
// An entry caches one leaf: its tag (IOTLB: the TagSpace id of (instance, DID,
// PASID); device TLB: the attachment slot of its PASID), page base and order, and the physical page, so that a hit on a page
// unmapped or remapped since can be recognised as stale (docs/model.md §6).
import type { TableGeometry } from '../config/config.js';
import { drainWindow, markUnmappedIn, noteRemoval, rangeProbes, type Iotlb } from './iotlb.js';
import { FLUSH_ALL, Replacement } from './replacement.js';
import { POW2, pageNumber, setOf } from './indexing.js';

export const EMPTY = 0;
export const VALID = 1;
/**
 * Invalid, but removed by an invalidation and not yet reused: a later miss on
 * the same tag and page is a miss caused by invalidation.
 */
export const INVALIDATED = 2;

export class SetAssocTable implements Iotlb {
  readonly sets: number;
  readonly ways: number;
  readonly setMask: number;
  readonly state: Uint8Array;
  /** Small-integer tags (caches/tags.ts): int32 compares, never boxed. */
  readonly tag: Int32Array;
  readonly base: Float64Array;
  readonly order: Uint8Array;
  readonly phys: Float64Array;
  /** Dense domain slot of the leaf's domain (for the stale check). */
  readonly owner: Int32Array;
  /**
   * ts (ns) of the unmap that removed the cached leaf, or -1: the start of
   * its stale window, and the sign that a hit must be checked for staleness.
   */
  readonly unmappedAt: Float64Array;
  readonly policy: Replacement;

  /**
   * Non-empty (valid or invalidated) entries per order. A lookup skips orders
   * the table holds nothing of: the result is the same, the probes are not.
   */
  readonly orderLive = new Int32Array(64);
  /** Orders that ever had an entry (for removals). */
  private seenOrders: number[] = [];

  /** Times the whole table was emptied by the flush-when-full policy. */
  resets = 0;
  /** Set by `lookup`: whether a miss found an INVALIDATED entry with the same tag and page. */
  missWasInvalidated = false;
  /** Accumulated by removals of entries whose page had been unmapped: the stale window, in ns. */
  windowMaxNs = 0;
  windowSumNs = 0;
  windowCount = 0;

  constructor(sets: number, ways: number, policy: Replacement) {
    this.sets = sets;
    this.ways = ways;
    this.setMask = sets - 1;
    const n = sets * ways;
    this.state = new Uint8Array(n);
    this.tag = new Int32Array(n);
    this.base = new Float64Array(n);
    this.order = new Uint8Array(n);
    this.phys = new Float64Array(n);
    this.owner = new Int32Array(n);
    this.unmappedAt = new Float64Array(n);
    this.policy = policy;
  }

  get entries(): number {
    return this.sets * this.ways;
  }

  /** A table needs no translation context (the stack profiler does). */
  bind(_domain: number, _root: number): void {}

  /**
   * Finds the entry with `tag` that covers page-frame `pfn`, probing each
   * order of `ordersDesc` (largest first) in its own set; the first hit wins
   * and refreshes the replacement state. Returns the entry index or -1.
   */
  lookup(tag: number, pfn: number, ordersDesc: Int8Array): number {
    const ways = this.ways;
    const state = this.state;
    const tags = this.tag;
    const bases = this.base;
    const orders = this.order;
    const live = this.orderLive;
    let ghost = false;
    for (let k = 0; k < ordersDesc.length; k++) {
      const order = ordersDesc[k];
      if (live[order] === 0) continue;
      const page = pageNumber(pfn, order);
      const base = page * POW2[order];
      const set = setOf(page, this.setMask);
      const first = set * ways;
      for (let i = first; i < first + ways; i++) {
        // The base first: it tells entries apart; the tag is often the same for all.
        if (bases[i] !== base || tags[i] !== tag || orders[i] !== order) continue;
        const st = state[i];
        if (st === VALID) {
          this.policy.onHit(set, i - first);
          this.missWasInvalidated = false;
          return i;
        }
        if (st === INVALIDATED) ghost = true;
      }
    }
    this.missWasInvalidated = ghost;
    return -1;
  }

  /** Inserts a leaf: the set's first invalid way, else the policy's victim. */
  fill(tag: number, base: number, order: number, phys: number, owner: number): number {
    const state = this.state;
    const ways = this.ways;
    const set = setOf(pageNumber(base, order), this.setMask);
    const first = set * ways;
    let way = 0;
    while (way < ways && state[first + way] === VALID) way++;
    if (way === ways) {
      way = this.policy.victim(set);
      if (way === FLUSH_ALL) {
        this.reset();
        way = 0;
      }
    }
    const i = first + way;
    const live = this.orderLive;
    if (state[i] !== EMPTY) live[this.order[i]]--;
    if (live[order]++ === 0) this.noteOrder(order);
    state[i] = VALID;
    this.tag[i] = tag;
    this.base[i] = base;
    this.order[i] = order;
    this.phys[i] = phys;
    this.owner[i] = owner;
    this.unmappedAt[i] = -1;
    this.policy.onFill(set, way);
    return i;
  }

  /**
   * Empties every set (flush-when-full). Not an invalidation: the entries
   * become EMPTY, so later misses on them count as capacity misses.
   */
  reset(): void {
    this.state.fill(EMPTY);
    this.orderLive.fill(0);
    this.resets++;
  }

  /** Keeps `seenOrders` complete (off the fill path: a call, rarely made). */
  noteOrder(order: number): void {
    if (!this.seenOrders.includes(order)) this.seenOrders.push(order);
  }

  /** The valid entry caching exactly this leaf, or -1 (no replacement update). */
  findExact(tag: number, base: number, order: number): number {
    const set = setOf(pageNumber(base, order), this.setMask);
    const first = set * this.ways;
    for (let i = first; i < first + this.ways; i++) {
      if (this.base[i] === base && this.state[i] === VALID && this.tag[i] === tag && this.order[i] === order) return i;
    }
    return -1;
  }

  markUnmapped(tag: number, base: number, order: number, nowNs: number): void {
    markUnmappedIn(this, tag, base, order, nowNs);
  }

  drain(domainCounters: Float64Array, domainBase: number): void {
    drainWindow(this, domainCounters, domainBase);
  }

  private remove(i: number, nowNs: number): void {
    this.state[i] = INVALIDATED;
    noteRemoval(this, this.unmappedAt[i], nowNs);
  }

  /**
   * Removes entries of `tag` whose page overlaps pfns [start, end). Returns
   * the count. A small range probes only the sets its pages index to; a large
   * one scans the table.
   */
  removeRange(tag: number, start: number, end: number, nowNs: number): number {
    if (rangeProbes(this.seenOrders, this.orderLive, start, end) < this.sets) {
      let removed = 0;
      for (const o of this.seenOrders) {
        if (this.orderLive[o] === 0) continue;
        const size = POW2[o];
        const last = pageNumber(end - 1, o);
        for (let page = pageNumber(start, o); page <= last; page++) {
          const base = page * size;
          const first = setOf(page, this.setMask) * this.ways;
          for (let i = first; i < first + this.ways; i++) {
            if (this.base[i] === base && this.state[i] === VALID && this.tag[i] === tag && this.order[i] === o) {
              this.remove(i, nowNs);
              removed++;
            }
          }
        }
      }
      return removed;
    }
    return this.scanRemoveRange(tag, start, end, nowNs);
  }

  /** removeRange by scanning every entry (the obviously correct way). */
  scanRemoveRange(tag: number, start: number, end: number, nowNs: number): number {
    let removed = 0;
    const n = this.state.length;
    for (let i = 0; i < n; i++) {
      if (this.state[i] !== VALID || this.tag[i] !== tag) continue;
      const b = this.base[i];
      if (b < end && b + POW2[this.order[i]] > start) {
        this.remove(i, nowNs);
        removed++;
      }
    }
    return removed;
  }

  /**
   * Removes every entry of `tag`, or, when `groups` is given (a group id per
   * tag), every entry whose tag is in the group of `tag`. Returns the count.
   * One pass either way.
   */
  removeTags(tag: number, groups: Int32Array | null, nowNs: number): number {
    let removed = 0;
    const n = this.state.length;
    const tags = this.tag;
    if (groups === null) {
      for (let i = 0; i < n; i++) {
        if (tags[i] === tag && this.state[i] === VALID) {
          this.remove(i, nowNs);
          removed++;
        }
      }
      return removed;
    }
    const group = groups[tag];
    for (let i = 0; i < n; i++) {
      if (this.state[i] === VALID && groups[tags[i]] === group) {
        this.remove(i, nowNs);
        removed++;
      }
    }
    return removed;
  }

  takeWindow(): void {
    this.windowMaxNs = 0;
    this.windowSumNs = 0;
    this.windowCount = 0;
  }
}

/** A table of geometry `g` whose random policy (if any) draws from `seed`. */
export function tableOf(g: TableGeometry, seed: number): SetAssocTable {
  return new SetAssocTable(g.sets, g.ways, new Replacement(g.policy, g.sets, g.ways, seed));
}
