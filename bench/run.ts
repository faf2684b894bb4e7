// `npm run bench [-- --events N] [--large] [--only a,b] [--compare previous.json] [--out file.json]`
//
// Each scenario runs in a child process so that its peak RSS is its own.
// Prints a table and writes JSON (default bench/out/latest.json) so runs can
// be compared. Speed is measured here, never asserted by a test.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tableOf } from '../src/caches/table.js';
import { resolveConfig } from '../src/config/config.js';
import { PageTablePool } from '../src/model/pagetable.js';
import { splitRange } from '../src/model/pgsize.js';
import { sizesOf } from '../src/model/topology.js';
import { pfnOf, type EventBatch } from '../src/trace/batch.js';
import { Op } from '../src/trace/schema.js';
import { replayPoints } from '../src/run/run.js';
import { runSweep } from '../src/run/sweep.js';
import { runSweepQueued } from '../src/run/queue.js';
import { hasRedis, type WorkerCpu } from './queue.js';
import { fileFeed, lruStackCurve } from '../src/run/curve.js';
import { openTrace } from '../src/trace/merge.js';
import { benchTrace, dineroWork } from './traces.js';
import { toolVersion } from '../src/version.js';

interface Result {
  scenario: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  peakRssMiB: number;
  note?: string;
  /** Queue scenarios: the workers' CPU in the timed part (bench/queue.ts WorkerCpu). */
  workerCpu?: WorkerCpu;
}

const self = fileURLToPath(import.meta.url);

