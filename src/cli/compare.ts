// `iommu-replay compare A B`: two summary JSON files, or two sweep folders,
// counter by counter. Differences are not errors: the exit status is 0; an
// input that is not a summary or a sweep folder is one line and status 2.
import fs from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { InputError, describeIoError } from '../errors.js';
import { diffCounters, diffTable } from '../report/diff.js';
import type { Summary } from '../stats/summary.js';
import { DOCS_EPILOGUE } from './options.js';

interface Args {
  a: string;
  b: string;
}

function readSummary(file: string): Summary {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`Cannot read summary "${file}": ${describeIoError(err)}`);
  }
  let s: Summary;
  try {
    s = JSON.parse(text) as Summary;
  } catch {
    throw new InputError(`Cannot read summary "${file}": not valid JSON`);
  }
  if (typeof s !== 'object' || s === null || s.version !== 1 || typeof s.totals !== 'object' || s.totals === null)
    throw new InputError(`Cannot read summary "${file}": not an iommu-replay summary (expected "version": 1 and "totals", as replay --json writes)`);
  return s;
}

/** The summaries of a sweep folder, by their path under summaries/ ("nic/iotlb=32x4.json"). */
function sweepSummaries(dir: string): Map<string, string> {
  const root = path.join(dir, 'summaries');
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory())
    throw new InputError(`Cannot compare "${dir}": a folder must be a sweep's output, with a summaries/ folder in it`);
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.json')) out.set(path.relative(root, p), p);
    }
  };
  walk(root);
  return out;
}

function kindOf(p: string): 'folder' | 'file' {
  try {
    return fs.statSync(p).isDirectory() ? 'folder' : 'file';
  } catch (err) {
    throw new InputError(`Cannot compare "${p}": ${describeIoError(err)}`);
  }
}

/** One pair of summaries: a line for each, then the table of differing counters. */
function pairText(a: Summary, b: Summary): string {
  const { differ, equal } = diffCounters(a, b);
  const lines: string[] = [];
  if (a.config?.name !== b.config?.name) lines.push(`configurations: A "${a.config?.name}", B "${b.config?.name}"`);
  // Commands by name are the vendor's own (model §9.3): one side's names are absent from the other's.
  const [va, vb] = [a.config?.vendor ?? 'vtd', b.config?.vendor ?? 'vtd'];
  if (va !== vb) lines.push(`vendors: A ${va}, B ${vb} (each counts its commands by its own names)`);
  if (differ.length === 0) lines.push(`all ${equal} counters equal`);
  else lines.push(diffTable(differ), '', `${differ.length} counter(s) differ, ${equal} equal`);
  return lines.join('\n');
}

export function compareText(a: string, b: string): string {
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka !== kb) throw new InputError(`Cannot compare a ${ka} with a ${kb}: give two summary files or two sweep folders`);
  const out: string[] = [`A: ${a}`, `B: ${b}`, ''];
  if (ka === 'file') {
    out.push(pairText(readSummary(a), readSummary(b)));
    return `${out.join('\n')}\n`;
  }
  const sa = sweepSummaries(a);
  const sb = sweepSummaries(b);
  const names = [...new Set([...sa.keys(), ...sb.keys()])].sort();
  let same = 0;
  for (const name of names) {
    const fa = sa.get(name);
    const fb = sb.get(name);
    if (!fa || !fb) {
      out.push(`## ${name}`, '', `only in ${fa ? 'A' : 'B'}`, '');
      continue;
    }
    const { differ } = diffCounters(readSummary(fa), readSummary(fb));
    if (differ.length === 0) {
      same++;
      continue;
    }
    out.push(`## ${name}`, '', pairText(readSummary(fa), readSummary(fb)), '');
  }
  out.push(`${names.length} summaries: ${same} with every counter equal, ${names.length - same} different or in one folder only`);
  return `${out.join('\n')}\n`;
}

export const compareCommand: CommandModule<object, Args> = {
  command: 'compare <a> <b>',
  describe: DESCRIBE.compare,
  builder: (y) =>
    y
      .positional('a', { type: 'string', demandOption: true, describe: 'a summary JSON (replay --json) or a sweep output folder' })
      .positional('b', { type: 'string', demandOption: true, describe: 'the same kind as A' })
      .example('$0 compare before/ after/', 'two sweep folders, summary by summary')
      .epilogue(DOCS_EPILOGUE) as never,
  handler: (args) => {
    process.stdout.write(compareText(args.a, args.b));
  },
};
