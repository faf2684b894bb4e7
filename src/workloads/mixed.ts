// Several workloads on several devices behind two IOMMU instances, with
// attach/detach (a device handed between its DMA domain and a VFIO domain)
// and a domain shared by two devices on different instances.
import { Op } from '../trace/schema.js';
import { PAGE } from './dmaapi.js';
import { gpu } from './gpu.js';
import { nic } from './nic.js';
import { nvme } from './nvme.js';
import { bdf, type Workload, type WorkloadContext } from './workload.js';

const SHARED_DOMAIN = 100;

export const mixed: Workload = {
  name: 'mixed',
  granules: true,
  fixedDevices: true,
  describe:
    'Mixed: NIC, NVMe and GPU devices behind two IOMMU instances (dmar0, dmar1), a domain shared by two devices across them, and attach/detach handoffs',
  start(ctx: WorkloadContext) {
    const { sim, rng } = ctx;
    const sub = { ...ctx, opts: { ...ctx.opts, devices: 1, rateScale: ctx.opts.rateScale * 0.5 } };
    nic.start(sub, 0, 1);
    nvme.start({ ...sub, device: (rid) => ctx.device(rid, 'dmar1') }, 0, 2);
    gpu.start({ ...sub, opts: { ...sub.opts, rateScale: ctx.opts.rateScale * 0.05 } }, 0, 3);
    // Two VFs, one behind each instance, share one VFIO domain (DID per instance).
    // Its 2 MiB maps are aligned to every granule, so they stand under --granule too.
    const vfA = bdf(0x81, 0, 1);
    const vfB = bdf(0x82, 0, 1);
    ctx.device(vfA, 'dmar0');
    ctx.device(vfB, 'dmar1');
    sim.at(0, () => {
      sim.emit(Op.Attach, vfA, 0, 10, 0, 0, 0); // default DMA domains first
      sim.emit(Op.Attach, vfB, 0, 11, 0, 0, 0);
      const bufs: number[] = [];
      for (let i = 0; i < 64; i++) {
        const iova = 0x100000000 + i * (2 << 20);
        sim.emit(Op.Map, 0, 0, SHARED_DOMAIN, iova, ctx.phys.block(512) * PAGE, 2 << 20);
        bufs.push(iova);
      }
      let owned = false;
      const handoff = () => {
        if (sim.done) return;
        // VFIO takes the VFs (attach to the shared domain) or gives them back (detach, then the DMA domain).
        if (!owned) {
          sim.emit(Op.Attach, vfA, 0, SHARED_DOMAIN, 0, 0, 0);
          sim.emit(Op.Attach, vfB, 0, SHARED_DOMAIN, 0, 0, 0);
        } else {
          sim.emit(Op.Detach, vfA, 0, 0, 0, 0, 0);
          sim.emit(Op.Detach, vfB, 0, 0, 0, 0, 0);
          sim.emit(Op.Attach, vfA, 0, 10, 0, 0, 0);
          sim.emit(Op.Attach, vfB, 0, 11, 0, 0, 0);
        }
        owned = !owned;
        sim.after(2_000_000, handoff);
      };
      const access = () => {
        if (sim.done) return;
        if (owned) sim.dma(rng.chance(0.5), rng.chance(0.5) ? vfA : vfB, 0, bufs[rng.int(bufs.length)] + rng.int((2 << 20) - 256), 256);
        else if (rng.chance(0.01)) sim.emit(Op.Flush, 0, 0, SHARED_DOMAIN, 0, 0, 0);
        sim.after(1000 / ctx.opts.rateScale, access);
      };
      sim.after(1000, handoff);
      sim.after(1500, access);
    });
  },
};
