// Device passthrough to a VM (VFIO type1): guest RAM mapped once at start in
// 1 GiB chunks at iova = guest physical address (an identity-like long-lived
// mapping; below-4G hole as on x86), each chunk mapped run by physically
// contiguous run; guest DMA then spreads over RAM with a hot set.
import { Op } from '../trace/schema.js';
import { PAGE } from './dmaapi.js';
import { eachDevice, type Workload, type WorkloadContext } from './workload.js';

const GUEST_RAM = 8 * 2 ** 30;
const CHUNK = 2 ** 30;
const LOW_RAM = 3 * 2 ** 30; // guest RAM below the PCI hole
const ACCESSES_PER_S = 2_000_000;

/** Guest physical address of guest RAM byte `off`. */
function gpa(off: number): number {
  return off < LOW_RAM ? off : off + 2 ** 30;
}

export const vm: Workload = {
  name: 'vm',
  describe: 'VM passthrough: 8 GiB of guest RAM mapped once in 1 GiB chunks at iova = guest physical address, then DMA (512 B-64 KiB) over RAM with a hot set',
  start(ctx: WorkloadContext, deviceBase: number, domainBase: number) {
    const { sim, rng } = ctx;
    eachDevice(ctx, 0x05, deviceBase, domainBase, (rid, dom) => {
      for (let off = 0; off < GUEST_RAM; off += CHUNK) {
        // hugetlbfs 1G, else THP 2M blocks, else 4K pages: by fragmentation.
        let at = 0;
        const runs = ctx.phys.alloc(CHUNK / PAGE);
        for (const r of runs) {
          // VFIO maps each physically contiguous run.
          sim.emit(Op.Map, 0, 0, dom.domain, gpa(off) + at * PAGE, r.pfn * PAGE, r.pages * PAGE);
          at += r.pages;
        }
      }
      const hot = Array.from({ length: 16 }, () => rng.int(GUEST_RAM / (4 << 20)) * (4 << 20));
      const gapNs = 1e9 / (ACCESSES_PER_S * ctx.opts.rateScale);
      const access = () => {
        if (sim.done) return;
        const size = 512 << rng.int(8);
        let off = rng.chance(0.8) ? hot[rng.int(hot.length)] + rng.int((4 << 20) - size) : rng.int(GUEST_RAM - size);
        // A guest buffer is contiguous in guest physical memory, so it does not
        // run from the RAM below the PCI hole into the hole (unmapped: it faulted).
        if (off < LOW_RAM && off + size > LOW_RAM) off = LOW_RAM - size;
        sim.dma(rng.chance(0.5), rid, 0, gpa(off), size);
        sim.after(rng.exp(gapNs), access);
      };
      sim.after(1000, access);
    });
  },
};
