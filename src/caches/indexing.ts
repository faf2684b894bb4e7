// Where a page may live: set = (address / pageSize) mod sets, per page size
// (spec/model.md §6, step 2), so a 2M page is indexed by its 2M page number and
// not by 4K bits. Addresses are page-frame numbers (4 KiB units, exact doubles
// below 2^53); an order is log2(pageSize) - 12.

/** 2^k for k = 0..63, exact as doubles. */
export const POW2: Float64Array = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);

/** The page number of `pfn` at `order` (pfn / 2^order, rounded down). */
export function pageNumber(pfn: number, order: number): number {
  // `>>>` takes its count mod 32: only for orders below 32.
  return pfn < 4294967296 && order < 32 ? pfn >>> order : Math.floor(pfn / POW2[order]);
}

/** The set of page number `page` in a table of `sets` sets (a power of two). */
export function setOf(page: number, setMask: number): number {
  return page < 4294967296 ? page & setMask : page % (setMask + 1);
}
