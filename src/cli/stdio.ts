// `-` on the command line: standard input as a trace, standard output as the
// one output of a command. The trace reader works on files (a trace file is
// read twice: framing first, then rows), so standard input, and a FIFO or a
// process substitution (`replay <(zcat t.arrows.gz)`), is copied to a private
// temporary file first: its first bytes are checked before anything is kept,
// a stream is followed to its end-of-stream marker and no further, and the
// copy is removed on every exit, a signal's included. Standard output is fed
// from a temporary file once it is complete: a failed run writes nothing to
// stdout. `import` reads its text straight from the stream (no copy).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError, describeIoError, traceError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { shownPath } from '../text.js';
import { FormatError } from '../trace/flatbuf.js';
import { ARROW_MAGIC, MAX_METADATA_BYTES, StreamEndFinder } from '../trace/ipc.js';
import { notArrow, notRegular } from '../trace/reader.js';

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

/** Private temporary folders still in use: removed on exit and on SIGINT, SIGTERM and SIGHUP. */
const liveTempDirs = new Set<string>();
let cleanupInstalled = false;

function removeLiveTempDirs(): void {
  for (const dir of liveTempDirs) fs.rmSync(dir, { recursive: true, force: true });
  liveTempDirs.clear();
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', removeLiveTempDirs);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Remove, then die of the same signal as without the handler (the
    // shell sees 128 + its number).
    process.once(signal, () => {
      removeLiveTempDirs();
      process.kill(process.pid, signal);
    });
  }
}

function privateTempDir(): string {
  installCleanup();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-replay-'));
  liveTempDirs.add(dir);
  return dir;
}

function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  liveTempDirs.delete(dir);
}

/** Rewrites the spooled file's path back to the name the user gave it. */
export type Relabel = (text: string) => string;

/** Refuses `-` named twice, or standard input that is a terminal; `what` is "a trace" or "a file". */
function checkStdin(paths: string[], what: string, example: string): void {
  const n = paths.filter((p) => p === STDIO).length;
  if (n > 1) throw new InputError(`"-" (standard input) is named more than once among the ${what === 'a trace' ? 'traces' : 'files'}`);
  if (n === 1 && process.stdin.isTTY) throw new InputError(`"-" reads ${what} from standard input, but it is a terminal: ${example}`);
}

/**
 * Copies the Arrow trace arriving on `source` to `file`. The first bytes
 * must be Arrow's (a file's magic or a stream's continuation marker): what
 * is not is refused as soon as they are in (as the reader would say it), so
 * `yes | replay -` stops at once. The messages are followed one by one to
 * their end-of-stream marker (StreamEndFinder): a stream is read no further;
 * a file's footer follows, at most MAX_METADATA_BYTES and its 10-byte tail.
 * So the copy holds what the input's own framing declares, and garbage is
 * refused when it comes, not when the pipe runs dry.
 */
async function spoolTrace(source: NodeJS.ReadableStream, file: string, label: string): Promise<void> {
  const fd = fs.openSync(file, 'wx', 0o600);
  const head: Buffer[] = [];
  let headBytes = 0;
  let mode: 'undecided' | 'file' | 'stream' = 'undecided';
  let finder = new StreamEndFinder();
  let footerBytes = 0;
  const write = (bytes: Buffer) => {
    for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, bytes.length - done);
  };
  try {
    for await (const data of source) {
      let chunk = data as Buffer;
      if (mode === 'undecided') {
        head.push(chunk);
        headBytes += chunk.length;
        if (headBytes < 8) continue;
        chunk = Buffer.concat(head);
        if (chunk.subarray(0, 6).toString('latin1') === ARROW_MAGIC) {
          mode = 'file';
          write(chunk.subarray(0, 8));
          chunk = chunk.subarray(8);
          finder = new StreamEndFinder(8);
        } else if (chunk.readUInt32LE(0) === 0xffffffff) mode = 'stream';
        else if (headBytes >= 512) throw traceError(label, notArrow(chunk.subarray(0, 512)));
        else continue;
      }
      if (!finder.ended) {
        const taken = finder.push(chunk);
        write(chunk.subarray(0, taken));
        chunk = chunk.subarray(taken);
        if (finder.ended && mode === 'stream') break; // the stream is whole: stop reading
      }
      if (mode === 'file' && finder.ended) {
        footerBytes += chunk.length;
        if (footerBytes > MAX_METADATA_BYTES + 10)
          throw traceError(
            label,
            `goes on for more than ${MAX_METADATA_BYTES >> 20} MiB after the end-of-stream marker of its messages, more than an Arrow file's footer takes`,
          );
        write(chunk);
      }
    }
    // A short input that is not Arrow: the reader names it (empty, text, ...).
    if (mode === 'undecided') write(Buffer.concat(head));
  } catch (err) {
    if (err instanceof FormatError) throw traceError(label, err.message);
    if (err instanceof InputError) throw err;
    throw traceError(label, describeIoError(err));
  } finally {
    fs.closeSync(fd);
  }
}

