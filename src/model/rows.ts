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
   * The batch's first row in the trace (for messages). A double from the
   * start (-0 is no small integer, and prints as 0), as the reader's batches
   * have it (trace/reader.ts): the reader's row counts come as heap numbers,
   * and a field made for small integers changes the object's map (its
   * representation) at the first of them, which deoptimized every loop that
   * had read the columns through a Rows ("wrong map"), the narrow DMA run's
   * among them, and compiled it again.
   */
  firstRow = -0;
  /** The row of the op in progress, in the batch: a memory-limit line names it (config/limits.ts MemoryBudget). */
  opRow = 0;
}
