// Shared virtual addressing: each process's address space is an SVA domain
// attached to the device on a PASID. Map and unmap stand for the CPU page
// table changing: faults install 4K pages or 2M THPs, munmap removes regions,
// migration replaces pages. DMA runs on the PASID over user addresses.
import { Op } from '../trace/schema.js';
import { PAGE } from './dmaapi.js';
import { bdf, type Workload, type WorkloadContext } from './workload.js';

const PROCESSES = 2;
const REGION = 2 << 20;
const ACCESSES_PER_S = 5_000_000;
const USER_BASE = 0x7f0000000000;

export const sva: Workload = {
  name: 'sva',
  dmaApi: false,
  describe: 'SVA: 2 processes with SVA domains on PASIDs; map/unmap stand for CPU page-table changes (faults, THP, munmap, migration); DMA on the PASIDs',
  start(ctx: WorkloadContext, deviceBase: number, domainBase: number) {
    const { sim, rng } = ctx;
    for (let d = 0; d < ctx.opts.devices; d++) {
      const rid = bdf(0x06 + deviceBase + d);
      ctx.device(rid, ctx.opts.devices > 1 && d % 2 === 1 ? 'dmar1' : 'dmar0');
      for (let p = 0; p < PROCESSES; p++) {
        const domainId = domainBase + d * PROCESSES + p;
        // A PASID is the process's (Linux allocates mm->pasid from one global
        // space): each process, on whichever device, has its own.
        const pasid = 1 + d * PROCESSES + p;
        ctx.domain(domainId, 'sva');
        // Regions of the address space, each 2 MiB of virtual space.
        const regions: { va: number; pages: number[] | null; huge: number }[] = [];
        let nextVa = USER_BASE + p * 2 ** 36;
        const populate = () => {
          const va = nextVa;
          nextVa += REGION;
          const runs = ctx.phys.alloc(REGION / PAGE);
          if (runs.length === 1) {
            sim.emit(Op.Map, 0, 0, domainId, va, runs[0].pfn * PAGE, REGION); // THP
            regions.push({ va, pages: null, huge: runs[0].pfn });
          } else {
            // 4K faults as the process touches the pages.
            const pages: number[] = [];
            for (const r of runs) for (let k = 0; k < r.pages; k++) pages.push(r.pfn + k);
            for (let k = 0; k < pages.length; k++) sim.emit(Op.Map, 0, 0, domainId, va + k * PAGE, pages[k] * PAGE, PAGE);
            regions.push({ va, pages, huge: -1 });
          }
        };
        sim.at(0, () => {
          sim.emit(Op.Attach, rid, pasid, domainId, 0, 0, 0);
          for (let i = 0; i < 8; i++) populate();
          const gapNs = (1e9 / (ACCESSES_PER_S * ctx.opts.rateScale)) * PROCESSES;
          const step = () => {
            if (sim.done) return;
            const x = rng.float();
            if (x < 0.0005) {
              // munmap a region and fault in a new one.
              const victim = regions.splice(rng.int(regions.length), 1)[0];
              sim.emit(Op.Unmap, 0, 0, domainId, victim.va, 0, REGION);
              populate();
            } else if (x < 0.002) {
              // Migrate one 4K page (NUMA balancing): unmap, map elsewhere.
              const r = regions[rng.int(regions.length)];
              if (r.pages) {
                const k = rng.int(r.pages.length);
                r.pages[k] = ctx.phys.scatteredPage();
                sim.emit(Op.Unmap, 0, 0, domainId, r.va + k * PAGE, 0, PAGE);
                sim.emit(Op.Map, 0, 0, domainId, r.va + k * PAGE, r.pages[k] * PAGE, PAGE);
              }
            } else {
              const r = regions[rng.int(regions.length)];
              const size = 64 << rng.int(6);
              sim.dma(rng.chance(0.5), rid, pasid, r.va + rng.int(REGION - size), size);
            }
            sim.after(rng.exp(gapNs), step);
          };
          sim.after(1000, step);
        });
      }
    }
  },
};
