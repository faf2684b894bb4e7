// `node dist/bench/floor/run.js [--events N] [--rounds R] [--passes P] [--npx] [--out file.json] [--trace file.arrows]`
//
// The floor of bench/run.ts three ways over the same DMA bench trace, read by
// the project's reader (openTrace().batches()):
//   generic  the project's SetAssocTable + PageTablePool (the 'floor' scenario, with counters)
//   js       bench/floor/kernel.ts, hand-specialized JavaScript
//   wasm:*   bench/floor/assembly/kernel.ts, AssemblyScript compiled by asc -O3
//            (--runtime stub), with and without --noAssert; each batch's four
//            columns are copied into linear memory, timed on its own
// Each run is its own child process; rounds alternate the kernels. Reported:
// whole-process seconds (spawn to exit, as the parent sees it), M events/s
// over it, the kernel-only M events/s (kernel calls alone), the copy, and the
// counts, which must be equal across all kernels. The wasm needs asc: from
// $ASC, ./node_modules/.bin, /tmp/as/node_modules/.bin, or with --npx from
// `npx --yes -p assemblyscript@0.28.20 asc`; without it the wasm runs are
// skipped. The .wasm files go to bench/out/floor/ (not committed).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SetAssocTable } from '../../src/caches/table.js';
import type { PageTablePool } from '../../src/model/pagetable.js';
import { pfnOf } from '../../src/trace/batch.js';
import { openTrace } from '../../src/trace/merge.js';
import { Op } from '../../src/trace/schema.js';
import { JsFloor, newCounts, type FloorCounts } from './kernel.js';

// A child imports what its kernel needs and no more (the generic kernel's
// modules and the trace generator are imported where used): module loading
// is part of the whole-process time, and the same for the js and wasm runs.
const self = fileURLToPath(import.meta.url);
const ASC_VERSION = '0.28.20';
const OUT_DIR = path.resolve('bench/out/floor');
const SOURCE = path.resolve('bench/floor/assembly/kernel.ts');

interface ChildResult {
  kernel: string;
  events: number;
  /** From this process's start (performance.now()) to the start of the pass: node and module loading. */
  startSeconds: number;
  /** From this process's start (performance.now()) to the end of the pass. */
  processSeconds: number;
  /** The pass over the trace: open, read, decode, copy, kernel. */
  passSeconds: number;
  kernelSeconds: number;
  copySeconds: number;
  /** CPU (user + system, all threads) of the whole process, and around the kernel calls alone. */
  processCpuSeconds: number;
  kernelCpuSeconds: number;
  /** Median over batches of rows / kernel time: the kernel warmed up (the first batches run before the JIT has the code). */
  steadyMevs: number;
  peakRssMiB: number;
  counts: FloorCounts;
  /** Passes 2.. of --passes N in the same process (whole-process figures are the first pass's). */
  later: WarmPass[];
}

interface WarmPass {
  kernelSeconds: number;
  kernelCpuSeconds: number;
  steadyMevs: number;
}

interface RunResult extends ChildResult {
  /** Spawn to exit, as the parent measures it. */
  wallSeconds: number;
  load1: number;
}

const now = () => process.hrtime.bigint();
const secs = (ns: bigint) => Number(ns) / 1e9;
const cpuSecs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
const traceFile = (events: number) => path.resolve(`bench/data/dma-${events}-s7.arrows`); // as bench/traces.ts names it

interface PassResult {
  events: number;
  kernelNs: bigint;
  copyNs: bigint;
  kernelCpu: number;
  /** Per batch: rows / kernel time, in M events/s. */
  batchMevs: number[];
  counts: FloorCounts;
}

/**
 * One pass of `kernel` over the trace with fresh tables each time it is
 * called; the code (JIT-compiled JS, compiled wasm module) is shared between
 * passes, so a second pass shows the kernel warmed up.
 */
