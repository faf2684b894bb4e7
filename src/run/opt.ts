// Belady's optimal replacement (OPT, MIN) at every fully associative size:
// the lower bound of the IOTLB's misses that no policy can beat.
//
// The reference stream is that of the largest LRU size: one pass of the
// replay with a stack profiler of that one size records, per IOTLB lookup
// that translated, the entry it used (its key: tag, page base and order) and,
// per invalidation, the entry it removed. A backward pass gives each
// reference the time of its key's next reference, or never when the key is
// invalidated first (an entry whose page is unmapped or flushed before its
// next use is never used again: at a miss OPT evicts it first, which is what
// the freed slot gives). A forward pass runs Mattson's OPT stack algorithm
// (Mattson et al. 1970, §4): at each position the entry with the sooner next
// use stays and the other moves down, so the top S entries are OPT's table
// of S entries and one pass gives every size. Time O(references x depth):
// meant for traces of up to some millions of lookups at N = 4096.
//
// Counters: lookups, faults and stale hits are those of the largest LRU size
// (OPT knows no staleness); hits, walks and walk accesses are OPT's.
import type { ReplayConfig } from '../config/config.js';
import { CurveGroup, StackIotlb, type LeafLookup } from '../caches/stack.js';
import { buildSummary, translationCostNs } from '../stats/summary.js';
import { grow } from '../typed.js';
import type { CurveCounters, CurveResult, Feed } from './curve.js';
import { checkCurveConfig, pageSizesUsed, withIotlb } from './curve.js';
import { Replay, type ReplayLimits } from '../model/replay.js';
import type { MemoryBudget } from '../config/limits.js';

/** What --max-table-memory's line names when OPT's recording passes it. */
const RECORDED = "--opt's recorded lookups";
/**
 * Bytes a key takes: its keyCost slot (8) and its keyIds entry, a string
 * such as "0:1073741824:0" and the Map's slot for it. Measured on Node 20:
 * about 124 bytes a key over 2^20 keys.
 */
const KEY_BYTES = 8 + 128;
const FIRST_LENGTH = 1024;

/**
 * A stack profiler of one size that records the reference stream. What it
 * records is charged to the replay's budget as the profiler's arrays are
 * (--max-table-memory): by chunk as it doubles, never per lookup, the new
 * arrays in full while the old ones are copied (MemoryBudget.regrow).
 */
class RecordingStack extends StackIotlb {
  /** key id >= 0: a reference; -1 - key id: an invalidation. */
  stream: Int32Array;
  length = 0;
  private nodeKey: Int32Array;
  private readonly keyIds = new Map<string, number>();
  /** Per key id: the walk memory accesses of a miss on it. */
  keyCost: Float64Array;

  constructor(group: CurveGroup, pool: LeafLookup, maxEntries: number, budget: MemoryBudget) {
    // Unbounded: marks deeper than the largest size stay until a renumbering, as the stream has always recorded them (their invalidations too).
    super(group, pool, maxEntries, budget, false);
    this.budget.charge(4 * this.nodeCap + 4 * FIRST_LENGTH + KEY_BYTES * FIRST_LENGTH, RECORDED);
    this.nodeKey = new Int32Array(this.nodeCap);
    this.stream = new Int32Array(FIRST_LENGTH);
    this.keyCost = new Float64Array(FIRST_LENGTH);
  }

  protected override onGrow(cap: number): void {
    this.nodeKey = this.budget.regrow(4 * cap, 4 * this.nodeKey.length, RECORDED, () => grow(this.nodeKey, cap));
  }

  private record(code: number): void {
    if (this.length === this.stream.length) {
      const length = this.length * 2;
      this.stream = this.budget.regrow(4 * length, 4 * this.length, RECORDED, () => grow(this.stream, length));
    }
    this.stream[this.length++] = code;
  }

  override lookup(tag: number, pfn: number, ordersDesc: Int8Array): number {
    const k = super.lookup(tag, pfn, ordersDesc);
    if (k >= 0) this.record(this.nodeKey[k]);
    return k;
  }

  override fill(tag: number, base: number, order: number, phys: number, owner: number): number {
    // The key is the new entry's when fill made one: asked of fill itself, not
    // looked up before it, since a fill may renumber the time axis first and
    // drop entries deeper than the largest size (StackIotlb.compact).
    const k = super.fill(tag, base, order, phys, owner);
    if (this.filledNew) {
      const key = `${tag}:${base}:${order}`;
      let id = this.keyIds.get(key);
      if (id === undefined) {
        id = this.keyIds.size;
        this.keyIds.set(key, id);
        if (id >= this.keyCost.length) {
          const keys = id * 2;
          this.keyCost = this.budget.regrow(KEY_BYTES * keys, KEY_BYTES * id, RECORDED, () => grow(this.keyCost, keys));
        }
        this.keyCost[id] = this.pool.walkAccesses(order);
      }
      this.nodeKey[k] = id;
    }
    this.record(this.nodeKey[k]);
    return k;
  }

  protected override onRemove(node: number): void {
    this.record(-1 - this.nodeKey[node]);
  }

  get keys(): number {
    return this.keyIds.size;
  }

