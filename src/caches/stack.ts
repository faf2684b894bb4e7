// The stack-distance profiler: one IOTLB that stands for every fully
// associative LRU IOTLB of 1..N entries at once (Mattson et al. 1970), behind
// the same seam as SetAssocTable (caches/iotlb.ts), so that the rest of the
// model (page tables, attachments, device TLBs, invalidation) is the replay's
// own code.
//
// The LRU stack is kept as marks on a time axis: an entry's mark is the time
// of its last use, and its stack depth is the number of marks at or after it
// (the times from it to the top less the gaps among them, which a Fenwick
// tree counts). The table of S entries holds exactly the entries among the
// top S marks.
//
// Bounded (the curve's profiler): only the top N marks are kept, N the largest
// size. An entry deeper than N is in no size's table, so it is as good as
// absent: a lookup of it misses at every size, and a fill of it is a new entry
// (an entry held deeper than N would move up the same way). When a new mark
// makes N + 1, the oldest mark leaves (a pointer moving forward over the time
// axis finds it), its entry with it. So a lookup that misses everywhere costs
// a probe of the index and no depth query (the curve's traces miss at most
// sizes), and the index holds at most N entries. Unbounded (OPT's recorder,
// run/opt.ts), marks deeper than N stay until the time axis is renumbered;
// the entries a renumbering drops are handed to the recorder (onDrop), which
// still records their invalidations: an entry LRU dropped may be one OPT
// holds.
//
// Invalidation (trap 1 of the curve): an invalidated entry frees a slot at
// every size that held it. Removing it from the stack would pull up, at a
// smaller size, an entry that size had already evicted. It becomes a hole
// instead: a mark with no entry. A miss consumes the topmost hole: sizes
// smaller than its depth have no free slot and lose their LRU entry, larger
// ones fill the freed slot. A hit on an entry below a hole consumes that hole
// and leaves one where the entry was: sizes that missed fill the freed slot,
// sizes that hit keep the same contents.
//
// Sizes that disagree (traps 2 and 3): the profiler serves a group of sizes
// [lo, hi] that so far took the same path through the model. At a lookup the
// sizes see: a hit on the winning entry of each size (§6 probes the page sizes
// largest first; the first hit wins), or a miss. A non-stale hit and a miss
// lead to the same state (the walk finds and fills the same leaf, which fills
// the device TLB the same way), so only counters differ: they go to the
// group's depth histograms. A stale hit differs from a miss (a miss walks and
// faults or fills another leaf; a stale hit fills the device TLB with the old
// leaf), and two different winners differ. Then the group keeps the top sizes
// and hands the rest [lo, d-1] back (CurveGroup.split): they are replayed
// again from the start as a group of their own, which takes the other path
// here. Nothing is approximated, unless the caller's group budget runs out:
// then the smaller sizes follow the larger ones and are marked approximate.
import { drainWindow, markUnmappedIn, noteRemoval, rangeProbes, type Iotlb } from './iotlb.js';
import { POW2, alignDown, pageNumber } from './indexing.js';
import { grow } from '../typed.js';
import { unlimitedBudget, type MemoryBudget } from '../config/limits.js';

/** What the profiler reads of the page tables to tell a stale entry (PageTablePool). */
export interface LeafLookup {
  lookup(root: number, pfn: number): number;
  readonly foundBase: number;
  readonly foundPhys: number;
  walkAccesses(order: number): number;
}

/** How many more size groups a curve may start (each costs a replay of the trace). */
export interface GroupBudget {
  remaining: number;
}

/** Sizes [lo, hi] that took one path so far, and what their counters gain over size lo. */
export class CurveGroup {
  lo: number;
  readonly hi: number;
  /** By depth d: lookups that hit at every size >= d of the group and missed (walked) below. Grown to the deepest depth seen. */
  private hitGain: Float64Array;
  /** By depth d: the walk memory accesses those lookups saved at sizes >= d. */
  private accessGain: Float64Array;
  /** Size ranges handed back to be replayed on their own. */
  readonly spawned: [number, number][] = [];
  /**
   * Sizes that had to take the larger sizes' path when the budget was spent:
   * their counters are approximate from that lookup on.
   */
  readonly approximate: [number, number][] = [];
  private readonly budget: GroupBudget;

