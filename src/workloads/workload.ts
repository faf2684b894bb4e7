// What every workload generator shares: options, the context it builds on,
// and how it declares its devices, domains and instances.
import { Op, type DomainType } from '../trace/schema.js';
import { DmaDomain, type IovaFree } from './dmaapi.js';
import { PhysAllocator } from './phys.js';
import { Rng } from './rng.js';
import type { Sim } from './sim.js';

export interface WorkloadOptions {
  events: number;
  seed: number;
  devices: number;
  /** 0..1: how often large buffers are NOT physically contiguous and aligned. */
  fragmentation: number;
  /** Scales the workload's event rate (1 = its default rate). */
  rateScale: number;
  /** vm-nested: the host's stage-2 page sizes (bytes); the largest is the page that backs guest RAM. */
  s2PageSizes?: number[];
  /** `window`: the bytes the transfers fall in (the buffer's first bytes). */
  windowBytes?: number;
  /** `window`: the mapped buffer's size in bytes (default 64 MiB, at least the window). */
  bufferBytes?: number;
  /** `window`: the bytes of each DMA. */
  transferBytes?: number;
  /** `window`: random (transfer-aligned, uniform) or sequential offsets in the window. */
  pattern?: 'random' | 'sequential';
  /** `window`: DMA writes instead of reads. */
  write?: boolean;
  /** DMA-API workloads that honour it (`Workload.granules`): the IOVA granule in bytes; 4 KiB when absent. */
  granule?: number;
  /** DMA-API workloads: when an unmapped IOVA is free again (gen --iova-free); strict when absent. */
  iovaFree?: IovaFree;
}

export interface WorkloadContext {
  sim: Sim;
  rng: Rng;
  phys: PhysAllocator;
  opts: WorkloadOptions;
  /** Declares a domain's type (unlisted: paging); a nested domain names its parent. */
  domain(id: number, type: DomainType, parent?: number): void;
  /** Places a device behind an instance (for the topology metadata). */
  device(rid: number, instance?: string): void;
}

export interface Workload {
  name: string;
  /** One sentence for --help and the README. */
  describe: string;
  /** Schedules the workload's first actions; they schedule the rest. */
  start(ctx: WorkloadContext, deviceBase: number, domainBase: number): void;
  /** True when its DMA-API domains follow `opts.granule` (gen --granule); others map in 4 KiB pages only. */
  granules?: boolean;
  /** True when its devices are a fixed set (gen --devices does not apply). */
  fixedDevices?: boolean;
  /** False when it has no DMA-API domain (no IOVA allocator: gen --iova-free does not apply); true when absent. */
  dmaApi?: boolean;
  /** Options beyond the common ones, for the trace's `iommu.workload` text. */
  label?(opts: WorkloadOptions): string;
}

export function bdf(bus: number, dev = 0, fn = 0): number {
  return (bus << 8) | (dev << 3) | fn;
}

/**
 * Each device of a DMA-API workload: requester ID on bus `bus + deviceBase +
 * d`, its default domain `domainBase + d` attached at t = 0, behind dmar0 (or
 * every other device behind dmar1 when there are several). `run` starts the
 * device's activity at t = 0, right after the attach.
 */
export function eachDevice(ctx: WorkloadContext, bus: number, deviceBase: number, domainBase: number, run: (rid: number, dom: DmaDomain) => void): void {
  for (let d = 0; d < ctx.opts.devices; d++) {
    const rid = bdf(bus + deviceBase + d);
    const domainId = domainBase + d;
    ctx.device(rid, ctx.opts.devices > 1 && d % 2 === 1 ? 'dmar1' : 'dmar0');
    const dom = new DmaDomain(ctx.sim, domainId, ctx.phys, ctx.opts.granule, ctx.opts.iovaFree);
    ctx.sim.at(0, () => {
      ctx.sim.emit(Op.Attach, rid, 0, domainId, 0, 0, 0);
      run(rid, dom);
    });
  }
}

export function makeContext(sim: Sim, opts: WorkloadOptions) {
  const rng = new Rng(opts.seed);
  const domains = new Map<number, DomainType>();
  const parents = new Map<number, number>();
  const instances = new Map<string, number[]>();
  const ctx: WorkloadContext = {
    sim,
    rng,
    phys: new PhysAllocator(new Rng(opts.seed ^ 0x5eed), opts.fragmentation),
    opts,
    domain: (id, type, parent) => {
      if (type !== 'paging') domains.set(id, type);
      if (type === 'nested') parents.set(id, parent!);
    },
    device: (rid, instance = 'dmar0') => {
      const list = instances.get(instance) ?? [];
      if (!list.includes(rid)) list.push(rid);
      instances.set(instance, list);
    },
  };
  return {
    ctx,
    domains,
    parents,
    topology: () => ({ iommus: [...instances.entries()].sort().map(([name, devices]) => ({ name, devices: devices.sort((a, b) => a - b) })) }),
  };
}
