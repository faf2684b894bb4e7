// One set-associative table on typed arrays (struct-of-arrays indexed
// `set * ways + way`) that serves as every IOTLB, every device TLB and any
// walk cache: the ChampSim/gem5 split of tags, indexing and replacement.
//
// An entry caches one leaf: its tag (IOTLB: the TagSpace id of (instance, DID,
// PASID); device TLB: the attachment slot of its PASID), page base and order, and the physical page, so that a hit on a page
// unmapped or remapped since can be recognised as stale (docs/model.md §6).
import type { TableGeometry } from '../config/config.js';
import { drainWindow, markUnmappedIn, noteRemoval, rangeProbes, type Iotlb } from './iotlb.js';
import { FreeBits } from './freebits.js';
import { grow } from '../typed.js';
import { FLUSH_ALL, LRU4_ORDERS, Replacement } from './replacement.js';
import type { MemoryBudget } from '../config/limits.js';
import { POW2, pageNumber, setOf } from './indexing.js';

export const EMPTY = 0;
export const VALID = 1;
/** Page orders a table counts (orderLive, orderSeen). */
const ORDERS = 64;
/**
 * Where a plain table of `n` entries keeps each per-entry array in its three
 * views (SetAssocTable f64, i32, u8): the index of entry 0 (or order 0) of
 * each, in its view. The generated DMA run (model/specialize.ts) indexes the
 * views with these.
 */
export function tableLayout(n: number): Record<'base' | 'phys' | 'unmappedAt' | 'tag' | 'owner' | 'orderLive' | 'state' | 'order' | 'orderSeen', number> {
  return { base: 0, phys: n, unmappedAt: 2 * n, tag: 0, owner: n, orderLive: 2 * n, state: 0, order: n, orderSeen: 2 * n };
}
/**
 * Invalid, but removed by an invalidation and not yet reused: a later miss on
 * the same tag and page is a miss caused by invalidation.
 */
export const INVALIDATED = 2;

export class SetAssocTable implements Iotlb {
  readonly sets: number;
  readonly ways: number;
  readonly setMask: number;
  // The entries' arrays, `set * ways + way`. An IndexedTable (caches/indexed.ts)
  // holds a prefix of them and grows them; a plain table never does.
  state: Uint8Array;
  /** Small-integer tags (caches/tags.ts): int32 compares, never boxed. */
  tag: Int32Array;
  base: Float64Array;
  order: Uint8Array;
  phys: Float64Array;
  /** Dense domain slot of the leaf's domain (for the stale check). */
  owner: Int32Array;
  /**
   * ts (ns) of the unmap that removed the cached leaf, or -1: the start of
   * its stale window, and the sign that a hit must be checked for staleness.
   */
  unmappedAt: Float64Array;
  readonly policy: Replacement;

  /**
   * Non-empty (valid or invalidated) entries per order. A lookup skips orders
   * the table holds nothing of: the result is the same, the probes are not.
   */
  readonly orderLive: Int32Array;
  /** Orders that ever had an entry (for removals). */
  protected seenOrders: number[] = [];
  /**
   * 1 at the orders of seenOrders, and at those a narrow DMA run
   * (model/specialize.ts) has filled and DmaPath.run notes after it: that
   * run tells a first fill of an order without a call.
   */
  readonly orderSeen: Uint8Array;
  /**
   * The arrays above as the narrow DMA run (model/specialize.ts) reads them:
   * three views of the one buffer they share, laid out by tableLayout.
   * Compiled code checks each typed array it reads anew in every iteration of
   * a loop (its map, length and data pointer: four loads and two branches),
   * so that run reads three arrays where it would read nine. An IndexedTable
   * replaces its entry arrays as it grows (they leave the buffer); it has no
   * narrow run.
   */
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly u8: Uint8Array;

