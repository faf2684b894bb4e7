// Linux `iommu_pgsize()` (drivers/iommu/iommu.c, v5.15+), in page-frame units:
// the largest allowed size that is <= the remaining size and to which
// iova | paddr is aligned, and the count rule that stops at the next larger
// allowed size's boundary when a whole larger page fits after it
// (docs/model.md §3-4; Linux drivers/iommu/iommu.c, iommu_pgsize()).
import { POW2, alignDown } from '../caches/indexing.js';
import type { PageTablePool } from './pagetable.js';

/** log2 of the largest power of two dividing x (x > 0); 64 for x = 0. */
export function alignmentOrder(x: number): number {
  if (x === 0) return 64;
  // Low 32 bits first (`>>> 0` keeps them exactly): most values resolve there.
  const lo = x >>> 0;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  let k = 32;
  let hi = Math.floor(x / 4294967296);
  while ((hi & 1) === 0) {
    hi = Math.floor(hi / 2);
    k++;
  }
  return k;
}

/** floor(log2(x)) for x >= 1. */
export function floorLog2(x: number): number {
  if (x < 4294967296) return 31 - Math.clz32(x);
  return 32 + (31 - Math.clz32(Math.floor(x / 4294967296)));
}

/** Set by `pgsize`: the number of pages of the returned order (a plain object: cheaper to write than a module binding). */
export const pgsizeOut = { count: 0 };

/**
 * Linux `iommu_pgsize(domain, iova, paddr, size, &count)` over an allowed-order
 * list (largest first). Returns the order, or -1 when no allowed size fits
 * (Linux BUG_ONs; callers check alignment first).
 */
export function pgsize(ordersDesc: Int8Array, iova: number, paddr: number, size: number): number {
  const maxBySize = floorLog2(size);
  const align = Math.min(alignmentOrder(iova), alignmentOrder(paddr));
  let idx = -1;
  for (let k = 0; k < ordersDesc.length; k++) {
    const o = ordersDesc[k];
    if (o <= maxBySize && o <= align) {
      idx = k;
      break;
    }
  }
  if (idx < 0) {
    pgsizeOut.count = 0;
    return -1;
  }
  const order = ordersDesc[idx];
  const pageSize = POW2[order];
  // Next bigger allowed size (ordersDesc is descending: the entry before idx).
  if (idx > 0) {
    const nextOrder = ordersDesc[idx - 1];
    const nextSize = POW2[nextOrder];
    const iovaOff = iova - alignDown(iova, nextOrder);
    // Only if iova and paddr can ever reach a common boundary of that size.
    if (iovaOff === paddr - alignDown(paddr, nextOrder)) {
      const offset = nextSize - iovaOff;
      if (offset + nextSize <= size) size = offset;
    }
  }
  pgsizeOut.count = Math.floor(size / pageSize);
  return order;
}

/**
 * Whether `size` pages are one 4K page of an allowed size: `pgsize` of them
 * can then only be that page (order 0, count 1: no other size fits one
 * page), and the map and unmap paths skip its search.
 */
export function isOne4kPage(ordersDesc: Int8Array, size: number): boolean {
  return size === 1 && ordersDesc[ordersDesc.length - 1] === 0;
}

/**
 * Whether `size` pages (size >= 1) are, for `pgsize`, one chunk of `size` 4K
 * pages: 4K is allowed and the next larger allowed size is more than `size`
 * pages (then no other size fits, and the count rule cannot stop the chunk
 * early). isOne4kPage is its one-page case.
 */
export function isOne4kChunk(ordersDesc: Int8Array, size: number): boolean {
  const n = ordersDesc.length;
  return ordersDesc[n - 1] === 0 && (n === 1 || size < POW2[ordersDesc[n - 2]]);
}

/**
 * Splits [iova, iova+size) -> paddr into leaves as the map loop of
 * `iommu_map()` does with `iommu_pgsize()`, installing them in `pool` under
 * `root` when root > 0 and counting them per order into
 * `counts[countBase + order]` when `counts` is given.
 */
export function splitRange(
  pool: PageTablePool,
  orders: Int8Array,
  iova: number,
  paddr: number,
  size: number,
  root: number,
  counts: Float64Array | null,
  countBase: number,
): void {
  while (size > 0) {
    const order = pgsize(orders, iova, paddr, size);
    const count = pgsizeOut.count;
    if (order < 0 || count === 0) throw new Error(`internal: iommu_pgsize found no size for ${iova}+${size}`);
    const step = POW2[order];
    if (root > 0) {
      for (let j = 0; j < count; j++) pool.install(root, iova + j * step, order, paddr + j * step);
    }
    if (counts !== null) counts[countBase + order] += count;
    iova += count * step;
    paddr += count * step;
    size -= count * step;
  }
}
