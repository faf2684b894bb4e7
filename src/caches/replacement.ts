// Replacement policies behind three hooks (hit, fill, victim), each owning its
// state, as ChampSim's replacement modules do. The table fills the first
// invalid way itself and asks `victim` only when the set is full
// (spec/model.md §6, "Fill").
import type { PolicyName } from '../config/config.js';

export interface ReplacementPolicy {
  readonly name: PolicyName;
  onHit(set: number, way: number): void;
  onFill(set: number, way: number): void;
  /** The way to evict from a full set. */
  victim(set: number): number;
}

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

/** Least recently filled or hit: a global clock stamped on every touch. */
export class LruPolicy implements ReplacementPolicy {
  readonly name = 'lru' as const;
  private readonly stamp: Float64Array;
  private clock = 0;
  constructor(sets: number, private readonly ways: number) {
    this.stamp = new Float64Array(sets * ways);
  }
  onHit(set: number, way: number): void {
    this.stamp[set * this.ways + way] = ++this.clock;
  }
  onFill(set: number, way: number): void {
    this.stamp[set * this.ways + way] = ++this.clock;
  }
  victim(set: number): number {
    return oldestWay(this.stamp, set * this.ways, this.ways);
  }
}

/** First in, first out: hits do not refresh. */
export class FifoPolicy implements ReplacementPolicy {
  readonly name = 'fifo' as const;
  private readonly stamp: Float64Array;
  private clock = 0;
  constructor(sets: number, private readonly ways: number) {
    this.stamp = new Float64Array(sets * ways);
  }
  onHit(): void {}
  onFill(set: number, way: number): void {
    this.stamp[set * this.ways + way] = ++this.clock;
  }
  victim(set: number): number {
    return oldestWay(this.stamp, set * this.ways, this.ways);
  }
}

/**
 * Tree pseudo-LRU over a power-of-two number of ways. Nodes are numbered as a
 * heap (root 1, children 2n and 2n+1; leaf `ways + w` is way w). A node's bit
 * says where the victim is: 0 the left half, 1 the right. A touch points every
 * node on the way's path away from it.
 */
export class PlruPolicy implements ReplacementPolicy {
  readonly name = 'plru' as const;
  private readonly bits: Uint8Array;
  constructor(sets: number, private readonly ways: number) {
    this.bits = new Uint8Array(sets * ways); // node 0 unused: ways-1 nodes per set
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
  onHit(set: number, way: number): void {
    this.touch(set, way);
  }
  onFill(set: number, way: number): void {
    this.touch(set, way);
  }
  victim(set: number): number {
    const base = set * this.ways;
    let node = 1;
    while (node < this.ways) node = 2 * node + this.bits[base + node];
    return node - this.ways;
  }
}

/** Seeded xorshift32, so `random` runs are reproducible. */
export class RandomPolicy implements ReplacementPolicy {
  readonly name = 'random' as const;
  private state: number;
  constructor(private readonly ways: number, seed: number) {
    // splitmix-style scramble so that nearby seeds give unrelated streams; never 0.
    let s = (seed ^ 0x9e3779b9) >>> 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
    this.state = (s ^ (s >>> 16)) >>> 0 || 1;
  }
  onHit(): void {}
  onFill(): void {}
  victim(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state % this.ways;
  }
}

export function makePolicy(name: PolicyName, sets: number, ways: number, seed: number): ReplacementPolicy {
  switch (name) {
    case 'lru': return new LruPolicy(sets, ways);
    case 'fifo': return new FifoPolicy(sets, ways);
    case 'plru': return new PlruPolicy(sets, ways);
    case 'random': return new RandomPolicy(ways, seed);
  }
}
