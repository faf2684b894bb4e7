// VT-d page-selective invalidation cover: `calculate_psi_aligned_address()`
// (drivers/iommu/intel/cache.c, v6.10+), in page-frame units
// (docs/model.md §5).
import { POW2, alignDown, isAligned, pageNumber } from '../caches/indexing.js';

/** MAX_AGAW_PFN_WIDTH: the mask that covers every address. */
export const MASK_ALL = 52;

/** Set by `psiCover`: first pfn of the cover. */
export const psiOut = { start: 0 };

/**
 * Returns the address mask (the cover is 2^mask pages at `coverStart`) for the
 * pfn range [start, end).
 */
export function psiCover(start: number, end: number): number {
  const pages = end - start;
  if (pages === 1) {
    // One page (most syncs of a streaming workload): its own cover, mask 0.
    psiOut.start = start;
    return 0;
  }
  let mask = 0;
  while (POW2[mask] < pages) mask++; // ilog2(roundup_pow_of_two(pages))
  if (!isAligned(start, mask)) {
    // The bits above mask can differ between start and end only by a carry,
    // so the first bit at or above mask where they agree bounds the cover.
    const last = start + pages - 1;
    let m = mask;
    while (m < MASK_ALL && (pageNumber(start, m) & 1) !== (pageNumber(last, m) & 1)) m++;
    mask = m;
  }
  psiOut.start = alignDown(start, mask);
  return mask;
}
