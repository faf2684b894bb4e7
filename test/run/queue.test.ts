// Queued sweeps against a real Redis (Debian's redis-server, started here on
// a free loopback port with no persistence, stopped by its pid) and real
// worker processes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, hasRedis, startRedis } from '../../bench/queue.js';
import { writeTrace } from '../../src/trace/writer.js';
import { CLI, runCli, tmpDir } from '../helpers/cli.js';
import { batchOf } from '../helpers/events.js';

const REDIS = hasRedis();
if (!REDIS) console.warn('SKIPPED: queued sweeps need redis-server (apt-get install redis-server; .ci/run installs it)');

function stop(p: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (p?.pid && p.exitCode === null) p.kill(signal);
}

/** A worker process; `active` resolves when it has taken its first job. */
function startWorker(url: string): { proc: ChildProcess; log: () => string; active: Promise<void> } {
  // Traces are written under the temporary folder; the curve test's are the repository's.
  const roots = ['--trace-root', os.tmpdir(), '--trace-root', process.cwd()];
  const proc = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--lock-ms', '2000', ...roots], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const active = new Promise<void>((resolve) => {
    proc.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (/job \w+ .*point\(s\)/.test(log)) resolve();
    });
  });
  return { proc, log: () => log, active };
}

function runCliAsync(args: string[]): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ status: code ?? -1, stderr }));
  });
}

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else out[path.relative(dir, f)] = fs.readFileSync(f).toString('base64');
    }
  };
  walk(dir);
  return out;
}

