// Where a page may live: set = (address / pageSize) mod sets, per page size
// (docs/model.md §6, step 2), so a 2M page is indexed by its 2M page number and
// not by 4K bits. Addresses are page-frame numbers (4 KiB units, exact doubles
// below 2^53); an order is log2(pageSize) - 12.
//
// Power-of-two arithmetic on such doubles goes through these helpers: `%` on a
// value V8 cannot prove to be a small integer compiles to the x87 `fprem`
// loop, which cost a fifth of the DMA path before they existed.

/** 2^k for k = 0..63, exact as doubles. */
export const POW2: Float64Array = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);
/** 2^-k: multiplying by it divides by 2^k exactly. */
export const INV_POW2: Float64Array = Float64Array.from({ length: 64 }, (_, k) => 2 ** -k);

/** The page number of `pfn` at `order` (pfn / 2^order, rounded down). */
export function pageNumber(pfn: number, order: number): number {
  // `>>>` takes its count mod 32: only for orders below 32. It is the faster
  // path by 6 ns a probe on the DMA path.
  return pfn < 4294967296 && order < 32 ? pfn >>> order : Math.floor(pfn * INV_POW2[order]);
}

/** `x` rounded down to a multiple of 2^order (x >= 0). */
export function alignDown(x: number, order: number): number {
  return pageNumber(x, order) * POW2[order];
}

/** Whether `x` is a multiple of 2^order. */
export function isAligned(x: number, order: number): boolean {
  return alignDown(x, order) === x;
}

/**
 * The set of page number `page` in a table of `sets` sets (a power of two):
 * page mod sets. `&` is exact on any integer below 2^53, as ToInt32 keeps its
 * low 32 bits.
 */
export function setOf(page: number, setMask: number): number {
  return page & setMask;
}
