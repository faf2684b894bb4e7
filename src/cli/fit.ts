// `iommu-replay fit MEASURED.csv [--config BASE.json] [--page-sizes SET] [--iotlb 64x4 ...] [--policy lru ...] [--walk-caches none 16x4 ...] [--events N] [--seed S] [--out DIR]`
// `iommu-replay fit --predict FITTED.json MEASURED.csv [--page-sizes SET] [--out DIR]`
// Calibrates the model to a machine's measured DMA rates (docs/fit.md).
import fs from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { POLICIES, readConfigFile, resolveConfig, type ReplayConfig, type TableGeometry } from '../config/config.js';
import { expandSweep } from '../config/sweep.js';
import { formatPageSizeSet } from '../config/pagesizes.js';
import { InputError, describeIoError } from '../errors.js';
import { JsonError, parseUntrustedJson, stableStringify } from '../json.js';
import { printable } from '../text.js';
import { fitRows, predictRows, tiesOf, type Candidate, type FittedCosts, type MeasuredRow } from '../run/fit.js';
import { fitHtml, fitJson, fitMarkdown, type FitReport } from '../report/fit.js';
import { parseWindowDescription } from '../workloads/window.js';
import { OutputFolder } from './outdir.js';
import { DOCS_EPILOGUE, POSITIVE_INTEGER, SEED, numberOption } from './options.js';
import { SHORT_FORM_DEFAULTS, configDefault, maxTableBytesOf, maxTableMemoryOption } from './defaults.js';

interface Args {
  measured: string;
  config?: string;
  pageSizes?: string | string[];
  iotlb?: string[];
  policy?: string[];
  walkCaches?: string[];
  predict?: string;
  events: number;
  seed: number;
  tieMargin: number;
  out: string;
  quiet?: boolean;
  maxTableMemory?: string;
}

/**
 * The default candidates (LRU unless --policy): IOTLBs of 16 to 4096
 * entries, fully associative, 8-way and 4-way, and the sizes half-way
 * between (24 to 3072 entries), fully associative, 12-way and 6-way.
 */
export const DEFAULT_IOTLB_GRID = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096].flatMap((e) => [
  `${e}xfull`,
  `${e}x8`,
  `${e}x4`,
  ...(e < 4096 ? [`${e * 1.5}xfull`, `${e * 1.5}x12`, `${e * 1.5}x6`] : []),
]);
/** A measurements file is a small table; anything larger is not one. */
const MAX_CSV_BYTES = 1 << 20;
const MAX_ROWS = 10_000;

/** One CSV line's fields: commas separate, double quotes may enclose a field ("" is a quote). */
export function csvFields(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return undefined; // an unclosed quote
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      while (i < line.length && line[i] !== ',') if (line[i++].trim() !== '') return undefined;
    } else {
      const end = line.indexOf(',', i);
      field = line.slice(i, end < 0 ? line.length : end);
      i = end < 0 ? line.length : end;
    }
    out.push(field.trim());
    if (i >= line.length) return out;
    i++; // the comma
  }
}

/**
 * The measurements: a header naming `trace` and `rate` (transactions per
 * second) or `rate_bytes` (bytes per second), then one row per experiment.
 * Blank lines and lines starting with `#` (a source, a note) are skipped;
 * other columns are kept out of the fit. A trace path is relative to the
 * file's folder; `window:...` describes a generated trace.
 */