/** Where an input comes from when it is not a regular file: standard input, or a FIFO or socket named by its path. */
function streamedInput(p: string): (() => NodeJS.ReadableStream) | null {
  if (p === STDIO) return () => process.stdin;
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return null; // the reader says what is wrong with the path
  }
  if (st.isFIFO() || st.isSocket()) return () => fs.createReadStream(p);
  if (!st.isFile() && !st.isDirectory()) throw traceError(p, notRegular(st)!);
  return null;
}

/**
 * Runs `fn` with `-` among `paths`, and any FIFO or socket (a process
 * substitution is one), replaced by a checked copy of what it delivers,
 * deleted afterwards. Errors that name a copy name the input instead:
 * "(stdin)" or the path given.
 */
export async function withStdinTraces<T>(paths: string[], fn: (paths: string[], relabel: Relabel) => Promise<T>): Promise<T> {
  checkStdin(paths, 'a trace', 'pipe an Arrow stream into it (gen nic -o - | iommu-replay replay -)');
  const streamed = paths.map(streamedInput);
  if (streamed.every((s) => s === null)) return fn(paths, (s) => s);
  const dir = privateTempDir();
  const labels: [string, string][] = [];
  const relabel: Relabel = (s) => labels.reduce((text, [copy, label]) => text.split(copy).join(label), s);
  const shown: Relabel = (s) => labels.reduce((text, [copy, label]) => text.split(copy).join(shownPath(label)), s);
  try {
    const copies = [...paths];
    for (let i = 0; i < paths.length; i++) {
      const open = streamed[i];
      if (!open) continue;
      const label = paths[i] === STDIO ? STDIN_LABEL : paths[i];
      copies[i] = path.join(dir, `input-${i}`);
      labels.push([copies[i], label]);
      await spoolTrace(open(), copies[i], label);
    }
    try {
      return await fn(copies, relabel);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(shown(err.message));
      throw err;
    }
  } finally {
    removeTempDir(dir);
  }
}

/**
 * For `import`: the stream each input is read from instead of its path
 * (standard input for `-`), and the name each is known by in messages.
 * Text is read as it arrives, so nothing is copied.
 */
export function importInputs(paths: string[]): { files: string[]; streams: (NodeJS.ReadableStream | undefined)[] } {
  checkStdin(paths, 'a file', 'pipe trace text into it (trace-cmd report | iommu-replay import - -o t.arrows)');
  return {
    files: paths.map((p) => (p === STDIO ? STDIN_LABEL : p)),
    streams: paths.map((p) => (p === STDIO ? process.stdin : undefined)),
  };
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
      throw new InputError(
        `sweep cannot take "-" as ${what}: it writes many files into --out and reads each trace file from several threads; give files and a folder`,
      );
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
  const toStdout = Object.entries(options)
    .filter(([, v]) => v === STDIO)
    .map(([k]) => `--${k}`);
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
    // Loaded here, for `-` only, not at every start (3 ms).
    const { pipeline } = await import('node:stream/promises');
    await pipeline(fs.createReadStream(file), process.stdout, { end: false });
    return result;
  } finally {
    removeTempDir(dir);
  }
}