/** Runs `args` locally (--jobs 1) and through the queue with a worker: the same files, no line on stderr. */
async function expectQueuedLikeLocal(url: string, args: string[], workers: ChildProcess[]): Promise<void> {
  const w = startWorker(url);
  workers.push(w.proc);
  const local = tmpDir();
  expect(runCli([...args, '--out', local, '--jobs', '1']).status).toBe(0);
  const queued = tmpDir();
  const r = await runCliAsync([...args, '--out', queued, '--queue', url]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(files(queued)).toEqual(files(local));
  stop(w.proc);
}

describe.skipIf(!REDIS)('queued sweeps on BullMQ and Redis', () => {
  let redis: { proc: ChildProcess; url: string };
  let trace: string;
  const workers: ChildProcess[] = [];
  const grid = ['--page-sizes', '4K', '4K,2M', '--iotlb', '32x4', '128x8', '--quiet'];

  beforeAll(async () => {
    redis = await startRedis();
    trace = path.join(tmpDir(), 'nic.arrows');
    // Long enough that a worker can be killed while it replays.
    expect(runCli(['gen', 'nic', '-o', trace, '--events', '600000', '--seed', '3']).status).toBe(0);
  }, 120_000);

  // A worker left running would take the next test's jobs, whatever the test's outcome.
  afterEach(() => {
    for (const w of workers.splice(0)) stop(w, 'SIGKILL');
  });

  afterAll(() => {
    for (const w of workers) stop(w, 'SIGKILL');
    stop(redis?.proc, 'SIGKILL');
  });

  it('with a worker killed mid-job, the other finishes it and the outputs equal a local --jobs 1 sweep byte for byte; a resubmission reuses the results', async () => {
    const local = tmpDir();
    expect(runCli(['sweep', trace, ...grid, '--out', local, '--jobs', '1']).status).toBe(0);

    const a = startWorker(redis.url);
    const queued = tmpDir();
    const sweep = runCliAsync(['sweep', trace, ...grid, '--out', queued, '--jobs', '2', '--queue', redis.url]);
    workers.push(a.proc);
    await a.active;
    stop(a.proc, 'SIGKILL');
    const b = startWorker(redis.url);
    workers.push(b.proc);
    const r = await sweep;
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(files(queued)).toEqual(files(local));
    stop(b.proc);

    // No worker runs now: the finished jobs' results come from Redis.
    const again = tmpDir();
    const r2 = await runCliAsync(['sweep', trace, ...grid, '--out', again, '--jobs', '2', '--queue', redis.url]);
    expect(r2.status).toBe(0);
    expect(files(again)).toEqual(files(local));
  }, 240_000);

  it('curve --queue writes the same files as a local curve', async () => {
    const w = startWorker(redis.url);
    workers.push(w.proc);
    const args = [
      'curve',
      path.resolve('traces/nic.arrows'),
      path.resolve('traces/vm.arrows'),
      '--page-sizes',
      '4K',
      '4K,2M',
      '--max-entries',
      '64',
      '--opt',
      '--quiet',
    ];
    const local = tmpDir();
    expect(runCli([...args, '--out', local, '--jobs', '1']).status).toBe(0);
    const queued = tmpDir();
    const r = await runCliAsync([...args, '--out', queued, '--queue', redis.url]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(files(queued)).toEqual(files(local));
  }, 240_000);

  it('a queued smmuv3 sweep (the worker resolves the resolved configurations again) equals the local one, 64K granule included', async () => {
    // A 64K IOVA granule, so that the 64K configurations map it (no fault warnings).
    const nic64 = path.join(tmpDir(), 'nic64.arrows');
    expect(runCli(['gen', 'nic', '-o', nic64, '--events', '20000', '--granule', '64K']).status).toBe(0);
    await expectQueuedLikeLocal(redis.url, ['sweep', nic64, '--vendor', 'smmuv3', 'vtd', 'amd', '--page-sizes', '64K', '64K,512M', '--quiet'], workers);
  }, 240_000);

  it("curve --queue keeps the submitter's --max-table-memory: a map over it stops the queued curve with the local curve's line, which names the trace and point", async () => {
    // A 1G buffer of 4K pages: its page tables need about 3 MiB, over the 2 MiB asked for, under the worker's own limit.
    const big = path.join(tmpDir(), 'window-1g.arrows');
    expect(runCli(['gen', 'window', '-o', big, '--events', '2000', '--buffer', '1G']).status).toBe(0);
    const args = ['curve', big, '--page-sizes', '4K', '--max-entries', '8', '--max-table-memory', '2M', '--quiet'];
    const local = runCli([...args, '--out', tmpDir(), '--jobs', '1']);
    expect(local.status).toBe(2);
    expect(local.stderr).toMatch(
      /^iommu-replay: window-1g\.arrows with pageSizes=4K: Stopped at row 1: the map of 1G .* over the 2 MiB limit; raise it with --max-table-memory\n$/,
    );
    const w = startWorker(redis.url);
    workers.push(w.proc);
    const out = tmpDir();
    const r = await runCliAsync([...args, '--out', out, '--queue', redis.url]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^iommu-replay: window-1g\.arrows with pageSizes=4K: Stopped at row 1: the map of 1G .* over the 2 MiB limit; raise it with --max-table-memory\n$/,
    );
    expect(fs.readdirSync(out)).toEqual([]);
  }, 240_000);

  it('curve --queue of a trace with no lookups (hitRate null at every size) writes what a local curve writes', async () => {
    const trace = path.join(tmpDir(), 'no-dma.arrows');
    await writeTrace(trace, {}, [
      batchOf([
        { op: 'attach', device: 0x300, pasid: 0, domain: 1 },
        { op: 'map', domain: 1, iova: 0x1000, paddr: 0x5000, size: 0x1000 },
      ]),
    ]);
    await expectQueuedLikeLocal(redis.url, ['curve', trace, '--max-entries', '4', '--quiet'], workers);
  }, 240_000);

  it('a job that fails on bad input fails once with its one-line error, and is not retried', async () => {
    // Well framed (the submitter opens it), wrong inside: only the replay finds it.
    const bad = path.join(tmpDir(), 'late-bad.arrows');
    const first = batchOf(Array.from({ length: 5 }, (_, i) => ({ ts: 10 + i, op: 'flush' as const })));
    await writeTrace(bad, {}, [first, batchOf([{ ts: 1, op: 'flush' }])]);
    const w = startWorker(redis.url);
    workers.push(w.proc);
    const out = path.join(tmpDir(), 'out');
    const r = await runCliAsync(['sweep', bad, ...grid, '--out', out, '--jobs', '1', '--queue', redis.url]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toBe(`iommu-replay: Cannot read trace "${bad}": column "ts" goes backwards at row 5 (1 after 14)\n`);
    expect(fs.existsSync(path.join(out, 'report.md'))).toBe(false);
    // The worker logs the failure as it records it; give a loaded machine time, then make sure no retry follows.
    for (let i = 0; i < 300 && !/failed:/.test(w.log()); i++) await new Promise((res) => setTimeout(res, 100));
    await new Promise((res) => setTimeout(res, 3000));
    expect(w.log().match(/failed:/g)).toHaveLength(1);
    stop(w.proc);
  }, 120_000);

  it('Redis unreachable, or lost mid-run: one clear line, exit 3, no report', async () => {
    const closed = await freePort();
    const out = path.join(tmpDir(), 'out');
    const r = runCli(['sweep', trace, ...grid, '--out', out, '--queue', `redis://127.0.0.1:${closed}`]);
    expect(r.stderr).toBe(`iommu-replay: Cannot reach Redis at redis://127.0.0.1:${closed}: ECONNREFUSED (is redis-server running?)\n`);
    expect(r.status).toBe(3);
    expect(fs.existsSync(path.join(out, 'report.md'))).toBe(false);

    // No worker: the jobs wait; then Redis goes away.
    const own = await startRedis();
    const sweep = runCliAsync(['sweep', trace, ...grid, '--out', out, '--queue', own.url, '--queue-lost-after', '2']);
    const probe = new Redis(own.url, { lazyConnect: true });
    await probe.connect();
    while ((await probe.keys('bull:iommu-replay:*')).length === 0) await new Promise((res) => setTimeout(res, 100));
    probe.disconnect();
    stop(own.proc, 'SIGKILL');
    const lost = await sweep;
    expect(lost.stderr).toBe(`iommu-replay: Lost Redis at ${own.url}: no connection for 2 s\n`);
    expect(lost.status).toBe(3);
    expect(fs.existsSync(path.join(out, 'report.md'))).toBe(false);
  }, 120_000);

  it("a worker whose file differs from the submitter's fails the job with a clear error", async () => {
    const { traceIdentity, identityMismatch } = await import('../../src/run/identity.js');
    const f = path.join(tmpDir(), 'x.arrows');
    fs.copyFileSync(trace, f);
    const before = traceIdentity(f);
    const buf = fs.readFileSync(f);
    buf[buf.length - 10] ^= 0xff;
    fs.writeFileSync(f, buf);
    expect(identityMismatch(before, traceIdentity(f))).toBe("its last 64 KiB differ from the submitter's");
    fs.appendFileSync(f, 'x');
    expect(identityMismatch(before, traceIdentity(f))).toMatch(/bytes where the submitter has/);
  });

  it('rejects a bad queue URL with one line', () => {
    const r = spawnSync(process.execPath, [CLI, 'worker', '--queue', 'http://x'], { encoding: 'utf8' });
    expect(r.stderr).toBe('iommu-replay: Invalid --queue "http://x": expected redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss://...\n');
    expect(r.status).toBe(2);
  });
});