async function makePass(kernel: string, file: string): Promise<() => Promise<PassResult>> {
  if (kernel === 'generic') {
    // bench/run.ts 'floor', verbatim but for the counters.
    const { tableOf } = await import('../../src/caches/table.js');
    const { resolveConfig } = await import('../../src/config/config.js');
    const { PageTablePool } = await import('../../src/model/pagetable.js');
    const { sizesOf } = await import('../../src/model/topology.js');
    const { splitRange } = await import('../../src/model/pgsize.js');
    return async () => {
      const r = newPass();
      const cfg = resolveConfig({});
      const g = cfg.iotlb;
      const iotlb = tableOf(g, 1);
      const pool = new PageTablePool(cfg.pageTable.levels);
      const root = pool.newRoot();
      const orders = sizesOf(cfg.pageSizes).ordersDesc;
      const leafCounts = new Float64Array(64);
      const trace = await openTrace([file]);
      for await (const b of trace.batches()) {
        const u0 = process.cpuUsage();
        const l0 = now();
        genericBatch(b.op, b.iova, b.size, b.paddr, b.length, iotlb, pool, root, orders, r.counts, splitRange, leafCounts);
        note(r, b.length, now() - l0, u0);
      }
      await trace.close();
      return r;
    };
  }
  if (kernel === 'js') {
    return async () => {
      const r = newPass();
      const k = new JsFloor();
      const trace = await openTrace([file]);
      for await (const b of trace.batches()) {
        const u0 = process.cpuUsage();
        const l0 = now();
        k.run(b.op, b.iova, b.size, b.paddr, b.length);
        note(r, b.length, now() - l0, u0);
      }
      await trace.close();
      r.counts = k.c;
      return r;
    };
  }
  const module = await WebAssembly.compile(fs.readFileSync(kernel.slice('wasm:'.length)));
  const imports = {
    env: {
      abort: (_m: number, _f: number, line: number, col: number) => {
        throw new Error(`wasm abort at ${line}:${col}`);
      },
    },
  };
  return async () => {
    const r = newPass();
    const x = (await WebAssembly.instantiate(module, imports)).exports as unknown as WasmFloor;
    let rows = 65536;
    x.init(rows);
    const trace = await openTrace([file]);
    for await (const b of trace.batches()) {
      const n = b.length;
      const c0 = now();
      if (n > rows) {
        x.reserve(n);
        rows = n;
      }
      // Views afresh each batch: a memory.grow detaches the old buffer.
      const mem = x.memory.buffer;
      new Uint8Array(mem, x.opPtr(), n).set(b.op.subarray(0, n));
      new Uint32Array(mem, x.iovaPtr(), 2 * n).set(b.iova.subarray(0, 2 * n));
      new Uint32Array(mem, x.sizePtr(), 2 * n).set(b.size.subarray(0, 2 * n));
      new Uint32Array(mem, x.paddrPtr(), 2 * n).set(b.paddr.subarray(0, 2 * n));
      const u0 = process.cpuUsage();
      const l0 = now();
      x.run(n);
      note(r, n, now() - l0, u0);
      r.copyNs += l0 - c0;
    }
    await trace.close();
    const f = (i: number) => x.count(i);
    r.counts = { dma: f(0), hits: f(1), misses: f(2), faults: f(3), checksum: f(4), maps: f(5), mapsSkipped: f(6), leaves: f(7) };
    return r;
  };
}

function newPass(): PassResult {
  return { events: 0, kernelNs: 0n, copyNs: 0n, kernelCpu: 0, batchMevs: [], counts: newCounts() };
}

