// The queue against what it must not trust, on a real Redis (Debian's
// redis-server on a free loopback port, stopped by its pid) and real worker
// processes: jobs and results placed in Redis by someone else, credentials,
// and Redis going away. The scenarios are those of the reproducers
// queue-untrusted-job.mjs, queue-forged-result-crashes-submitter.sh,
// redis-password-in-logs.sh and redis-lost-deletes-arrived-summaries.sh (the
// project's trust-repro set of 2026-12-07), written as tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasRedis, startRedis } from '../../bench/queue.js';
import { LOCK_NAME } from '../../src/cli/outdir.js';
import { resolveConfig } from '../../src/config/config.js';
import { stableStringify } from '../../src/json.js';
import { traceIdentity } from '../../src/run/identity.js';
import { toolVersion } from '../../src/version.js';
import { replayPoints } from '../../src/run/run.js';
import { writeTrace } from '../../src/trace/writer.js';
import { CLI, runCli, tmpDir } from '../helpers/cli.js';
import { batchOf } from '../helpers/events.js';

const REDIS = hasRedis();
if (!REDIS) console.warn("SKIPPED: the queue's trust tests need redis-server (apt-get install redis-server; .ci/run installs it)");

const SECRET = 's3cretPW';
const QUEUE_NAME = 'iommu-replay';
/** Bounded waits: generous for a loaded 2-core machine, never a hang. */
const WAIT_MS = 90_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface Proc {
  proc: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, log: () => log, exited };
}

function stop(p: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (p?.pid && p.exitCode === null && p.signalCode === null) p.kill(signal);
}

/** Files under `dir`, relative, with their content. */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      // The output folder's lock is there while a sweep runs and gone after it.
      else if (!e.name.startsWith(LOCK_NAME)) out[path.relative(dir, f)] = fs.readFileSync(f).toString('base64');
    }
  };
  walk(dir);
  return out;
}

