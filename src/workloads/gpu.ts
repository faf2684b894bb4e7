// A GPU or accelerator: large long-lived buffers (2 MiB to 1 GiB) mapped
// once, then random and strided accesses over them. Whether a buffer gets 2M
// or 1G pages depends on it being physically contiguous and aligned.
import { PAGE, dmaBuffer, type Mapping } from './dmaapi.js';
import { eachDevice, type Workload, type WorkloadContext } from './workload.js';

const BUFFER_SIZES = [2 << 20, 8 << 20, 32 << 20, 128 << 20, 1 << 30];
const BUFFER_WEIGHTS = [30, 25, 20, 15, 10];
const BUFFERS = 12;
const ACCESSES_PER_S = 20_000_000;

export const gpu: Workload = {
  name: 'gpu',
  granules: true,
  describe: 'GPU: 12 long-lived buffers of 2 MiB to 1 GiB mapped once, then random (64 B-4 KiB) and strided accesses at 20 M/s per device',
  start(ctx: WorkloadContext, deviceBase: number, domainBase: number) {
    const { sim, rng } = ctx;
    eachDevice(ctx, 0x41, deviceBase, domainBase, (rid, dom) => {
      const bufs: Mapping[] = [];
      for (let i = 0; i < BUFFERS; i++) {
        const bytes = rng.weighted(BUFFER_SIZES, BUFFER_WEIGHTS);
        bufs.push(dom.map(ctx.phys.alloc(bytes / PAGE)));
      }
      const gapNs = 1e9 / (ACCESSES_PER_S * ctx.opts.rateScale);
      // Hot buffers get most accesses (rank-based weights).
      const weights = bufs.map((_, i) => 1 / (i + 1));
      let stream = { buf: bufs[0], at: 0, left: 0 };
      const access = () => {
        if (sim.done) return;
        if (stream.left > 0) {
          dmaBuffer(sim, rng.chance(0.3), rid, stream.buf, stream.at, 256);
          stream.at = (stream.at + 4096) % (stream.buf.pages * PAGE);
          stream.left--;
        } else if (rng.chance(0.02)) {
          const buf = rng.weighted(bufs, weights);
          stream = { buf, at: rng.int(buf.pages) * PAGE, left: 64 + rng.int(512) };
        } else {
          const buf = rng.weighted(bufs, weights);
          const size = 64 << rng.int(7);
          const off = Math.min(rng.int(buf.pages * PAGE), buf.pages * PAGE - size);
          dmaBuffer(sim, rng.chance(0.4), rid, buf, off, size);
        }
        sim.after(gapNs, access);
      };
      sim.after(1000, access);
    });
  },
};
