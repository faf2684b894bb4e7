// The workload library: `gen WORKLOAD -o FILE` writes a deterministic trace.
import { formatSizeLog2 } from '../config/pagesizes.js';
import { TraceWriter } from '../trace/writer.js';
import { PAGE } from './dmaapi.js';
import { gpu } from './gpu.js';
import { mixed } from './mixed.js';
import { nic } from './nic.js';
import { nvme } from './nvme.js';
import { Sim } from './sim.js';
import { sva } from './sva.js';
import { vm } from './vm.js';
import { vmNested } from './vm-nested.js';
import { window } from './window.js';
import { makeContext, type Workload, type WorkloadOptions } from './workload.js';

export const WORKLOADS: readonly Workload[] = [nic, nvme, gpu, vm, vmNested, sva, mixed, window];

export function findWorkload(name: string): Workload | undefined {
  return WORKLOADS.find((w) => w.name === name);
}

export const DEFAULT_OPTIONS: WorkloadOptions = { events: 1_000_000, seed: 1, devices: 1, fragmentation: 0.5, rateScale: 1 };

/** ` granule=64K` when not the default 4 KiB (a 4K trace's metadata reads as before the option existed). */
function granuleLabel(opts: WorkloadOptions): string {
  return opts.granule === undefined || opts.granule === PAGE ? '' : ` granule=${formatSizeLog2(Math.log2(opts.granule))}`;
}

/** ` iova-free=lazy` when IOVAs wait for the flush queue (a strict trace's metadata reads as before the option existed). */
function iovaFreeLabel(opts: WorkloadOptions): string {
  return opts.iovaFree === 'lazy' ? ' iova-free=lazy' : '';
}

/** Generates `workload` into `file` (atomic); returns the rows written. `onProgress` hears the rows written after each batch. */
export async function generate(workload: Workload, file: string, opts: WorkloadOptions, onProgress?: (rows: number) => void): Promise<number> {
  // The metadata (topology, domain types) is known once the workload has
  // scheduled its start; nothing is emitted before sim.run().
  let writer: TraceWriter | undefined;
  let written = 0;
  const sim = new Sim(
    {
      flush: async (b) => {
        await writer!.write(b);
        written += b.length;
        onProgress?.(written);
      },
    },
    opts.events,
  );
  const { ctx, domains, parents, topology } = makeContext(sim, opts);
  workload.start(ctx, 0, 1);
  writer = new TraceWriter(file, {
    domains,
    parents,
    topology: topology(),
    workload: `${workload.name} events=${opts.events} seed=${opts.seed} devices=${opts.devices} fragmentation=${opts.fragmentation} rate=${opts.rateScale}${granuleLabel(opts)}${iovaFreeLabel(opts)}${workload.label?.(opts) ?? ''}`,
  });
  try {
    await sim.run();
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return sim.rows;
}
