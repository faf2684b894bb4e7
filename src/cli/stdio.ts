// `-` on the command line: standard input as a trace, standard output as the
// one output of a command. The readers and writers work on files (a trace
// file is read twice: framing first, then rows), so stdin is spooled to a
// private temporary file and stdout is fed from one once it is complete: a
// failed run writes nothing to stdout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../files.js';

/**
 * How `-` reaches the commands. yargs' parser drops a lone `-` (as an option
 * value and as a positional), so main() swaps it for this token, which no
 * path can spell (a path cannot hold a NUL byte).
 */
export const STDIO = '\u0000-';

/** The command line with each lone `-` as STDIO (up to a `--`, after which words are kept as typed). */
export function markStdio(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((a, i) => (a === '-' && (end < 0 || i < end) ? STDIO : a));
}
/** How standard input is named in messages and in the summary's `trace.files`. */
export const STDIN_LABEL = '(stdin)';

function privateTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-replay-'));
}

/** Rewrites the spooled file's path back to the name the user gave it. */
export type Relabel = (text: string) => string;

/**
 * Runs `fn` with `-` among `paths` replaced by a copy of standard input (an
 * Arrow stream or file), deleted afterwards. Errors that name the copy name
 * "(stdin)" instead.
 */
export async function withStdinTraces<T>(paths: string[], fn: (paths: string[], relabel: Relabel) => Promise<T>): Promise<T> {
  const n = paths.filter((p) => p === STDIO).length;
  if (n === 0) return fn(paths, (s) => s);
  if (n > 1) throw new InputError('"-" (standard input) is named more than once among the traces');
  if (process.stdin.isTTY) throw new InputError('"-" reads a trace from standard input, but it is a terminal: pipe an Arrow stream into it (gen nic -o - | iommu-replay replay -)');
  const dir = privateTempDir();
  const spooled = path.join(dir, 'stdin');
  const relabel: Relabel = (s) => s.split(spooled).join(STDIN_LABEL);
  try {
    try {
      await pipeline(process.stdin, fs.createWriteStream(spooled));
    } catch (err) {
      throw new InputError(`Cannot read trace "${STDIN_LABEL}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      return await fn(paths.map((p) => (p === STDIO ? spooled : p)), relabel);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(relabel(err.message));
      throw err;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Where each command takes `-`: its single-output options and its inputs. */
const STDIO_PLACES: Record<string, string[]> = {
  replay: ['traces', 'json', 'report'],
  inspect: ['traces'],
  gen: ['out', 'o'],
  import: ['files', 'out', 'o'],
};

/**
 * Refuses `-` where a command cannot take it, in one line: a sweep writes
 * many files and reads each trace from several threads.
 */
export function checkStdioPlaces(argv: Record<string, unknown>): void {
  const command = String((argv._ as unknown[] | undefined)?.[0] ?? '');
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || key === '$0' || /[A-Z]/.test(key)) continue; // camel-case duplicates of dashed keys
    if (value !== STDIO && !(Array.isArray(value) && value.includes(STDIO))) continue;
    if (STDIO_PLACES[command]?.includes(key)) continue;
    const what = key === 'traces' || key === 'files' ? 'a trace' : key === 'a' || key === 'b' ? 'an input' : `--${key}`;
    if (command === 'sweep')
      throw new InputError(`sweep cannot take "-" as ${what}: it writes many files into --out and reads each trace file from several threads; give files and a folder`);
    throw new InputError(`${command} cannot take "-" (standard input or output) as ${what}: give a file`);
  }
}

/** Writes one output: `-` is standard output, anything else a file written atomically. */
export function writeOutput(target: string, content: string | Uint8Array): void {
  if (target === STDIO) process.stdout.write(content);
  else writeFileAtomic(target, content);
}

/** At most one of a command's outputs may be standard output. */
export function checkOneStdout(options: Record<string, string | undefined>): void {
  const toStdout = Object.entries(options).filter(([, v]) => v === STDIO).map(([k]) => `--${k}`);
  if (toStdout.length > 1) throw new InputError(`Only one output can go to standard output ("-"): ${toStdout.join(' and ')} both ask for it`);
}

/**
 * Runs `fn` with a file to write: `target` itself, or for `-` a temporary
 * file (named with `ext`, which picks the format) that is copied to standard
 * output once `fn` has finished.
 */
export async function withOutputFile<T>(target: string, ext: string, fn: (file: string) => Promise<T>): Promise<T> {
  if (target !== STDIO) return fn(target);
  const dir = privateTempDir();
  const file = path.join(dir, `out${ext}`);
  try {
    const result = await fn(file);
    await pipeline(fs.createReadStream(file), process.stdout, { end: false });
    return result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
