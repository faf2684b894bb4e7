// The columns of the batch being consumed (trace/batch.ts): the replay sets
// them once a batch, and the handlers of its ops take a row index and read
// the row here, so that no uint32 word above 2^30 is boxed to cross a call.
export class Rows {
  device: Uint32Array = new Uint32Array(0);
  pasid: Uint32Array = new Uint32Array(0);
  domain: Uint32Array = new Uint32Array(0);
  /** 64-bit columns as (lo, hi) uint32 pairs. */
  iova: Uint32Array = new Uint32Array(0);
  paddr: Uint32Array = new Uint32Array(0);
  size: Uint32Array = new Uint32Array(0);
  /** The optional map_more column (trace/schema.ts MAP_MORE_COLUMN), undefined when the batch has none. */
  mapMore: Uint32Array | undefined = undefined;
  /**
   * The batch's first row in the trace (for messages). A double field from
   * the start (-0 is not a small integer): the reader's row count may come
   * as a heap number from its second batch on, and a field that widens from
   * small integer to double gives Rows a new map, on which every compiled
   * handler that reads Rows (the DMA run, its generated loop, map, unmap)
   * deoptimizes at once and is compiled again.
   */
  firstRow = -0;
  /** The row of the op in progress, in the batch: a memory-limit line names it (config/limits.ts MemoryBudget). */
  opRow = 0;
}
