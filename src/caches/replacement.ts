// Replacement policies behind three hooks (hit, fill, victim), as ChampSim's
// replacement modules are. The table fills the first invalid way itself and
// asks `victim` only when the set is full (docs/model.md §6, "Fill").
//
// Each policy is one entry of POLICY_RULES below: its runtime hooks (the
// generic loop's, through SetAssocTable) and the source the generated DMA
// loop inlines for the same hooks (model/specialize.ts asks the entry for
// it), side by side, so that the two cannot drift apart; the record is keyed
// by PolicyName, so the compiler refuses a policy without its entry.
// test/model/specialize.test.ts replays every policy both ways.
//
// One class holds every policy's state and switches on the policy's code:
// each table calls the same three methods at the same sites, so the calls stay
// monomorphic and inline into the probe and fill loops. (A class per policy
// behind an interface made them virtual calls: 7 ns of a 50 ns miss.) The
// switch calls each policy's hook directly, which inlines too.
import { POLICIES, type PolicyName } from '../config/config.js';

/** `victim`'s answer under flush-when-full: empty the whole table, then fill. */
export const FLUSH_ALL = -1;

// Variant codes (module constants: the dispatch compares with literals).
const C_LRU = 0;
const C_FIFO = 1;
const C_PLRU = 2;
const C_RANDOM = 3;
const C_FLUSH_WHEN_FULL = 4;
const C_LRU4 = 5;

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
/**
 * Where a set's recency order starts in Replacement.lru4, after its copy of
 * LRU4_TOUCH: the generated loop reads both through one array (compiled code
 * checks each typed array a loop reads in every iteration, model/specialize.ts).
 */
export const LRU4_ORDERS = LRU4_TOUCH.length;

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

/**
 * What the generated loop (model/specialize.ts) inlines for a policy. The
 * statements use the loop's locals: `pol` (the table's Replacement), `tStamp`
 * (pol.stamp), `tLru4` (pol.lru4: the touch table, then the sets' orders),
 * `clock` (pol.clock, kept in a local through the run), `t` (the table), `i`
 * (the entry hit or filled) and `way`.
 */
export interface PolicySource {
  /** After a hit on entry `i`, way `way` of set `set` (both are expressions). */
  hit(set: string, way: string): string;
  /** After a fill of entry `i`, way `way` of set `set`. */
  fill(set: string, way: string): string;
  /**
   * Sets `way` to the victim of the full set `set` of `ways` ways, whose
   * first entry is `first`; `unroll`: write a loop over the ways out.
   */
  victim(ways: number, unroll: boolean): string;
}

/** One policy as a table of some number of ways runs it. */
export interface PolicyVariant {
  /** The code Replacement switches on. */
  readonly code: number;
  /** The state it keeps: a stamp per entry, plru's tree bits per set, a recency byte per set, or none. */
  readonly state: 'stamps' | 'tree' | 'order4' | 'none';
  hit(p: Replacement, set: number, way: number): void;
  fill(p: Replacement, set: number, way: number): void;
  /** The way to evict from a full set, or FLUSH_ALL. */
  victim(p: Replacement, set: number): number;
  readonly source: PolicySource;
}

const NOTHING = (): void => {};
const NO_SOURCE = (): string => '';

/** Stamps for the policies that evict the oldest stamp, lru and fifo. */
function stampedVictimSource(ways: number, unroll: boolean): string {
  return unroll
    ? `{
            way = 0;
            let best = tStamp[first], st = 0;${Array.from(
              { length: ways - 1 },
              (_, w) => `
            st = tStamp[first + ${w + 1}]; if (st < best) { best = st; way = ${w + 1}; }`,
            ).join('')}
          }`
    : `{
            way = 0;
            let best = tStamp[first];
            for (let w = 1; w < ${ways}; w++) { const st = tStamp[first + w]; if (st < best) { best = st; way = w; } }
          }`;
}

/** A victim asked of the Replacement at run time (plru, random, flush-when-full), FLUSH_ALL handled. */
const askedVictimSource = (): string => `{
            way = pol.victim(set);
            if (way === -1) { t.reset(); way = 0; }
          }`;

