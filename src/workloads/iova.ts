// An IOVA allocator like Linux's (drivers/iommu/iova.c, alloc_iova()):
// `alloc_iova_fast()` rounds sizes under 32 granules up to a power of two;
// `__alloc_and_insert_iova_range()` searches top-down below the limit from a
// cached node, places the range at `(high - size) & align_mask` with the
// alignment of roundup_pow_of_two(size), and retries once from the limit;
// freeing above the cached node moves the cache up. Units: pfns of the
// domain's IOVA granule (init_iova_domain()'s `granule`: 4 KiB unless
// `gen --granule` says otherwise).

const ANCHOR = 2 ** 60; // IOVA_ANCHOR: a node above every range

function roundupPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export const IOVA_RANGE_CACHE_MAX_PAGES = 32; // 1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1)
export const DMA32_LIMIT_PFN = 0xfffff; // DMA_BIT_MASK(32) >> PAGE_SHIFT

/** DMA_BIT_MASK(bits) in pfns of a granule of 2^shift bytes (iommu_dma_alloc_iova(): `dma_limit >> shift`). */
export function limitPfn(bits: number, shift: number): number {
  return 2 ** (bits - shift) - 1;
}

export class IovaAllocator {
  /** Allocated ranges sorted by lo, inclusive [lo, hi]; the anchor is last. */
  private lo: number[] = [ANCHOR];
  private hi: number[] = [ANCHOR];
  private cachedLo = ANCHOR; // cached_node
  private cached32Lo = ANCHOR; // cached32_node

  /** `dma32LimitPfn`: the last pfn below 4 GiB in granule units (iovad->dma_32bit_pfn). */
  constructor(
    private readonly startPfn = 1,
    private readonly dma32LimitPfn = DMA32_LIMIT_PFN,
  ) {}

  get live(): number {
    return this.lo.length - 1;
  }

  /** The allocation size of a request (alloc_iova_fast's roundup). */
  static sizeOf(pages: number): number {
    return pages < IOVA_RANGE_CACHE_MAX_PAGES ? roundupPow2(pages) : pages;
  }

  private indexOf(lo: number): number {
    let a = 0;
    let b = this.lo.length - 1;
    while (a < b) {
      const m = (a + b) >> 1;
      if (this.lo[m] < lo) a = m + 1;
      else b = m;
    }
    return a;
  }

  /** Allocates `pages` below `limitPfn` (inclusive); returns the first pfn, or -1. */
  alloc(pages: number, limitPfn: number): number {
    const size = IovaAllocator.sizeOf(pages);
    const alignSize = roundupPow2(size);
    const is32 = limitPfn <= this.dma32LimitPfn;
    // __get_cached_rbnode(): nodes above the limit only cost iterations, as in Linux.
    let curr = this.indexOf(is32 ? this.cached32Lo : this.cachedLo);
    const retryPfn = this.hi[curr];
    let high = limitPfn;
    let low = this.startPfn;
    let newPfn = 0;
    for (let attempt = 0; attempt < 2; attempt++) {
      for (;;) {
        high = Math.min(high, this.lo[curr]);
        newPfn = Math.floor((high - size) / alignSize) * alignSize;
        curr--;
        if (!(curr >= 0 && newPfn <= this.hi[curr] && newPfn >= low)) break;
      }
      if (high >= size && newPfn >= low) {
        const at = curr + 1;
        this.lo.splice(at, 0, newPfn);
        this.hi.splice(at, 0, newPfn + size - 1);
        if (is32) this.cached32Lo = newPfn;
        else this.cachedLo = newPfn;
        return newPfn;
      }
      if (attempt === 0 && low === this.startPfn && retryPfn < limitPfn) {
        high = limitPfn;
        low = retryPfn + 1;
        curr = this.findLimit(limitPfn);
        continue;
      }
      break;
    }
    return -1;
  }

  /** iova_find_limit: the first node whose lo is above the limit. */
  private findLimit(limitPfn: number): number {
    return this.indexOf(limitPfn + 1);
  }

  free(pfn: number): void {
    const i = this.indexOf(pfn);
    if (this.lo[i] !== pfn) throw new Error(`internal: freeing IOVA pfn ${pfn} that was not allocated`);
    const next = this.lo[i + 1];
    if (pfn === this.cached32Lo || (this.hi[i] < this.dma32LimitPfn && pfn >= this.cached32Lo)) this.cached32Lo = next;
    if (pfn >= this.cachedLo) this.cachedLo = next;
    this.lo.splice(i, 1);
    this.hi.splice(i, 1);
  }
}
