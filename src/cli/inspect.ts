// `iommu-replay inspect TRACE... [--json]`
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { fmtInt, fmtNs, mdTable } from '../report/format.js';
import { attributionLine, lostLine, qemuLines, storedImportStats, type StoredImportStats } from '../import/stats.js';
import { META_IMPORT } from '../trace/schema.js';
import { stableStringify } from '../json.js';
import { inspectTrace, type Inspection } from '../trace/inspect.js';
import { printable, shownPath } from '../text.js';
import { DOCS_EPILOGUE } from './options.js';
import { withStdinTraces } from './stdio.js';

interface Args {
  traces: string[];
  json?: boolean;
}

/** What inspect shows: the inspection, with the import statistics checked. */
type Shown = Omit<Inspection, 'imported'> & { imported: StoredImportStats | null };

/** The inspection with its import statistics checked (storedImportStats), and a warning for each part left out. */
export function checkedInspection(found: Inspection): { shown: Shown; warnings: string[] } {
  if (!found.imported) return { shown: { ...found, imported: null }, warnings: [] };
  const { stats, ignored } = storedImportStats(found.imported);
  return { shown: { ...found, imported: stats }, warnings: ignored.map((why) => `metadata "${META_IMPORT}": ${printable(why, 120)}; ignored`) };
}

export function inspectText(r: Shown): string {
  const out: string[] = [];
  out.push(`files: ${r.files.map(shownPath).join(', ')}`);
  if (r.workload) out.push(`workload: ${printable(r.workload, 200)}`);
  out.push(`rows: ${fmtInt(r.rows)}`);
  out.push(`time: ${r.firstTs ?? '-'} .. ${r.lastTs ?? '-'} ns (${fmtNs(r.spanNs)})`);
  out.push('');
  out.push(
    mdTable(
      ['op', 'events'],
      Object.entries(r.ops).map(([k, v]) => [k, fmtInt(v)]),
    ),
  );
  out.push('');
  out.push(
    mdTable(
      ['device', 'events'],
      r.devices.map((d) => [d.device, fmtInt(d.events)]),
    ),
  );
  out.push('');
  out.push(
    mdTable(
      ['domain', 'type', 'events'],
      r.domains.map((d) => [
        String(d.domain),
        d.type + (d.parent === undefined ? '' : ` (parent ${d.parent})`) + (d.declared ? '' : ' (default)'),
        fmtInt(d.events),
      ]),
    ),
  );
  out.push('');
  out.push(
    r.topology
      ? `topology: ${r.topology.iommus.map((m) => `${printable(m.name)} [${m.devices.join(', ')}]`).join('; ')}`
      : 'topology: none in the trace (one instance unless the configuration says otherwise)',
  );
  if (r.imported && Object.keys(r.imported).length) {
    // One statistic per line, each its own entry of `out`: joined with
    // newlines, none runs into the next (issue 13, item 14). The handler
    // has checked each part's shape (storedImportStats); its text is
    // another program's, so escaped.
    const imp = r.imported;
    out.push('', 'import:');
    const l = imp.lines;
    if (l) {
      out.push(`  lines: ${fmtInt(l.read)} read, ${fmtInt(l.parsed)} parsed`);
      out.push(
        `  skipped: ${
          Object.entries(l.skipped)
            .map(([k, v]) => `${printable(k)} ${fmtInt(v)}`)
            .join(', ') || 'none'
        }`,
      );
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
      .positional('traces', {
        type: 'string',
        array: true,
        demandOption: true,
        default: undefined,
        describe: 'Arrow trace files; - reads a stream from standard input',
      })
      .option('json', { type: 'boolean', describe: 'print JSON for scripts' })
      .example('$0 inspect traces/nic.arrows', 'events by op, devices, domains, the time span and the metadata')
      .example('$0 inspect dma.arrows maps.arrows --json', 'two files as one trace, as JSON')
      .epilogue(DOCS_EPILOGUE) as never,
  handler: async (args) => {
    const found = await withStdinTraces(args.traces, async (paths, relabel) => {
      const r = await inspectTrace(paths);
      return { ...r, files: r.files.map(relabel) };
    });
    const { shown: r, warnings } = checkedInspection(found);
    for (const w of warnings) process.stderr.write(`iommu-replay: warning: ${w}\n`);
    process.stdout.write(args.json ? stableStringify(r) : inspectText(r));
  },
};
