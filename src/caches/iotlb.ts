// The IOTLB seam: what the replay and the invalidator ask of an IOTLB. Two
// implementations: SetAssocTable (caches/table.ts), the table of one
// geometry that `replay` and `sweep` use, and StackIotlb (caches/stack.ts),
// which stands for every fully associative LRU size of a curve at once. The
// implementation is chosen once, when a Replay is built: a normal replay only
// ever sees SetAssocTable, so its call sites stay monomorphic.
//
// An entry is an index into the per-entry arrays below; -1 is "none".
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
   * (spec/model.md §6) when sizes disagree. Set once a run.
   */
  bind(domain: number, root: number): void;
  lookup(tag: number, pfn: number, ordersDesc: Int8Array): number;
  fill(tag: number, base: number, order: number, phys: number, owner: number): number;
  findExact(tag: number, base: number, order: number): number;
  removeRange(tag: number, start: number, end: number, nowNs: number): number;
  removeTags(tag: number, groups: Int32Array | null, nowNs: number): number;
  takeWindow(): void;
}
