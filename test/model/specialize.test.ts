// The specialized paging DMA run (src/model/specialize.ts) against the
// generic loop it replaces, on seeded random traces and configurations:
// every counter of the summary must be the same, byte for byte.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { Replay } from '../../src/model/replay.js';
import { laneRunSource, narrowRunSource, narrowWarmUp, pagingRunSource } from '../../src/model/specialize.js';
import { buildSummary } from '../../src/stats/summary.js';
import { stableStringify } from '../../src/json.js';
import { Rng } from '../../src/workloads/rng.js';
import type { Ev } from '../helpers/events.js';
import { consumeInTwo, metaOf, type Meta } from '../helpers/replay.js';
import { randomCase, staleCase } from '../helpers/random-case.js';

function summaryOf(events: Ev[], config: object, meta: Meta, generic: boolean): string {
  const r = new Replay(resolveConfig(config, 'specialize'), metaOf(meta), { generic });
  expect(r.specialized).toBe(!generic);
  consumeInTwo(r, events);
  return stableStringify(buildSummary(r, ['t']));
}

/** Replays the cases of seeds first..last both ways: their summaries must be the same. */
function expectSameBothWays(first: number, last: number, caseOf: (seed: number) => { events: Ev[]; config: object; meta: Meta }): void {
  for (let seed = first; seed <= last; seed++) {
    const { events, config, meta } = caseOf(seed);
    const want = summaryOf(events, config, meta, true);
    const got = summaryOf(events, config, meta, false);
    if (got !== want) expect({ seed, got }).toEqual({ seed, got: want });
  }
}

/**
 * What randomCase leaves out: half the cases get walk caches and a larger
 * IOTLB, a third 16 ways, more than the generated code unrolls (a loop instead).
 */
function withWalkCaches(seed: number, config: Record<string, unknown>): Record<string, unknown> {
  const rng = new Rng(seed * 7919);
  const out = rng.chance(0.5) ? { ...config, walkCache: { sets: 2, ways: 2, policy: 'lru' }, iotlb: { ...(config.iotlb as object), sets: 8 } } : config;
  return rng.chance(0.33) ? { ...out, iotlb: { ...(out.iotlb as object), ways: 16 } } : out;
}

const GROUPS = Array.from({ length: 10 }, (_, g) => [g * 20 + 1, g * 20 + 20] as const);

/** The iova at which rows stop being narrow (specialize.ts NARROW_IOVA_HI: a high word of 512). */
const NARROW_IOVA_END = 2 ** 41;

/**
 * A randomCase whose runs start in the narrow run (specialize.ts hasNarrowRun:
 * no device TLB or walk caches, lru or fifo) and cross out of it: half the
 * cases move every address by 2^41 − 1G, so that the 1G address lands on
 * the first wide row and those below it on the last narrow ones; a few DMAs
 * are 256 MiB, the narrow run's first size too large.
 */
function narrowCase(seed: number): { events: Ev[]; config: Record<string, unknown>; meta: Meta } {
  const { events, config, meta } = randomCase(seed);
  const rng = new Rng(seed * 4111);
  const devices = Object.fromEntries(Object.entries(config.devices as Record<string, object>).map(([d, e]) => [d, { ...e, devtlb: false }]));
  const policy = rng.chance(0.5) ? 'lru' : 'fifo';
  const shift = rng.chance(0.5) ? NARROW_IOVA_END - 2 ** 30 : 0;
  const moved = events.map((e) => {
    const out = { ...e };
    if (typeof e.iova === 'number') out.iova = e.iova + shift;
    if (typeof e.paddr === 'number') out.paddr = e.paddr + shift;
    if ((e.op === 'dma_read' || e.op === 'dma_write') && rng.chance(0.03)) out.size = 2 ** 28;
    return out;
  });
  return { events: moved, config: { ...config, devices, iotlb: { ...(config.iotlb as object), policy } }, meta };
}

