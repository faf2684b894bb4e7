// The output folder of `sweep` and `curve` (--out): what a reader of it can
// rely on (docs/input-safety.md, "The output folder"):
// - one run writes into it at a time: a lock file holds the writer's pid
//   (created with O_EXCL; a lock whose process has ended is taken over);
// - nothing is written through a symbolic link inside it: a link where a
//   file goes is replaced, a link where a folder goes is refused;
// - every file is complete (written to a temporary, then renamed);
// - the reports are published together: the report files present are always
//   of one run, and manifest.json, written last, lists them with their
//   SHA-256 when the set is complete;
// - temporaries that a killed run left are removed by the next run.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { createExclusive, ensureDir, isTempName, replaceFile, tempPathOf, writeNewFile } from '../files.js';
import { stableStringify } from '../json.js';
import { toolVersion } from '../version.js';

/** The lock file, in the output folder. */
export const LOCK_NAME = '.iommu-replay.lock';
/** Lists the published report files; present only when they are one complete set. */
export const MANIFEST_NAME = 'manifest.json';

/** Whether process `pid` is running (a process of another user counts). */
function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid a lock file holds; undefined when it holds none (or is not a regular file). */
function lockHolder(file: string): number | undefined {
  try {
    if (!fs.lstatSync(file).isFile()) return undefined;
    const m = /^(\d+)\n?$/.exec(fs.readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function busy(dir: string, pid: number): InputError {
  return new InputError(`Cannot write into "${dir}": another iommu-replay (pid ${pid}) is writing there; wait for it to end or give another --out`);
}

/**
 * Locks this process holds, given up when it exits. (A kill, Ctrl-C
 * included, leaves its lock behind: the next run finds its process gone and
 * takes it over. Signal handlers here would change how other code's handlers
 * of the same signals behave.)
 */
const held = new Set<OutputFolder>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const f of held) f.release();
  });
}

/**
 * Creates the lock file holding this process's pid, or fails with EEXIST.
 * The pid is written to a file of our own first and that file hard-linked
 * to the lock's name (link fails when the name exists): a lock is never seen
 * empty, half-written, by a run deciding whether it is stale. Where hard
 * links are not supported, O_EXCL alone.
 */
function createLockFile(file: string): void {
  const own = `${file}.${process.pid}`;
  writeNewFile(own, `${process.pid}\n`);
  try {
    fs.linkSync(own, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    createExclusive(file, `${process.pid}\n`);
  } finally {
    fs.rmSync(own, { force: true });
  }
}

/**
 * Takes the folder's lock. A lock whose process has ended (or that holds no
 * pid) is stale: it is moved aside and looked at again, so that of two runs
 * taking over the same stale lock only one wins (the other finds a live one).
 */
function takeLock(dir: string): string {
  const file = path.join(dir, LOCK_NAME);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      createLockFile(file);
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new InputError(`Cannot lock "${dir}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const holder = lockHolder(file);
    if (holder !== undefined && isAlive(holder)) throw busy(dir, holder);
    const aside = `${file}.stale-${process.pid}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue; // someone else moved it: try again
    }
    const moved = lockHolder(aside);
    if (moved !== undefined && isAlive(moved)) {
      // A live run's fresh lock was moved, not the stale one: give it back.
      fs.renameSync(aside, file);
      throw busy(dir, moved);
    }
    fs.rmSync(aside, { force: true });
  }
  throw new InputError(`Cannot lock "${dir}": its lock file keeps changing (several runs starting at once?)`);
}

export class OutputFolder {
  private readonly files: string[] = [];
  private readonly dirs: string[] = [];
  private lock: string | undefined;

  private constructor(readonly dir: string) {}

  /**
   * Creates the folder (and its parents), takes its lock and removes the
   * temporaries a killed run left in it. The folder itself may be a link
   * (the user named it); nothing inside it is followed.
   */
  static open(dir: string): OutputFolder {
    const out = new OutputFolder(dir);
    const missing: string[] = [];
    for (let at = path.resolve(dir); !fs.existsSync(at); at = path.dirname(at)) {
      missing.push(at);
      if (path.dirname(at) === at) break;
    }
    ensureDir(dir);
    out.dirs.push(...missing.reverse());
    try {
      out.lock = takeLock(dir);
      held.add(out);
      hookExit();
      removeTemporaries(dir);
    } catch (err) {
      out.undo();
      throw err;
    }
    return out;
  }

