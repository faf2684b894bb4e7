// A NIC: per-queue RX and TX descriptor rings mapped once (coherent), RX
// buffers posted ahead and refilled after NAPI, TX buffers mapped per packet
// and unmapped at completion: the streaming-map pattern that makes strict
// invalidation expensive.
import { PAGE, dmaBuffer, type DmaDomain, type Mapping } from './dmaapi.js';
import type { PhysRun } from './phys.js';
import { eachDevice, type Workload, type WorkloadContext } from './workload.js';

const QUEUES = 4;
const RING = 256;
const DESC = 16;
const PPS = 1_000_000; // packets per second per device
const SIZES = [64, 128, 256, 576, 1500, 4096, 9000];
const WEIGHTS = [25, 10, 5, 10, 40, 5, 5];
const RX_BUFFER = 2048; // MTU 1500: one page per RX buffer (half used)

/** Where a NIC driver's memory comes from: a ring's page, and a buffer of `pages` pages. */
export interface NicMemory {
  ring(): PhysRun[];
  buffer(pages: number): PhysRun[];
}

/**
 * One NIC's driver on `dom` from t = now: rings and RX buffers mapped, then
 * packets at 1 Mpps (scaled). `extra`, called once a packet after its queue
 * is picked, may do something else instead and return true (vm-nested's bulk
 * buffers); without it the packet stream is the nic workload's.
 */
export function runNicDriver(ctx: WorkloadContext, rid: number, dom: DmaDomain, mem: NicMemory, extra?: () => boolean): void {
  const { sim, rng } = ctx;
  const mapBuffer = (bytes: number, offset = 0): Mapping => dom.map(mem.buffer(Math.ceil((offset + bytes) / PAGE)));
  const queues = Array.from({ length: QUEUES }, () => {
    const rxRing = dom.map(mem.ring()); // dma_alloc_coherent
    const txRing = dom.map(mem.ring());
    const rx: Mapping[] = [];
    for (let i = 0; i < RING; i++) rx.push(mapBuffer(RX_BUFFER));
    return { rxRing, txRing, rx, rxHead: 0, txHead: 0 };
  });
  const meanGapNs = 1e9 / (PPS * ctx.opts.rateScale);
  const packet = () => {
    if (sim.done) return;
    const q = queues[rng.int(QUEUES)];
    if (extra === undefined || !extra()) {
      const size = rng.weighted(SIZES, WEIGHTS);
      if (rng.chance(0.55)) {
        // RX: the device fetches the descriptor, writes the frame and the writeback.
        const slot = q.rxHead;
        q.rxHead = (q.rxHead + 1) % RING;
        const buf = q.rx[slot];
        const len = Math.min(size, 1514);
        dmaBuffer(sim, false, rid, q.rxRing, slot * DESC, DESC);
        dmaBuffer(sim, true, rid, buf, 0, len);
        dmaBuffer(sim, true, rid, q.rxRing, slot * DESC, DESC);
        // NAPI: unmap the filled buffer, post a fresh one.
        sim.after(2000 + rng.int(8000), () => {
          dom.unmap(buf);
          q.rx[slot] = mapBuffer(RX_BUFFER);
        });
      } else {
        // TX: map the skb, the device reads descriptor and frame, writes completion.
        const offset = rng.int(64) * 64;
        const m = mapBuffer(size, offset);
        const slot = q.txHead;
        q.txHead = (q.txHead + 1) % RING;
        sim.after(500, () => dmaBuffer(sim, false, rid, q.txRing, slot * DESC, DESC));
        sim.after(1000, () => dmaBuffer(sim, false, rid, m, offset, size));
        sim.after(2000, () => dmaBuffer(sim, true, rid, q.txRing, slot * DESC, DESC));
        sim.after(5000 + rng.int(15000), () => dom.unmap(m));
      }
    }
    sim.after(rng.exp(meanGapNs), packet);
  };
  sim.after(1000, packet);
}

export const nic: Workload = {
  name: 'nic',
  granules: true,
  describe:
    'NIC: RX/TX descriptor rings mapped once, per-packet streaming map, device write/read and unmap; 64 B to 9 KB packets on 4 queues at 1 Mpps per device',
  start(ctx: WorkloadContext, deviceBase: number, domainBase: number) {
    const mem: NicMemory = { ring: () => [{ pfn: ctx.phys.block(1), pages: 1 }], buffer: (pages) => ctx.phys.alloc(pages) };
    eachDevice(ctx, 0x03, deviceBase, domainBase, (rid, dom) => runNicDriver(ctx, rid, dom, mem));
  },
};