  constructor(lo: number, hi: number, budget: GroupBudget = { remaining: Infinity }) {
    this.lo = lo;
    this.hi = hi;
    this.budget = budget;
    // Sized for the depths seen, not for hi (a trace may fill far fewer entries).
    this.hitGain = new Float64Array(Math.min(hi + 2, 1024));
    this.accessGain = new Float64Array(this.hitGain.length);
  }

  /** A lookup that hits from depth `d` up and walks below, saving `accesses` walk accesses at those sizes. */
  gain(d: number, accesses: number): void {
    if (d >= this.hitGain.length) {
      const cap = Math.min(this.hi + 2, Math.max(d + 1, 2 * this.hitGain.length));
      this.hitGain = grow(this.hitGain, cap);
      this.accessGain = grow(this.accessGain, cap);
    }
    this.hitGain[d]++;
    this.accessGain[d] += accesses;
  }

  /** Lookups that hit from depth `d` up (and walked below). */
  hitsAt(d: number): number {
    return d < this.hitGain.length ? this.hitGain[d] : 0;
  }

  /** The walk accesses saved at sizes >= d by those lookups. */
  accessesAt(d: number): number {
    return d < this.accessGain.length ? this.accessGain[d] : 0;
  }

  /**
   * Sizes below `newLo` take another path from here: they are replayed apart,
   * while the budget lasts (true). Past it they stay and are marked approximate.
   */
  split(newLo: number): boolean {
    if (this.budget.remaining > 0) {
      this.budget.remaining--;
      this.spawned.push([this.lo, newLo - 1]);
      this.lo = newLo;
      return true;
    }
    this.approximate.push([this.lo, newLo - 1]);
    return false;
  }
}

/** What a memory-limit line calls the profiler. */
const PROFILER = 'the stack profiler of the curve (entries the trace filled)';

/** The time axis a profiler starts with: small, as most traces touch far fewer entries than the largest size. */
const INITIAL_CAP = 1024;

/**
 * Index buckets for room for `nodes` entries: a power of two, at least twice
 * `nodes` - 1 (chains of half an entry on average at most). The bounded
 * profiler's room is the largest size + 1 (a new entry comes before the
 * oldest leaves): a power-of-two size gets twice its buckets, not four times.
 * An unbounded profiler's room is a power of two of at least 64, which gets
 * twice as many buckets either way.
 */
function hashSlotsFor(nodes: number): number {
  let h = 4;
  while (h < 2 * (nodes - 1)) h *= 2;
  return h;
}

/**
 * The bounded profiler's time axis, in marks per entry of the largest size: a
 * renumbering (O(axis)) comes once per axis minus the N marks kept, and a
 * longer axis costs 18 bytes a mark (bytesAt).
 */
const BOUNDED_AXIS_PER_ENTRY = 4;

const NONE = 0;
const ITEM = 1;
const HOLE = 2;

/**
 * The index' home slot of key (tag, base, order) in an index of 2^(32 -
 * shift) slots: multiplicative (Fibonacci) hashing, the slot from the
 * product's top bits, which every bit below them reaches. Two
 * multiplications (the finalizer it replaces, three more, showed in the
 * curve's profile). The curve's DMA loop (model/stackrun.ts) probes with it too.
 */
export function slotOfKey(tag: number, base: number, order: number, shift: number): number {
  const hi = base < 4294967296 ? 0 : (base / 4294967296) >>> 0;
  let x = (base >>> 0) ^ Math.imul(hi ^ (tag << 6) ^ order, 0x85ebca6b);
  // Bits above the slot's reach fold down (keys apart by a large stride).
  x ^= x >>> 16;
  return Math.imul(x, 0x9e3779b1) >>> shift;
}

export class StackIotlb implements Iotlb {
  readonly group: CurveGroup;
  protected readonly pool: LeafLookup;
  /** The largest size followed; entries and holes deeper than it are dropped. */
  private readonly depthCap: number;
  /** Whether only the top depthCap marks are kept (see the top of this file). */
  private readonly bounded: boolean;
  /**
   * Time-axis length: the marks are renumbered (compacted) when it runs out.
   * It starts small and doubles at a renumbering that keeps more than half
   * of it (bounded: a quarter), up to 2 x the largest size (bounded: 4 x):
   * memory follows the entries the trace really fills, not --max-entries
   * (issue 25).
   */
  protected cap = 0;
  private readonly maxCap: number;
  /**
   * Entries the per-entry arrays and the index have room for: the time
   * axis' length unbounded (an entry has a mark), bounded doubling as
   * entries are made, up to the largest size + 1 (a new entry comes before
   * the oldest leaves).
   */
  protected nodeCap = 0;
  private readonly maxNodes: number;

