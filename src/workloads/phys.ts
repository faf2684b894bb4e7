// Physical memory for generated traces: a buddy-like allocator whose
// fragmentation level decides how often a buffer comes back as one naturally
// aligned contiguous block (buddy blocks are aligned to their size) versus
// scattered runs. That is what decides whether 2M and 1G pages can be used
// (iommu_pgsize() needs iova and paddr congruent, docs/model.md §3). Units: pfns.
import type { Rng } from './rng.js';

export interface PhysRun {
  pfn: number;
  pages: number;
}

const REGION_PAGES = 2 ** 26; // 256 GiB of "RAM" above 4 GiB
const BASE_PFN = 2 ** 20; // 4 GiB

export class PhysAllocator {
  /** Bump pointer for contiguous blocks; wraps around the region (addresses may repeat, as recycled memory does). */
  private next = 0;

  constructor(
    private readonly rng: Rng,
    readonly fragmentation: number,
  ) {}

  /**
   * Chance that a request of 2^order pages is one contiguous aligned block:
   * 1 - f for 2 MiB and larger; smaller blocks are easier (a single page always is).
   */
  contiguousChance(pages: number): number {
    if (pages <= 1) return 1;
    const order = Math.ceil(Math.log2(pages));
    return 1 - this.fragmentation * Math.min(1, order / 9);
  }

  /** A naturally aligned contiguous block of `pages` (rounded up to a power of two for alignment). */
  block(pages: number): number {
    let align = 1;
    while (align < pages) align *= 2;
    let start = Math.ceil(this.next / align) * align;
    if (start + pages > REGION_PAGES) start = 0;
    this.next = start + pages;
    return BASE_PFN + start;
  }

  /** One page anywhere (a fragmented allocation's piece). */
  scatteredPage(): number {
    return BASE_PFN + this.rng.int(REGION_PAGES);
  }

  /**
   * Memory for a buffer of `pages`: one block when contiguous, else pieces
   * smaller than the request, half of them 2 MiB blocks when the request is
   * larger (allocators hand out the largest orders they can, as
   * iommu_dma_alloc_remap does) and the rest 4 KiB to 1 MiB.
   */
  alloc(pages: number): PhysRun[] {
    if (this.rng.chance(this.contiguousChance(pages))) return [{ pfn: this.block(pages), pages }];
    const runs: PhysRun[] = [];
    let left = pages;
    const maxOrder = Math.min(9, Math.ceil(Math.log2(pages)) - 1);
    while (left > 0) {
      const order = maxOrder === 9 && this.rng.chance(0.5) ? 9 : this.rng.int(Math.max(1, Math.min(maxOrder, 9)));
      const want = Math.min(left, 2 ** order);
      runs.push({ pfn: want === 1 ? this.scatteredPage() : this.block(want), pages: want });
      left -= want;
    }
    return runs;
  }
}
