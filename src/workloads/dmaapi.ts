// The DMA API as dma-iommu.c drives the IOMMU API (__iommu_dma_map(), iommu_map_sg()): a
// mapping allocates one IOVA range, maps each physically contiguous run with
// one `iommu_map` (iommu_map_sg merges runs), and an unmap is one
// `iommu_unmap` over the whole range followed by freeing the IOVA.
import { Op } from '../trace/schema.js';
import { DMA32_LIMIT_PFN, IovaAllocator } from './iova.js';
import type { PhysAllocator, PhysRun } from './phys.js';
import type { Sim } from './sim.js';

export const PAGE = 4096;
export const FULL_LIMIT_PFN = 2 ** 36 - 1; // 48-bit DMA mask

export interface Mapping {
  /** Byte address of the IOVA range (granule-aligned). */
  iova: number;
  pages: number;
  /** Allocation size in pages (what the IOVA allocator reserved). */
  allocPages: number;
}

/** One DMA-API domain: the device's default domain with its IOVA space. */
export class DmaDomain {
  readonly iovas = new IovaAllocator();

  constructor(
    readonly sim: Sim,
    readonly domain: number,
    readonly phys: PhysAllocator,
  ) {}

  /** PCI devices try below 4 GiB first (pci_32bit_workaround), then the full mask. */
  private allocIova(pages: number): number {
    let pfn = this.iovas.alloc(pages, DMA32_LIMIT_PFN);
    if (pfn < 0) pfn = this.iovas.alloc(pages, FULL_LIMIT_PFN);
    if (pfn < 0) throw new Error('generator: IOVA space exhausted');
    return pfn;
  }

  /** dma_map_sg / dma_map_page: maps `runs` contiguously in IOVA space. */
  map(runs: PhysRun[]): Mapping {
    let pages = 0;
    for (const r of runs) pages += r.pages;
    const pfn = this.allocIova(pages);
    let at = pfn;
    // iommu_map_sg: one iommu_map per physically contiguous run.
    let i = 0;
    while (i < runs.length) {
      let run = runs[i].pages;
      const start = runs[i].pfn;
      let j = i + 1;
      while (j < runs.length && runs[j].pfn === start + run) run += runs[j++].pages;
      this.sim.emit(Op.Map, 0, 0, this.domain, at * PAGE, start * PAGE, run * PAGE);
      at += run;
      i = j;
    }
    return { iova: pfn * PAGE, pages, allocPages: IovaAllocator.sizeOf(pages) };
  }

  /** dma_map_single of a fresh buffer of `bytes` at page offset `offset`. */
  mapBuffer(bytes: number, offset = 0): Mapping {
    const pages = Math.ceil((offset + bytes) / PAGE);
    return this.map(this.phys.alloc(pages));
  }

  unmap(m: Mapping): void {
    this.sim.emit(Op.Unmap, 0, 0, this.domain, m.iova, 0, m.pages * PAGE);
    this.iovas.free(m.iova / PAGE);
  }
}