async function child(scenario: string, events: number): Promise<Result> {
  const [kind, what, extra] = scenario.split(':');
  const file = await benchTrace(kind as 'dma' | 'nic', events);
  const t0 = process.hrtime.bigint();
  let done = 0;
  let loopNs = 0n;
  let curveNote = '';
  if (what === 'scan') {
    // The read throughput floor: read, check and decode the file, and visit
    // every row of every column the replay reads (scanColumns). The loop
    // alone is timed too: that is the plain scan of the typed-array views.
    const trace = await openTrace([file]);
    let acc = 0;
    for await (const b of trace.batches()) {
      const l0 = process.hrtime.bigint();
      acc = scanColumns(b, acc);
      loopNs += process.hrtime.bigint() - l0;
      done += b.length;
    }
    await trace.close();
    if (acc === 0.5) console.error(acc);
  } else if (what === 'floor') {
    // What the replay's three table operations cost by themselves, on the
    // model's own SetAssocTable and PageTablePool in the default geometry:
    // per DMA row the IOTLB probe, and on a miss the walk and the fill; map
    // rows build the table (remaps over a mapped page are skipped). No
    // counters, runs, attachments, unmaps or invalidation: a floor under the
    // replay of the same trace, not a model. The loop alone is timed too.
    const cfg = resolveConfig({});
    const g = cfg.iotlb;
    const iotlb = tableOf(g, 1);
    const pool = new PageTablePool(cfg.pageTable.levels);
    const root = pool.newRoot();
    const orders = sizesOf(cfg.pageSizes).ordersDesc;
    const trace = await openTrace([file]);
    for await (const b of trace.batches()) {
      const l0 = process.hrtime.bigint();
      const n = b.length;
      for (let i = 0; i < n; i++) {
        const op = b.op[i];
        const pfn = pfnOf(b.iova[2 * i], b.iova[2 * i + 1]);
        if (op === Op.DmaRead || op === Op.DmaWrite) {
          if (iotlb.lookup(0, pfn, orders) >= 0) continue;
          const order = pool.lookup(root, pfn);
          if (order >= 0) iotlb.fill(0, pool.foundBase, order, pool.foundPhys, 0);
        } else if (op === Op.Map) {
          const pages = pfnOf(b.size[2 * i], b.size[2 * i + 1]);
          if (!pool.anyLeafIn(root, pfn, pfn + pages)) splitRange(pool, orders, pfn, pfnOf(b.paddr[2 * i], b.paddr[2 * i + 1]), pages, root, null, 0);
        }
      }
      loopNs += process.hrtime.bigint() - l0;
      done += n;
    }
    await trace.close();
  } else if (what === 'curve') {
    // The fully associative LRU curve of every size 1..N in one pass (the
    // stack profiler in place of the IOTLB), default configuration otherwise.
    const n = Number(extra ?? 4096);
    const fmtRate = (r: number | null) => (r === null ? 'n/a' : `${(r * 100).toFixed(2)}%`);
    const curve = await lruStackCurve(fileFeed([file], { onProgress: (k) => (done = k) }), resolveConfig({}), n);
    curveNote = `1..${n} entries: ${curve.groups} size group(s), ${curve.passes} pass(es); hit rate ${fmtRate(curve.points[0].hitRate)} at 1, ${fmtRate(curve.points[n - 1].hitRate)} at ${n}`;
  } else if (what === 'sweep') {
    // A 12-point sweep (3 bitmaps x 4 IOTLB sizes) over `extra` worker threads.
    const jobs = Number(extra ?? 1);
    await runSweep([[file]], sweepConfigs(), { jobs, onProgress: (n) => (done = n) });
  } else if (what === 'queue' || what === 'queue-warm') {
    // The same sweep on the queue: 2 jobs of 6 points, `extra` worker
    // processes (started and connected before the clock starts), a fresh
    // redis-server. Peak RSS is the submitter's. `queue-warm`: the workers
    // have run the same sweep once before the clock starts (under another
    // version, so that no result is reused), as long-running workers have:
    // the steady state, where `queue` is the workers' first sweep (on threads
    // that warmed up as the worker started: run/queue-processor.ts warm).
    const workers = Number(extra ?? 1);
    const { startBenchQueue } = await import('./queue.js');
    const q = await startBenchQueue(workers);
    let workerCpu: WorkerCpu;
    try {
      if (what === 'queue-warm') await runSweepQueued([[file]], sweepConfigs(), { jobs: 2, url: q.url, version: `${toolVersion()}+bench-warm-up` });
    } catch (err) {
      q.stop();
      throw err;
    }
    const t1 = process.hrtime.bigint();
    const cpuSince = q.cpu();
    try {
      await runSweepQueued([[file]], sweepConfigs(), { jobs: 2, url: q.url, version: `${toolVersion()}+bench`, onProgress: (n) => (done = n) });
      workerCpu = cpuSince();
    } finally {
      q.stop();
    }
    const seconds = Number(process.hrtime.bigint() - t1) / 1e9;
    const cpuNote =
      workerCpu.totalS > 0
        ? `; workers' CPU ${workerCpu.totalS.toFixed(2)} s, job threads ${workerCpu.jobThreadsS.map((s) => s.toFixed(2)).join(' + ')} s`
        : '';
    return {
      scenario,
      events: done,
      seconds,
      eventsPerSecond: done / seconds,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      note: `${workers} worker process(es), 2 jobs${cpuNote}`,
      workerCpu,
    };
  } else {
    const points = Number(extra ?? 1);
    const mode = what === 'lazy' ? 'lazy' : 'strict';
    const configs = Array.from({ length: points }, (_, i) => resolveConfig({ iotlb: { sets: 16 << (i % 4), ways: 4 }, invalidation: { mode } }));
    await replayPoints([file], configs, { onProgress: (n) => (done = n) });
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const res: Result = { scenario, events: done, seconds, eventsPerSecond: done / seconds, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
  if (curveNote) res.note = curveNote;
  if (loopNs > 0n) res.note = `${what === 'scan' ? 'view scan' : 'table operations'} alone: ${(done / (Number(loopNs) / 1e9) / 1e6).toFixed(0)} M events/s`;
  return res;
}

/**
 * Every row of the eight columns the replay reads (both words of a uint64),
 * folded with xor so that the loop is the loads and little else: in a
 * function of its own, which the JIT optimizes whole, rather than inline in
 * child()'s scenarios.
 */
function scanColumns(b: EventBatch, acc: number): number {
  const { op, device, pasid, domain, ts, iova, paddr, size } = b;
  const n = b.length;
  for (let i = 0; i < n; i++) {
    acc ^= op[i] ^ device[i] ^ pasid[i] ^ domain[i];
    acc ^= ts[2 * i] ^ ts[2 * i + 1] ^ iova[2 * i] ^ iova[2 * i + 1] ^ paddr[2 * i] ^ paddr[2 * i + 1] ^ size[2 * i] ^ size[2 * i + 1];
  }
  return acc;
}

/** The least wall time of the workers' CPU on this machine's cores: the busiest job thread, or all the CPU spread over every core. */
function idleSeconds(cpu: WorkerCpu): number {
  return Math.max(...cpu.jobThreadsS, cpu.totalS / os.cpus().length);
}

/** x's least wall time over y's, from their CPU; undefined without both (no /proc, or a scenario left out). */
function cpuRatio(x: WorkerCpu | undefined, y: WorkerCpu | undefined): number | undefined {
  return x?.totalS && y?.totalS ? idleSeconds(x) / idleSeconds(y) : undefined;
}

/** 3 bitmaps x 4 IOTLB sizes. */
function sweepConfigs() {
  return ['4K', '4K,2M', '4K,2M,1G'].flatMap((ps) =>
    [32, 64, 128, 256].map((e) => resolveConfig({ pageSizes: ps.split(','), iotlb: { entries: e, ways: 4 } })),
  );
}

const cli = path.resolve('dist/src/cli/main.js');
const hasTime = fs.existsSync('/usr/bin/time');

/**
 * The command line as a user runs it, the whole process from spawn to exit:
 * `cli:replay` (a replay of the trace to a summary file), `cli:curve` (its
 * 1..4096-entry curve, every output written), `cli:version` and
 * `cli:inspect` (start-up; the median of 5 runs). Peak RSS is the command's,
 * by /usr/bin/time when it is installed.
 */
function runCli(scenario: string, events: number): Result {
  const [, what, kind] = scenario.split(':');
  const trace = path.join('bench/data', `${kind ?? 'dma'}-${events}-s7.arrows`);
  const out = path.join(os.tmpdir(), `iommu-replay-bench-${process.pid}.json`);
  const curveOut = path.join(os.tmpdir(), `iommu-replay-bench-${process.pid}-curve`);
  const args =
    what === 'version'
      ? ['--version']
      : what === 'inspect'
        ? ['inspect', 'traces/nic.arrows']
        : what === 'curve'
          ? ['curve', trace, '--max-entries', '4096', '--out', curveOut, '--quiet']
          : ['replay', trace, '--json', out];
  const long = what === 'replay' || what === 'curve';
  const runs = long ? 1 : 5;
  const times: number[] = [];
  let rssKiB = NaN;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = hasTime
      ? spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
      : spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (r.status !== 0) throw new Error(`bench scenario ${scenario} failed: ${r.stderr}`);
    if (hasTime) rssKiB = Number(r.stderr.trim().split('\n').pop());
  }
  fs.rmSync(out, { force: true });
  fs.rmSync(curveOut, { recursive: true, force: true });
  const seconds = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  const n = long ? events : 0;
  return {
    scenario,
    events: n,
    seconds,
    eventsPerSecond: n / seconds,
    peakRssMiB: rssKiB / 1024,
    note: long ? 'whole process, as a user runs it' : `median of ${runs} runs: ${seconds.toFixed(3)} s`,
  };
}

/** Dinero IV's options for the IOTLB of the Dinero-equivalent work: 64 entries of a 4K page, 4-way, LRU, one data cache. */
const DINERO_ARGS = ['-informat', 'b', '-l1-dsize', '256k', '-l1-dbsize', '4k', '-l1-dassoc', '4', '-l1-drepl', 'l'];

/** Our replay's options for the same cache, and its misses as the summary gives them. */
const DINERO_REPLAY_ARGS = ['--page-sizes', '4K', '--iotlb', '64x4'];

/**
 * `cli:dinero`: the Dinero-equivalent work of issue 28, whole process, our
 * replay against Dinero IV (binary input) on the same references and cache,
 * alternating, the median of 3 runs each. Dinero runs when env DINERO names
 * its binary (built from the public atos-tools/dineroIV source with
 * `./configure && make`); otherwise its side is skipped. The miss counts must
 * be equal.
 */
async function runDinero(events: number): Promise<Result> {
  const { trace, din } = await dineroWork(events);
  const out = path.join(os.tmpdir(), `iommu-replay-bench-${process.pid}.json`);
  const dinero = process.env.DINERO;
  const ours: number[] = [];
  const theirs: number[] = [];
  let rssKiB = NaN;
  let ourMisses = NaN;
  let theirMisses = NaN;
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    const args = [cli, 'replay', trace, ...DINERO_REPLAY_ARGS, '--json', out];
    const r = hasTime
      ? spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
      : spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    ours.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (r.status !== 0) throw new Error(`bench scenario cli:dinero failed: ${r.stderr}`);
    if (hasTime) rssKiB = Number(r.stderr.trim().split('\n').pop());
    const summary = JSON.parse(fs.readFileSync(out, 'utf8')) as { byDevice: { iotlb: { misses: number } }[] };
    ourMisses = summary.byDevice.reduce((m, d) => m + d.iotlb.misses, 0);
    if (dinero) {
      const fd = fs.openSync(din, 'r');
      const t1 = process.hrtime.bigint();
      const d = spawnSync(dinero, DINERO_ARGS, { encoding: 'utf8', stdio: [fd, 'pipe', 'pipe'] });
      theirs.push(Number(process.hrtime.bigint() - t1) / 1e9);
      fs.closeSync(fd);
      if (d.status !== 0) throw new Error(`bench scenario cli:dinero: ${dinero} failed: ${d.stderr}`);
      // Dinero's "Demand Misses" line: the total first.
      const m = /Demand Misses\s+(\d+)/.exec(d.stdout);
      if (!m) throw new Error(`bench scenario cli:dinero: no "Demand Misses" in the output of ${dinero}`);
      theirMisses = Number(m[1]);
    }
  }
  fs.rmSync(out, { force: true });
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const seconds = median(ours);
  let note: string;
  if (!dinero) note = 'Dinero IV skipped: set DINERO to its binary (atos-tools/dineroIV: ./configure && make)';
  else {
    if (theirMisses !== ourMisses) throw new Error(`bench scenario cli:dinero: IOTLB misses ${ourMisses}, Dinero IV's ${theirMisses}: not the same work`);
    const d = median(theirs);
    note = `Dinero IV ${d.toFixed(3)} s (binary input), ours ${(seconds / d).toFixed(2)}x; misses equal: ${ourMisses}`;
  }
  return { scenario: 'cli:dinero', events, seconds, eventsPerSecond: events / seconds, peakRssMiB: rssKiB / 1024, note };
}