/**
 * One device's runs of hundreds of DMAs over a few 4K and 2M pages, some of
 * them wide (2^47) and some unmapped, some of the runs cut by flush-queue
 * deadlines (lazy mode) or by an unmap.
 */
function longRunCase(seed: number): { events: Ev[]; config: Record<string, unknown>; meta: Meta } {
  const rng = new Rng(seed * 7);
  const K4 = 0x1000;
  const M2 = 0x200000;
  const pages = [0, K4, 5 * K4, 64 * K4, 2 ** 40, 2 ** 40 + 3 * M2, 2 ** 47, 2 ** 47 + M2];
  const config = {
    pageSizes: ['4K', '2M'],
    iotlb: { sets: [1, 2, 4][rng.int(3)], ways: [1, 2, 4, 16][rng.int(4)], policy: rng.chance(0.5) ? 'lru' : 'fifo' },
    invalidation: { mode: rng.chance(0.5) ? 'lazy' : 'strict', fqSize: 4, fqTimeoutNs: [50, 5000][rng.int(2)] },
  };
  let ts = 0;
  const events: Ev[] = [{ ts, op: 'attach', device: 0x100, pasid: 0, domain: 1 }];
  for (const iova of pages)
    if (rng.chance(0.8)) events.push({ ts, op: 'map', domain: 1, iova, paddr: iova + M2, size: iova % M2 === 0 && rng.chance(0.5) ? M2 : K4 });
  for (let burst = 0; burst < 4; burst++) {
    const rows = 100 + rng.int(500);
    for (let i = 0; i < rows; i++) {
      ts += 1 + rng.int(20);
      const iova = pages[rng.int(pages.length)] + (rng.chance(0.3) ? rng.int(512) * K4 : 0);
      events.push({ ts, op: rng.chance(0.5) ? 'dma_read' : 'dma_write', device: 0x100, pasid: 0, iova, size: [64, K4, 3 * K4][rng.int(3)] });
    }
    const iova = pages[rng.int(pages.length)];
    events.push({ ts, op: 'unmap', domain: 1, iova, size: K4 });
    events.push({ ts, op: 'map', domain: 1, iova, paddr: iova, size: K4 });
  }
  return { events, config, meta: { domains: { 1: 'paging' } } };
}

/**
 * Several devices, each in a domain of its own, mapping the same few 4K and 2M
 * pages, into a one- or two-set IOTLB of 2 to 8 ways: a set holds one page for
 * several domains (its base matches in several ways, the lowest not always
 * the hit: narrowRunSource's matches a bit each), lazy mode leaves
 * invalidated entries (ghosts) beside valid ones.
 */
function sharedPagesCase(seed: number): { events: Ev[]; config: Record<string, unknown>; meta: Meta } {
  const rng = new Rng(seed * 6007);
  const K4 = 0x1000;
  const M2 = 0x200000;
  const domains = 2 + rng.int(4);
  const pages = [0, K4, 2 * K4, M2, M2 + 7 * K4, 3 * M2];
  const config = {
    pageSizes: ['4K', '2M'],
    iotlb: { sets: [1, 2][rng.int(2)], ways: [2, 3, 4, 8][rng.int(4)], policy: rng.chance(0.5) ? 'lru' : 'fifo' },
    invalidation: { mode: rng.chance(0.5) ? 'lazy' : 'strict', fqSize: 4 },
  };
  const events: Ev[] = [];
  const mapped: boolean[][] = [];
  for (let d = 1; d <= domains; d++) {
    events.push({ ts: 0, op: 'attach', device: 0x100 + d, pasid: 0, domain: d });
    mapped[d] = pages.map(() => false);
  }
  let ts = 0;
  for (let step = 0; step < 600; step++) {
    ts += 1 + rng.int(5);
    const d = 1 + rng.int(domains);
    const p = rng.int(pages.length);
    const iova = pages[p];
    const r = rng.int(10);
    if (r === 0) {
      // A 2M page only where the whole span is free in this domain: a 4K map beside it would overlap.
      const huge = iova % M2 === 0 && rng.chance(0.5) && pages.every((q, j) => j === p || !mapped[d][j] || Math.floor(q / M2) !== iova / M2);
      if (!mapped[d][p]) {
        events.push({ ts, op: 'map', domain: d, iova, paddr: iova + d * 0x40000000, size: huge ? M2 : K4 });
        mapped[d][p] = true;
        if (huge) pages.forEach((q, j) => Math.floor(q / M2) === iova / M2 && (mapped[d][j] = true));
      }
    } else if (r === 1) {
      events.push({ ts, op: 'unmap', domain: d, iova, size: K4 });
    } else {
      events.push({ ts, op: rng.chance(0.5) ? 'dma_read' : 'dma_write', device: 0x100 + d, pasid: 0, iova: iova + rng.int(8) * 64, size: 64 });
    }
  }
  return { events, config, meta: { domains: Object.fromEntries(Array.from({ length: domains }, (_, i) => [i + 1, 'paging'])) } };
}

