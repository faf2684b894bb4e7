// `iommu-replay inspect TRACE... [--json]`
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { fmtInt, fmtNs, mdTable } from '../report/format.js';
import { attributionLine, lostLine, qemuLines, type ImportStats } from '../import/stats.js';
import { stableStringify } from '../json.js';
import { inspectTrace, type Inspection } from '../trace/inspect.js';
import { DOCS_EPILOGUE } from './options.js';
import { withStdinTraces } from './stdio.js';

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
    // One statistic per line, each its own entry of `out`: joined with
    // newlines, none runs into the next (issue 13, item 14).
    const imp = r.imported as Partial<ImportStats>;
    out.push('', 'import:');
    const l = imp.lines;
    if (l) {
      out.push(`  lines: ${fmtInt(l.read)} read, ${fmtInt(l.parsed)} parsed`);
      out.push(`  skipped: ${Object.entries(l.skipped).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ') || 'none'}`);
    }
    if (imp.attribution) out.push(`  ${attributionLine(imp.attribution)}`);
    const lost = lostLine(imp.lost);
    if (lost) out.push(`  ${lost}`);
    for (const q of qemuLines(imp.qemu)) out.push(`  ${q}`);
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
  describe: DESCRIBE.inspect,
  builder: (y) =>
    y
      .positional('traces', { type: 'string', array: true, demandOption: true, describe: 'Arrow trace files; - reads a stream from standard input' })
      .option('json', { type: 'boolean', describe: 'print JSON for scripts' })
      .epilogue(DOCS_EPILOGUE) as never,
  handler: async (args) => {
    const r = await withStdinTraces(args.traces, async (paths, relabel) => {
      const found = await inspectTrace(paths);
      return { ...found, files: found.files.map(relabel) };
    });
    process.stdout.write(args.json ? stableStringify(r) : inspectText(r));
  },
};