async function run(scenario: string, events: number): Promise<Result> {
  if (scenario === 'cli:dinero') return runDinero(events);
  if (scenario.startsWith('cli:')) return runCli(scenario, events);
  // Generate outside the timed child (a first run pays for it once).
  const r = spawnSync(process.execPath, [self, '--child', scenario, '--events', String(events)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`bench scenario ${scenario} failed`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const events = Number(arg('--events') ?? 10_000_000);
  if (process.argv.includes('--child')) {
    const res = await child(arg('--child')!, events);
    process.stdout.write(`${JSON.stringify(res)}\n`);
    return;
  }
  // Generate the traces first, untimed.
  await benchTrace('dma', events);
  await benchTrace('nic', Math.min(events, 5_000_000));
  const results: Result[] = [];
  const scenarios: [string, number][] = [
    ['dma:scan', events],
    ['dma:floor', events],
    ['dma:replay', events],
    ['nic:replay', Math.min(events, 5_000_000)],
    ['nic:lazy', Math.min(events, 5_000_000)],
    ['dma:replay:4', events],
    ['dma:curve', events],
  ];
  // The sweeps use the same 5M-event NIC trace: on a short trace the threads'
  // start-up (spawn, module load, JIT warm-up) is a visible share of the run.
  scenarios.push(['nic:sweep:1', Math.min(events, 5_000_000)], ['nic:sweep:2', Math.min(events, 5_000_000)]);
  // The same sweep on BullMQ over Redis, with 1 and 2 worker processes (needs redis-server).
  const queued = hasRedis();
  if (queued)
    scenarios.push(
      ['nic:queue:1', Math.min(events, 5_000_000)],
      ['nic:queue:2', Math.min(events, 5_000_000)],
      ['nic:queue-warm:1', Math.min(events, 5_000_000)],
      ['nic:queue-warm:2', Math.min(events, 5_000_000)],
    );
  else process.stderr.write('nic:queue:* skipped: no redis-server (apt-get install redis-server)\n');
  // The command line as a user runs it: whole-process replays and start-up.
  // Each curve right after the replay of its trace, the ratio the curve target is about (issue 28: at most 1.5x).
  scenarios.push(
    ['cli:replay:dma', events],
    ['cli:curve:dma', events],
    ['cli:replay:nic', Math.min(events, 5_000_000)],
    ['cli:curve:nic', Math.min(events, 5_000_000)],
    ['cli:version', 0],
    ['cli:inspect', 0],
  );
  // Issue 28's Dinero-equivalent work, against Dinero IV when DINERO names its binary.
  scenarios.push(['cli:dinero', events]);
  if (!process.env.DINERO) process.stderr.write('cli:dinero: Dinero IV skipped (set DINERO to its binary: atos-tools/dineroIV, ./configure && make)\n');
  if (process.argv.includes('--large')) {
    await benchTrace('dma', events * 10);
    scenarios.push(['dma:replay', events * 10]);
  }
  // --only a,b: just those scenarios (by name), e.g. --only dma:replay,cli:version.
  const only = arg('--only')?.split(',');
  for (const [s, n] of scenarios) {
    if (only && !only.includes(s)) continue;
    const r = await run(s, n);
    results.push(r);
    process.stderr.write(
      `${s.padEnd(14)} ${(r.eventsPerSecond / 1e6).toFixed(2).padStart(8)} M events/s  ${r.seconds.toFixed(3)} s  peak RSS ${r.peakRssMiB.toFixed(0)} MiB${r.note ? `  (${r.note})` : ''}\n`,
    );
  }
  const find = (name: string, n?: number) => results.find((r) => r.scenario === name && (n === undefined || r.events === n));
  /** f of the two scenarios' results, when both ran (--only may leave some out). */
  const ratio = (x: Result | undefined, y: Result | undefined, f: (x: Result, y: Result) => number) => (x && y ? f(x, y) : undefined);
  const dma = find('dma:replay', events);
  const summary = {
    machine: { cores: os.cpus().length, node: process.version, cpu: os.cpus()[0]?.model },
    results,
    ratios: {
      scanOverReplay: ratio(find('dma:scan'), dma, (x, y) => x.eventsPerSecond / y.eventsPerSecond),
      floorOverReplay: ratio(find('dma:floor'), dma, (x, y) => x.eventsPerSecond / y.eventsPerSecond),
      fourPointsOverOne: ratio(dma, find('dma:replay:4'), (x, y) => (x.seconds * 4) / y.seconds),
      curveOverReplay: ratio(find('dma:curve'), dma, (x, y) => x.seconds / y.seconds),
      cliCurveOverReplayDma: ratio(find('cli:curve:dma'), find('cli:replay:dma'), (x, y) => x.seconds / y.seconds),
      cliCurveOverReplayNic: ratio(find('cli:curve:nic'), find('cli:replay:nic'), (x, y) => x.seconds / y.seconds),
      sweepTwoThreadsOverOne: ratio(find('nic:sweep:1'), find('nic:sweep:2'), (x, y) => x.seconds / y.seconds),
      queueTwoWorkersOverOne: ratio(find('nic:queue:1'), find('nic:queue:2'), (x, y) => x.seconds / y.seconds),
      // The same from the workers' CPU, as an idle machine would run it (the wall time of a
      // shared machine is noisy): no worker ends before its job thread's CPU, and all of
      // them no sooner than their whole CPU spread over the cores.
      queueTwoWorkersOverOneFromCpu: cpuRatio(find('nic:queue:1')?.workerCpu, find('nic:queue:2')?.workerCpu),
      // The same on workers that have run a sweep before (the steady state of long-running workers).
      queueWarmTwoWorkersOverOne: ratio(find('nic:queue-warm:1'), find('nic:queue-warm:2'), (x, y) => x.seconds / y.seconds),
      queueWarmTwoWorkersOverOneFromCpu: cpuRatio(find('nic:queue-warm:1')?.workerCpu, find('nic:queue-warm:2')?.workerCpu),
      // Per job: one worker on the queue against one local thread, same 12 points in 2 jobs.
      queueOverheadPerJobS: ratio(find('nic:queue:1'), find('nic:sweep:1'), (x, y) => (x.seconds - y.seconds) / 2),
    },
  };
  const out = arg('--out') ?? 'bench/out/latest.json';
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(summary, null, 2) + '\n');
  console.log(`\n| scenario | events | seconds | M events/s | peak RSS MiB | note |\n|---|---:|---:|---:|---:|---|`);
  const prev = arg('--compare') ? (JSON.parse(fs.readFileSync(arg('--compare')!, 'utf8')) as typeof summary) : undefined;
  for (const r of results) {
    const p = prev?.results.find((x) => x.scenario === r.scenario && x.events === r.events);
    const delta = p ? ` (${((r.eventsPerSecond / p.eventsPerSecond - 1) * 100).toFixed(1)}%)` : '';
    console.log(
      `| ${r.scenario} | ${r.events.toLocaleString('en-US')} | ${r.seconds.toFixed(3)} | ${(r.eventsPerSecond / 1e6).toFixed(2)}${delta} | ${r.peakRssMiB.toFixed(0)} | ${r.note ?? ''} |`,
    );
  }
  const r = summary.ratios;
  const fmt = (v: number | undefined, label: string, unit = 'x') => (v === undefined ? [] : [`${label}: ${v.toFixed(2)}${unit}`]);
  const lines = [
    ...fmt(r.scanOverReplay, 'scan / replay'),
    ...fmt(r.floorOverReplay, 'table operations alone / replay'),
    ...fmt(r.fourPointsOverOne, '4 points in one pass vs 4 replays'),
    ...fmt(r.sweepTwoThreadsOverOne, '12-point sweep, 2 threads vs 1'),
    ...fmt(r.curveOverReplay, '1..4096-entry curve / one replay'),
    ...fmt(r.cliCurveOverReplayDma, 'curve / replay, whole process, DMA'),
    ...fmt(r.cliCurveOverReplayNic, 'curve / replay, whole process, NIC'),
    ...fmt(r.queueTwoWorkersOverOne, 'queued, 2 workers vs 1'),
    ...fmt(r.queueTwoWorkersOverOneFromCpu, "queued, 2 workers vs 1 from the workers' CPU"),
    ...fmt(r.queueWarmTwoWorkersOverOne, 'queued on warm workers, 2 vs 1'),
    ...fmt(r.queueWarmTwoWorkersOverOneFromCpu, "queued on warm workers, 2 vs 1 from the workers' CPU"),
    ...fmt(r.queueOverheadPerJobS, 'queue overhead per job', ' s'),
  ];
  console.log(`\n${[...lines, `${summary.machine.cores} cores, ${summary.machine.node}. JSON: ${out}`].join('; ')}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