/**
 * A few 2M spans, each in turn a 2M leaf, 4K leaves under a level-1 table (a
 * map inside the span after the 2M leaf's unmap puts a table where the leaf
 * was), or nothing (an unmap of the whole span frees its table), with DMAs
 * over them between the changes: the walk memo records a 2M leaf's level-2
 * entry (specialize.ts walkSource) and must follow what that entry holds now.
 */
function hugeSpansCase(seed: number): { events: Ev[]; config: Record<string, unknown>; meta: Meta } {
  const rng = new Rng(seed * 3571);
  const K4 = 0x1000;
  const M2 = 0x200000;
  // Spans in one level-2 table and in others; two whose prefixes share a memo slot (128 spans apart).
  const spans = [0, M2, 2 * M2, 128 * M2, 2 ** 29, 2 ** 30 + 5 * M2];
  const config = {
    pageSizes: ['4K', '2M'],
    iotlb: { sets: [1, 2, 4][rng.int(3)], ways: [1, 2, 4][rng.int(3)], policy: rng.chance(0.5) ? 'lru' : 'fifo' },
    invalidation: { mode: rng.chance(0.5) ? 'lazy' : 'strict', fqSize: 4 },
  };
  // Per span: 'huge', or the set of 4K pages mapped (by index in the span).
  const state: ('huge' | Set<number>)[] = spans.map(() => new Set<number>());
  const events: Ev[] = [{ ts: 0, op: 'attach', device: 0x100, pasid: 0, domain: 1 }];
  let ts = 0;
  for (let step = 0; step < 400; step++) {
    ts += 1 + rng.int(5);
    const j = rng.int(spans.length);
    const span = spans[j];
    const st = state[j];
    const page = rng.int(4);
    const r = rng.int(12);
    if (r === 0 && st !== 'huge' && st.size === 0) {
      events.push({ ts, op: 'map', domain: 1, iova: span, paddr: span + 0x40000000 + rng.int(4) * M2, size: M2 });
      state[j] = 'huge';
    } else if (r === 1 && st === 'huge') {
      events.push({ ts, op: 'unmap', domain: 1, iova: span, size: M2 });
      state[j] = new Set();
    } else if (r === 2 && st !== 'huge' && !st.has(page)) {
      events.push({ ts, op: 'map', domain: 1, iova: span + page * K4, paddr: 0x80000000 + rng.int(64) * K4, size: K4 });
      st.add(page);
    } else if (r === 3 && st !== 'huge' && st.has(page)) {
      events.push({ ts, op: 'unmap', domain: 1, iova: span + page * K4, size: K4 });
      st.delete(page);
    } else if (r === 4 && st !== 'huge' && st.size > 0) {
      // The whole span: its level-1 table is freed.
      events.push({ ts, op: 'unmap', domain: 1, iova: span, size: M2 });
      state[j] = new Set();
    } else {
      for (let d = 1 + rng.int(4); d > 0; d--)
        events.push({
          ts,
          op: rng.chance(0.5) ? 'dma_read' : 'dma_write',
          device: 0x100,
          pasid: 0,
          iova: span + rng.int(6) * K4 + rng.int(64) * 64,
          size: [64, K4, 3 * K4][rng.int(3)],
        });
    }
  }
  return { events, config, meta: { domains: { 1: 'paging' } } };
}

