// The DMA API as dma-iommu.c drives the IOMMU API (__iommu_dma_map(), iommu_dma_map_sg(),
// iommu_map_sg()): a mapping allocates one IOVA range, maps each physically
// contiguous run with one `iommu_map` (iommu_map_sg merges runs), and an unmap
// is one `iommu_unmap` over the whole range followed by freeing the IOVA.
//
// The IOVA granule (iommu_dma_init_domain(): the smallest size of the domain's
// pgsize_bitmap; 4 KiB unless `gen --granule` says 16K or 64K) is the unit of
// all of it: each scatter-gather entry keeps its offset inside its first
// granule (`iova_offset()`) and its length is rounded up to whole granules
// (`iova_align(iovad, size + iova_off)`), the IOVA allocator counts granules,
// and the device addresses a buffer byte at its segment's IOVA plus that
// offset. Two buffers in one granule page each get their own IOVA range.
//
// An unmapped IOVA goes back to the allocator at once, as a strict kernel
// frees it, or (`gen --iova-free lazy`) when the domain's flush queue is
// flushed, as Linux's lazy mode frees it (`queue_iova()`, `fq_ring_free()`):
// the queue follows the model's rule (model §5) with its default size and
// timeout, so a lazy replay of such a trace finds no map of an IOVA still
// in the queue (`invalidation.reusedBeforeFlush`).
import { DEFAULT_FQ_SIZE, DEFAULT_FQ_TIMEOUT_NS } from '../config/config.js';
import { Op } from '../trace/schema.js';
import { IovaAllocator, limitPfn } from './iova.js';
import type { PhysAllocator, PhysRun } from './phys.js';
import type { Sim } from './sim.js';

/** The CPU's page (the unit of PhysRun pfns and of buffer sizes). */
export const PAGE = 4096;

export interface Mapping {
  /** Byte address of the IOVA range (granule-aligned). */
  iova: number;
  /** The buffer's size in 4 KiB pages (its runs' pages). */
  pages: number;
  /** Bytes of the IOVA range: what was mapped, and what the unmap covers. */
  size: number;
  /**
   * The buffer's segments, one a run: segment k starts at byte `segStart[k]`
   * of the buffer's pages and the device reaches that byte at DMA address
   * `segDma[k]`.
   */
  segStart: number[];
  segDma: number[];
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** One DMA-API domain: the device's default domain with its IOVA space. */
/** When an unmapped IOVA is free again: at its unmap (strict) or at its flush queue's flush (lazy). */
export type IovaFree = 'strict' | 'lazy';

export class DmaDomain {
  readonly iovas: IovaAllocator;
  private readonly shift: number;
  /** Lazy: the IOVAs (granule pfns) unmapped and waiting for the flush, and when the first of them was queued. */
  private readonly queued: number[] = [];
  private queuedSinceNs = 0;

  /** `granule`: the IOVA granule in bytes (4K, 16K or 64K). */
  constructor(
    readonly sim: Sim,
    readonly domain: number,
    readonly phys: PhysAllocator,
    readonly granule = PAGE,
    readonly iovaFree: IovaFree = 'strict',
  ) {
    this.shift = Math.log2(granule);
    this.iovas = new IovaAllocator(1, limitPfn(32, this.shift));
  }

  /**
   * Lazy: the flush of the queue's timer, due once `now` is the timeout past
   * its first entry (model §5: before the first event at or after that
   * time; an allocation happens at a map, an event). Frees what it held.
   */
  private flushIfDue(): void {
    if (this.queued.length > 0 && this.sim.now - this.queuedSinceNs >= DEFAULT_FQ_TIMEOUT_NS) this.flushQueue();
  }

  private flushQueue(): void {
    for (const pfn of this.queued) this.iovas.free(pfn);
    this.queued.length = 0;
  }

  /** PCI devices try below 4 GiB first (pci_32bit_workaround), then the full mask; in granules. */
  private allocIova(granules: number): number {
    let pfn = this.iovas.alloc(granules, limitPfn(32, this.shift));
    if (pfn < 0) pfn = this.iovas.alloc(granules, limitPfn(48, this.shift));
    if (pfn < 0) throw new Error('generator: IOVA space exhausted');
    return pfn;
  }