export function parseMeasured(file: string): MeasuredRow[] {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw new InputError(`Cannot read measurements "${file}": is a directory, not a file`);
    if (st.size > MAX_CSV_BYTES)
      throw new InputError(`Invalid measurements "${file}": ${st.size} bytes, more than a table of measurements (at most ${MAX_CSV_BYTES})`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`Cannot read measurements "${file}": ${describeIoError(err)}`);
  }
  const bad = (line: number, what: string) => new InputError(`Invalid measurements "${file}": line ${line}: ${what}`);
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let header: string[] | undefined;
  let headerLine = 0;
  const rows: MeasuredRow[] = [];
  const dir = path.dirname(file);
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) return;
    const fields = csvFields(raw);
    if (!fields) throw bad(line, 'an unclosed double quote');
    if (!header) {
      header = fields.map((f) => f.toLowerCase());
      headerLine = line;
      if (!header.includes('trace')) throw bad(line, `the header has no "trace" column (columns: ${printable(fields.join(', '), 80)})`);
      const rates = ['rate', 'rate_bytes'].filter((c) => header!.includes(c));
      if (rates.length !== 1)
        throw bad(
          line,
          rates.length === 0
            ? `the header has no "rate" (transactions per second) or "rate_bytes" (bytes per second) column (columns: ${printable(fields.join(', '), 80)})`
            : 'the header has both "rate" and "rate_bytes": give one',
        );
      return;
    }
    if (fields.length !== header.length) throw bad(line, `${fields.length} field(s), the header (line ${headerLine}) has ${header.length}`);
    if (rows.length >= MAX_ROWS) throw bad(line, `more than ${MAX_ROWS} measurements`);
    const at = (c: string) => fields[header!.indexOf(c)];
    const trace = at('trace');
    if (trace === '') throw bad(line, 'the trace is empty');
    const rateColumn = header.includes('rate') ? 'rate' : 'rate_bytes';
    const rateText = at(rateColumn);
    const measured = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(rateText) ? Number(rateText) : NaN;
    if (!(Number.isFinite(measured) && measured > 0)) throw bad(line, `${rateColumn} "${printable(rateText, 40)}" is not a positive number`);
    let resolved = trace;
    if (trace.startsWith('window:')) {
      try {
        parseWindowDescription(trace);
      } catch (err) {
        if (err instanceof InputError) throw bad(line, err.message);
        throw err;
      }
    } else if (/^[a-z][a-z0-9-]*:/i.test(trace) && !fs.existsSync(path.resolve(dir, trace))) {
      throw bad(line, `unknown workload description "${printable(trace, 60)}": expected a trace file or window:WINDOW:TRANSFER, e.g. window:4M:64`);
    } else {
      resolved = path.resolve(dir, trace);
      if (!fs.existsSync(resolved)) throw bad(line, `trace "${printable(trace, 80)}" does not exist (a path is relative to the measurements' folder)`);
    }
    rows.push({ line, trace: resolved, unit: rateColumn === 'rate' ? 'transactions/s' : 'bytes/s', measured });
  });
  if (!header) throw new InputError(`Invalid measurements "${file}": no header (expected columns trace and rate or rate_bytes)`);
  if (rows.length === 0) throw new InputError(`Invalid measurements "${file}": no measurements after the header`);
  return rows;
}

/** "none" or ENTRIESxWAYS ("16x4", "32xfull"): a walk cache per non-leaf level. */
function parseWalkCache(text: string): { entries: number; ways: number | 'full' } | undefined {
  if (text === 'none') return undefined;
  const m = /^(\d+)x(\d+|full)$/i.exec(text.trim());
  if (!m) throw new InputError(`Invalid option --walk-caches: expected none or ENTRIESxWAYS like 16x4, got '${printable(text, 40)}'`);
  return { entries: Number(m[1]), ways: m[2].toLowerCase() === 'full' ? 'full' : Number(m[2]) };
}

function geometryLabel(g: TableGeometry): string {
  return `${g.entries}x${g.sets === 1 && g.ways > 1 ? 'full' : g.ways}`;
}

export function candidateLabel(c: ReplayConfig): string {
  return `${geometryLabel(c.iotlb)} ${c.iotlb.policy}${c.walkCache ? ` walkCache ${geometryLabel(c.walkCache)} ${c.walkCache.policy}` : ''}`;
}

/** The base configuration: the file's (no sweep: fit's candidates come from its options). */
function baseConfig(file: string | undefined): Record<string, unknown> {
  const raw = file === undefined ? {} : readConfigFile(file);
  if (raw.sweep !== undefined)
    throw new InputError(`Invalid config "${file}": sweep: fit's candidates come from --iotlb, --policy and --walk-caches, not a sweep`);
  return raw;
}

