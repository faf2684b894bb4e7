// `inspect`: what a trace holds, from one pass over its batches.
import { exactNumber, type EventBatch } from './batch.js';
import { openTrace } from './merge.js';
import { OP_NAMES, Op, formatBdf, type DomainType } from './schema.js';

export interface Inspection {
  files: string[];
  rows: number;
  /** Exact: bigint beyond 2^53. */
  firstTs: number | bigint | null;
  lastTs: number | bigint | null;
  spanNs: number;
  ops: Record<string, number>;
  devices: { device: string; requesterId: number; events: number }[];
  /** `parent`: a nested domain's parent paging domain, as the trace declares it (model §8). */
  domains: { domain: number; type: DomainType; parent?: number; declared: boolean; events: number }[];
  topology: { iommus: { name: string; devices: string[] }[] } | null;
  workload: string | null;
  /** How an imported trace's lines were read and its maps attributed. */
  imported: Record<string, unknown> | null;
  /** Things that are allowed but worth knowing. */
  notes: string[];
}

export async function inspectTrace(paths: string[]): Promise<Inspection> {
  const trace = await openTrace(paths);
  const ops = new Float64Array(OP_NAMES.length);
  const devices = new Map<number, number>();
  const domains = new Map<number, number>();
  let rows = 0;
  let firstTs: bigint | null = null;
  let lastTs: bigint | null = null;
  const ts64 = (w: Uint32Array, i: number) => (BigInt(w[2 * i + 1]) << 32n) | BigInt(w[2 * i]);
  const count = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);
  try {
    for await (const b of trace.batches() as AsyncGenerator<EventBatch>) {
      if (b.length === 0) continue;
      if (firstTs === null) firstTs = ts64(b.ts, 0);
      lastTs = ts64(b.ts, b.length - 1);
      for (let i = 0; i < b.length; i++) {
        const op = b.op[i];
        ops[op]++;
        if (op === Op.DmaRead || op === Op.DmaWrite || op === Op.Attach || op === Op.Detach) count(devices, b.device[i]);
        if (op === Op.Map || op === Op.Unmap || op === Op.Attach || op === Op.Flush) count(domains, b.domain[i]);
      }
      rows += b.length;
    }
  } finally {
    await trace.close();
  }
  const meta = trace.meta;
  const notes: string[] = [];
  if (meta.version === undefined) notes.push('no "iommu.trace.version" metadata (assumed 1)');
  for (const id of meta.domains.keys()) if (!domains.has(id)) notes.push(`domain ${id} is declared ${meta.domains.get(id)} but no event names it`);
  if (ops[Op.DmaRead] + ops[Op.DmaWrite] === 0) notes.push('no DMA events: a replay gives no hit rates');
  const domainIds = new Set([...domains.keys(), ...meta.domains.keys()]);
  return {
    files: trace.files.map((f) => f.label),
    rows,
    firstTs: firstTs === null ? null : exactNumber(firstTs),
    lastTs: lastTs === null ? null : exactNumber(lastTs),
    spanNs: firstTs === null || lastTs === null ? 0 : Number(lastTs - firstTs),
    ops: Object.fromEntries(OP_NAMES.map((n, i) => [n, ops[i]])),
    devices: [...devices.entries()].sort((a, b) => a[0] - b[0]).map(([rid, events]) => ({ device: formatBdf(rid), requesterId: rid, events })),
    domains: [...domainIds]
      .sort((a, b) => a - b)
      .map((id) => {
        const parent = meta.parents?.get(id);
        return {
          domain: id,
          type: meta.domains.get(id) ?? 'paging',
          ...(parent === undefined ? {} : { parent }),
          declared: meta.domains.has(id),
          events: domains.get(id) ?? 0,
        };
      }),
    topology: meta.topology ? { iommus: meta.topology.iommus.map((m) => ({ name: m.name, devices: m.devices.map(formatBdf) })) } : null,
    workload: meta.workload ?? null,
    imported: meta.importStats ?? null,
    notes,
  };
}
