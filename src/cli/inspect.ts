// `iommu-replay inspect TRACE... [--json]`
import type { CommandModule } from 'yargs';
import { fmtInt, fmtNs, mdTable } from '../report/format.js';
import { attributionLine, type ImportStats } from '../import/convert.js';
import { stableStringify } from '../stats/summary.js';
import { inspectTrace, type Inspection } from '../trace/inspect.js';

interface Args {
  traces: string[];
  json?: boolean;
}

export function inspectText(r: Inspection): string {
  const out: string[] = [];
  out.push(`files: ${r.files.join(', ')}`);
  if (r.workload) out.push(`workload: ${r.workload}`);
  out.push(`rows: ${fmtInt(r.rows)}`);
  out.push(`time: ${r.firstTs ?? '-'} .. ${r.lastTs ?? '-'} ns (${fmtNs(r.spanNs)})`);
  out.push('');
  out.push(mdTable(['op', 'events'], Object.entries(r.ops).map(([k, v]) => [k, fmtInt(v)])));
  out.push('');
  out.push(mdTable(['device', 'events'], r.devices.map((d) => [d.device, fmtInt(d.events)])));
  out.push('');
  out.push(mdTable(['domain', 'type', 'events'], r.domains.map((d) => [String(d.domain), d.type + (d.declared ? '' : ' (default)'), fmtInt(d.events)])));
  out.push('');
  out.push(r.topology ? `topology: ${r.topology.iommus.map((m) => `${m.name} [${m.devices.join(', ')}]`).join('; ')}` : 'topology: none in the trace (one instance unless the configuration says otherwise)');
  if (r.imported) {
    const a = r.imported.attribution as Record<string, number> | undefined;
    const l = r.imported.lines as { read: number; parsed: number; skipped: Record<string, number> } | undefined;
    if (l) out.push('', `imported: ${fmtInt(l.read)} lines read, ${fmtInt(l.parsed)} parsed, skipped: ${Object.entries(l.skipped).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ') || 'none'}`);
    if (a) out.push(attributionLine(a as unknown as ImportStats['attribution']));
  }
  if (r.notes.length) {
    out.push('');
    out.push('notes:');
    for (const n of r.notes) out.push(`- ${n}`);
  }
  return out.join('\n') + '\n';
}

export const inspectCommand: CommandModule<object, Args> = {
  command: 'inspect <traces..>',
  describe: 'Show what a trace holds: rows, time span, ops, devices, domains, topology',
  builder: (y) =>
    y
      .positional('traces', { type: 'string', array: true, demandOption: true })
      .option('json', { type: 'boolean', describe: 'print JSON for scripts' }) as never,
  handler: async (args) => {
    const r = await inspectTrace(args.traces);
    process.stdout.write(args.json ? stableStringify(r) : inspectText(r));
  },
};
