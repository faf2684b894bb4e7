// The output folder of sweep and curve (src/cli/outdir.ts; docs/input-safety.md,
// "The output folder"). From the trust reproducers of 2026-12-07
// (out-symlink-write-outside.sh, dotdot-trace-name-summaries-escape.sh,
// mixed-report-generations-after-kill.sh, config-sweep-*-false-duplicate.json):
// no write lands outside --out, one run writes at a time, the reports of one
// run are published together, a killed run's temporaries go, and valid
// sweeps are not refused as duplicates.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LOCK_NAME, MANIFEST_NAME, OutputFolder } from '../../src/cli/outdir.js';
import { traceFolderNames } from '../../src/cli/sweep.js';
import { expandSweep, slugOf } from '../../src/config/sweep.js';
import { CLI, runCli, tmpDir } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');
const FIXTURES = path.resolve('test/cli/fixtures');
const REPORTS = ['report.html', 'report.md', 'results.arrow'];

/** A pid no process has: a child's, once it has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('writes stay inside --out', () => {
  it('a symbolic link planted where a report goes is replaced, never written through', () => {
    const d = tmpDir();
    const out = path.join(d, 'out');
    const victim = path.join(d, 'victim.txt');
    fs.mkdirSync(out);
    fs.writeFileSync(victim, 'precious\n');
    fs.symlinkSync(victim, path.join(out, 'report.md'));
    fs.symlinkSync(victim, path.join(out, MANIFEST_NAME));
    const r = runCli(['sweep', NIC, '--iotlb', '32x4', '--out', out, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.lstatSync(path.join(out, 'report.md')).isFile()).toBe(true);
    expect(fs.lstatSync(path.join(out, MANIFEST_NAME)).isFile()).toBe(true);
  });

  it('a symbolic link where a folder goes (summaries/) is refused in one line, nothing written through it', () => {
    const d = tmpDir();
    const out = path.join(d, 'out');
    const elsewhere = path.join(d, 'elsewhere');
    fs.mkdirSync(out);
    fs.mkdirSync(elsewhere);
    fs.symlinkSync(elsewhere, path.join(out, 'summaries'));
    const r = runCli(['sweep', NIC, '--iotlb', '32x4', '--out', out, '--quiet']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `iommu-replay: Cannot write into "${path.join(out, 'summaries')}": it is a symbolic link inside the output folder, and iommu-replay never writes through links there; remove it\n`,
    );
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });

  it('a trace whose stem is ".." keeps its summaries under summaries/', () => {
    const d = tmpDir();
    fs.copyFileSync(NIC, path.join(d, '...arrows'));
    const r = runCli(['sweep', '...arrows', '--iotlb', '32x4', '64x4', '--out', 'out', '--quiet'], { cwd: d });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.readdirSync(path.join(d, 'out', 'summaries'))).toEqual(['_.']);
    expect(fs.readdirSync(path.join(d, 'out', 'summaries', '_.')).sort()).toEqual(['iotlb=32x4.json', 'iotlb=64x4.json']);
    expect(fs.readdirSync(path.join(d, 'out')).filter((f) => f.endsWith('.json'))).toEqual([MANIFEST_NAME]);
  });

  it('names made from traces are never ".", "..", hidden or a path, and stay one per trace', () => {
    const names = traceFolderNames(['..', '.', '.hidden', 'a/b', 'a b', 'a_b', '']);
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9+=_-][A-Za-z0-9+._=-]*$/);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('one run writes into a folder at a time', () => {
  it('a live lock: one line and exit 2, nothing written', () => {
    const out = path.join(tmpDir(), 'out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, LOCK_NAME), `${process.pid}\n`); // this test's process: alive
    const r = runCli(['sweep', NIC, '--iotlb', '32x4', '--out', out, '--quiet']);
    expect(r.stderr).toBe(
      `iommu-replay: Cannot write into "${out}": another iommu-replay (pid ${process.pid}) is writing there; wait for it to end or give another --out\n`,
    );
    expect(r.status).toBe(2);
    expect(fs.readdirSync(out)).toEqual([LOCK_NAME]);
    expect(runCli(['curve', NIC, '--max-entries', '8', '--out', out, '--quiet']).status).toBe(2);
  });

  it('a stale lock (its process has ended) is taken over, and the lock goes with the run', () => {
    const out = path.join(tmpDir(), 'out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, LOCK_NAME), `${deadPid()}\n`);
    const r = runCli(['sweep', NIC, '--iotlb', '32x4', '--out', out, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.existsSync(path.join(out, LOCK_NAME))).toBe(false);
  });

  it('a lock that holds no pid (garbage, or a planted link) is stale too; the lock file never follows a link', () => {
    const d = tmpDir();
    const out = path.join(d, 'out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, LOCK_NAME), 'garbage');
    const a = OutputFolder.open(out);
    expect(fs.readFileSync(path.join(out, LOCK_NAME), 'utf8')).toBe(`${process.pid}\n`);
    expect(() => OutputFolder.open(out)).toThrow(`another iommu-replay (pid ${process.pid}) is writing there`);
    a.release();
    expect(fs.existsSync(path.join(out, LOCK_NAME))).toBe(false);
    const victim = path.join(d, 'victim');
    fs.writeFileSync(victim, 'precious');
    fs.symlinkSync(victim, path.join(out, LOCK_NAME));
    OutputFolder.open(out).release();
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('two sweeps into one folder at once: the second is refused while the first holds the lock', async () => {
    const out = path.join(tmpDir(), 'out');
    const first = spawn(
      process.execPath,
      [
        CLI,
        'sweep',
        NIC,
        '--page-sizes',
        '4K',
        '4K+2M',
        '4K+2M+1G',
        '--iotlb',
        '32x4',
        '64x4',
        '128x8',
        '256x8',
        '--mode',
        'strict',
        'lazy',
        '--jobs',
        '1',
        '--out',
        out,
        '--quiet',
      ],
      { stdio: 'ignore' },
    );
    const ended = new Promise<number | null>((resolve) => first.on('exit', resolve));
    let exited = false;
    void ended.then(() => (exited = true));
    while (!exited && !fs.existsSync(path.join(out, LOCK_NAME))) await new Promise((r) => setTimeout(r, 10));
    if (!exited) {
      const second = runCli(['sweep', NIC, '--iotlb', '32x4', '--out', out, '--quiet']);
      // The first may have ended meanwhile on a fast machine: then the second ran alone.
      if (second.status !== 0) expect(second.stderr).toContain(`another iommu-replay (pid ${first.pid}) is writing there`);
    }
    expect(await ended).toBe(0);
  }, 300_000);
});

describe('the reports of one run are published together', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a run stopped between two renames leaves report files of one run only, no manifest; the next run removes its temporaries', () => {
    const out = path.join(tmpDir(), 'out');
    const old = OutputFolder.open(out);
    old.publish(REPORTS.map((f) => [f, `old ${f}`]));
    old.release();
    expect(JSON.parse(fs.readFileSync(path.join(out, MANIFEST_NAME), 'utf8')).files['report.md'].bytes).toBe('old report.md'.length);

    // The second run "dies" at its second rename: what a kill -9 there leaves.
    const next = OutputFolder.open(out);
    const rename = fs.renameSync;
    let renames = 0;
    vi.spyOn(fs, 'renameSync').mockImplementation((a, b) => {
      if (++renames === 2) throw new Error('killed');
      rename(a, b);
    });
    expect(() => next.publish(REPORTS.map((f) => [f, `new ${f}`]))).toThrow('killed');
    vi.restoreAllMocks();
    const present = REPORTS.filter((f) => fs.existsSync(path.join(out, f)));
    const generations = new Set(present.map((f) => fs.readFileSync(path.join(out, f), 'utf8').split(' ')[0]));
    expect(generations.size).toBe(1);
    expect(fs.existsSync(path.join(out, MANIFEST_NAME))).toBe(false);
    const leftovers = fs.readdirSync(out).filter((f) => /\.tmp-\d+$/.test(f));
    expect(leftovers.length).toBeGreaterThan(0);
    next.release();

    // A --resume (any run) into the folder removes what the killed run left.
    const r = runCli(['sweep', NIC, '--iotlb', '32x4', '--out', out, '--resume', '--quiet']);
    expect(r.status).toBe(0);
    expect(fs.readdirSync(out).filter((f) => /\.tmp-\d+$/.test(f))).toEqual([]);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, MANIFEST_NAME), 'utf8'));
    expect(Object.keys(manifest.files)).toEqual(['report.html', 'report.md', 'results.arrow']);
  });

  it('temporaries a killed run left in summaries/ go too', () => {
    const out = path.join(tmpDir(), 'out');
    expect(runCli(['sweep', NIC, '--iotlb', '32x4', '--out', out, '--quiet']).status).toBe(0);
    const stale = path.join(out, 'summaries', 'nic', '.iotlb=64x4.json.tmp-999999');
    fs.writeFileSync(stale, '{');
    const lockLeft = path.join(out, `${LOCK_NAME}.stale-${deadPid()}`);
    fs.writeFileSync(lockLeft, '1\n');
    expect(runCli(['sweep', NIC, '--iotlb', '32x4', '64x4', '--out', out, '--resume', '--quiet']).status).toBe(0);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(lockLeft)).toBe(false);
  });

  it('a sweep killed (kill -9) at any moment of its report phase never leaves reports of two runs', async () => {
    const out = path.join(tmpDir(), 'out');
    expect(runCli(['sweep', NIC, '--iotlb', '32x4', '--out', out, '--quiet']).status).toBe(0);
    const before = fs.statSync(path.join(out, 'report.html')).mtimeMs;
    const child = spawn(
      process.execPath,
      [CLI, 'sweep', NIC, '--page-sizes', '4K', '4K+2M', '--iotlb', '32x4', '64x4', '--mode', 'strict', 'lazy', '--jobs', '1', '--out', out, '--quiet'],
      { stdio: 'ignore' },
    );
    const ended = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let exited = false;
    void ended.then(() => (exited = true));
    // Kill as soon as the report files start to change (wherever that lands).
    const changed = () =>
      REPORTS.some((f) => !fs.existsSync(path.join(out, f)) || fs.statSync(path.join(out, f)).mtimeMs !== before) ||
      !fs.existsSync(path.join(out, MANIFEST_NAME));
    while (!exited && !changed()) await new Promise((r) => setTimeout(r, 2));
    child.kill('SIGKILL');
    await ended;
    const counts = new Set(
      REPORTS.filter((f) => f !== 'results.arrow' && fs.existsSync(path.join(out, f))).map(
        (f) => /(\d+) configuration point\(s\)/.exec(fs.readFileSync(path.join(out, f), 'utf8'))?.[1],
      ),
    );
    expect(counts.size).toBeLessThanOrEqual(1);
  }, 300_000);

  it('a sweep killed at each step of publishing (IOMMU_REPLAY_TEST_KILL_PUBLISH): one generation, and --resume leaves the complete set, no temporaries', () => {
    const d = tmpDir();
    // The old generation (one point) and what an uninterrupted run of the new one (two points) leaves.
    const old = path.join(d, 'old');
    expect(runCli(['sweep', NIC, '--iotlb', '32x4', '--out', old, '--quiet']).status).toBe(0);
    const newArgs = (out: string) => ['sweep', NIC, '--iotlb', '32x4', '64x4', '--out', out, '--quiet'];
    const ref = path.join(d, 'ref');
    expect(runCli(newArgs(ref)).status).toBe(0);
    const contents = (dir: string) => Object.fromEntries(REPORTS.map((f) => [f, fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f)) : null]));
    const oldReports = contents(old);
    const newReports = contents(ref);
    const tree = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tree(path.join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name]));
    // publish's steps: 1 temporaries written, 2 manifest removed, 3-5 each old report removed, 6-8 each
    // rename (8: all in, no manifest). One of each kind, and the first and last renames' sides.
    for (const step of [1, 2, 4, 6, 8]) {
      const out = path.join(d, `kill-${step}`);
      fs.cpSync(old, out, { recursive: true });
      const killed = spawnSync(process.execPath, [CLI, ...newArgs(out)], {
        encoding: 'utf8',
        env: { ...process.env, IOMMU_REPLAY_TEST_KILL_PUBLISH: String(step) },
      });
      expect(killed.signal, `step ${step}`).toBe('SIGKILL');
      // The report files present are all of the old run or all of the new; a manifest only beside the complete old set.
      const present = REPORTS.filter((f) => fs.existsSync(path.join(out, f)));
      const ofOld = present.every((f) => fs.readFileSync(path.join(out, f)).equals(oldReports[f]!));
      const ofNew = present.every((f) => fs.readFileSync(path.join(out, f)).equals(newReports[f]!));
      expect(ofOld || ofNew, `step ${step}: ${present.join(', ')}`).toBe(true);
      expect(fs.existsSync(path.join(out, MANIFEST_NAME)), `step ${step}`).toBe(step === 1);
      if (step === 1) expect(fs.readFileSync(path.join(out, MANIFEST_NAME))).toEqual(fs.readFileSync(path.join(old, MANIFEST_NAME)));

      // --resume: the folder ends as the uninterrupted run's, file for file (no temporary, no lock left).
      const resumed = runCli([...newArgs(out), '--resume']);
      expect(resumed.stderr).toBe('');
      expect(resumed.status).toBe(0);
      expect(tree(out).sort(), `step ${step}`).toEqual(tree(ref).sort());
      for (const f of tree(ref)) expect(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(ref, f))), `step ${step}: ${f}`).toBe(true);
    }
  }, 600_000);
});

describe('duplicate points are found by configuration, not by label', () => {
  it('labels over 120 characters: 128 different points, 128 different files', () => {
    const raw = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'config-sweep-long-labels-false-duplicate.json'), 'utf8'));
    const points = expandSweep(raw, {}, 'long.json', 1000);
    expect(points).toHaveLength(128);
    expect(new Set(points.map((p) => p.slug)).size).toBe(128);
    for (const p of points) expect(p.slug.length).toBeLessThanOrEqual(120);
    expect(points.every((p) => p.label.length > 120)).toBe(true);
  });

  it('an axis of objects (iommus) labels by their JSON, never [object Object]', () => {
    const raw = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'config-sweep-iommus-axis-false-duplicate.json'), 'utf8'));
    const points = expandSweep(raw, {}, 'iommus.json');
    expect(points.map((p) => p.label)).toEqual(['iommus=[{"name":"a","pageSizes":["4K"]}]', 'iommus=[{"name":"b","pageSizes":["4K","2M"]}]']);
    expect(points.map((p) => p.label).join()).not.toContain('[object Object]');
  });

  it('the same configuration reached two ways is still one point', () => {
    expect(() => expandSweep({ sweep: { 'iotlb.ways': [4, 4] } }, {}, 'c.json')).toThrow('two points are the same configuration');
    expect(() => expandSweep({ sweep: { 'costs.walkAccess': [70, 70.0] } }, {}, 'c.json')).toThrow('two points are the same configuration');
  });

  it('says why two points are the same: a value listed twice, or an axis another axis sets again (it said "listed twice" for both)', () => {
    expect(() => expandSweep({ sweep: { 'iotlb.ways': [4, 4] } }, {}, 'c.json')).toThrow(
      'Invalid sweep: two points are the same configuration: iotlb.ways=4 and iotlb.ways=4 (a value is listed twice)',
    );
    const config = path.join(tmpDir(), 'sets.json');
    fs.writeFileSync(config, JSON.stringify({ sweep: { 'iotlb.sets': [8, 16] } }));
    const r = runCli(['sweep', NIC, '--config', config, '--iotlb', '32x4', '64x4', '--out', path.join(tmpDir(), 'o'), '--quiet']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'iommu-replay: Invalid sweep: two points are the same configuration: iotlb.sets=8 iotlb=32x4 and iotlb.sets=16 iotlb=32x4 (they differ only in iotlb.sets=8 against iotlb.sets=16, which another axis of the sweep sets again)\n',
    );
  });

  it('slugs: cut ones end in a hash of the whole label; never "." or ".."', () => {
    const a = slugOf(`${'x'.repeat(130)}a`);
    const b = slugOf(`${'x'.repeat(130)}b`);
    expect(a).not.toBe(b);
    expect(a.length).toBe(120);
    expect(slugOf('..')).toBe('_.');
    expect(slugOf('.')).toBe('_');
    expect(slugOf('pageSizes=4K+2M iotlb=64x4')).toBe('pageSizes=4K+2M_iotlb=64x4');
  });
});