  // Per entry (node).
  base = new Float64Array(0);
  order = new Uint8Array(0);
  phys = new Float64Array(0);
  owner = new Int32Array(0);
  unmappedAt = new Float64Array(0);
  /** Per entry, its tag (read, with the index below, by the curve's DMA loop's probe: model/stackrun.ts). */
  tag = new Int32Array(0);
  private time = new Int32Array(0);
  private live = new Uint8Array(0);
  private freeNodes = new Int32Array(0);
  private freeCount = 0;
  private nodeHigh = 0;

  // Per time.
  private fen = new Int32Array(0);
  private kind = new Uint8Array(0);
  private at = new Int32Array(0);
  private now = 0;
  private total = 0;
  /** Gaps counted in the Fenwick tree (depthOf). */
  private gaps = 0;
  /** Bounded: no mark before this time (the oldest mark is at or after it). */
  private tail = 0;
  /** Max-heap of hole times: the topmost hole is the one a fill takes. */
  private heap = new Int32Array(0);
  private heapSize = 0;

  // (tag, base, order) -> node: a hash of chained buckets. Each bucket's
  // entries are a list through `next`: a deletion unlinks the entry from a
  // list of about one (linear probing's backward-shift deletion, which moved
  // the keys of a cluster, was a fifth of the profiler's time).
  /** Per bucket, its first entry (-1: none). Read, with `next`, by the curve's DMA loop's probe (model/stackrun.ts). */
  hash = new Int32Array(0);
  /** Per entry, the next entry of its bucket (-1: the last). */
  next = new Int32Array(0);
  /** 32 - log2(buckets): slotOf keeps a product's top bits. */
  hashShift = 32;

  /** Live entries per order: a lookup skips orders the table holds nothing of. */
  readonly orderLive = new Int32Array(64);
  /** The orders ever filled, in first-fill order: what an invalidation probes (as SetAssocTable.seenOrders). */
  private readonly seenOrders: number[] = [];
  /**
   * What the last lookup found at each order it probed (probedAt[order] ===
   * probeStamp): the fill that follows a miss is of one of those keys, and
   * takes the node (or its absence) from here instead of probing again. Any
   * other change of the index (a fill, an invalidation, a renumbering) moves
   * the stamp on.
   */
  private probeStamp = 1;
  private readonly probedAt = new Float64Array(64);
  /** By order, the entry that probe found (-1: none). Written by the curve's DMA loop before lookupProbed (model/stackrun.ts). */
  readonly probedNode = new Int32Array(64);
  /** That probe's bucket (-1: not probed, no entry of the order): where the fill's new entry goes. Written as probedNode. */
  readonly probedSlot = new Int32Array(64);
  private probeTag = 0;
  private probePfn = 0;
  private readonly winNode = new Int32Array(64);
  private readonly winDepth = new Int32Array(64);
  private scratchKind = new Uint8Array(0);
  private scratchAt = new Int32Array(0);

  private domain = 0;
  private root = 0;

  missWasInvalidated = false;
  /**
   * Set by lookup: the entry of a miss that is a hit from some depth up (a
   * gain), else -1. It is no stale hit, so a walk of the page now finds its
   * leaf: its order, base and paddr (the replay counts such a hit without a
   * walk on the same rule; stale() walks when the cheap test cannot tell).
   * The curve's DMA loop (model/stackrun.ts) takes the leaf from it.
   */
  gainNode = -1;
  /** Set by fill: whether it made a new entry (false: it refreshed one already held). */
  filledNew = false;
  windowMaxNs = 0;
  windowSumNs = 0;
  windowCount = 0;

  /** What the arrays are charged to (--max-table-memory); unlimited when not given. */
  protected readonly budget: MemoryBudget;