describe.skipIf(!REDIS)('the queue trusts neither side of Redis', () => {
  let redis: { proc: ChildProcess; url: string; port: number };
  let root: string;
  let trace: string;
  const procs: ChildProcess[] = [];
  const grid = ['--page-sizes', '4K', '4K,2M', '--iotlb', '32x4', '128x8', '--jobs', '2', '--quiet'];

  /** A worker reading traces under `root`; resolves once it waits for jobs. */
  async function worker(url: string, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<Proc> {
    const w = start(['worker', '--queue', url, '--lock-ms', '2000', '--trace-root', root, ...extra], env);
    procs.push(w.proc);
    await until('the worker to start', () => /waiting for jobs/.test(w.log()) || w.proc.exitCode !== null);
    return w;
  }

  beforeAll(async () => {
    redis = await startRedis();
    root = tmpDir();
    trace = path.join(root, 'nic.arrows');
    expect(runCli(['gen', 'nic', '-o', trace, '--events', '50000', '--seed', '3']).status).toBe(0);
  }, 120_000);

  // A worker or sweep left running would take the next test's jobs, whatever the test's outcome.
  afterEach(() => {
    for (const p of procs.splice(0)) stop(p);
  });

  afterAll(() => {
    for (const p of procs) stop(p);
    stop(redis?.proc);
  });

  it('a worker stops on SIGTERM once Redis is gone, and says so once rather than at every reconnection', async () => {
    const own = await startRedis();
    const w = await worker(own.url);
    stop(own.proc);
    await until('the worker to see Redis gone', () => /lost Redis/.test(w.log()));
    await sleep(2000); // reconnection attempts, which used to print a line each
    w.proc.kill('SIGTERM');
    const code = await Promise.race([w.exited, sleep(WAIT_MS).then(() => 'still running')]);
    expect(code).toBe(0);
    expect(w.log().match(/lost Redis/g)).toHaveLength(1);
    expect(w.log()).not.toMatch(/worker: ECONNREFUSED/);
  }, 180_000);

  it("SIGTERM while the worker's threads warm up stops it once started, and leaves no warm-up folder behind", async () => {
    // The warm-up writes a 2.7 MB trace in a temporary folder per thread (run/queue-processor.ts
    // warmUp); the signal's default action killed the worker in the middle and left them there.
    const tmp = tmpDir();
    const w = start(['worker', '--queue', redis.url, '--concurrency', '2', '--trace-root', root], { ...process.env, TMPDIR: tmp });
    procs.push(w.proc);
    await until('a thread to warm up', () => fs.readdirSync(tmp).some((f) => f.startsWith('iommu-replay-warm-')) || w.proc.exitCode !== null);
    w.proc.kill('SIGTERM');
    const code = await Promise.race([w.exited, sleep(WAIT_MS).then(() => 'still running')]);
    expect(code).toBe(0);
    expect(fs.readdirSync(tmp)).toEqual([]);
    expect(w.log()).toMatch(/stopping: running jobs finish first/);
    expect(w.log()).not.toMatch(/waiting for jobs/);
  }, 180_000);

  it('a password is never printed (worker, errors, Redis lost), comes from a file or REDIS_PASSWORD, and a wrong one is "authentication failed"', async () => {
    const own = await startRedis(['--requirepass', SECRET]);
    try {
      const bare = `redis://127.0.0.1:${own.port}/0`;
      const withPw = `redis://default:${SECRET}@127.0.0.1:${own.port}/0`;
      const w = await worker(withPw);
      expect(w.log().split('\n')[0]).toBe(
        `iommu-replay worker: waiting for jobs on redis://default:***@127.0.0.1:${own.port}/0 (concurrency 1; traces under ${fs.realpathSync(root)})`,
      );
      const pwFile = path.join(tmpDir(), 'redis-password');
      fs.writeFileSync(pwFile, `${SECRET}\n`);
      const w2 = await worker(bare, ['--queue-password-file', pwFile]);
      expect(w2.log()).toMatch(/waiting for jobs/);

      // The sweep takes the password from the environment.
      const out = path.join(tmpDir(), 'out');
      const r = spawnSync(process.execPath, [CLI, 'sweep', trace, ...grid, '--out', out, '--queue', bare], {
        encoding: 'utf8',
        env: { ...process.env, REDIS_PASSWORD: SECRET },
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);

      const wrong = runCli(['sweep', trace, ...grid, '--out', path.join(tmpDir(), 'o'), '--queue', `redis://default:wrongPW@127.0.0.1:${own.port}/0`]);
      expect(wrong.stderr).toBe(
        `iommu-replay: Cannot log in to Redis at redis://default:***@127.0.0.1:${own.port}/0: authentication failed (wrong user name or password)\n`,
      );
      expect(wrong.status).toBe(2);
      const none = spawnSync(process.execPath, [CLI, 'sweep', trace, ...grid, '--out', path.join(tmpDir(), 'o'), '--queue', bare], {
        encoding: 'utf8',
        env: { ...process.env, REDIS_PASSWORD: '' },
      });
      expect(none.stderr).toBe(`iommu-replay: Cannot log in to Redis at ${bare}: authentication failed (the server needs a password)\n`);
      expect(none.status).toBe(2);
      const workerWrong = spawnSync(process.execPath, [CLI, 'worker', '--queue', `redis://:wrongPW@127.0.0.1:${own.port}`], { encoding: 'utf8' });
      expect(workerWrong.stderr).toBe(
        `iommu-replay: Cannot log in to Redis at redis://:***@127.0.0.1:${own.port}: authentication failed (wrong user name or password)\n`,
      );
      expect(workerWrong.status).toBe(2);

      // Redis lost mid-run: no worker takes the jobs, then the server goes.
      for (const p of [w, w2]) stop(p.proc);
      await Promise.all([w.exited, w2.exited]);
      const probe = new Redis({ host: '127.0.0.1', port: own.port, password: SECRET, lazyConnect: true });
      await probe.connect();
      await probe.flushall(); // the earlier sweep's jobs: the keys awaited below are this sweep's
      const sweep = start([
        'sweep',
        trace,
        '--page-sizes',
        '4K',
        '4K,2M',
        '--iotlb',
        '16x4',
        '--quiet',
        '--out',
        path.join(tmpDir(), 'lost'),
        '--queue',
        withPw,
        '--queue-lost-after',
        '2',
      ]);
      procs.push(sweep.proc);
      await until('the sweep to queue its jobs', async () => (await probe.keys('bull:iommu-replay:*')).length > 0);
      probe.disconnect();
      stop(own.proc);
      expect(await sweep.exited).toBe(3);
      expect(sweep.log()).toBe(`iommu-replay: Lost Redis at redis://default:***@127.0.0.1:${own.port}/0: no connection for 2 s\n`);
      for (const text of [w.log(), w2.log(), r.stderr, wrong.stderr, sweep.log()]) expect(text).not.toContain(SECRET);
    } finally {
      stop(own.proc);
    }
  }, 240_000);

  it("a worker checks each job placed in Redis: the schema, its own limits, and traces only as regular files under --trace-root; failures name no file's size", async () => {
    const fifo = path.join(root, 'fifo.arrows');
    if (!fs.existsSync(fifo)) expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // One 4 GiB map of 4K pages: about 8 MiB of page tables.
    const bigMap = path.join(root, 'big-map.arrows');
    await writeTrace(bigMap, {}, [batchOf([{ op: 'map', domain: 1, iova: 0, paddr: 0, size: 2 ** 32 }])]);
    const w = await worker(redis.url, ['--max-table-memory', '1M']);
    const queue = new Queue(QUEUE_NAME, { connection: { host: '127.0.0.1', port: redis.port } });
    const sha = (b: string) => crypto.createHash('sha256').update(b).digest('hex');
    const empty = (p: string) => ({ path: p, size: 0, head: sha(''), tail: sha('') });
    const cfg = resolveConfig({});
    const real = traceIdentity(trace);
    const curveOf4K = { config: resolveConfig({ pageSizes: ['4K'] }), maxEntries: 8, maxGroups: 8, policy: 'lru', ways: 0, opt: false };
    const jobs: Record<string, unknown> = {
      shadow: { version: toolVersion(), kind: 'points', trace: [empty('/etc/shadow')], configs: [cfg] },
      badconfig: {
        version: toolVersion(),
        kind: 'points',
        trace: [real],
        configs: [{ ...cfg, iotlb: { entries: 64, sets: 3, ways: 'x', policy: 'nope' }, pageSizes: ['banana'] }],
      },
      nulltrace: { version: toolVersion(), kind: 'points', trace: null, configs: [cfg] },
      fifo: { version: toolVersion(), kind: 'points', trace: [empty(fifo)], configs: [cfg] },
      // The file is there, but is not the one named: the failure must not tell its size.
      size: { version: toolVersion(), kind: 'points', trace: [{ ...real, size: 1 }], configs: [cfg] },
      // The job asks for 1 GiB of page tables; the worker allows 1 MiB.
      memory: {
        version: toolVersion(),
        kind: 'points',
        trace: [traceIdentity(bigMap)],
        configs: [resolveConfig({ pageSizes: ['4K'] })],
        maxTableBytes: 1 << 30,
      },
      // Curve jobs are replays too: the worker's limit bounds them (the stack profiler's, and a policy's points).
      memoryCurve: { version: toolVersion(), kind: 'curve', trace: [traceIdentity(bigMap)], curve: { ...curveOf4K, maxTableBytes: 1 << 30 } },
      memoryCurvePoints: { version: toolVersion(), kind: 'curve', trace: [traceIdentity(bigMap)], curve: { ...curveOf4K, policy: 'fifo' } },
      // A job of another version: this worker's model would answer it under the key the submitter asked for.
      otherVersion: { version: '0.0.1', kind: 'points', trace: [real], configs: [cfg] },
    };
    const reasons: Record<string, string> = {};
    try {
      for (const [name, data] of Object.entries(jobs)) {
        const id = `evil-${name}-${process.pid}`;
        await queue.add('points', data as never, { jobId: id, attempts: 1 });
        let state = '';
        await until(`job ${name} to end`, async () => {
          state = await queue.getJobState(id);
          return state === 'completed' || state === 'failed';
        });
        expect(state).toBe('failed');
        reasons[name] = (await queue.getJob(id))!.failedReason;
      }
    } finally {
      await queue.close();
    }
    expect(reasons).toEqual({
      shadow: 'Trace "/etc/shadow" is outside this worker\'s trace folders (worker --trace-root)',
      otherVersion: `This worker runs iommu-replay ${toolVersion()} and the job is from 0.0.1: its numbers would be this version's model, not the submitter's; run workers of the submitter's version`,
      badconfig: 'Invalid job: Invalid config "configs[0]": iotlb.ways: expected a positive integer or "full", got "x"',
      nulltrace: 'Invalid job: trace: Invalid input: expected array, received null',
      fifo: `Cannot read trace "${fifo}": not a regular file`,
      size: `Trace "${trace}" on this worker is not the submitter's file (its size or content differ)`,
      memory: expect.stringMatching(
        /^big-map\.arrows with baseline: Stopped at row 0: the map of 4G .* over the 1 MiB limit; raise it with --max-table-memory$/,
      ),
      memoryCurve: expect.stringMatching(
        /^big-map\.arrows with baseline: Stopped at row 0: the map of 4G .* over the 1 MiB limit; raise it with --max-table-memory$/,
      ),
      memoryCurvePoints: expect.stringMatching(
        /^big-map\.arrows with baseline: Stopped at row 0: the map of 4G .* over the 1 MiB limit; raise it with --max-table-memory$/,
      ),
    });
    expect(reasons.size).not.toContain(String(real.size));
    stop(w.proc, 'SIGTERM');
    expect(await w.exited).toBe(0);
  }, 240_000);

  it('a forged or empty result fails the sweep with one line naming the job, exit 2, and is removed: the next run computes it again', async () => {
    const w = await worker(redis.url);
    const first = path.join(tmpDir(), 'first');
    expect(runCli(['sweep', trace, ...grid, '--out', first, '--queue', redis.url]).status).toBe(0);
    stop(w.proc, 'SIGTERM');
    await w.exited;

    const probe = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
    await probe.connect();
    const keys = async () => (await probe.keys(`bull:${QUEUE_NAME}:*`)).filter((k) => /:[0-9a-f]{32}$/.test(k)).sort();
    const [a, b] = await keys();
    expect(b).toBeDefined();
    try {
      // The reproducer's forgery, then an empty result (which made the submitter poll forever).
      for (const [key, forged, why] of [
        [a, '["{}"]', 'not a result of this version \\(expected \\{job, results\\}\\)'],
        [b, '', 'not a result of this version \\(expected \\{job, results\\}\\)'],
      ]) {
        await probe.hset(key, 'returnvalue', forged);
        const out = path.join(tmpDir(), 'forged');
        const r = runCli(['sweep', trace, ...grid, '--out', out, '--queue', redis.url]);
        expect(r.status).toBe(2);
        expect(r.stderr).toMatch(
          new RegExp(
            `^iommu-replay: Job ${key.slice(-32, -24)} \\(${trace}\\): its result in the queue is not valid for the job \\(${why}\\); it was removed from the queue, run again to compute it anew\\n$`,
          ),
        );
        expect(files(out)).toEqual({});
        expect(await probe.exists(key)).toBe(0);
      }
    } finally {
      probe.disconnect();
    }
    await worker(redis.url);
    const again = path.join(tmpDir(), 'again');
    const r = runCli(['sweep', trace, ...grid, '--out', again, '--queue', redis.url]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(files(again)).toEqual(files(first));
  }, 240_000);

  it('losing Redis keeps the summaries that had arrived, complete, for --resume', async () => {
    const own = await startRedis();
    try {
      const other = path.join(root, 'mixed.arrows');
      if (!fs.existsSync(other)) expect(runCli(['gen', 'mixed', '-o', other, '--events', '20000', '--seed', '5']).status).toBe(0);
      // The first trace's jobs finish, and wait in Redis; the second's find no worker.
      const w = await worker(own.url);
      expect(runCli(['sweep', trace, ...grid, '--out', path.join(tmpDir(), 'warm'), '--queue', own.url]).status).toBe(0);
      stop(w.proc, 'SIGTERM');
      await w.exited;

      const out = path.join(tmpDir(), 'out');
      const sweep = start(['sweep', trace, other, ...grid, '--out', out, '--queue', own.url, '--queue-lost-after', '2']);
      procs.push(sweep.proc);
      const nicDir = path.join(out, 'summaries', 'nic');
      await until("the first trace's summaries", () => fs.existsSync(nicDir) && fs.readdirSync(nicDir).filter((f) => f.endsWith('.json')).length === 4);
      const arrived = files(out);
      stop(own.proc);
      expect(await sweep.exited).toBe(3);
      expect(sweep.log()).toBe(`iommu-replay: Lost Redis at ${own.url}: no connection for 2 s\n`);
      expect(files(out)).toEqual(arrived);
      expect(fs.existsSync(path.join(out, 'report.md'))).toBe(false);

      // --resume takes them: only the second trace runs (locally here).
      const resumed = runCli(['sweep', trace, other, ...grid, '--out', out, '--resume']);
      expect(resumed.status).toBe(0);
      for (const [f, content] of Object.entries(arrived)) expect(files(out)[f]).toBe(content);
    } finally {
      stop(own.proc);
    }
  }, 240_000);

  /** The job a submitter makes of `trace` at the default configuration (version as given). */
  const pointsJob = (version: string) => ({ version, kind: 'points', trace: [traceIdentity(trace)], configs: [resolveConfig({})] });

  /** Adds a job and waits for its end: its state, reason, stalled count and result. */
  async function runJob(queue: Queue, id: string, data: unknown) {
    await queue.add('points', data as never, { jobId: id, attempts: 1 });
    let state = '';
    await until(`job ${id} to end`, async () => {
      state = await queue.getJobState(id);
      return state === 'completed' || state === 'failed';
    });
    const job = (await queue.getJob(id))!;
    return { state, reason: job.failedReason, stalled: job.stalledCounter, result: job.returnvalue as { results?: string[] } | undefined };
  }

  it('a job whose data in Redis is not JSON fails with one line, and the worker goes on (it took it for lost Redis, and the job stayed active)', async () => {
    const queue = new Queue(QUEUE_NAME, { connection: { host: '127.0.0.1', port: redis.port } });
    const probe = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
    await probe.connect();
    try {
      // Placed before any worker runs, then its data overwritten in the job's hash, as the reproducer does for other shapes.
      const id = `evil-notjson-${process.pid}`;
      await queue.add('points', pointsJob('x') as never, { jobId: id, attempts: 1 });
      await probe.hset(`bull:${QUEUE_NAME}:${id}`, 'data', '{"version": "x", not json');
      const w = await worker(redis.url);
      let state = '';
      await until('the unreadable job to end', async () => {
        state = await queue.getJobState(id);
        return state === 'completed' || state === 'failed';
      });
      expect(state).toBe('failed');
      // Read from the hash: BullMQ's own getJob parses the data, and throws.
      expect(await probe.hget(`bull:${QUEUE_NAME}:${id}`, 'failedReason')).toBe('Invalid job: its data in the queue is not JSON');
      const next = await runJob(queue, `good-after-notjson-${process.pid}`, pointsJob(toolVersion()));
      expect(next.state).toBe('completed');
      expect(w.log()).not.toMatch(/lost Redis/);
      stop(w.proc, 'SIGTERM');
      expect(await w.exited).toBe(0);
    } finally {
      probe.disconnect();
      await queue.close();
    }
  }, 240_000);

  it("a job whose options in Redis are not JSON is one log line, not a lost Redis nor a line at each retake (BullMQ parses them before the job's id is known: it is not run)", async () => {
    // A Redis of its own: BullMQ takes the job again at every lock expiry, for good.
    const own = await startRedis();
    const queue = new Queue(QUEUE_NAME, { connection: { host: '127.0.0.1', port: own.port } });
    const probe = new Redis({ host: '127.0.0.1', port: own.port, lazyConnect: true });
    try {
      await probe.connect();
      const id = `evil-opts-${process.pid}`;
      await queue.add('points', pointsJob('x') as never, { jobId: id, attempts: 1 });
      await probe.hset(`bull:${QUEUE_NAME}:${id}`, 'opts', 'not json{');
      const w = await worker(own.url);
      // Taken again as each 2 s lock expires (its stalled count grows): at least three takes.
      await until('the job to be taken three times', async () => Number(await probe.hget(`bull:${QUEUE_NAME}:${id}`, 'stc')) >= 3);
      expect(w.log().match(/a job in the queue is unreadable \(.*\): it was not run/g)).toHaveLength(1);
      expect(w.log()).not.toMatch(/lost Redis/);
      stop(w.proc, 'SIGTERM');
      expect(await w.exited).toBe(0);
    } finally {
      probe.disconnect();
      await queue.close();
      stop(own.proc);
    }
  }, 240_000);

  it('a worker keeps its thread between jobs, renews locks while the thread is busy, and survives a job that crashes its thread', async () => {
    const { startWorker } = await import('../../src/run/queue.js');
    const { traceRoots } = await import('../../src/run/queue-job.js');
    const logs: string[] = [];
    const w = await startWorker({
      url: redis.url,
      concurrency: 1,
      // Shorter than the busy job: without renewal the job would be taken as stalled.
      lockMs: 1000,
      limits: { traceRoots: traceRoots([root]) },
      threadModule: path.resolve('test/run/fixtures/job-thread.mjs'),
      log: (line) => logs.push(line),
    });
    const queue = new Queue(QUEUE_NAME, { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      // One thread, kept from job to job (started with the worker), until a job crashes it.
      const threadOf = async (id: string) => (await runJob(queue, `${id}-${process.pid}`, pointsJob(`${toolVersion()}+thread`))).result?.results?.[0];
      const first = await threadOf('thread-a');
      expect(first).toMatch(/^\d+$/);
      expect(await threadOf('thread-b')).toBe(first);
      const crash = await runJob(queue, `crash-${process.pid}`, pointsJob(`${toolVersion()}+crash`));
      expect(crash).toMatchObject({ state: 'failed', reason: `Job crash-${String(process.pid).slice(0, 2)} failed: its thread stopped (exited with code: 7)` });
      // The next jobs run on a fresh thread; the busy one for 4 lock durations.
      const busy = await runJob(queue, `busy-${process.pid}`, pointsJob(`${toolVersion()}+busy 4000`));
      expect(busy).toMatchObject({ state: 'completed', stalled: 0 });
      const fresh = await threadOf('thread-c');
      expect(fresh).toMatch(/^\d+$/);
      expect(fresh).not.toBe(first);
      expect(busy.result?.results).toHaveLength(1);
      const local = await replayPoints([trace], [resolveConfig({})]);
      expect(busy.result!.results![0]).toBe(stableStringify(local[0]));
      expect(logs.join('\n')).not.toMatch(/lost Redis/);
    } finally {
      await queue.close();
      await w.close();
    }
  }, 240_000);
});