  /** The real folder `dir/...parts`, made where missing; a link or a file in the way is refused. */
  private folder(parts: string[]): string {
    let at = this.dir;
    for (const part of parts) {
      if (part === '' || part === '.' || part === '..' || part.includes('/') || part.includes('\\'))
        throw new Error(`unsafe name in the output folder: ${JSON.stringify(part)}`);
      at = path.join(at, part);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(at);
      } catch {
        st = undefined;
      }
      if (st === undefined) {
        try {
          fs.mkdirSync(at);
        } catch (err) {
          throw new InputError(`Cannot create directory "${at}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        this.dirs.push(path.resolve(at));
      } else if (st.isSymbolicLink()) {
        throw new InputError(
          `Cannot write into "${at}": it is a symbolic link inside the output folder, and iommu-replay never writes through links there; remove it`,
        );
      } else if (!st.isDirectory()) {
        throw new InputError(`Cannot write into "${at}": it is not a directory`);
      }
    }
    return at;
  }

  /** Writes `dir/...parts` (each part one safe name) atomically, never through a link. */
  write(parts: string[], content: string | Uint8Array): string {
    const file = path.join(this.folder(parts.slice(0, -1)), parts[parts.length - 1]);
    replaceFile(file, content);
    this.files.push(file);
    return file;
  }

  /**
   * Publishes the reports together, in their order: each is written to a
   * temporary first; then the manifest and every old report file of these
   * names go (in this order), the temporaries are renamed in, and the
   * manifest is written last. A run killed at any step leaves report files
   * of one run only (old or new, never both); a complete set has a manifest.
   */
  publish(reports: [name: string, content: string | Uint8Array][]): void {
    // A folder where a report goes is refused before anything is written or removed.
    for (const [name] of reports)
      if (isDirectory(path.join(this.dir, name))) throw new InputError(`Cannot write "${path.join(this.dir, name)}": it is a directory`);
    const tmps: string[] = [];
    try {
      for (const [name, content] of reports) {
        const tmp = tempPathOf(path.join(this.dir, name));
        tmps.push(tmp);
        writeNewFile(tmp, content);
      }
    } catch (err) {
      for (const t of tmps) fs.rmSync(t, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      throw code
        ? new InputError(`Cannot write into "${this.dir}": ${code === 'ENOSPC' ? 'no space left on device' : code === 'EACCES' ? 'permission denied' : code}`)
        : err;
    }
    const killAt = killStepForTests();
    let step = 0;
    if (++step === killAt) killSelf();
    fs.rmSync(path.join(this.dir, MANIFEST_NAME), { force: true });
    if (++step === killAt) killSelf();
    // (A link is removed itself, never what it points at.)
    for (const [name] of reports) {
      fs.rmSync(path.join(this.dir, name), { force: true });
      if (++step === killAt) killSelf();
    }
    reports.forEach(([name], i) => {
      fs.renameSync(tmps[i], path.join(this.dir, name));
      this.files.push(path.join(this.dir, name));
      if (++step === killAt) killSelf();
    });
    const manifest = {
      version: 1,
      tool: toolVersion(),
      files: Object.fromEntries(
        reports.map(([name, content]) => [name, { bytes: Buffer.byteLength(content), sha256: createHash('sha256').update(content).digest('hex') }]),
      ),
    };
    this.write([MANIFEST_NAME], stableStringify(manifest));
  }

  /**
   * Runs a command's work in the locked folder (the work publishes its
   * reports): when it fails, removes what this run wrote (undo) and rethrows;
   * either way the lock is given up.
   */
  async complete<T>(work: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await work();
    } catch (err) {
      this.undo();
      throw err;
    }
    this.release();
    return result;
  }

  /** Gives up the lock (once). */
  release(): void {
    if (this.lock && lockHolder(this.lock) === process.pid) fs.rmSync(this.lock, { force: true });
    this.lock = undefined;
    held.delete(this);
  }

  /**
   * After a failed run: removes the files this run wrote, gives up the lock,
   * then removes the folders it made, deepest first, where empty.
   */
  undo(): void {
    for (const f of this.files) fs.rmSync(f, { force: true });
    this.release();
    for (const d of [...this.dirs].reverse()) {
      try {
        fs.rmdirSync(d);
      } catch {
        // not empty (someone else's file) or already gone: leave it
      }
    }
  }
}

/**
 * For tests only (test/cli/out-folder.test.ts): IOMMU_REPLAY_TEST_KILL_PUBLISH=N
 * kills the process at step N of publish, as a kill -9 there would: 1 with the
 * temporaries written, 2 with the old manifest removed, then after each old
 * report removed and after each rename (the last: every report in, no manifest
 * yet). Unset, or not a step: publish runs through.
 */
function killStepForTests(): number {
  return Number(process.env.IOMMU_REPLAY_TEST_KILL_PUBLISH ?? 0);
}

function killSelf(): void {
  process.kill(process.pid, 'SIGKILL');
}

/** A lock's own file or moved-aside copy (takeLock) whose process has ended. */
function isLeftLockFile(name: string): boolean {
  const m = /^\.iommu-replay\.lock\.(?:stale-)?(\d+)$/.exec(name);
  return m !== null && !isAlive(Number(m[1]));
}

/** Whether `file` is a directory itself (a link to one is not). */
function isDirectory(file: string): boolean {
  try {
    return fs.lstatSync(file).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Removes the temporaries (".NAME.tmp-PID") under `dir` that a killed run
 * left: with the lock held, no other run is writing them; and the files a
 * run killed while taking the lock left. Folders are walked without
 * following links.
 */
function removeTemporaries(dir: string): void {
  const walk = (d: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && depth < 2) walk(p, depth + 1);
      else if (!e.isDirectory() && (isTempName(e.name) || isLeftLockFile(e.name))) fs.rmSync(p, { force: true });
    }
  };
  walk(dir, 0);
}