  constructor(group: CurveGroup, pool: LeafLookup, maxEntries: number, budget: MemoryBudget | null = null, bounded = true) {
    this.group = group;
    this.pool = pool;
    this.depthCap = maxEntries;
    this.bounded = bounded;
    this.budget = budget ?? unlimitedBudget();
    // Unbounded: room for N marks past the N kept at a renumbering, one
    // renumbering per N lookups or more, O(2N) each (a longer axis would
    // leave more dropped entries in the index and in the scans of
    // invalidations). Bounded, nothing is dropped there: a longer axis only
    // renumbers less often.
    this.maxCap = Math.max(64, this.keptShare * maxEntries);
    this.maxNodes = bounded ? maxEntries + 1 : this.maxCap;
    const cap = Math.min(this.maxCap, INITIAL_CAP);
    this.resize(cap, Math.min(this.maxNodes, cap));
  }

  /**
   * The bytes the profiler's arrays take at time-axis length `cap` with room
   * for `nodes` entries (unbounded: as many as marks): 18 a mark, 46 an
   * entry, 4 an index bucket (at least 2 an entry).
   */
  static bytesAt(cap: number, nodes = cap): number {
    return cap * 18 + nodes * 46 + hashSlotsFor(nodes) * 4;
  }

  /** The bytes the profiler's arrays hold now. */
  get bytes(): number {
    return StackIotlb.bytesAt(this.cap, this.nodeCap);
  }

  /** Entries held (bounded: at most the largest size). */
  get held(): number {
    return this.nodeHigh - this.freeCount;
  }

  bind(domain: number, root: number): void {
    this.domain = domain;
    this.root = root;
  }

  // ------------------------------------------------------------ the stack

  /**
   * Marks at times >= t: the stack depth of the mark at t (1 = most recent).
   * The times t..now-1 less the gaps among them (the Fenwick tree counts the
   * gaps, not the marks: a new mark at the top, and bounded the oldest
   * leaving below every mark asked about, change no count, so a fill that
   * misses everywhere updates no tree).
   */
  private depthOf(t: number): number {
    const fen = this.fen;
    let s = 0;
    for (let x = t; x > 0; x &= x - 1) s += fen[x];
    return this.now - t - (this.gaps - s);
  }

  /** The mark at `t` left (its time is a gap now), above the tail. */
  private gapAt(t: number): void {
    const fen = this.fen;
    const cap = this.cap;
    for (let x = t + 1; x <= cap; x += x & -x) fen[x]++;
    this.gaps++;
  }

