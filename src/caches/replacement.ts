// Replacement policies behind three hooks (hit, fill, victim), as ChampSim's
// replacement modules are. The table fills the first invalid way itself and
// asks `victim` only when the set is full (docs/model.md §6, "Fill").
//
// One class holds every policy's state and switches on the policy's code:
// each table calls the same three methods at the same sites, so the calls stay
// monomorphic and inline into the probe and fill loops. (A class per policy
// behind an interface made them virtual calls: 7 ns of a 50 ns miss.)
import type { PolicyName } from '../config/config.js';

const LRU = 0;
const FIFO = 1;
const PLRU = 2;
const RANDOM = 3;
const FLUSH_WHEN_FULL = 4;
/** lru over exactly 4 ways, kept as a recency order (LRU4_TOUCH). */
const LRU4 = 5;
const CODES: Record<PolicyName, number> = { lru: LRU, fifo: FIFO, plru: PLRU, random: RANDOM, 'flush-when-full': FLUSH_WHEN_FULL };
/** `victim`'s answer under flush-when-full: empty the whole table, then fill. */
export const FLUSH_ALL = -1;

/**
 * LRU over 4 ways as a recency order rather than stamps: a set's byte holds
 * its ways from least to most recently used, 2 bits each (way at position 0,
 * the low bits, is the victim). LRU4_TOUCH[order * 4 + way] is the order with
 * `way` moved to most recent. The same victims as the stamps give (both
 * order ways by their last hit or fill), without comparing four stamps: the
 * branches of that comparison mispredict on almost every miss.
 */
export const LRU4_TOUCH: Uint8Array = (() => {
  const t = new Uint8Array(256 * 4);
  for (let code = 0; code < 256; code++) {
    const ways = [0, 1, 2, 3].map((p) => (code >> (2 * p)) & 3);
    for (let w = 0; w < 4; w++) {
      const order = [...ways.filter((x) => x !== w), w];
      // Codes that are not permutations never occur; any value will do for them.
      t[code * 4 + w] = order.length === 4 ? order.reduce((acc, x, p) => acc | (x << (2 * p)), 0) : 0;
    }
  }
  return t;
})();
/** Ways 0, 1, 2, 3 from least to most recent: a set's order before any fill (any permutation would do). */
export const LRU4_INITIAL = 0b11100100;

/** The way with the smallest stamp (the first of equals). */
function oldestWay(stamp: Float64Array, base: number, ways: number): number {
  let best = 0;
  let bestStamp = stamp[base];
  for (let w = 1; w < ways; w++) {
    const s = stamp[base + w];
    if (s < bestStamp) {
      bestStamp = s;
      best = w;
    }
  }
  return best;
}

export class Replacement {
  readonly name: PolicyName;
  private readonly code: number;
  private readonly ways: number;
  /**
   * lru: a global clock stamped on every fill and hit (least recently used
   * goes); fifo: stamped on fills only (first in goes).
   */
  readonly stamp: Float64Array;
  /** The last stamp given (model/specialize.ts keeps it in a local through a DMA run). */
  clock = 0;
  /**
   * plru: tree bits over a power-of-two number of ways, per set. Nodes are
   * numbered as a heap (root 1, children 2n and 2n+1; leaf `ways + w` is way
   * w); a node's bit says where the victim is, 0 the left half, 1 the right.
   * A touch points every node on the way's path away from it.
   */
  private readonly bits: Uint8Array;
  /** lru with 4 ways: each set's recency order (LRU4_TOUCH); the stamps are then unused. */
  readonly order4: Uint8Array;
  /** random: seeded xorshift32 state, so `random` runs are reproducible. */
  private rng: number;

  /** `stamps`: false for a table that orders its ways itself (caches/table.ts IndexedTable keeps recency lists). */
  constructor(name: PolicyName, sets: number, ways: number, seed: number, stamps = true) {
    this.name = name;
    this.code = name === 'lru' && ways === 4 ? LRU4 : CODES[name];
    this.ways = ways;
    const stamped = stamps && (this.code === LRU || this.code === FIFO);
    this.stamp = new Float64Array(stamped ? sets * ways : 0);
    this.bits = new Uint8Array(this.code === PLRU ? sets * ways : 0); // node 0 unused: ways-1 nodes per set
    this.order4 = new Uint8Array(this.code === LRU4 ? sets : 0).fill(LRU4_INITIAL);
    // splitmix-style scramble so that nearby seeds give unrelated streams; never 0.
    let s = (seed ^ 0x9e3779b9) >>> 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
    this.rng = (s ^ (s >>> 16)) >>> 0 || 1;
  }

  onHit(set: number, way: number): void {
    if (this.code === LRU4) this.order4[set] = LRU4_TOUCH[this.order4[set] * 4 + way];
    else if (this.code === LRU) this.stamp[set * this.ways + way] = ++this.clock;
    else if (this.code === PLRU) this.touch(set, way);
  }

  onFill(set: number, way: number): void {
    if (this.code === LRU4) this.order4[set] = LRU4_TOUCH[this.order4[set] * 4 + way];
    else if (this.code === LRU || this.code === FIFO) this.stamp[set * this.ways + way] = ++this.clock;
    else if (this.code === PLRU) this.touch(set, way);
  }

  /**
   * The way to evict from a full set, or FLUSH_ALL: flush-when-full empties
   * the whole table instead, as QEMU's VT-d IOTLB does (hw/i386/intel_iommu.c
   * vtd_update_iotlb(): at VTD_IOTLB_MAX_SIZE entries, vtd_reset_iotlb_locked()).
   */
  victim(set: number): number {
    const code = this.code;
    if (code === FLUSH_WHEN_FULL) return FLUSH_ALL;
    if (code === LRU4) return this.order4[set] & 3;
    if (code === LRU || code === FIFO) return oldestWay(this.stamp, set * this.ways, this.ways);
    if (code === PLRU) {
      const base = set * this.ways;
      let node = 1;
      while (node < this.ways) node = 2 * node + this.bits[base + node];
      return node - this.ways;
    }
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return (x >>> 0) % this.ways; // both uint32: an integer remainder, not fprem
  }

  private touch(set: number, way: number): void {
    const base = set * this.ways;
    let node = way + this.ways;
    while (node > 1) {
      const parent = node >> 1;
      this.bits[base + parent] = (node & 1) === 0 ? 1 : 0;
      node = parent;
    }
  }
}
