// The IOTLB-reach experiment of Neugebauer et al., "Understanding PCIe
// performance for end host networking" (SIGCOMM 2018, §5.3): one long-lived
// mapping of a `window`-byte buffer, then uniformly random 64-byte DMA reads
// in it. With 4K pages the hit rate falls once the window outgrows entries x
// 4 KiB; with 2M pages (a contiguous, aligned buffer) it stays flat far longer.
import { PAGE, dmaBuffer } from './dmaapi.js';
import { eachDevice, type Workload, type WorkloadContext } from './workload.js';

/** 4 MiB unless --window says otherwise. */
export const DEFAULT_WINDOW_BYTES = 4 << 20;
const READS_PER_S = 10_000_000;
const READ_BYTES = 64;

export const window: Workload = {
  name: 'window',
  granules: true,
  describe: 'IOTLB reach (Neugebauer et al., SIGCOMM 2018): one mapping of a --window BYTES buffer, then uniformly random 64-byte DMA reads in it',
  start(ctx: WorkloadContext, deviceBase: number, domainBase: number) {
    const { sim, rng } = ctx;
    const pages = Math.max(1, Math.ceil((ctx.opts.windowBytes ?? DEFAULT_WINDOW_BYTES) / PAGE));
    eachDevice(ctx, 0x05, deviceBase, domainBase, (rid, dom) => {
      const buf = dom.map(ctx.phys.alloc(pages));
      const slots = (buf.pages * PAGE) / READ_BYTES;
      const gapNs = 1e9 / (READS_PER_S * ctx.opts.rateScale);
      const read = () => {
        if (sim.done) return;
        dmaBuffer(sim, false, rid, buf, rng.int(slots) * READ_BYTES, READ_BYTES);
        sim.after(gapNs, read);
      };
      sim.after(1000, read);
    });
  },
};
