// The IOTLB seam: what the replay and the invalidator ask of an IOTLB. Two
// implementations: SetAssocTable (caches/table.ts), the table of one
// geometry that `replay` and `sweep` use, and StackIotlb (caches/stack.ts),
// which stands for every fully associative LRU size of a curve at once. The
// implementation is chosen once, when a Replay is built: a normal replay only
// ever sees SetAssocTable, so its call sites stay monomorphic.
//
// An entry is an index into the per-entry arrays below; -1 is "none".
import { M } from '../stats/counters.js';
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
  /** Stamps the valid entry caching exactly this leaf, if any and not yet stamped, as unmapped at `nowNs` (its stale window starts). */
  markUnmapped(tag: number, base: number, order: number, nowNs: number): void;
  removeRange(tag: number, start: number, end: number, nowNs: number): number;
  /** removeRange(tag, pfn, pfn + 1, nowNs); the tables have a faster way (caches/table.ts). */
  removePage(tag: number, pfn: number, nowNs: number): number;
  /** markUnmapped(tag, pfn, 0, nowNs) then removePage(tag, pfn, nowNs), in one search; absent where there is none (removeUnmappedPage below). */
  removeUnmappedPage?(tag: number, pfn: number, nowNs: number): number;
  /** markUnmapped(tag, p, 0, nowNs) for each p of [unmappedFrom, unmappedTo), then removeRange(tag, start, end, nowNs), in the removal's search; absent where there is none (removeUnmappedRange below). */
  removeUnmappedRange?(tag: number, start: number, end: number, unmappedFrom: number, unmappedTo: number, nowNs: number): number;
  removeTags(tag: number, groups: Int32Array | null, nowNs: number): number;
  takeWindow(): void;
  /** Credits the stale windows of the last removals to the domain counters at `domainBase` (caches/lanes.ts credits each lane's to its own). */
  drain(domainCounters: Float64Array, domainBase: number): void;
}

/** markUnmapped, for a table whose entries `findExact` finds. */
export function markUnmappedIn(t: Iotlb, tag: number, base: number, order: number, nowNs: number): void {
  const i = t.findExact(tag, base, order);
  if (i >= 0 && t.unmappedAt[i] < 0) t.unmappedAt[i] = nowNs;
}

/** markUnmapped(tag, pfn, 0, nowNs), then removePage(tag, pfn, nowNs): through the table's one search when it has it. */
export function removeUnmappedPage(t: Iotlb, tag: number, pfn: number, nowNs: number): number {
  if (t.removeUnmappedPage !== undefined) return t.removeUnmappedPage(tag, pfn, nowNs);
  t.markUnmapped(tag, pfn, 0, nowNs);
  return t.removePage(tag, pfn, nowNs);
}

/** markUnmapped(tag, p, 0, nowNs) for each p of [unmappedFrom, unmappedTo), then removeRange(tag, start, end, nowNs): through the table's one search when it has it. */
export function removeUnmappedRange(t: Iotlb, tag: number, start: number, end: number, unmappedFrom: number, unmappedTo: number, nowNs: number): number {
  if (t.removeUnmappedRange !== undefined) return t.removeUnmappedRange(tag, start, end, unmappedFrom, unmappedTo, nowNs);
  for (let p = unmappedFrom; p < unmappedTo; p++) t.markUnmapped(tag, p, 0, nowNs);
  return t.removeRange(tag, start, end, nowNs);
}

/** drain, for one table: its stale windows since the last drain go to the domain counters at `base`. */
export function drainWindow(t: Iotlb, c: Float64Array, base: number): void {
  if (t.windowCount === 0) return;
  if (t.windowMaxNs > c[base + M.staleWindowMaxNs]) c[base + M.staleWindowMaxNs] = t.windowMaxNs;
  c[base + M.staleWindowSumNs] += t.windowSumNs;
  c[base + M.staleWindowCount] += t.windowCount;
  t.takeWindow();
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