function note(r: PassResult, rows: number, dt: bigint, u0: NodeJS.CpuUsage): void {
  r.kernelCpu += cpuSecs(process.cpuUsage(u0));
  r.kernelNs += dt;
  r.batchMevs.push((rows * 1e3) / Number(dt));
  r.events += rows;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;

async function child(kernel: string, events: number): Promise<ChildResult> {
  const file = arg('--trace') ?? traceFile(events);
  const passes = Number(arg('--passes') ?? 1);
  const pass = await makePass(kernel, file);
  const startSeconds = performance.now() / 1000;
  const t0 = now();
  const first = await pass();
  const passSeconds = secs(now() - t0);
  const processSeconds = performance.now() / 1000;
  const processCpuSeconds = cpuSecs(process.cpuUsage());
  first.counts.checksum = first.counts.checksum >>> 0;
  const later: WarmPass[] = [];
  for (let p = 1; p < passes; p++) {
    const r = await pass();
    r.counts.checksum = r.counts.checksum >>> 0;
    if (JSON.stringify(r.counts) !== JSON.stringify(first.counts))
      throw new Error(`pass ${p + 1} counted ${JSON.stringify(r.counts)}, pass 1 ${JSON.stringify(first.counts)}`);
    later.push({ kernelSeconds: secs(r.kernelNs), kernelCpuSeconds: r.kernelCpu, steadyMevs: median(r.batchMevs) });
  }
  return {
    kernel,
    events: first.events,
    startSeconds,
    processSeconds,
    passSeconds,
    kernelSeconds: secs(first.kernelNs),
    copySeconds: secs(first.copyNs),
    processCpuSeconds,
    kernelCpuSeconds: first.kernelCpu,
    steadyMevs: median(first.batchMevs),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    counts: first.counts,
    later,
  };
}

interface WasmFloor {
  memory: WebAssembly.Memory;
  init(rows: number): void;
  reserve(rows: number): void;
  opPtr(): number;
  iovaPtr(): number;
  sizePtr(): number;
  paddrPtr(): number;
  run(n: number): void;
  count(i: number): number;
}

/** The floor's loop of bench/run.ts over one batch, with the kernels' counters. */
function genericBatch(
  op: Uint8Array,
  iova: Uint32Array,
  size: Uint32Array,
  paddr: Uint32Array,
  n: number,
  iotlb: SetAssocTable,
  pool: PageTablePool,
  root: number,
  orders: Int8Array,
  c: FloorCounts,
  splitRange: typeof import('../../src/model/pgsize.js').splitRange,
  leafCounts: Float64Array,
): void {
  for (let i = 0; i < n; i++) {
    const o = op[i];
    const pfn = pfnOf(iova[2 * i], iova[2 * i + 1]);
    if (o === Op.DmaRead || o === Op.DmaWrite) {
      c.dma++;
      if (iotlb.lookup(0, pfn, orders) >= 0) {
        c.hits++;
        continue;
      }
      c.misses++;
      const order = pool.lookup(root, pfn);
      if (order >= 0) {
        iotlb.fill(0, pool.foundBase, order, pool.foundPhys, 0);
        c.checksum = (Math.imul(c.checksum, 31) + (pool.foundPhys ^ pool.foundBase) + order) | 0;
      } else c.faults++;
    } else if (o === Op.Map) {
      c.maps++;
      const pages = pfnOf(size[2 * i], size[2 * i + 1]);
      if (!pool.anyLeafIn(root, pfn, pfn + pages)) {
        splitRange(pool, orders, pfn, pfnOf(paddr[2 * i], paddr[2 * i + 1]), pages, root, leafCounts, 0);
        c.leaves = leafCounts[0] + leafCounts[9] + leafCounts[18];
      } else c.mapsSkipped++;
    }
  }
}

/** The asc command, or null. */
function findAsc(npx: boolean): string[] | null {
  const candidates = [process.env.ASC, path.resolve('node_modules/.bin/asc'), '/tmp/as/node_modules/.bin/asc'];
  for (const c of candidates) if (c && fs.existsSync(c)) return [c];
  if (npx) return ['npx', '--yes', '-p', `assemblyscript@${ASC_VERSION}`, 'asc'];
  return null;
}

/** Builds the wasm variants; returns [label, file] pairs (none without asc). */
function buildWasm(npx: boolean): [string, string][] {
  const asc = findAsc(npx);
  if (asc === null) {
    process.stderr.write(`wasm skipped: no asc (set ASC, or: cd /tmp/as && npm init -y && npm install assemblyscript@${ASC_VERSION}; or pass --npx)\n`);
    return [];
  }
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const variants: [string, string[]][] = [
    ['wasm-O3', ['-O3', '--runtime', 'stub']],
    ['wasm-O3-noAssert', ['-O3', '--runtime', 'stub', '--noAssert']],
  ];
  const out: [string, string][] = [];
  for (const [label, flags] of variants) {
    const file = path.join(OUT_DIR, `${label}.wasm`);
    const r = spawnSync(asc[0], [...asc.slice(1), SOURCE, ...flags, '-o', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) {
      process.stderr.write(`wasm ${label} skipped: asc failed\n${r.stderr}\n`);
      continue;
    }
    out.push([label, file]);
  }
  return out;
}

function runChild(kernel: string, events: number, extraArgs: string[]): RunResult {
  const t0 = now();
  const r = spawnSync(process.execPath, [self, '--child', kernel, '--events', String(events), ...extraArgs], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const wallSeconds = secs(now() - t0);
  if (r.status !== 0) throw new Error(`floor kernel ${kernel} failed`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
  // With later passes the child lives on after the first: take its own clock at the end of the first pass.
  return { ...res, wallSeconds: res.later.length > 0 ? res.processSeconds : wallSeconds, load1: os.loadavg()[0] };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const fmt = (x: number, d = 2) => x.toFixed(d);
function range(xs: number[], d = 2): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)];
  return s.length > 1 ? `${fmt(med, d)} (${fmt(s[0], d)}-${fmt(s[s.length - 1], d)})` : fmt(med, d);
}

async function main(): Promise<void> {
  const events = Number(arg('--events') ?? 10_000_000);
  if (process.argv.includes('--child')) {
    process.stdout.write(`${JSON.stringify(await child(arg('--child')!, events))}\n`);
    return;
  }
  const rounds = Number(arg('--rounds') ?? 5);
  // --passes N: each child makes N passes, the later ones with the kernel's code warm (fresh tables each pass).
  const passes = Number(arg('--passes') ?? 1);
  // Any trace with --trace (the counts check then covers other map shapes); else the DMA bench trace, generated untimed.
  const trace = arg('--trace');
  if (trace === undefined) {
    const { benchTrace } = await import('../traces.js');
    await benchTrace('dma', events);
  }
  const wasm = buildWasm(process.argv.includes('--npx'));
  const kernels: [string, string][] = [['generic', 'generic'], ['js', 'js'], ...wasm.map(([label, file]): [string, string] => [label, `wasm:${file}`])];
  const results = new Map<string, RunResult[]>(kernels.map(([label]) => [label, []]));
  for (let r = 0; r < rounds; r++) {
    // Alternate the order too: no kernel always runs first in a round.
    const order = r % 2 === 0 ? kernels : [...kernels].reverse();
    for (const [label, kernel] of order) {
      const res = runChild(kernel, events, [...(trace === undefined ? [] : ['--trace', trace]), '--passes', String(passes)]);
      results.get(label)!.push(res);
      process.stderr.write(
        `round ${r + 1} ${label.padEnd(17)} wall ${fmt(res.wallSeconds)} s  cpu ${fmt(res.processCpuSeconds)} s  kernel ${fmt(res.kernelSeconds, 3)} s (cpu ${fmt(res.kernelCpuSeconds, 3)})  copy ${fmt(res.copySeconds, 3)} s  load ${fmt(res.load1)}\n`,
      );
    }
  }
  // Every run of every kernel must count the same.
  const ref = results.get('generic')![0].counts;
  let mismatch = false;
  for (const [label, rs] of results) {
    for (const r of rs) {
      if (JSON.stringify(r.counts) !== JSON.stringify(ref)) {
        process.stderr.write(`COUNTS DIFFER: ${label} ${JSON.stringify(r.counts)} vs generic ${JSON.stringify(ref)}\n`);
        mismatch = true;
      }
    }
  }
  const machine = { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, asc: wasm.length > 0 ? ASC_VERSION : null };
  const out = arg('--out') ?? 'bench/out/floor.json';
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ machine, events, rounds, counts: ref, results: Object.fromEntries(results) }, null, 2) + '\n');
  console.log(
    `\n${trace ?? 'DMA bench trace'}: ${results.get('generic')![0].events.toLocaleString('en-US')} events, ${rounds} runs each, median (min-max); counts ${mismatch ? 'DIFFER' : 'equal across all runs'}: ${JSON.stringify(ref)}\n`,
  );
  console.log(
    '| kernel | whole process s (wall) | M events/s (whole process) | whole process CPU s | start s | pass s | read+decode s | copy s | kernel-only s | M events/s (kernel only) | kernel CPU s | M events/s (kernel, median batch) | peak RSS MiB | load avg (1 min) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [label, rs] of results) {
    const e = rs[0].events;
    const col = (f: (r: RunResult) => number, d = 2) => range(rs.map(f), d);
    const wasmRun = label.startsWith('wasm');
    console.log(
      `| ${label} | ${col((r) => r.wallSeconds)} | ${col((r) => e / r.wallSeconds / 1e6)} | ${col((r) => r.processCpuSeconds)} | ${col((r) => r.startSeconds)} | ${col((r) => r.passSeconds)} | ${col((r) => r.passSeconds - r.kernelSeconds - r.copySeconds, 3)} | ${wasmRun ? col((r) => r.copySeconds, 3) : '-'} | ${col((r) => r.kernelSeconds, 3)} | ${col((r) => e / r.kernelSeconds / 1e6, 1)} | ${col((r) => r.kernelCpuSeconds, 3)} | ${col((r) => r.steadyMevs, 1)} | ${col((r) => r.peakRssMiB, 0)} | ${col((r) => r.load1)} |`,
    );
  }
  // Paired by round (the kernels of a round ran back to back, under about the same load): how many times faster than js.
  const js = results.get('js')!;
  const pairs: [string, (r: RunResult) => number][] = [
    ['whole process (wall)', (r) => r.wallSeconds],
    ['whole process (CPU)', (r) => r.processCpuSeconds],
    ['kernel only (wall)', (r) => r.kernelSeconds],
    ['kernel only (CPU)', (r) => r.kernelCpuSeconds],
    ['kernel, median batch', (r) => 1 / r.steadyMevs],
  ];
  console.log('\nTimes faster than js, paired by round, median (min-max):\n');
  console.log(`| kernel | ${pairs.map(([name]) => name).join(' | ')} |`);
  console.log(`|---|${pairs.map(() => '---:').join('|')}|`);
  for (const [label, rs] of results) {
    if (label === 'js') continue;
    console.log(`| ${label} | ${pairs.map(([, f]) => range(rs.map((r, i) => f(js[i]) / f(r)))).join(' | ')} |`);
  }
  if (passes > 1) {
    // The last pass of each child: the kernel warmed up (JS optimized, wasm tiered up).
    const last = (r: RunResult) => r.later[r.later.length - 1];
    console.log(
      `\nPass ${passes} of ${passes} in the same process (code warm, tables fresh), median (min-max); whole-process wall above is the child's own clock at the end of pass 1:\n`,
    );
    console.log(
      '| kernel | kernel-only s | M events/s (kernel only) | kernel CPU s | M events/s (kernel, median batch) | times faster than js (kernel CPU, paired) |',
    );
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const [label, rs] of results) {
      const e = rs[0].events;
      console.log(
        `| ${label} | ${range(
          rs.map((r) => last(r).kernelSeconds),
          3,
        )} | ${range(
          rs.map((r) => e / last(r).kernelSeconds / 1e6),
          1,
        )} | ${range(
          rs.map((r) => last(r).kernelCpuSeconds),
          3,
        )} | ${range(
          rs.map((r) => last(r).steadyMevs),
          1,
        )} | ${label === 'js' ? '1' : range(rs.map((r, i) => last(js[i]).kernelCpuSeconds / last(r).kernelCpuSeconds))} |`,
      );
    }
  }
  console.log(`\n${machine.cores} cores, ${machine.cpu}, node ${machine.node}${machine.asc ? `, asc ${machine.asc}` : ''}. JSON: ${out}`);
  if (mismatch) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