  private heapPush(t: number): void {
    const heap = this.heap;
    let i = this.heapSize++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p] >= t) break;
      heap[i] = heap[p];
      i = p;
    }
    heap[i] = t;
  }

  private heapPop(): number {
    const heap = this.heap;
    const top = heap[0];
    const last = heap[--this.heapSize];
    let i = 0;
    const n = this.heapSize;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && heap[c + 1] > heap[c]) c++;
      if (heap[c] <= last) break;
      heap[i] = heap[c];
      i = c;
    }
    if (n > 0) heap[i] = last;
    return top;
  }

  /** Makes room on the time axis for one more mark (a renumbering may rebuild the index). */
  ensureTime(): void {
    if (this.now === this.cap) this.compact();
  }

  /** A new mark at the top for `node`; bounded, past depthCap marks the oldest leaves. */
  private pushTop(node: number): void {
    const t = this.now++;
    this.kind[t] = ITEM;
    this.at[t] = node;
    this.time[node] = t;
    if (++this.total > this.depthCap && this.bounded) this.dropOldest();
  }

  /**
   * Bounded: the oldest mark leaves the stack, deeper than every size, and
   * its entry the index. It is an entry's: a new mark is pushed only when
   * there is no hole (a fill takes the topmost hole first), and a touch or a
   * removal pushes none.
   */
  private dropOldest(): void {
    const kind = this.kind;
    let t = this.tail;
    while (kind[t] === NONE) t++;
    this.tail = t + 1;
    this.probeStamp++;
    this.dropNode(this.at[t]);
    // Below every mark kept: no depth asked counts it, no gap.
    kind[t] = NONE;
    this.total--;
  }

  /** A new mark at the top for `node` in place of the mark at `from` (already cleared): one mark leaves, one comes. */
  private moveToTop(node: number, from: number): void {
    const t = this.now++;
    this.kind[t] = ITEM;
    this.at[t] = node;
    this.time[node] = t;
    this.gapAt(from);
  }

  /**
   * Moves `node` (marked) to the top. A hole above it is consumed and its old
   * place becomes a hole; else it simply leaves its place.
   */
  private touch(node: number): void {
    const t = this.time[node];
    if (this.heapSize > 0 && this.heap[0] > t) {
      const h = this.heapPop();
      this.kind[h] = NONE;
      this.kind[t] = HOLE;
      this.heapPush(t);
      this.moveToTop(node, h);
    } else {
      this.kind[t] = NONE;
      this.moveToTop(node, t);
    }
  }

  /**
   * Renumbers the marks 0..k-1, dropping those deeper than the largest size
   * (no size followed holds them): the axis and the entries stay bounded by
   * the live translations, whatever the trace length.
   */
  private compact(): void {
    this.probeStamp++; // entries are dropped
    const kind = this.kind;
    const at = this.at;
    const sk = this.scratchKind;
    const sa = this.scratchAt;
    let depth = 0;
    let k = 0;
    let dropped = 0;
    // Top down: the kept marks are the first depthCap, written in reverse.
    for (let t = this.now - 1; t >= this.tail; t--) {
      const kd = kind[t];
      if (kd === NONE) continue;
      depth++;
      if (depth <= this.depthCap) {
        sk[k] = kd;
        sa[k] = at[t];
        k++;
      } else if (kd === ITEM) {
        this.onDrop(at[t]);
        this.releaseNode(at[t]);
        dropped++;
      }
    }
    // Kept more than half the axis (bounded: a quarter): double it (an
    // amortized O(1) per mark renumbering needs room for many more marks
    // than are kept).
    if (k > this.cap / this.keptShare && this.cap < this.maxCap) this.growTo(k);
    // The index is rebuilt from the entries kept (at most the largest size):
    // cheaper than deleting the many dropped one by one.
    else if (dropped > 0) this.rebuildIndex();
    const kindNow = this.kind;
    const atNow = this.at;
    kindNow.fill(NONE);
    this.fen.fill(0);
    this.heapSize = 0;
    for (let j = 0; j < k; j++) {
      const t = k - 1 - j;
      kindNow[t] = sk[j];
      atNow[t] = sa[j];
      if (sk[j] === ITEM) this.time[sa[j]] = t;
      else this.heapPush(t);
    }
    // The marks are at 0..k-1 now: no gap.
    this.gaps = 0;
    this.now = k;
    this.total = k;
    this.tail = 0;
  }

  /** The longest time axis in marks per entry of the largest size; it grows when a renumbering keeps more than 1 / keptShare of it. */
  private get keptShare(): number {
    return this.bounded ? BOUNDED_AXIS_PER_ENTRY : 2;
  }

  /**
   * A longer time axis, for `kept` marks: every array grows (entries are
   * copied, the marks are laid out again by compact()), the index is rebuilt.
   */
  private growTo(kept: number): void {
    let cap = this.cap;
    while (kept > cap / this.keptShare && cap < this.maxCap) cap *= 2;
    const grown = Math.min(cap, this.maxCap);
    // Unbounded, an entry per mark; bounded, the entries stay as they are.
    this.resize(grown, this.bounded ? this.nodeCap : grown);
    if (!this.bounded) this.onGrow(this.nodeCap);
  }

  /** Bounded: room for more entries (doubling, up to maxNodes); the index is rebuilt. */
  private growNodes(): void {
    this.probeStamp++;
    this.resize(this.cap, Math.min(2 * this.nodeCap, this.maxNodes));
    this.onGrow(this.nodeCap);
  }

  /**
   * Every array at time-axis length `cap` with room for `nodes` entries
   * (from 0 in the constructor): the entries are copied, the index is
   * rebuilt; a longer axis' arrays are new, left to compact() to fill.
   * Charged to the budget.
   */
  private resize(cap: number, nodes: number): void {
    // The old arrays are held while copied: the new ones charged in full first, the old ones released after.
    const oldBytes = this.cap === 0 ? 0 : this.bytes;
    this.budget.regrow(StackIotlb.bytesAt(cap, nodes), oldBytes, PROFILER, () => this.copyTo(cap, nodes));
  }

  /** resize() without the charge. */
  private copyTo(cap: number, nodes: number): void {
    if (nodes !== this.nodeCap) {
      this.nodeCap = nodes;
      this.base = grow(this.base, nodes);
      this.order = grow(this.order, nodes);
      this.phys = grow(this.phys, nodes);
      this.owner = grow(this.owner, nodes);
      this.unmappedAt = grow(this.unmappedAt, nodes);
      this.tag = grow(this.tag, nodes);
      this.time = grow(this.time, nodes);
      this.live = grow(this.live, nodes);
      this.freeNodes = grow(this.freeNodes, nodes);
      this.next = grow(this.next, nodes);
    }
    if (cap !== this.cap) {
      this.cap = cap;
      this.fen = new Int32Array(cap + 1);
      this.kind = new Uint8Array(cap);
      this.at = new Int32Array(cap);
      this.heap = new Int32Array(cap);
      this.scratchKind = new Uint8Array(cap);
      this.scratchAt = new Int32Array(cap);
    }
    this.hash = new Int32Array(hashSlotsFor(nodes));
    this.hashShift = 32 - Math.log2(this.hash.length);
    this.rebuildIndex();
  }

  /** Called when the arrays grow to `cap` entries (a subclass' per-entry arrays follow). */
  protected onGrow(_cap: number): void {}

  // ------------------------------------------------------------ the key index

  /**
   * The home slot of a key (slotOfKey).
   */
  private slotOf(tag: number, base: number, order: number): number {
    return slotOfKey(tag, base, order, this.hashShift);
  }

  /** The node of the key, or -1; either way foundSlot is its bucket. */
  private find(tag: number, base: number, order: number): number {
    const h = this.slotOf(tag, base, order);
    this.foundSlot = h;
    const b = this.base;
    const next = this.next;
    for (let n = this.hash[h]; n >= 0; n = next[n]) {
      if (b[n] === base && this.tag[n] === tag && this.order[n] === order) return n;
    }
    return -1;
  }

  /** Set by find. */
  private foundSlot = 0;

  /** Puts `node` first in bucket `h` (its key's, slotOf). */
  private hashInsertAt(node: number, h: number): void {
    this.next[node] = this.hash[h];
    this.hash[h] = node;
  }

  private hashInsert(node: number): void {
    this.hashInsertAt(node, this.slotOf(this.tag[node], this.base[node], this.order[node]));
  }

  /** Unlinks `node` from its bucket's list. */
  private hashDelete(node: number): void {
    const h = this.slotOf(this.tag[node], this.base[node], this.order[node]);
    const next = this.next;
    let n = this.hash[h];
    if (n === node) {
      this.hash[h] = next[node];
      return;
    }
    while (next[n] !== node) n = next[n];
    next[n] = next[node];
  }

  private dropNode(node: number): void {
    this.hashDelete(node);
    this.releaseNode(node);
  }

  /** Frees `node`, still in the index (the caller deletes it or rebuilds the index). */
  private releaseNode(node: number): void {
    this.orderLive[this.order[node]]--;
    this.live[node] = 0;
    this.freeNodes[this.freeCount++] = node;
  }

  /** The index of the live entries, from scratch. */
  private rebuildIndex(): void {
    this.hash.fill(-1);
    for (let n = 0; n < this.nodeHigh; n++) if (this.live[n] === 1) this.hashInsert(n);
  }

  // ------------------------------------------------------------ Iotlb

  /**
   * Whether a hit on `node` now would be stale: the replay's own rule
   * (model/dma.ts DmaPath.genericRun), so that the two agree entry for entry.
   */
  private stale(node: number): boolean {
    if (this.unmappedAt[node] < 0 && this.owner[node] === this.domain) return false;
    const order = this.order[node];
    const base = this.base[node];
    const pool = this.pool;
    return !(pool.lookup(this.root, base) === order && pool.foundBase === base && pool.foundPhys === this.phys[node]);
  }

  lookup(tag: number, pfn: number, ordersDesc: Int8Array): number {
    this.ensureTime();
    for (let k = 0; k < ordersDesc.length; k++) {
      const order = ordersDesc[k];
      const node = this.orderLive[order] === 0 ? -1 : this.find(tag, alignDown(pfn, order), order);
      this.probedNode[order] = node;
      // No entry of the order: no slot either (the fill probes for one).
      this.probedSlot[order] = node < 0 && this.orderLive[order] === 0 ? -1 : this.foundSlot;
    }
    return this.lookupProbed(tag, pfn, ordersDesc);
  }

  /**
   * lookup() once probedNode and probedSlot hold, for each order of
   * `ordersDesc`, what a probe of the index as it is now finds for page `pfn`
   * (after ensureTime): the curve's DMA loop probes inline and calls this
   * when some order's key is there, so that a hit probes the index once.
   */
  lookupProbed(tag: number, pfn: number, ordersDesc: Int8Array): number {
    this.missWasInvalidated = false;
    this.gainNode = -1;
    const g = this.group;
    const hi = g.hi;
    // The winners: each probe order's entry that is shallower than every
    // larger order's, i.e. the entry a size from its depth up finds first.
    let nw = 0;
    let minDepth = 0x7fffffff;
    const stamp = ++this.probeStamp;
    this.probeTag = tag;
    this.probePfn = pfn;
    for (let k = 0; k < ordersDesc.length; k++) {
      const order = ordersDesc[k];
      const node = this.probedNode[order];
      this.probedAt[order] = stamp;
      if (node < 0) continue;
      const d = this.depthOf(this.time[node]);
      if (d < minDepth) {
        if (d <= hi && minDepth - 1 >= g.lo) {
          this.winNode[nw] = node;
          this.winDepth[nw] = d;
          nw++;
        }
        minDepth = d;
      }
    }
    if (nw === 0) return -1; // a miss at every size of the group
    const node = this.winNode[0];
    const d = this.winDepth[0];
    // Below the top winner the sizes find another entry: another path.
    // (Past the budget they follow the top winner's path, marked approximate.)
    if (nw > 1) g.split(d);
    if (d <= g.lo) {
      this.touch(node); // a hit at every size of the group
      return node;
    }
    if (this.stale(node)) {
      g.split(d); // a stale hit from d up; below, a walk that faults or fills another leaf
      this.touch(node); // (at every size of the group when the split was refused)
      return node;
    }
    // A hit from d up, a walk of the same leaf below: only counters differ.
    // Report the miss of size lo; the fill that follows refreshes the entry.
    g.gain(d, this.pool.walkAccesses(this.order[node]));
    this.gainNode = node;
    return -1;
  }

  fill(tag: number, base: number, order: number, phys: number, owner: number): number {
    this.ensureTime();
    // Bounded, room for a new entry (a renumbering makes room unbounded); the index is rebuilt, the stamp moves on.
    if (this.freeCount === 0 && this.nodeHigh === this.nodeCap) this.growNodes();
    // The lookup's probe still holds when nothing changed the index since (a
    // renumbering in ensureTime moves the stamp on).
    const probed = this.probedAt[order] === this.probeStamp && tag === this.probeTag && base === alignDown(this.probePfn, order);
    let node = probed ? this.probedNode[order] : this.find(tag, base, order);
    const slot = probed ? this.probedSlot[order] : this.foundSlot;
    this.probeStamp++;
    this.filledNew = node < 0;
    if (node >= 0) this.touch(node);
    else node = this.newEntry(tag, base, order, slot);
    return this.setLeaf(node, phys, owner);
  }

  /**
   * fill() of a key that a probe of the index as it is now found absent in
   * bucket `slot` (-1: not probed, no entry of the order): the
   * curve's DMA loop (model/stackrun.ts) probes inline, and calls lookup()
   * only when the probe finds a key. The same entry, slot and mark as fill().
   */
  fillAbsent(tag: number, base: number, order: number, phys: number, owner: number, slot: number): number {
    // A renumbering, or room for more entries, may rebuild the index: the bucket is found again.
    if (this.now === this.cap) {
      this.compact();
      slot = -1;
    }
    if (this.freeCount === 0 && this.nodeHigh === this.nodeCap) {
      this.growNodes();
      slot = -1;
    }
    this.probeStamp++;
    this.filledNew = true;
    return this.setLeaf(this.newEntry(tag, base, order, slot), phys, owner);
  }

  /** A fill's leaf in `node`: its physical page and owner, mapped (no unmap since). */
  private setLeaf(node: number, phys: number, owner: number): number {
    this.phys[node] = phys;
    this.owner[node] = owner;
    this.unmappedAt[node] = -1;
    return node;
  }

  /** A new entry of the key, absent from the index, in bucket `slot` (-1: found here), at the topmost hole or a new mark. */
  private newEntry(tag: number, base: number, order: number, slot: number): number {
    const node = this.freeCount > 0 ? this.freeNodes[--this.freeCount] : this.nodeHigh++;
    this.tag[node] = tag;
    this.base[node] = base;
    this.order[node] = order;
    this.live[node] = 1;
    if (slot >= 0) this.hashInsertAt(node, slot);
    else this.hashInsert(node);
    if (this.orderLive[order]++ === 0 && !this.seenOrders.includes(order)) this.seenOrders.push(order);
    if (this.heapSize > 0) {
      // The topmost hole's slot takes the fill at every size that has it.
      const h = this.heapPop();
      this.kind[h] = NONE;
      this.moveToTop(node, h);
    } else {
      this.pushTop(node);
    }
    return node;
  }

  findExact(tag: number, base: number, order: number): number {
    return this.find(tag, base, order);
  }

  /** Called as an entry is invalidated (the OPT recorder's hook). */
  protected onRemove(_node: number): void {}

  /**
   * Called as a renumbering drops an entry deeper than the largest size
   * (unbounded only; bounded, the oldest mark leaves before it is that
   * deep). It is not invalidated: OPT may still hold it, and the recorder
   * follows its invalidations from here (run/opt.ts).
   */
  protected onDrop(_node: number): void {}

  /** An invalidated entry: its mark stays as a hole (see the top of this file). */
  private remove(node: number, nowNs: number): void {
    this.onRemove(node);
    this.probeStamp++;
    noteRemoval(this, this.unmappedAt[node], nowNs);
    const t = this.time[node];
    this.kind[t] = HOLE;
    this.heapPush(t);
    this.dropNode(node);
  }

  /**
   * removeRange of one page: one probe for each order held, in first-fill
   * order as removeRange's probes go (a one-page range never takes its scan).
   * A strict unmap of a 4K page comes here, once per unmap.
   */
  removePage(tag: number, pfn: number, nowNs: number): number {
    let removed = 0;
    const orders = this.seenOrders;
    for (let k = 0; k < orders.length; k++) {
      const o = orders[k];
      if (this.orderLive[o] === 0) continue;
      const node = this.find(tag, alignDown(pfn, o), o);
      if (node >= 0) {
        this.remove(node, nowNs);
        removed++;
      }
    }
    return removed;
  }

  removeRange(tag: number, start: number, end: number, nowNs: number): number {
    let removed = 0;
    // Few pages: probe the index for each; many: scan the entries (a scan
    // reads them in order, a probe at random: it pays past about a quarter
    // as many probes as entries).
    if (rangeProbes(this.seenOrders, this.orderLive, start, end) <= Math.max(64, this.nodeHigh >> 2)) {
      for (const o of this.seenOrders) {
        if (this.orderLive[o] === 0) continue;
        const last = pageNumber(end - 1, o);
        for (let page = pageNumber(start, o); page <= last; page++) {
          const node = this.find(tag, page * POW2[o], o);
          if (node >= 0) {
            this.remove(node, nowNs);
            removed++;
          }
        }
      }
      return removed;
    }
    for (let n = 0; n < this.nodeHigh; n++) {
      if (this.live[n] === 0 || this.tag[n] !== tag) continue;
      const b = this.base[n];
      if (b < end && b + POW2[this.order[n]] > start) {
        this.remove(n, nowNs);
        removed++;
      }
    }
    return removed;
  }

  removeTags(tag: number, groups: Int32Array | null, nowNs: number): number {
    let removed = 0;
    const group = groups === null ? -1 : groups[tag];
    for (let n = 0; n < this.nodeHigh; n++) {
      if (this.live[n] === 0) continue;
      if (groups === null ? this.tag[n] !== tag : groups[this.tag[n]] !== group) continue;
      this.remove(n, nowNs);
      removed++;
    }
    return removed;
  }

  markUnmapped(tag: number, base: number, order: number, nowNs: number): void {
    markUnmappedIn(this, tag, base, order, nowNs);
  }

  drain(domainCounters: Float64Array, domainBase: number): void {
    drainWindow(this, domainCounters, domainBase);
  }

  takeWindow(): void {
    this.windowMaxNs = 0;
    this.windowSumNs = 0;
    this.windowCount = 0;
  }
}
