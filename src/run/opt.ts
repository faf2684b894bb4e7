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
// the freed slot gives). Every invalidation of a key filled and not
// invalidated since is recorded, also when the profiler's renumbering has
// dropped the entry: OPT may hold what LRU evicted. A forward pass runs Mattson's OPT stack algorithm
// (Mattson et al. 1970, §4): at each position the entry with the sooner next
// use stays and the other moves down, so the top S entries are OPT's table
// of S entries and one pass gives every size. Time O(references x depth):
// meant for traces of up to some millions of lookups at N = 4096.
//
// Counters: lookups, faults and stale hits are those of the largest LRU size
// (OPT knows no staleness); hits, walks and walk accesses are OPT's.
import type { ReplayConfig } from '../config/config.js';
import { CurveGroup, StackIotlb, type LeafLookup } from '../caches/stack.js';
import { rangeProbes } from '../caches/iotlb.js';
import { POW2, alignDown, pageNumber } from '../caches/indexing.js';
import { buildSummary, operationCounts, ratio, translationCostNs, type Summary } from '../stats/summary.js';
import { grow } from '../typed.js';
import type { CurveCounters, CurveResult, Feed } from './curve.js';
import { checkCurveConfig, pageSizesUsed, reusedOf, withIotlb } from './curve.js';
import { Replay, type ReplayLimits } from '../model/replay.js';
import type { MemoryBudget } from '../config/limits.js';

/** What --max-table-memory's line names when OPT's recording passes it. */
const RECORDED = "--opt's recorded lookups";
/**
 * Bytes a key takes: its keyCost slot (8), its tag, base and order (13), its
 * place in the dropped keys and that list's slot (8), and its keyIds entry,
 * a string such as "0:1073741824:0" and the Map's slot for it. Measured on
 * Node 20: about 124 bytes a key over 2^20 keys.
 */
const KEY_BYTES = 8 + 13 + 8 + 128;
const FIRST_LENGTH = 1024;

/** A key's name in keyIds: its tag, page base and order. */
const keyOf = (tag: number, base: number, order: number): string => `${tag}:${base}:${order}`;

/**
 * A stack profiler of one size that records the reference stream. What it
 * records is charged to the replay's budget as the profiler's arrays are
 * (--max-table-memory): by chunk as it doubles, never per lookup, the new
 * arrays in full while the old ones are copied (MemoryBudget.regrow).
 */
export class RecordingStack extends StackIotlb {
  /** key id >= 0: a reference; -1 - key id: an invalidation. */
  stream: Int32Array;
  length = 0;
  private nodeKey: Int32Array;
  private readonly keyIds = new Map<string, number>();
  /** Per key id: the walk memory accesses of a miss on it. */
  keyCost: Float64Array;
  /** Per key id: its tag, base (page number) and order: an invalidation finds dropped keys by them. */
  private keyTag: Int32Array;
  private keyBase: Float64Array;
  private keyOrder: Uint8Array;
  /**
   * The keys whose entry a renumbering dropped (deeper than the largest
   * size) and that no invalidation or fill has taken since: OPT may still
   * hold them, so their invalidations are recorded from here (the profiler
   * no longer holds them). At most one a key.
   */
  private dropped: Int32Array;
  private droppedCount = 0;
  /** Per key id: its place in `dropped`, or -1. */
  private droppedAt: Int32Array;
  /** Dropped keys per order, and the orders keys were made of (an invalidation probes those). */
  private readonly droppedPerOrder = new Int32Array(64);
  private readonly keyOrders: number[] = [];

  constructor(group: CurveGroup, pool: LeafLookup, maxEntries: number, budget: MemoryBudget) {
    // Unbounded: marks deeper than the largest size stay until a renumbering, as the stream has always recorded them (their invalidations too).
    super(group, pool, maxEntries, budget, false);
    this.budget.charge(4 * this.nodeCap + 4 * FIRST_LENGTH + KEY_BYTES * FIRST_LENGTH, RECORDED);
    this.nodeKey = new Int32Array(this.nodeCap);
    this.stream = new Int32Array(FIRST_LENGTH);
    this.keyCost = new Float64Array(FIRST_LENGTH);
    this.keyTag = new Int32Array(FIRST_LENGTH);
    this.keyBase = new Float64Array(FIRST_LENGTH);
    this.keyOrder = new Uint8Array(FIRST_LENGTH);
    this.dropped = new Int32Array(FIRST_LENGTH);
    this.droppedAt = new Int32Array(FIRST_LENGTH);
  }