function pageSizesOf(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new InputError(`Invalid option --page-sizes: fit takes one page-size set, got ${value.length}`);
  return [value];
}

/** Every candidate: each --walk-caches value x --iotlb x --policy, over the base configuration. */
function candidatesOf(args: Args): Candidate[] {
  const raw = baseConfig(args.config);
  const policies = args.policy ?? [];
  for (const p of policies)
    if (!(POLICIES as readonly string[]).includes(p))
      throw new InputError(`Invalid option --policy: expected one of ${POLICIES.join(', ')}, got '${printable(p, 40)}'`);
  const source = args.config ?? '(command line)';
  const out: Candidate[] = [];
  for (const wc of args.walkCaches ?? ['none']) {
    const walkCache = parseWalkCache(wc);
    const withWc = walkCache ? { ...raw, walkCache: { ...((raw.walkCache as object | undefined) ?? {}), ...walkCache } } : raw;
    const sweep = policies.length > 0 ? { sweep: { 'iotlb.policy': policies } } : {};
    const points = expandSweep({ ...withWc, ...sweep }, { iotlb: args.iotlb ?? DEFAULT_IOTLB_GRID, pageSizes: pageSizesOf(args.pageSizes) }, source);
    for (const p of points) out.push({ label: candidateLabel(p.config), config: p.config });
  }
  return out;
}

