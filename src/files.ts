// Output files are complete or absent: written beside the target, then renamed.
// Every command's outputs go through here (reports, summaries, traces).
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from './errors.js';

/**
 * Creates `dir` and its missing parents one level at a time. (Node's
 * recursive mkdir can spin forever under /proc; this stops at the first
 * level that cannot be made.)
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  let at = path.resolve(dir);
  while (!fs.existsSync(at)) {
    missing.push(at);
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  if (fs.existsSync(at) && !fs.statSync(at).isDirectory()) throw new InputError(`Cannot write into "${dir}": "${at}" is not a directory`);
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      throw new InputError(`Cannot create directory "${d}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
}

/**
 * Where to write `file`: through a symlink to its target; a device or FIFO
 * (/dev/null, /dev/stdout) is written directly, never renamed over.
 */
export function outputTarget(file: string): { path: string; direct: boolean } {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return { path: file, direct: false };
  }
  if (st.isSymbolicLink()) return outputTarget(fs.realpathSync(file));
  if (st.isDirectory()) throw new InputError(`Cannot write "${file}": it is a directory`);
  return { path: file, direct: !st.isFile() };
}

/** The temporary a write of `file` goes through: hidden, beside it, named by the writing process. */
export function tempPathOf(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
}

/** Whether a file name is such a temporary (of any process). */
export function isTempName(name: string): boolean {
  return /^\..+\.tmp-\d+$/.test(name);
}

/** The one line for a failed write. */
function writeError(file: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (!code) return err as Error;
  return new InputError(
    `Cannot write "${file}": ${code === 'EACCES' ? 'permission denied' : code === 'ENOSPC' ? 'no space left on device' : code === 'EISDIR' ? 'it is a directory' : code}`,
  );
}

/**
 * Writes `content` to a new file at `file`, never through a link: whatever
 * was left at that name (a temporary of a killed run, a planted symbolic
 * link) is removed first (the link itself, not what it points at), and the
 * file is created with O_EXCL | O_NOFOLLOW.
 */
export function writeNewFile(file: string, content: string | Uint8Array): void {
  fs.rmSync(file, { force: true });
  createExclusive(file, content);
}

/** Creates `file` with `content` only if nothing is at that name, not even a link (EEXIST otherwise). */
export function createExclusive(file: string, content: string | Uint8Array): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o666);
  try {
    fs.writeFileSync(fd, content);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes `file` through a temporary renamed over it. The rename replaces
 * whatever is at `file` (a symbolic link is replaced, not followed); the
 * caller has checked the directory (an output folder's own, cli/outdir.ts).
 */
export function replaceFile(file: string, content: string | Uint8Array): void {
  const tmp = tempPathOf(file);
  try {
    writeNewFile(tmp, content);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw writeError(file, err);
  }
}

/**
 * One output the user named (--json, --report, -o): a symbolic link they
 * named is written through to its target, and a device (/dev/null) is
 * written directly; anything else is replaced atomically.
 */
export function writeFileAtomic(output: string, content: string | Uint8Array): void {
  const target = outputTarget(output);
  if (target.direct) {
    fs.writeFileSync(target.path, content);
    return;
  }
  ensureDir(path.dirname(target.path));
  replaceFile(target.path, content);
}