  /** Times the whole table was emptied by the flush-when-full policy. */
  resets = 0;
  /** Set by `lookup`: whether a miss found an INVALIDATED entry with the same tag and page. */
  missWasInvalidated = false;
  /**
   * Accumulated by removals of entries whose page had been unmapped: the
   * stale window, in ns. The ns fields are made doubles (NaN, then 0 by the
   * constructor's takeWindow): a field made for small integers changes the
   * table's map at the first double stored, which deoptimized the narrow DMA
   * run at its entry ("wrong map", model/specialize.ts) mid-trace.
   */
  windowMaxNs = NaN;
  windowSumNs = NaN;
  windowCount = 0;

  /** `held`: entries whose arrays are made now (all of them, but for an IndexedTable). */
  constructor(sets: number, ways: number, policy: Replacement, held = sets * ways) {
    this.sets = sets;
    this.ways = ways;
    this.setMask = sets - 1;
    const n = held;
    // tableLayout: float64 base, phys, unmappedAt; int32 tag, owner, orderLive; bytes state, order, orderSeen.
    const at = tableLayout(n);
    const buffer = new ArrayBuffer(24 * n + 4 * (2 * n + ORDERS) + (2 * n + ORDERS));
    this.f64 = new Float64Array(buffer, 0, 3 * n);
    this.i32 = new Int32Array(buffer, 24 * n, 2 * n + ORDERS);
    this.u8 = new Uint8Array(buffer, 24 * n + 4 * (2 * n + ORDERS), 2 * n + ORDERS);
    this.base = this.f64.subarray(at.base, at.base + n);
    this.phys = this.f64.subarray(at.phys, at.phys + n);
    this.unmappedAt = this.f64.subarray(at.unmappedAt, at.unmappedAt + n);
    this.tag = this.i32.subarray(at.tag, at.tag + n);
    this.owner = this.i32.subarray(at.owner, at.owner + n);
    this.orderLive = this.i32.subarray(at.orderLive, at.orderLive + ORDERS);
    this.state = this.u8.subarray(at.state, at.state + n);
    this.order = this.u8.subarray(at.order, at.order + n);
    this.orderSeen = this.u8.subarray(at.orderSeen, at.orderSeen + ORDERS);
    this.policy = policy;
    this.takeWindow();
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
    this.orderSeen[order] = 1;
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

  protected remove(i: number, nowNs: number): void {
    this.state[i] = INVALIDATED;
    noteRemoval(this, this.unmappedAt[i], nowNs);
  }

  /**
   * markUnmapped(tag, pfn, 0, nowNs), then removePage(tag, pfn, nowNs): a
   * strict unmap's one-page sync (invalidation/removal.ts), with one search
   * of the table instead of two (removePage's `unmapped`).
   */
  removeUnmappedPage(tag: number, pfn: number, nowNs: number): number {
    return this.removePage(tag, pfn, nowNs, true);
  }

  /**
   * markUnmapped(tag, p, 0, nowNs) for each pfn p of [unmappedFrom,
   * unmappedTo), then removeRange(tag, start, end, nowNs): a strict unmap's
   * sync of the 4K leaves it removed from [unmappedFrom, unmappedTo), inside
   * [start, end) (the command's cover), with the marks taken in the
   * removal's search (removeRange's `unmappedFrom`, `unmappedTo`).
   */
  removeUnmappedRange(tag: number, start: number, end: number, unmappedFrom: number, unmappedTo: number, nowNs: number): number {
    return this.removeRange(tag, start, end, nowNs, unmappedFrom, unmappedTo);
  }

  /**
   * Removes entries of `tag` whose page overlaps pfns [start, end). Returns
   * the count. A small range probes only the sets its pages index to; a large
   * one scans the table. The 4K entries of [unmappedFrom, unmappedTo) (pages
   * of an unmap, inside [start, end); none by default) are first marked
   * unmapped now as markUnmapped would, each found by its page's probe.
   * test/caches/removepage.test.ts compares it with the marks then the removal.
   */
  removeRange(tag: number, start: number, end: number, nowNs: number, unmappedFrom = 0, unmappedTo = 0): number {
    if (rangeProbes(this.seenOrders, this.orderLive, start, end) >= this.probeLimit()) {
      for (let p = unmappedFrom; p < unmappedTo; p++) this.markUnmapped(tag, p, 0, nowNs);
      return this.scanRemoveRange(tag, start, end, nowNs);
    }
    let removed = 0;
    for (const o of this.seenOrders) {
      if (this.orderLive[o] === 0) continue;
      const last = pageNumber(end - 1, o);
      for (let page = pageNumber(start, o); page <= last; page++) {
        removed += this.removeKey(tag, page, o, nowNs, o === 0 && page >= unmappedFrom && page < unmappedTo);
      }
    }
    return removed;
  }

  /** Probes past which a removal scans the table instead: as many as the sets (a probe reads a set). */
  protected probeLimit(): number {
    return this.sets;
  }

  /**
   * Removes the valid entries of `tag` for page number `page` of order `o`
   * (the set that page indexes to); returns how many. With `unmapped`, the
   * entry findExact would give (the first) is first marked unmapped now, as
   * markUnmapped would.
   */
  protected removeKey(tag: number, page: number, o: number, nowNs: number, unmapped: boolean): number {
    const base = page * POW2[o];
    const first = setOf(page, this.setMask) * this.ways;
    let removed = 0;
    for (let i = first; i < first + this.ways; i++) {
      if (this.base[i] === base && this.state[i] === VALID && this.tag[i] === tag && this.order[i] === o) {
        if (unmapped) {
          unmapped = false;
          if (this.unmappedAt[i] < 0) this.unmappedAt[i] = nowNs;
        }
        this.remove(i, nowNs);
        removed++;
      }
    }
    return removed;
  }

  /**
   * removeRange(tag, pfn, pfn + 1, nowNs), the removal of one page (most
   * unmaps' sync): the same entries removed in the same order, so the same
   * count and stale windows. It probes the one set a page of each live order
   * indexes to, or scans when those probes are as many as the sets, as
   * removeRange decides; without its range loops.
   * test/caches/removepage.test.ts compares the two on seeded operations.
   * With `unmapped`, the page's 4K entry is first marked unmapped now, as
   * markUnmapped(tag, pfn, 0, nowNs) would, found by the removal's probe.
   */
  removePage(tag: number, pfn: number, nowNs: number, unmapped = false): number {
    const seen = this.seenOrders;
    const live = this.orderLive;
    // rangeProbes of one page: one probe per live order.
    let probes = 0;
    for (let k = 0; k < seen.length; k++) if (live[seen[k]] > 0) probes++;
    if (probes >= this.probeLimit()) {
      if (unmapped) this.markUnmapped(tag, pfn, 0, nowNs);
      return this.scanRemoveRange(tag, pfn, pfn + 1, nowNs);
    }
    let removed = 0;
    for (let k = 0; k < seen.length; k++) {
      const o = seen[k];
      if (live[o] > 0) removed += this.removeKey(tag, pageNumber(pfn, o), o, nowNs, unmapped && o === 0);
    }
    return removed;
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

/** Bytes an entry of a plain table holds: state, tag, base, order, phys, owner, unmappedAt. */
export const ENTRY_BYTES = 1 + 4 + 8 + 1 + 8 + 4 + 8;

/** Bytes a plain table of geometry `g` holds: its entries and its policy's state. */
export function tableBytes(g: TableGeometry): number {
  const perEntry = g.policy === 'fifo' || (g.policy === 'lru' && g.ways !== 4) ? 8 : g.policy === 'plru' ? 1 : 0;
  // lru over 4 ways: a recency byte per set and the table's copy of LRU4_TOUCH (Replacement.lru4).
  return g.entries * (ENTRY_BYTES + perEntry) + (g.policy === 'lru' && g.ways === 4 ? LRU4_ORDERS + g.sets : 0);
}

/**
 * A table of geometry `g` whose random policy (if any) draws from `seed`,
 * its memory charged to `budget` as `what` ("the IOTLB of iommu0"). Past
 * INDEXED_MIN_WAYS ways a table is an IndexedTable: the same hits and
 * victims, found through an index instead of a scan of the ways.
 */
export function tableOf(g: TableGeometry, seed: number, budget?: MemoryBudget, what = 'a TLB'): SetAssocTable {
  if (isIndexed(g)) return new IndexedTable(g, seed, budget, what);
  budget?.charge(tableBytes(g), what);
  return new SetAssocTable(g.sets, g.ways, new Replacement(g.policy, g.sets, g.ways, seed));
}

/** Tables of more ways than this are indexed (IndexedTable): a scan of their ways costs more than a hash probe. */
export const INDEXED_MIN_WAYS = 64;

/** Whether a table of `g` is an IndexedTable: decided once per configuration, from its ways. */
export function isIndexed(g: { ways: number }): boolean {
  return g.ways > INDEXED_MIN_WAYS;
}

/** Ways a one-set IndexedTable holds at first; it doubles them as it fills. */
const INDEXED_FIRST_HELD = 64;

/** A hash of an entry's key (tag, base, order); any spread will do, equal keys hash alike. */
function keyHash(tag: number, base: number, order: number): number {
  const lo = base >>> 0; // base mod 2^32: exact for any integer double
  const hi = (base / 4294967296) >>> 0;
  let h = Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi + (order << 24), 0x85ebca6b) ^ Math.imul(tag, 0xcc9e2d51);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  return h ^ (h >>> 15);
}

/**
 * A table of many ways (more than INDEXED_MIN_WAYS: a fully associative
 * IOTLB of 2^24 entries) with exactly the hits, fills and victims of
 * SetAssocTable, found without scanning the ways:
 * - a hash from (tag, base, order) to the non-empty entries of that key
 *   (chained through `chain`) serves lookups, findExact and small removals;
 *   of several valid entries of a key the lowest index wins, as in the scan;
 * - the non-valid ways in a FreeBits give a fill its set's first invalid way;
 * - under lru and fifo each set's ways, from the oldest to the newest hit or
 *   fill (fifo: fill), are a doubly linked list whose head is the victim: the
 *   way of the smallest stamp, which Replacement.victim finds by a scan;
 * - plru and random take Replacement's own victim (a tree walk, a draw), and
 *   flush-when-full empties the table.
 * A table of one set holds only the ways filled so far (a prefix: a fill
 * takes the first non-valid way) and doubles them as it fills, each growth
 * charged to the budget: a device TLB of 2^24 entries on every device of a
 * trace costs what its devices fill.
 * test/caches/indexed.test.ts replays seeded operations on both and compares.
 */
export class IndexedTable extends SetAssocTable {
  /** Entries whose arrays exist: all, or for one set the ways [0, held). */
  private held: number;
  private readonly lists: boolean;
  private readonly touchOnHit: boolean;
  private chain: Int32Array;
  private buckets: Int32Array;
  private free: FreeBits;
  /** Recency lists (lru, fifo): neighbours by entry index, -1 at the ends; prev -2: not listed. */
  private prev: Int32Array;
  private next: Int32Array;
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  private readonly budget: MemoryBudget | undefined;
  private readonly what: string;

  constructor(g: TableGeometry, seed: number, budget: MemoryBudget | undefined, what: string) {
    const held = g.sets === 1 ? Math.min(g.ways, INDEXED_FIRST_HELD) : g.entries;
    const lists = g.policy === 'lru' || g.policy === 'fifo';
    // Charged before anything is made: the fixed part (plru's tree bits, the list ends, the free bits' upper levels) and the held entries.
    budget?.charge((g.policy === 'plru' ? g.entries : 0) + 8 * g.sets + IndexedTable.entryBytes(lists) * held, what);
    super(g.sets, g.ways, new Replacement(g.policy, g.sets, g.ways, seed, false), held);
    this.held = held;
    this.lists = lists;
    this.touchOnHit = g.policy === 'lru';
    this.budget = budget;
    this.what = what;
    this.chain = new Int32Array(held);
    this.buckets = new Int32Array(IndexedTable.bucketsFor(held)).fill(-1);
    this.free = new FreeBits(held);
    this.prev = new Int32Array(lists ? held : 0).fill(-2);
    this.next = new Int32Array(lists ? held : 0);
    this.head = new Int32Array(lists ? g.sets : 0).fill(-1);
    this.tail = new Int32Array(lists ? g.sets : 0).fill(-1);
  }

  /** Bytes a held entry costs: the entry, its chain link, its bucket (up to two), its list links, its free bit. */
  private static entryBytes(lists: boolean): number {
    return ENTRY_BYTES + 4 + 8 + (lists ? 8 : 0) + 1;
  }

  private static bucketsFor(held: number): number {
    let n = 1;
    while (n < held) n *= 2;
    return n;
  }

  private bucketOf(tag: number, base: number, order: number): number {
    return keyHash(tag, base, order) & (this.buckets.length - 1);
  }

  override lookup(tag: number, pfn: number, ordersDesc: Int8Array): number {
    const live = this.orderLive;
    const state = this.state;
    const chain = this.chain;
    let ghost = false;
    for (let k = 0; k < ordersDesc.length; k++) {
      const order = ordersDesc[k];
      if (live[order] === 0) continue;
      const page = pageNumber(pfn, order);
      const base = page * POW2[order];
      let hit = -1;
      for (let i = this.buckets[this.bucketOf(tag, base, order)]; i >= 0; i = chain[i]) {
        if (this.base[i] !== base || this.tag[i] !== tag || this.order[i] !== order) continue;
        const st = state[i];
        if (st === VALID) {
          if (hit < 0 || i < hit) hit = i;
        } else if (st === INVALIDATED) ghost = true;
      }
      if (hit >= 0) {
        const set = setOf(page, this.setMask);
        if (this.lists) {
          if (this.touchOnHit) this.toTail(set, hit);
        } else this.policy.onHit(set, hit - set * this.ways);
        this.missWasInvalidated = false;
        return hit;
      }
    }
    this.missWasInvalidated = ghost;
    return -1;
  }

  override findExact(tag: number, base: number, order: number): number {
    let hit = -1;
    for (let i = this.buckets[this.bucketOf(tag, base, order)]; i >= 0; i = this.chain[i]) {
      if (this.base[i] === base && this.state[i] === VALID && this.tag[i] === tag && this.order[i] === order && (hit < 0 || i < hit)) hit = i;
    }
    return hit;
  }

  override fill(tag: number, base: number, order: number, phys: number, owner: number): number {
    const set = setOf(pageNumber(base, order), this.setMask);
    const first = set * this.ways;
    let way: number;
    const f = this.free.next(first);
    if (f >= 0 && f < first + this.ways) way = f - first;
    else if (this.held < first + this.ways)
      way = this.held - first; // one set: the first way never used
    else {
      way = this.lists ? this.head[set] - first : this.policy.victim(set);
      if (way === FLUSH_ALL) {
        this.reset();
        way = 0;
      }
    }
    const i = first + way;
    if (i >= this.held) this.grow(i + 1);
    const state = this.state;
    const live = this.orderLive;
    if (state[i] !== EMPTY) {
      live[this.order[i]]--;
      this.unlink(i);
    }
    if (live[order]++ === 0) this.noteOrder(order);
    state[i] = VALID;
    this.tag[i] = tag;
    this.base[i] = base;
    this.order[i] = order;
    this.phys[i] = phys;
    this.owner[i] = owner;
    this.unmappedAt[i] = -1;
    this.link(i);
    this.free.delete(i);
    if (this.lists) this.toTail(set, i);
    else this.policy.onFill(set, way);
    return i;
  }

  protected override remove(i: number, nowNs: number): void {
    super.remove(i, nowNs);
    this.free.add(i);
  }

  /** Probes past which a removal scans instead: as many as the ways held (a probe reads a bucket's chain). */
  protected override probeLimit(): number {
    return this.held;
  }

  /** removeKey through the index: the bucket of (tag, base, o). */
  protected override removeKey(tag: number, page: number, o: number, nowNs: number, unmapped: boolean): number {
    const base = page * POW2[o];
    if (unmapped) this.markUnmapped(tag, base, o, nowNs); // the chain is not in index order: findExact's entry, the lowest
    let removed = 0;
    for (let i = this.buckets[this.bucketOf(tag, base, o)]; i >= 0; i = this.chain[i]) {
      if (this.base[i] === base && this.state[i] === VALID && this.tag[i] === tag && this.order[i] === o) {
        this.remove(i, nowNs);
        removed++;
      }
    }
    return removed;
  }

  override reset(): void {
    super.reset();
    this.buckets.fill(-1);
    this.free = new FreeBits(this.held);
    this.prev.fill(-2);
    this.head.fill(-1);
    this.tail.fill(-1);
  }

  private link(i: number): void {
    const b = this.bucketOf(this.tag[i], this.base[i], this.order[i]);
    this.chain[i] = this.buckets[b];
    this.buckets[b] = i;
  }

  private unlink(i: number): void {
    const b = this.bucketOf(this.tag[i], this.base[i], this.order[i]);
    let j = this.buckets[b];
    if (j === i) {
      this.buckets[b] = this.chain[i];
      return;
    }
    while (this.chain[j] !== i) j = this.chain[j];
    this.chain[j] = this.chain[i];
  }

  /** Moves entry `i` of `set` to the newest end of its list. */
  private toTail(set: number, i: number): void {
    const prev = this.prev;
    const next = this.next;
    if (this.tail[set] === i) return;
    if (prev[i] !== -2) {
      // Unlink (it is not the tail, so it has a next).
      const p = prev[i];
      const n = next[i];
      if (p < 0) this.head[set] = n;
      else next[p] = n;
      prev[n] = p;
    }
    const t = this.tail[set];
    prev[i] = t;
    next[i] = -1;
    if (t < 0) this.head[set] = i;
    else next[t] = i;
    this.tail[set] = i;
  }

  /**
   * One set: holds ways [0, at least `min`), doubling. The old arrays are held
   * until the new ones are filled, so the new ones are charged in full and the
   * old ones released after (as the page-table pool grows, model/pagetable.ts).
   */
  private grow(min: number): void {
    const held = Math.min(this.ways, Math.max(min, 2 * this.held));
    const entryBytes = IndexedTable.entryBytes(this.lists);
    if (this.budget) this.budget.regrow(held * entryBytes, this.held * entryBytes, this.what, () => this.copyTo(held));
    else this.copyTo(held);
  }

  /** grow() without the charge: the arrays at `held` ways, the index rebuilt. */
  private copyTo(held: number): void {
    const lists = this.lists;
    this.state = grow(this.state, held);
    this.tag = grow(this.tag, held);
    this.base = grow(this.base, held);
    this.order = grow(this.order, held);
    this.phys = grow(this.phys, held);
    this.owner = grow(this.owner, held);
    this.unmappedAt = grow(this.unmappedAt, held);
    if (lists) {
      this.prev = grow(this.prev, held).fill(-2, this.held);
      this.next = grow(this.next, held);
    }
    this.chain = new Int32Array(held);
    this.buckets = new Int32Array(IndexedTable.bucketsFor(held)).fill(-1);
    this.free = new FreeBits(held);
    for (let i = 0; i < this.held; i++) {
      if (this.state[i] === VALID) this.free.delete(i);
      if (this.state[i] !== EMPTY) this.link(i);
    }
    this.held = held;
  }
}