describe('specialized paging run equals the generic loop', () => {
  it.each(GROUPS)('random traces, seeds %i..%i: identical summaries', (first, last) => {
    expectSameBothWays(first, last, (seed) => {
      const c = randomCase(seed);
      return { ...c, config: withWalkCaches(seed, c.config) };
    });
  });

  it.each(GROUPS.slice(0, 4))('stale traces, seeds %i..%i: identical summaries', (first, last) => {
    expectSameBothWays(first, last, staleCase);
  });

  it.each(GROUPS.slice(0, 4))('random traces with indexed tables (more than 64 ways), seeds %i..%i: identical summaries', (first, last) => {
    for (let seed = first; seed <= last; seed++) {
      const { events, config, meta } = randomCase(seed);
      const rng = new Rng(seed * 131);
      const policy = (config.iotlb as { policy: string }).policy;
      const ways = policy === 'plru' ? 128 : 65 + rng.int(64);
      const devtlbPolicy = (config.devtlb as { policy: string }).policy;
      const cfg = {
        ...config,
        iotlb: { sets: [1, 2][rng.int(2)], ways, policy },
        devtlb: { sets: 1, ways: devtlbPolicy === 'plru' ? 128 : 70, policy: devtlbPolicy },
      };
      const want = summaryOf(events, cfg, meta, true);
      const got = summaryOf(events, cfg, meta, false);
      if (got !== want) expect({ seed, got }).toEqual({ seed, got: want });
    }
  });

  it.each(GROUPS.slice(0, 5))(
    'one page in several ways of a set (several domains, ghosts beside valid entries), seeds %i..%i: identical summaries',
    (first, last) => {
      expectSameBothWays(first, last, sharedPagesCase);
    },
  );

  it.each(GROUPS.slice(0, 5))('narrow runs crossing into wide rows, seeds %i..%i: identical summaries', (first, last) => {
    expectSameBothWays(first, last, narrowCase);
  });

  it.each(GROUPS.slice(0, 5))(
    "2M leaves replaced by 4K leaves and back under the walk memo's level-2 entries, seeds %i..%i: identical summaries",
    (first, last) => {
      expectSameBothWays(first, last, hugeSpansCase);
    },
  );

  it.each([1, 21, 41])('long runs (more rows than a narrow call takes, specialize.ts NARROW_CALL_ROWS), seeds %i..: identical summaries', (first) => {
    expectSameBothWays(first, first + 19, longRunCase);
  });

  // The replays above make only warm-up calls (NARROW_WARM_ROWS rows a call): these make
  // none, or a few and then long calls, within one run.
  it.each([
    [0, 1],
    [0, 21],
    [3, 41],
    [40, 61],
  ])('long runs after %i warm-up calls of the narrow run (specialize.ts narrowWarmUp), seeds %i..: identical summaries', (calls, first) => {
    const before = narrowWarmUp.calls;
    narrowWarmUp.calls = calls;
    try {
      expectSameBothWays(first, first + 19, longRunCase);
    } finally {
      narrowWarmUp.calls = before;
    }
  });

  it('the walk memo names no freed table: a level-1 table freed and reused under another 2M span is walked afresh (pagetable.ts resetWalkMemo)', () => {
    const K4 = 0x1000;
    const M2 = 0x200000;
    const dma = (ts: number, iova: number): Ev => ({ ts, op: 'dma_read', device: 0x100, pasid: 0, iova, size: 64 });
    const events: Ev[] = [
      { ts: 0, op: 'attach', device: 0x100, pasid: 0, domain: 1 },
      { ts: 0, op: 'map', domain: 1, iova: 0, paddr: 0x1000000, size: M2 },
      // The narrow run records the span's level-1 table in the memo.
      dma(1, 5 * K4),
      // An unmap of the whole span frees that table (VT-d dma_pte_clear_level);
      // a map in the next span takes the freed table page for its own, the page
      // at the same index in it.
      { ts: 2, op: 'unmap', domain: 1, iova: 0, size: M2 },
      { ts: 2, op: 'map', domain: 1, iova: M2 + 5 * K4, paddr: 0x2000000, size: K4 },
      // A walk taken from a stale memo would find that page's leaf here: the walk faults.
      dma(3, 5 * K4),
      dma(4, M2 + 5 * K4),
      dma(5, 5 * K4),
    ];
    for (const mode of ['strict', 'lazy']) {
      // 4K pages only: the 2M map is a level-1 table of 512 leaves.
      const config = { pageSizes: ['4K'], iotlb: { sets: 4, ways: 4, policy: 'lru' }, invalidation: { mode } };
      const meta: Meta = { domains: { 1: 'paging' } };
      const got = summaryOf(events, config, meta, false);
      expect(got).toBe(summaryOf(events, config, meta, true));
      // Strict: the pages past the unmap fault. Lazy: the IOTLB still holds them, and the stale check's walk finds no leaf.
      const dev = (JSON.parse(got) as { byDevice: { dma: { faults: number }; iotlb: { staleHits: number } }[] }).byDevice[0];
      expect(mode === 'strict' ? dev.dma.faults : dev.iotlb.staleHits).toBe(2);
    }
  });

  it('the objects the narrow run reads keep their maps when a double field takes its first double (no "wrong map" deoptimization at its entry)', () => {
    // V8's %HaveSameMap: an object made before the store and one after share their map only if the store changed no representation.
    const url = (f: string) => JSON.stringify(pathToFileURL(path.resolve('dist/src', f)).href);
    const script = `
      const { Rows } = await import(${url('model/rows.js')});
      const { SetAssocTable } = await import(${url('caches/table.js')});
      const { Replacement } = await import(${url('caches/replacement.js')});
      const { PageTablePool } = await import(${url('model/pagetable.js')});
      const { PagingRunContext } = await import(${url('model/specialize.js')});
      const same = (make, field) => { const a = make(), b = make(); a[field] = 2 ** 31 + 0.5; return field + ' ' + %HaveSameMap(a, b); };
      const table = () => new SetAssocTable(4, 4, new Replacement('lru', 4, 4, 1));
      console.log([
        same(() => new Rows(), 'firstRow'),
        same(table, 'windowMaxNs'),
        same(table, 'windowSumNs'),
        same(() => new PageTablePool(4), 'foundBase'),
        same(() => new PageTablePool(4), 'foundPhys'),
        same(() => new PagingRunContext(), 'bytes'),
      ].join('\\n'));`;
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['firstRow true', 'windowMaxNs true', 'windowSumNs true', 'foundBase true', 'foundPhys true', 'bytes true']);
  });

  it("outside the narrow run the policy's hit is one statement after the probe and a fill reads every way (a way's own copy, first reached late, had no type feedback and deoptimized the run)", () => {
    const shape = { orders: [9, 0], sets: 16, levels: 4, granuleOrder: 0, bitsPerLevel: 9, devtlb: false, walkCaches: false, lanes: true };
    for (const [policy, ways, hit] of [
      ['lru', 4, 'tLru4[1024 + (hs)] ='],
      ['lru', 8, 'tStamp[i] = ++clock;'],
      ['plru', 4, 'pol.onHit(hs, '],
    ] as const) {
      for (const src of [pagingRunSource({ ...shape, policy, ways }), laneRunSource({ ...shape, policy, ways })]) {
        const probe = src.slice(src.indexOf('probe: {'), src.indexOf('const i = k, hs'));
        // One block a way for each of 1G, 2M and 4K (every set of those sizes shares the probe).
        expect(probe.match(/break probe;/g)).toHaveLength(3 * ways);
        expect(probe).not.toContain(hit);
        expect(src.split(hit).length - 1).toBe(policy === 'lru' && ways === 8 ? 2 : 1); // stamps: the fill's too
        // The fill's first invalid way: every way read, no chain that stops early.
        expect(src).not.toMatch(/!== 1 \? \d+ :/);
        for (let w = 0; w < ways; w++) expect(src).toContain(`if (tState[first + ${w}] !== 1) way = ${w};`);
      }
    }
  });

  it('the narrow run makes no call and no double page arithmetic in its loop', () => {
    for (const policy of ['lru', 'fifo'] as const) {
      for (const ways of [4, 16]) {
        const src = narrowRunSource({
          orders: [18, 9, 0],
          sets: 16,
          ways,
          policy,
          levels: 4,
          granuleOrder: 0,
          bitsPerLevel: 9,
          devtlb: false,
          walkCaches: false,
          lanes: false,
        });
        // The scan for the run's end and the replay's loop.
        const loop = src.slice(src.indexOf('let stop'), src.lastIndexOf('pol.clock = clock')).replace(/\/\/.*$/gm, '');
        const calls = [...loop.matchAll(/([\w.]+)\s*\(/g)].map((m) => m[1]).filter((w) => !['if', 'for', 'while'].includes(w));
        expect(calls).toEqual([]);
        expect(loop).not.toContain('Math.');
        expect(loop).not.toContain('POW2');
        // A trace's first fault or invalidated miss, late in it, deoptimized the loop: those counts are added on every miss.
        expect(loop).not.toMatch(/faults\+\+|invalidatedMisses\+\+/);
        expect(loop).toContain('faults += p >= 0 ? 1 : 0');
        // An invalidated entry's first match (late in a lazy trace) deoptimized the loop at the test after the hit's: noted before it.
        expect(loop).not.toContain('if (st === 2) ghost = true');
        expect(loop).toMatch(/ghost = st === 2 \|\| ghost;\s+if \(st === 1\)/);
        // Few arrays (compiled code checks each array a loop reads in every iteration): the table through three views
        // (caches/table.ts tableLayout), lru's touch table and orders in one, the counters by order in locals.
        expect(loop).not.toMatch(/\b(tState|tTag|tBase|tOrder|tPhys|tOwner|tUnmapped|live|seen|tOrd4|LRU4_TOUCH)\[/);
        expect(loop).not.toMatch(/order(Lookups|Hits)\[(ho|hb)\]/);
        // The batch's run checks are read by the scan for the run's end, not by the replay's loop.
        const replayLoop = loop.slice(loop.indexOf('for (; row < end; row++)'));
        expect(replayLoop).not.toMatch(/\b(ops|devices|pasids|ts)\[/);
        // Both loops sit in loops that never loop (their body ends in a break), two deep: the call in
        // progress when V8's code arrives ticks at most once, too few to replace them on the stack.
        expect(loop).toMatch(/for \(;;\) \{for \(;;\) \{[^]*for \(; e <= lim; e \+= 4\)[^]*break; \}break; \}/);
        expect(loop).toMatch(/for \(;;\) \{for \(;;\) \{\s*for \(; row < end; row\+\+\)[^]*break; \}break; \}\s*$/);
        expect(loop).toMatch(/if \(x\.warmCalls > 0\) \{\s*x\.warmCalls--;\s*stop = start \+ 8;/);
      }
    }
  });

  it('an indexed table (more than 64 ways) is probed and filled through its methods, not a scan', () => {
    const src = pagingRunSource({ orders: [9, 0], sets: 1, ways: 65, policy: 'lru', levels: 4, devtlb: false, walkCaches: false, lanes: false });
    expect(src).toContain('t.lookup(tag, a, x.orders)');
    expect(src).toContain('t.fill(tag, base, order, phys, dom)');
    expect(src).not.toContain('for (let i = first');
  });

  it('writes the configuration into the source: probe orders, geometry and policy are constants', () => {
    const src = pagingRunSource({ orders: [18, 9, 0], sets: 16, ways: 4, policy: 'lru', levels: 4, devtlb: false, walkCaches: false, lanes: false });
    expect(src).toContain('tOrder[i] === 18');
    expect(src).toContain('(page & tMask) * 4');
    expect(src).toContain('tLru4[1024 + (set)] = tLru4[tLru4[1024 + (set)] * 4 + (way)]'); // lru over 4 ways: a recency order per set
    expect(pagingRunSource({ orders: [0], sets: 1, ways: 8, policy: 'lru', levels: 4, devtlb: false, walkCaches: false, lanes: false })).toContain(
      'tStamp[i] = ++clock',
    );
    expect(src).not.toContain('devtlb.lookup');
    expect(src).not.toContain('cachedWalk(');
    // Four ways: one block per way, no loop; sixteen: a loop.
    expect(src).not.toContain('for (let i = first');
    expect(pagingRunSource({ orders: [0], sets: 1, ways: 16, policy: 'lru', levels: 4, devtlb: false, walkCaches: false, lanes: false })).toContain(
      'for (let i = first; i < first + 16; i++)',
    );
  });

  it('tables differing only in their number of sets share one source (the set mask is read from the table, once): a sweep over IOTLB sizes compiles each run once', () => {
    const shape = { orders: [9, 0], sets: 16, ways: 4, policy: 'lru', levels: 4, devtlb: false, walkCaches: false, lanes: false } as const;
    expect(pagingRunSource({ ...shape, sets: 64 })).toBe(pagingRunSource(shape));
    expect(laneRunSource({ ...shape, sets: 64 })).toBe(laneRunSource(shape));
    // The narrow run keeps its constants: its layout's offsets depend on the table's size anyway.
    expect(narrowRunSource(shape)).toContain('& 15');
  });

  it('every set of 4K, 2M and 1G pages shares one paging and lane source (each order skipped unless the run has it): a sweep over those page-size sets compiles each run once', () => {
    const shape = { sets: 16, ways: 4, policy: 'lru', levels: 4, granuleOrder: 0, bitsPerLevel: 9, devtlb: false, walkCaches: false } as const;
    const sets = [[0], [9, 0], [18, 9, 0], [18, 0], [9], [18]];
    for (const lanes of [false, true]) expect(new Set(sets.map((orders) => pagingRunSource({ ...shape, orders, lanes }))).size).toBe(1);
    expect(new Set(sets.map((orders) => laneRunSource({ ...shape, orders }))).size).toBe(1);
    const src = laneRunSource({ ...shape, orders: [0] });
    // The run's orders as bits, read as it starts; each of the three probed only when the table holds its order and the run has it.
    expect(src).toContain('for (let oi = 0; oi < probeOrders.length; oi++) useMask |= 1 << probeOrders[oi];');
    for (const o of [18, 9, 0]) {
      expect(src).toContain(`if (live[${o}] !== 0 && (useMask & ${2 ** o}) !== 0)`);
      expect(src).toContain(`tOrder[i] === ${o}`);
    }
    // Other sizes (AMD's 8K, a 16K or 64K granule) keep their own orders, with no mask.
    for (const orders of [
      [9, 1, 0],
      [13, 2],
      [17, 4],
    ]) {
      const own = laneRunSource({ ...shape, orders });
      expect(own).not.toContain('useMask');
      expect(own.match(/if \(live\[\d+\] !== 0\)/g)).toHaveLength(orders.length);
    }
    // The narrow run keeps the set's own orders (its own source for each set).
    expect(narrowRunSource({ ...shape, orders: [9, 0], lanes: false })).not.toBe(narrowRunSource({ ...shape, orders: [0], lanes: false }));
    expect(narrowRunSource({ ...shape, orders: [9, 0], lanes: false })).not.toContain('useMask');
  });

  it("consume's loop is a method with no code before its loop (a first call's code before a loop has no type feedback: the compiled consume deoptimized there)", () => {
    const src = (Replay.prototype as unknown as { rowLoop: () => void }).rowLoop.toString();
    expect(src).toMatch(/^rowLoop\([^)]*\)\s*\{\s*for \(/);
  });
});