const stamp = (p: Replacement, set: number, way: number): void => {
  p.stamp[set * p.ways + way] = ++p.clock;
};
const oldest = (p: Replacement, set: number): number => oldestWay(p.stamp, set * p.ways, p.ways);

/** lru: a global clock stamped on every fill and hit; the least recently used goes. */
const LRU_STAMPS: PolicyVariant = {
  code: C_LRU,
  state: 'stamps',
  hit: stamp,
  fill: stamp,
  victim: oldest,
  source: { hit: () => 'tStamp[i] = ++clock;', fill: () => 'tStamp[i] = ++clock;', victim: stampedVictimSource },
};

/** lru over exactly 4 ways, kept as a recency order per set (LRU4_TOUCH): the same victims as the stamps. */
const touch4Source = (set: string, way: string): string => `tLru4[${LRU4_ORDERS} + (${set})] = tLru4[tLru4[${LRU4_ORDERS} + (${set})] * 4 + (${way})];`;
const LRU_4WAYS: PolicyVariant = {
  code: C_LRU4,
  state: 'order4',
  hit: (p, set, way) => {
    p.order4[set] = LRU4_TOUCH[p.order4[set] * 4 + way];
  },
  fill: (p, set, way) => {
    p.order4[set] = LRU4_TOUCH[p.order4[set] * 4 + way];
  },
  victim: (p, set) => p.order4[set] & 3,
  source: {
    hit: touch4Source,
    fill: touch4Source,
    victim: () => `way = tLru4[${LRU4_ORDERS} + set] & 3;`,
  },
};

/** fifo: stamped on fills only; the first in goes. */
const FIFO: PolicyVariant = {
  code: C_FIFO,
  state: 'stamps',
  hit: NOTHING,
  fill: stamp,
  victim: oldest,
  source: { hit: NO_SOURCE, fill: () => 'tStamp[i] = ++clock;', victim: stampedVictimSource },
};

/**
 * plru: tree bits over a power-of-two number of ways, per set. Nodes are
 * numbered as a heap (root 1, children 2n and 2n+1; leaf `ways + w` is way
 * w); a node's bit says where the victim is, 0 the left half, 1 the right.
 * A touch points every node on the way's path away from it.
 */
function plruTouch(p: Replacement, set: number, way: number): void {
  const base = set * p.ways;
  let node = way + p.ways;
  while (node > 1) {
    const parent = node >> 1;
    p.bits[base + parent] = (node & 1) === 0 ? 1 : 0;
    node = parent;
  }
}
const PLRU: PolicyVariant = {
  code: C_PLRU,
  state: 'tree',
  hit: plruTouch,
  fill: plruTouch,
  victim: (p, set) => {
    const base = set * p.ways;
    let node = 1;
    while (node < p.ways) node = 2 * node + p.bits[base + node];
    return node - p.ways;
  },
  source: { hit: (set, way) => `pol.onHit(${set}, ${way});`, fill: (set, way) => `pol.onFill(${set}, ${way});`, victim: askedVictimSource },
};

/** random: a seeded xorshift32 per table, so that `random` runs are reproducible. */
const RANDOM: PolicyVariant = {
  code: C_RANDOM,
  state: 'none',
  hit: NOTHING,
  fill: NOTHING,
  victim: (p) => {
    let x = p.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    p.rng = x >>> 0;
    return (x >>> 0) % p.ways; // both uint32: an integer remainder, not fprem
  },
  source: { hit: NO_SOURCE, fill: NO_SOURCE, victim: askedVictimSource },
};

/**
 * flush-when-full: a full set empties the whole table, as QEMU's VT-d IOTLB
 * does (hw/i386/intel_iommu.c vtd_update_iotlb(): at VTD_IOTLB_MAX_SIZE
 * entries, vtd_reset_iotlb_locked()).
 */
const FLUSH_WHEN_FULL: PolicyVariant = {
  code: C_FLUSH_WHEN_FULL,
  state: 'none',
  hit: NOTHING,
  fill: NOTHING,
  victim: () => FLUSH_ALL,
  source: { hit: NO_SOURCE, fill: NO_SOURCE, victim: askedVictimSource },
};

