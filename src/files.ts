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

export function writeFileAtomic(output: string, content: string | Uint8Array): void {
  const target = outputTarget(output);
  if (target.direct) {
    fs.writeFileSync(target.path, content);
    return;
  }
  const file = target.path;
  const dir = path.dirname(file);
  ensureDir(dir);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw new InputError(`Cannot write "${file}": ${code === 'EACCES' ? 'permission denied' : code === 'ENOSPC' ? 'no space left on device' : code}`);
    throw err;
  }
}