  /** Room for `keys` keys in every per-key array (charged by the caller). */
  private growKeys(keys: number): void {
    this.keyCost = grow(this.keyCost, keys);
    this.keyTag = grow(this.keyTag, keys);
    this.keyBase = grow(this.keyBase, keys);
    this.keyOrder = grow(this.keyOrder, keys);
    this.dropped = grow(this.dropped, keys);
    this.droppedAt = grow(this.droppedAt, keys);
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
      const key = keyOf(tag, base, order);
      let id = this.keyIds.get(key);
      if (id === undefined) {
        id = this.keyIds.size;
        this.keyIds.set(key, id);
        if (id >= this.keyCost.length) {
          const keys = id * 2;
          this.budget.regrow(KEY_BYTES * keys, KEY_BYTES * id, RECORDED, () => this.growKeys(keys));
        }
        this.keyCost[id] = this.pool.walkAccesses(order);
        this.keyTag[id] = tag;
        this.keyBase[id] = base;
        this.keyOrder[id] = order;
        this.droppedAt[id] = -1;
        if (!this.keyOrders.includes(order)) this.keyOrders.push(order);
      } else if (this.droppedAt[id] >= 0) {
        this.undrop(id); // held by the profiler again: its invalidations come through onRemove
      }
      this.nodeKey[k] = id;
    }
    this.record(this.nodeKey[k]);
    return k;
  }

  protected override onRemove(node: number): void {
    this.record(-1 - this.nodeKey[node]);
  }

  protected override onDrop(node: number): void {
    const id = this.nodeKey[node];
    this.droppedAt[id] = this.droppedCount;
    this.dropped[this.droppedCount++] = id;
    this.droppedPerOrder[this.keyOrder[id]]++;
  }

  /** Takes dropped key `id` off the list (the last one takes its place). */
  private undrop(id: number): void {
    const i = this.droppedAt[id];
    const last = this.dropped[--this.droppedCount];
    this.dropped[i] = last;
    this.droppedAt[last] = i;
    this.droppedAt[id] = -1;
    this.droppedPerOrder[this.keyOrder[id]]--;
  }

  /** An invalidation removed dropped key `id`: recorded as the profiler's removals are. */
  private invalidateDropped(id: number): void {
    this.undrop(id);
    this.record(-1 - id);
  }

  /** The dropped key (tag, base, order), if it is one, invalidated. */
  private invalidateDroppedKey(tag: number, base: number, order: number): void {
    const id = this.keyIds.get(keyOf(tag, base, order));
    if (id !== undefined && this.droppedAt[id] >= 0) this.invalidateDropped(id);
  }

  // The invalidations also reach the dropped keys they cover (the count
  // returned is the profiler's: the largest LRU size's removals).

  override removePage(tag: number, pfn: number, nowNs: number): number {
    const removed = super.removePage(tag, pfn, nowNs);
    if (this.droppedCount > 0) {
      for (const o of this.keyOrders) if (this.droppedPerOrder[o] > 0) this.invalidateDroppedKey(tag, alignDown(pfn, o), o);
    }
    return removed;
  }

  override removeRange(tag: number, start: number, end: number, nowNs: number): number {
    const removed = super.removeRange(tag, start, end, nowNs);
    if (this.droppedCount === 0) return removed;
    // Few pages: probe for each; many: scan the dropped keys (as the profiler's removeRange).
    if (rangeProbes(this.keyOrders, this.droppedPerOrder, start, end) <= Math.max(64, this.droppedCount >> 2)) {
      for (const o of this.keyOrders) {
        if (this.droppedPerOrder[o] === 0) continue;
        const last = pageNumber(end - 1, o);
        for (let page = pageNumber(start, o); page <= last; page++) this.invalidateDroppedKey(tag, page * POW2[o], o);
      }
    } else {
      // Backwards: the last key takes a removed one's place, and has been seen.
      for (let i = this.droppedCount - 1; i >= 0; i--) {
        const id = this.dropped[i];
        if (this.keyTag[id] !== tag) continue;
        const b = this.keyBase[id];
        if (b < end && b + POW2[this.keyOrder[id]] > start) this.invalidateDropped(id);
      }
    }
    return removed;
  }

  override removeTags(tag: number, groups: Int32Array | null, nowNs: number): number {
    const removed = super.removeTags(tag, groups, nowNs);
    const group = groups === null ? -1 : groups[tag];
    for (let i = this.droppedCount - 1; i >= 0; i--) {
      const id = this.dropped[i];
      if (groups === null ? this.keyTag[id] !== tag : groups[this.keyTag[id]] !== group) continue;
      this.invalidateDropped(id);
    }
    return removed;
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

/**
 * The replay of the largest LRU size, recording each IOMMU instance's
 * reference stream (a recorder each, in the order the instances were made).
 */
export async function recordReferences(
  feed: Feed,
  config: ReplayConfig,
  maxEntries: number,
  limits: ReplayLimits = {},
): Promise<{ cfg: ReplayConfig; summary: Summary; recorders: RecordingStack[] }> {
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
  return { cfg, summary: buildSummary(replays[0], labels), recorders };
}

/** OPT at every size 1..maxEntries over the largest LRU size's reference stream. */
export async function optCurve(feed: Feed, config: ReplayConfig, maxEntries: number, limits: ReplayLimits = {}): Promise<CurveResult> {
  const { cfg, summary, recorders } = await recordReferences(feed, config, maxEntries, limits);
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
      hitRate: ratio(h, lookups), // null (n/a) at no lookups, as LRU's and replay's (docs/curves.md)
      translationCostNs: translationCostNs(h, cost - s, cfg.costs),
    });
  }
  return { policy: 'opt', ways: 0, method: 'stack', points, pageSizesUsed: pageSizesUsed(summary), ...reusedOf(summary), ops: operationCounts(summary.totals) };
}
