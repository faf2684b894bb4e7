// The IOTLB seam: what the replay and the invalidator ask of an IOTLB. Two
// implementations: SetAssocTable (caches/table.ts), the table of one
// geometry that `replay` and `sweep` use, and StackIotlb (caches/stack.ts),
// which stands for every fully associative LRU size of a curve at once. The
// implementation is chosen once, when a Replay is built: a normal replay only
// ever sees SetAssocTable, so its call sites stay monomorphic.
//
// An entry is an index into the per-entry arrays below; -1 is "none".
import { pageNumber } from './indexing.js';

export interface Iotlb {
  readonly base: Float64Array;
  readonly order: Uint8Array;
  readonly phys: Float64Array;
  readonly owner: Int32Array;
  readonly unmappedAt: Float64Array;
  /** Set by `lookup`: whether a miss found an entry removed by an invalidation. */
  missWasInvalidated: boolean;
  windowMaxNs: number;
  windowSumNs: number;
  windowCount: number;
  /**
   * The translation context of the DMA run about to probe (domain slot and
   * its page-table root); the stack profiler needs it to tell stale entries
   * (docs/model.md §6) when sizes disagree. Set once a run.
   */
  bind(domain: number, root: number): void;
  lookup(tag: number, pfn: number, ordersDesc: Int8Array): number;
  fill(tag: number, base: number, order: number, phys: number, owner: number): number;
  findExact(tag: number, base: number, order: number): number;
  removeRange(tag: number, start: number, end: number, nowNs: number): number;
  removeTags(tag: number, groups: Int32Array | null, nowNs: number): number;
  takeWindow(): void;
}

/** Counts the stale window of an entry removed at `nowNs` whose leaf was unmapped at `unmappedAt` (-1: never). */
export function noteRemoval(t: Iotlb, unmappedAt: number, nowNs: number): void {
  if (unmappedAt < 0) return;
  const w = nowNs - unmappedAt;
  if (w > t.windowMaxNs) t.windowMaxNs = w;
  t.windowSumNs += w;
  t.windowCount++;
}

/**
 * The page probes a removal of pfns [start, end) would take, one per page of
 * each order the table holds (orderLive[order] > 0); a removal takes them when
 * they are fewer than a scan of the table.
 */
export function rangeProbes(orders: Iterable<number>, orderLive: Int32Array, start: number, end: number): number {
  let probes = 0;
  for (const o of orders) if (orderLive[o] > 0) probes += pageNumber(end - 1, o) - pageNumber(start, o) + 1;
  return probes;
}