  /** dma_map_sg / dma_map_page: maps `runs` contiguously in IOVA space, each rounded to the granule. */
  map(runs: PhysRun[]): Mapping {
    if (this.iovaFree === 'lazy') this.flushIfDue();
    const g = this.granule;
    // iommu_dma_map_sg(): each entry from the start of its first granule to the end of its last.
    const lo: number[] = [];
    const hi: number[] = [];
    let pages = 0;
    let bytes = 0;
    for (const r of runs) {
      const start = r.pfn * PAGE;
      lo.push(start - (start % g));
      hi.push(roundUp(start + r.pages * PAGE, g));
      bytes += hi[hi.length - 1] - lo[lo.length - 1];
      pages += r.pages;
    }
    const iova = this.allocIova(bytes / g) * g;
    const segStart: number[] = [];
    const segDma: number[] = [];
    let at = iova;
    let bufAt = 0;
    for (let k = 0; k < runs.length; k++) {
      segStart.push(bufAt);
      segDma.push(at + runs[k].pfn * PAGE - lo[k]);
      bufAt += runs[k].pages * PAGE;
      at += hi[k] - lo[k];
    }
    // iommu_map_sg: one iommu_map per physically contiguous run of (rounded) entries.
    at = iova;
    let i = 0;
    while (i < runs.length) {
      let end = hi[i];
      let j = i + 1;
      while (j < runs.length && lo[j] === end) end = hi[j++];
      this.sim.emit(Op.Map, 0, 0, this.domain, at, lo[i], end - lo[i]);
      at += end - lo[i];
      i = j;
    }
    return { iova, pages, size: bytes, segStart, segDma };
  }

  /** dma_map_single of a fresh buffer of `bytes` at page offset `offset`. */
  mapBuffer(bytes: number, offset = 0): Mapping {
    const pages = Math.ceil((offset + bytes) / PAGE);
    return this.map(this.phys.alloc(pages));
  }

  unmap(m: Mapping): void {
    this.sim.emit(Op.Unmap, 0, 0, this.domain, m.iova, 0, m.size);
    const pfn = m.iova / this.granule;
    if (this.iovaFree === 'strict') {
      this.iovas.free(pfn);
      return;
    }
    // Model §5: the timer's flush comes before this unmap; a full queue is flushed before the unmap is queued.
    this.flushIfDue();
    if (this.queued.length === DEFAULT_FQ_SIZE) this.flushQueue();
    if (this.queued.length === 0) this.queuedSinceNs = this.sim.now;
    this.queued.push(pfn);
  }
}

/** The DMA address of byte `at` of a mapped buffer's pages. */
export function dmaAddress(m: Mapping, at: number): number {
  let k = m.segStart.length - 1;
  while (k > 0 && m.segStart[k] > at) k--;
  return m.segDma[k] + (at - m.segStart[k]);
}

/**
 * The device reads (or writes) `len` bytes at byte `at` of a mapped buffer:
 * one DMA per piece that is contiguous in IOVA space (a DMA segment,
 * __finalise_sg()); with a 4 KiB granule the whole buffer is one.
 */
export function dmaBuffer(sim: Sim, write: boolean, device: number, m: Mapping, at: number, len: number): void {
  const n = m.segStart.length;
  let k = n - 1;
  while (k > 0 && m.segStart[k] > at) k--;
  while (len > 0) {
    const addr = m.segDma[k] + (at - m.segStart[k]);
    // Following segments that continue this one in IOVA space extend the piece; the last one has no end.
    let end = k + 1 < n ? m.segStart[k + 1] : Infinity;
    while (end < at + len && m.segDma[k + 1] === m.segDma[k] + (m.segStart[k + 1] - m.segStart[k])) {
      k++;
      end = k + 1 < n ? m.segStart[k + 1] : Infinity;
    }
    const piece = Math.min(len, end - at);
    sim.dma(write, device, 0, addr, piece);
    at += piece;
    len -= piece;
    if (k + 1 < n) k++;
  }
}
