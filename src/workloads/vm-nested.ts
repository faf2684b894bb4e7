// A guest with a virtual IOMMU over an assigned NIC (iommufd nested
// translation, docs/model.md §8); the guest's driver is the nic workload's. The host maps the guest's RAM once into the
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
import { PAGE } from './dmaapi.js';
import { runNicDriver, type NicMemory } from './nic.js';
import { eachDevice, type Workload, type WorkloadContext, type WorkloadOptions } from './workload.js';
import { formatSizeLog2 } from '../config/pagesizes.js';

const G1 = 2 ** 30;
const GUEST_RAM = 8 * G1;
const LOW_RAM = 3 * G1; // guest RAM below the PCI hole, as on x86
/** Host physical memory that backs the guest starts here (1 GiB aligned). */
const HOST_BASE = 64 * G1;
export const DEFAULT_S2_PAGE_SIZES = [PAGE, 2 ** 21, G1];

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
  describe:
    'Nested translation: a guest NIC driver maps and unmaps streaming buffers (4 KiB mostly) in stage 1 over a host stage 2 of 8 GiB guest RAM mapped once in 1 GiB chunks in pages of --s2-page-sizes (its largest)',
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
    const mem: NicMemory = { ring: () => guestBuffer(1), buffer: (pages) => guestBuffer(pages) };
    eachDevice(ctx, 0x06, deviceBase, domainBase, (rid, dom) => {
      // Now and then a bulk buffer in a guest huge page instead of a packet:
      // a 2 MiB S1 leaf (IOVA and IPA 2 MiB aligned), read in 64 KiB pieces.
      const bulk = (): boolean => {
        if (!rng.chance(HUGE_SHARE)) return false;
        const m = dom.map(guestBuffer(HUGE / PAGE, HUGE / PAGE));
        for (let k = 0; k < HUGE / HUGE_READ; k++) sim.after(1000 + k * 200, () => sim.dma(false, rid, 0, m.iova + k * HUGE_READ, HUGE_READ));
        sim.after(1000 + (HUGE / HUGE_READ) * 200 + 5000, () => dom.unmap(m));
        return true;
      };
      runNicDriver(ctx, rid, dom, mem, bulk);
    });
  },
};