  /** optProfile of what was recorded; its arrays (a next use per lookup, two ids per key, the stack and counts per size) are charged while it runs. */
  profile(maxEntries: number): ReturnType<typeof optProfile> {
    const bytes = 4 * this.length + 8 * this.keys + 40 * (maxEntries + 2);
    this.budget.charge(bytes, "OPT's pass over the recorded lookups");
    try {
      return optProfile(this.stream, this.length, this.keys, this.keyCost, maxEntries);
    } finally {
      this.budget.release(bytes);
    }
  }
}

const NEVER = 0x7fffffff;
/** A stack place whose entry was invalidated. */
const DEAD = -1;

/**
 * OPT hits by depth: hitsAt[d] references hit at every size >= d, and
 * costAt[d] the walk accesses they save. `stream` as RecordingStack's.
 */
export function optProfile(
  stream: Int32Array,
  length: number,
  keys: number,
  keyCost: Float64Array,
  maxEntries: number,
): { refs: number; cost: number; hitsAt: Float64Array; costAt: Float64Array } {
  // Backward: each reference's next use (its index), or NEVER.
  const next = new Int32Array(length);
  const nextRef = new Int32Array(keys).fill(NEVER);
  for (let i = length - 1; i >= 0; i--) {
    const c = stream[i];
    if (c < 0) nextRef[-1 - c] = NEVER;
    else {
      next[i] = nextRef[c];
      nextRef[c] = i;
    }
  }
  // Forward: the OPT stack, at most maxEntries deep, keys with their next use.
  const stackKey = new Int32Array(maxEntries + 1);
  const stackNext = new Int32Array(maxEntries + 1);
  const pos = new Int32Array(keys).fill(-1); // key -> stack index, -1: not in it
  let depth = 0;
  const hitsAt = new Float64Array(maxEntries + 2);
  const costAt = new Float64Array(maxEntries + 2);
  let refs = 0;
  let cost = 0;
  for (let i = 0; i < length; i++) {
    const c = stream[i];
    if (c < 0) {
      // The entry is gone: its place holds a dead entry (next use NEVER) that
      // the next miss pushes out first, as the freed slot takes that fill.
      const at = pos[-1 - c];
      if (at >= 0) {
        stackKey[at] = DEAD;
        stackNext[at] = NEVER;
        pos[-1 - c] = -1;
      }
      continue;
    }
    refs++;
    cost += keyCost[c];
    const at = pos[c];
    if (at >= 0) {
      hitsAt[at + 1]++;
      costAt[at + 1] += keyCost[c];
    }
    // x to the top; carry the old top down, keeping at each place the sooner next use.
    const end = at >= 0 ? at : depth < maxEntries ? depth++ : maxEntries; // the index that receives the last carry
    let carryKey = c;
    let carryNext = next[i];
    for (let j = 0; j < end; j++) {
      const k = stackKey[j];
      const nx = stackNext[j];
      if (j === 0 || nx > carryNext) {
        // The newcomer takes the top; below, the later next use moves down.
        stackKey[j] = carryKey;
        stackNext[j] = carryNext;
        if (carryKey !== DEAD) pos[carryKey] = j;
        carryKey = k;
        carryNext = nx;
      }
    }
    if (end < maxEntries) {
      stackKey[end] = carryKey;
      stackNext[end] = carryNext;
      if (carryKey !== DEAD) pos[carryKey] = end;
    } else if (carryKey !== DEAD) {
      pos[carryKey] = -1; // pushed out of the deepest size
    }
  }
  return { refs, cost, hitsAt, costAt };
}

/** OPT at every size 1..maxEntries over the largest LRU size's reference stream. */
export async function optCurve(feed: Feed, config: ReplayConfig, maxEntries: number, limits: ReplayLimits = {}): Promise<CurveResult> {
  checkCurveConfig(config);
  const cfg = withIotlb(config, 1, maxEntries, 'lru');
  const recorders: RecordingStack[] = [];
  const group = new CurveGroup(maxEntries, maxEntries);
  const { replays, labels } = await feed((meta) => {
    const replay: Replay = new Replay(cfg, meta, {
      ...limits,
      iotlbOf: (_, pool) => {
        const r = new RecordingStack(group, pool, maxEntries, replay.budget);
        recorders.push(r);
        return r;
      },
    });
    return [replay];
  });
  const summary = buildSummary(replays[0], labels);
  const t = summary.totals;
  // Instances have tables of their own: one profile each, summed by size.
  const hits = new Float64Array(maxEntries + 2);
  const saved = new Float64Array(maxEntries + 2);
  let refs = 0;
  let cost = 0;
  for (const r of recorders) {
    const p = r.profile(maxEntries);
    refs += p.refs;
    cost += p.cost;
    for (let d = 1; d <= maxEntries; d++) {
      hits[d] += p.hitsAt[d];
      saved[d] += p.costAt[d];
    }
  }
  const points: CurveCounters[] = [];
  let h = 0;
  let s = 0;
  for (let size = 1; size <= maxEntries; size++) {
    h += hits[size];
    s += saved[size];
    const lookups = t.iotlb.lookups;
    points.push({
      entries: size,
      sets: 1,
      lookups,
      hits: h,
      misses: lookups - h,
      staleHits: t.iotlb.staleHits,
      walks: refs - h,
      walkAccesses: cost - s,
      faults: t.dma.faults,
      hitRate: lookups === 0 ? 0 : h / lookups,
      translationCostNs: translationCostNs(h, cost - s, cfg.costs),
    });
  }
  return { policy: 'opt', ways: 0, method: 'stack', points, pageSizesUsed: pageSizesUsed(summary) };
}
