// An NVMe SSD: submission and completion queues mapped once, I/Os of 4 KiB
// to 1 MiB mapped as scatter-gather lists of page-cache pages (one IOVA range,
// one map per contiguous run), data moved in 32 KiB DMA bursts, one unmap per
// I/O at completion.
import { PAGE, dmaBuffer } from './dmaapi.js';
import { eachDevice, type Workload, type WorkloadContext } from './workload.js';

const QUEUES = 4;
const SQ_PAGES = 16; // 1024 x 64 B entries
const CQ_PAGES = 4; // 1024 x 16 B entries
const IOPS = 400_000;
const SIZES = [4096, 8192, 16384, 65536, 131072, 262144, 1048576];
const WEIGHTS = [45, 5, 10, 15, 10, 5, 10];
const BURST = 32768;

export const nvme: Workload = {
  name: 'nvme',
  granules: true,
  describe:
    'NVMe: submission/completion queues mapped once, 4 KiB to 1 MiB reads and writes mapped as scatter-gather lists, 70/30 read/write at 400K IOPS per device',
  start(ctx: WorkloadContext, deviceBase: number, domainBase: number) {
    const { sim, rng } = ctx;
    eachDevice(ctx, 0x01, deviceBase, domainBase, (rid, dom) => {
      const queues = Array.from({ length: QUEUES }, () => ({
        sq: dom.map([{ pfn: ctx.phys.block(SQ_PAGES), pages: SQ_PAGES }]),
        cq: dom.map([{ pfn: ctx.phys.block(CQ_PAGES), pages: CQ_PAGES }]),
        tail: 0,
      }));
      const meanGapNs = 1e9 / (IOPS * ctx.opts.rateScale);
      const io = () => {
        if (sim.done) return;
        const q = queues[rng.int(QUEUES)];
        const bytes = rng.weighted(SIZES, WEIGHTS);
        const read = rng.chance(0.7);
        const m = dom.map(ctx.phys.alloc(bytes / PAGE));
        const slot = q.tail;
        q.tail = (q.tail + 1) % 1024;
        sim.after(1000, () => dmaBuffer(sim, false, rid, q.sq, slot * 64, 64));
        const latency = 10_000 + rng.int(70_000);
        // Reads: the device writes host memory; writes: it reads it.
        for (let off = 0, k = 0; off < bytes; off += BURST, k++) {
          const len = Math.min(BURST, bytes - off);
          sim.after(read ? latency - 2000 + k * 100 : 2000 + k * 100, () => dmaBuffer(sim, read, rid, m, off, len));
        }
        sim.after(latency, () => dmaBuffer(sim, true, rid, q.cq, (slot % 256) * 16, 16));
        sim.after(latency + 1500, () => dom.unmap(m));
        sim.after(rng.exp(meanGapNs), io);
      };
      sim.after(1000, io);
    });
  },
};