/** Every policy of the configuration (config.ts POLICIES): the variant a table of `ways` ways runs. */
export const POLICY_RULES: Record<PolicyName, { variant(ways: number): PolicyVariant }> = {
  lru: { variant: (ways) => (ways === 4 ? LRU_4WAYS : LRU_STAMPS) },
  fifo: { variant: () => FIFO },
  plru: { variant: () => PLRU },
  random: { variant: () => RANDOM },
  'flush-when-full': { variant: () => FLUSH_WHEN_FULL },
};

/** The variant of `policy` for `ways` ways; an unknown name (a configuration not from config.ts) is an error, never a silent default. */
export function policyVariant(policy: PolicyName, ways: number): PolicyVariant {
  const rule = (POLICY_RULES as Partial<Record<string, { variant(ways: number): PolicyVariant }>>)[policy];
  if (rule === undefined) throw new Error(`internal: unknown replacement policy "${policy}" (expected one of ${POLICIES.join(', ')})`);
  return rule.variant(ways);
}

export class Replacement {
  readonly name: PolicyName;
  readonly code: number;
  readonly ways: number;
  /** lru (not over 4 ways), fifo: the stamp of each entry. */
  readonly stamp: Float64Array;
  /** The last stamp given (model/specialize.ts keeps it in a local through a DMA run). */
  clock = 0;
  /** plru: each set's tree bits (node 0 unused: ways-1 nodes per set). */
  readonly bits: Uint8Array;
  /** lru with 4 ways: each set's recency order (LRU4_TOUCH); the stamps are then unused. */
  readonly order4: Uint8Array;
  /** lru with 4 ways: LRU4_TOUCH's copy, then order4 (a view of it from LRU4_ORDERS on), as the generated loop reads them. */
  readonly lru4: Uint8Array;
  /** random: the xorshift32 state. */
  rng: number;

  /** `stamps`: false for a table that orders its ways itself (caches/table.ts IndexedTable keeps recency lists). */
  constructor(name: PolicyName, sets: number, ways: number, seed: number, stamps = true) {
    this.name = name;
    const v = policyVariant(name, ways);
    this.code = v.code;
    this.ways = ways;
    this.stamp = new Float64Array(stamps && v.state === 'stamps' ? sets * ways : 0);
    this.bits = new Uint8Array(v.state === 'tree' ? sets * ways : 0);
    this.lru4 = new Uint8Array(v.state === 'order4' ? LRU4_ORDERS + sets : 0);
    if (v.state === 'order4') this.lru4.set(LRU4_TOUCH);
    this.order4 = this.lru4.subarray(Math.min(LRU4_ORDERS, this.lru4.length)).fill(LRU4_INITIAL);
    // splitmix-style scramble so that nearby seeds give unrelated streams; never 0.
    let s = (seed ^ 0x9e3779b9) >>> 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
    this.rng = (s ^ (s >>> 16)) >>> 0 || 1;
  }

  // The dispatch: one branch per variant code, each a direct call of that
  // variant's hook (inlined), in the order of how often they are taken.

  onHit(set: number, way: number): void {
    const code = this.code;
    if (code === C_LRU4) LRU_4WAYS.hit(this, set, way);
    else if (code === C_LRU) LRU_STAMPS.hit(this, set, way);
    else if (code === C_PLRU) PLRU.hit(this, set, way);
  }

  onFill(set: number, way: number): void {
    const code = this.code;
    if (code === C_LRU4) LRU_4WAYS.fill(this, set, way);
    else if (code === C_LRU || code === C_FIFO) stamp(this, set, way);
    else if (code === C_PLRU) PLRU.fill(this, set, way);
  }

  /** The way to evict from a full set, or FLUSH_ALL (flush-when-full). */
  victim(set: number): number {
    const code = this.code;
    if (code === C_FLUSH_WHEN_FULL) return FLUSH_ALL;
    if (code === C_LRU4) return LRU_4WAYS.victim(this, set);
    if (code === C_LRU || code === C_FIFO) return oldest(this, set);
    if (code === C_PLRU) return PLRU.victim(this, set);
    return RANDOM.victim(this, set);
  }
}