/** `--predict FITTED.json`: the best candidate of a fit's fit.json, its configuration checked as any configuration is. */
function fittedOf(file: string, pageSizes: string[] | undefined): { candidate: Candidate; costs: FittedCosts } {
  const bad = (what: string) => new InputError(`Invalid fit "${file}": ${what}`);
  let value: unknown;
  try {
    value = parseUntrustedJson(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if (err instanceof JsonError) throw bad(err.message);
    throw new InputError(`Cannot read fit "${file}": ${describeIoError(err)}`);
  }
  const best = (value as { candidates?: unknown[] } | null)?.candidates?.[0] as { configuration?: unknown; costs?: Record<string, unknown> } | undefined;
  if (!best || typeof best !== 'object') throw bad('expected the fit.json that `iommu-replay fit` writes (candidates[0] is missing)');
  const costs = best.costs ?? {};
  const keys = ['fixedNs', 'iotlbHitNs', 'walkAccessNs', 'walkCacheHitNs'] as const;
  for (const k of keys)
    if (typeof costs[k] !== 'number' || !Number.isFinite(costs[k]) || (costs[k] as number) < 0)
      throw bad(`candidates[0].costs.${k}: expected a non-negative number, got ${printable(JSON.stringify(costs[k]) ?? 'nothing', 40)}`);
  let config = resolveConfig(best.configuration, `${file}: candidates[0].configuration`);
  if (pageSizes) config = expandSweep(best.configuration as Record<string, unknown>, { pageSizes }, `${file}: candidates[0].configuration`)[0].config;
  return {
    candidate: { label: `${candidateLabel(config)} ${formatPageSizeSet(config.pageSizes)}`, config },
    costs: Object.fromEntries(keys.map((k) => [k, costs[k] as number])) as unknown as FittedCosts,
  };
}

export const fitCommand: CommandModule<object, Args> = {
  command: 'fit <measured>',
  describe: DESCRIBE.fit,
  builder: (y) =>
    y
      .positional('measured', {
        type: 'string',
        demandOption: true,
        describe:
          'CSV: a header with trace and rate (transactions/s) or rate_bytes (bytes/s), one row per experiment; trace is a file or window:WINDOW:TRANSFER',
      })
      .option('config', { type: 'string', describe: 'base configuration (its IOTLB geometry and costs are what the fit finds)' })
      .option('page-sizes', {
        type: 'string',
        defaultDescription: configDefault(SHORT_FORM_DEFAULTS.pageSizes),
        describe: 'the page-size set the machine maps with, e.g. 4K',
      })
      .option('iotlb', {
        type: 'string',
        array: true,
        defaultDescription: '16 to 4096 entries full, 8- and 4-way; 24 to 3072 full, 12- and 6-way',
        describe: 'candidate IOTLB geometries ENTRIESxWAYS, e.g. 64x4 128xfull',
      })
      .option('policy', {
        type: 'string',
        array: true,
        defaultDescription: "the configuration's, else lru",
        describe: `candidate replacement policies: ${POLICIES.join(' ')}`,
      })
      .option('walk-caches', {
        type: 'string',
        array: true,
        defaultDescription: 'none',
        describe: 'candidate walk caches per non-leaf level: none or ENTRIESxWAYS, e.g. none 16x4',
      })
      .option('predict', { type: 'string', describe: "a fit's fit.json: replay the measurements with its best configuration and costs, no fitting" })
      .option('events', numberOption('events', POSITIVE_INTEGER, { default: 250_000, describe: 'transactions of each generated (window:...) trace' }))
      .option('seed', numberOption('seed', SEED, { default: 1, describe: 'seed of the generated traces' }))
      .option(
        'tie-margin',
        numberOption(
          'tie-margin',
          { expected: 'a number in 0..1', min: 0, max: 1 },
          { default: 0.005, describe: 'candidates within this much of the best worst error tie' },
        ),
      )
      .option('out', { type: 'string', default: 'fit-out', describe: 'output directory' })
      .option('max-table-memory', maxTableMemoryOption("a candidate's model"))
      .option('quiet', { type: 'boolean', describe: 'no progress or closing line on stderr' })
      .example('$0 fit docs/fit/hsw-e5-2620v3-4k.csv --page-sizes 4K --out hsw', "fit a Haswell's IOTLB and costs to pcie-bench's window sweep")
      .example('$0 fit --predict hsw/fit.json docs/fit/hsw-e5-2620v3-2m.csv --page-sizes 4K+2M --out hsw-2m', 'predict the same machine with 2M pages')
      .epilogue(DOCS_EPILOGUE) as never,
  handler: async (args) => {
    const rows = parseMeasured(args.measured);
    // On a terminal only: a log gets the closing line alone.
    const progress =
      args.quiet || !process.stderr.isTTY
        ? undefined
        : (done: number, total: number) => process.stderr.write(`${done}/${total} trace(s) replayed\r${done === total ? '\n' : ''}`);
    const maxTableBytes = maxTableBytesOf(args.maxTableMemory);
    const opts = { events: args.events, seed: args.seed, maxTableBytes, onTrace: progress };
    let fitted: { candidate: Candidate; costs: FittedCosts } | undefined;
    let candidates: Candidate[] = [];
    if (args.predict !== undefined) {
      if (args.iotlb || args.policy || args.walkCaches || args.config)
        throw new InputError(
          'Invalid option --predict: it replays the fitted configuration as it is; --config, --iotlb, --policy and --walk-caches are for fitting',
        );
      fitted = fittedOf(args.predict, pageSizesOf(args.pageSizes));
    } else candidates = candidatesOf(args);
    const out = OutputFolder.open(args.out);
    const report = await out.complete(async (): Promise<FitReport> => {
      const common = { measured: args.measured, events: args.events, seed: args.seed, rows, tieMargin: args.tieMargin };
      let r: FitReport;
      if (fitted)
        r = { ...common, kind: 'predict', fitted: args.predict, candidates: [await predictRows(rows, fitted.candidate, fitted.costs, opts)], ties: [] };
      else {
        const fits = await fitRows(rows, candidates, opts);
        r = { ...common, kind: 'fit', candidates: fits, ties: tiesOf(fits, args.tieMargin) };
      }
      out.publish([
        ['fit.json', fitJson(r)],
        ['best-config.json', stableStringify(r.candidates[0].configuration)],
        ['report.md', fitMarkdown(r)],
        ['report.html', await fitHtml(r)],
      ]);
      return r;
    });
    if (!args.quiet) {
      const best = report.candidates[0];
      process.stderr.write(
        `${best.label}: worst error ${(best.worstError * 100).toFixed(1)} %, median ${(best.medianError * 100).toFixed(1)} %${report.ties.length > 1 ? ` (${report.ties.length} candidates tie)` : ''}: ${path.join(args.out, 'report.html')}\n`,
      );
    }
  },
};
