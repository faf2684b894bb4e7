// A guest with a virtual IOMMU over an assigned NIC (iommufd nested
// translation, spec/model.md §8). The host maps the guest's RAM once into the
// parent domain (stage 2, IPA -> PA) in 1 GiB chunks, as VMMs map memory
// slots; the guest's own DMA-API driver then maps and unmaps streaming
// buffers in its nested domain (stage 1, IOVA -> IPA), 4 KiB pages mostly,
// with now and then a 2 MiB buffer in a guest huge page.
//
// The host's page size is the option `s2PageSizes` (gen --s2-page-sizes): its
// largest size is the page that backs guest RAM (4K pages, 2M THP, 1G
// hugetlbfs). The trace says it the only way a map can: each chunk's PA is
// aligned to that size and no larger, so iommu_pgsize() uses it, or the
// largest smaller size the replay's pageSizes allow, and never a larger one.
// Physical placement beyond alignment does not matter to the model.
import { Op } from '../trace/schema.js';
import { PAGE, type Mapping } from './dmaapi.js';
import { eachDevice, type Workload, type WorkloadContext, type WorkloadOptions } from './workload.js';
import { formatSizeLog2 } from '../config/pagesizes.js';

const G1 = 2 ** 30;
const GUEST_RAM = 8 * G1;
const LOW_RAM = 3 * G1; // guest RAM below the PCI hole, as on x86
/** Host physical memory that backs the guest starts here (1 GiB aligned). */
const HOST_BASE = 64 * G1;
export const DEFAULT_S2_PAGE_SIZES = [PAGE, 2 ** 21, G1];

const QUEUES = 4;
const RING = 256;
const DESC = 16;
const PPS = 1_000_000; // packets per second per device
const SIZES = [64, 128, 256, 576, 1500, 4096, 9000];
const WEIGHTS = [25, 10, 5, 10, 40, 5, 5];
const RX_BUFFER = 2048;
const HUGE = 2 ** 21;
const HUGE_SHARE = 0.002; // of packets: a 2 MiB bulk buffer instead
const HUGE_READ = 64 * 1024;

/** IPA of guest RAM byte `off` (RAM above 3 GiB sits above the hole). */
function gpa(off: number): number {
  return off < LOW_RAM ? off : off + G1;
}

/** The page that backs guest RAM: the largest of the option's sizes. */
function backingBytes(opts: WorkloadOptions): number {
  return Math.max(...(opts.s2PageSizes ?? DEFAULT_S2_PAGE_SIZES));
}

export const vmNested: Workload = {
  name: 'vm-nested',
  describe: 'Nested translation: a guest NIC driver maps and unmaps streaming buffers (4 KiB mostly) in stage 1 over a host stage 2 of 8 GiB guest RAM mapped once in 1 GiB chunks in pages of --s2-page-sizes (its largest)',
  label: (opts) => ` s2-page-sizes=${(opts.s2PageSizes ?? DEFAULT_S2_PAGE_SIZES).map((b) => formatSizeLog2(Math.log2(b))).join(',')}`,
  start(ctx: WorkloadContext, deviceBase: number, domainBase: number) {
    const { sim, rng } = ctx;
    const parent = domainBase + ctx.opts.devices; // one stage 2 per VM, shared by its devices
    const backing = backingBytes(ctx.opts);
    for (let d = 0; d < ctx.opts.devices; d++) ctx.domain(domainBase + d, 'nested', parent);
    // The VMM maps guest RAM before any device is attached (scheduled first, so it runs first at t = 0).
    sim.at(0, () => {
      for (let off = 0; off < GUEST_RAM; off += G1) {
        // Aligned to the backing page and no larger: the offset makes iova | paddr's lowest set bit the backing size.
        const pa = HOST_BASE + off + (backing < G1 ? backing : 0);
        sim.emit(Op.Map, 0, 0, parent, gpa(off), pa, G1);
      }
    });
    /** A guest-physical buffer of `pages` contiguous pages (the guest's buddy allocator spreads them over RAM). */
    const guestBuffer = (pages: number, alignPages = 1): { pfn: number; pages: number }[] => {
      let off = rng.int((GUEST_RAM - pages * PAGE) / (alignPages * PAGE)) * alignPages * PAGE;
      if (off < LOW_RAM && off + pages * PAGE > LOW_RAM) off = LOW_RAM - pages * PAGE - ((LOW_RAM - pages * PAGE) % (alignPages * PAGE));
      return [{ pfn: gpa(off) / PAGE, pages }];
    };
    eachDevice(ctx, 0x06, deviceBase, domainBase, (rid, dom) => {
      const mapPages = (bytes: number, offset = 0): Mapping => dom.map(guestBuffer(Math.ceil((offset + bytes) / PAGE)));
      const queues = Array.from({ length: QUEUES }, () => {
        const rxRing = mapPages(RING * DESC); // dma_alloc_coherent, mapped once
        const txRing = mapPages(RING * DESC);
        const rx: Mapping[] = [];
        for (let i = 0; i < RING; i++) rx.push(mapPages(RX_BUFFER));
        return { rxRing, txRing, rx, rxHead: 0, txHead: 0 };
      });
      const meanGapNs = 1e9 / (PPS * ctx.opts.rateScale);
      const packet = () => {
        if (sim.done) return;
        const q = queues[rng.int(QUEUES)];
        if (rng.chance(HUGE_SHARE)) {
          // A bulk buffer in a guest huge page: a 2 MiB S1 leaf (IOVA and IPA 2 MiB aligned).
          const m = dom.map(guestBuffer(HUGE / PAGE, HUGE / PAGE));
          for (let k = 0; k < HUGE / HUGE_READ; k++) sim.after(1000 + k * 200, () => sim.dma(false, rid, 0, m.iova + k * HUGE_READ, HUGE_READ));
          sim.after(1000 + (HUGE / HUGE_READ) * 200 + 5000, () => dom.unmap(m));
        } else if (rng.chance(0.55)) {
          // RX: the device fetches the descriptor, writes the frame and the writeback; NAPI unmaps and refills.
          const slot = q.rxHead;
          q.rxHead = (q.rxHead + 1) % RING;
          const buf = q.rx[slot];
          sim.dma(false, rid, 0, q.rxRing.iova + slot * DESC, DESC);
          sim.dma(true, rid, 0, buf.iova, Math.min(rng.weighted(SIZES, WEIGHTS), 1514));
          sim.dma(true, rid, 0, q.rxRing.iova + slot * DESC, DESC);
          sim.after(2000 + rng.int(8000), () => {
            dom.unmap(buf);
            q.rx[slot] = mapPages(RX_BUFFER);
          });
        } else {
          // TX: map the skb, the device reads descriptor and frame, writes completion; unmap at completion.
          const size = rng.weighted(SIZES, WEIGHTS);
          const offset = rng.int(64) * 64;
          const m = mapPages(size, offset);
          const slot = q.txHead;
          q.txHead = (q.txHead + 1) % RING;
          sim.after(500, () => sim.dma(false, rid, 0, q.txRing.iova + slot * DESC, DESC));
          sim.after(1000, () => sim.dma(false, rid, 0, m.iova + offset, size));
          sim.after(2000, () => sim.dma(true, rid, 0, q.txRing.iova + slot * DESC, DESC));
          sim.after(5000 + rng.int(15000), () => dom.unmap(m));
        }
        sim.after(rng.exp(meanGapNs), packet);
      };
      sim.after(1000, packet);
    });
  },
};
