// `fit` (issue 29): a synthetic machine (the model itself, known geometry and costs, seeded noise) is recovered;
// bad measurements get one line and exit 2; --predict replays a fit's configuration.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { replayRows, windowGranuleOf, type MeasuredRow } from '../../src/run/fit.js';
import { Rng } from '../../src/workloads/rng.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const EVENTS = 40_000;
const WINDOWS = ['64K', '256K', '384K', '512K', '768K', '1M', '2M', '4M', '16M'];
const TRUE_FIXED_NS = 20;
const TRUE_WALK_ACCESS_NS = 9; // 4 accesses a 4K walk: a miss costs 36 ns

/** The synthetic machine's rates: the model with a 128-entry 4-way IOTLB and the true costs, times 1 +- 1 % seeded noise. */
async function syntheticCsv(dir: string): Promise<string> {
  const rows: MeasuredRow[] = WINDOWS.map((w, i) => ({ line: i + 2, trace: `window:${w}:64`, unit: 'transactions/s', measured: 1 }));
  const config = resolveConfig({ pageSizes: ['4K'], iotlb: { entries: 128, ways: 4 } });
  const counts = await replayRows(rows, [{ label: 'truth', config }], { events: EVENTS, seed: 1 });
  const rng = new Rng(7);
  const lines = rows.map((r) => {
    const c = counts.get(r.trace)![0];
    const ns = TRUE_FIXED_NS + TRUE_WALK_ACCESS_NS * c.walkAccessesPer;
    return `${r.trace},${((1e9 / ns) * (1 + 0.02 * (rng.float() - 0.5))).toFixed(1)}`;
  });
  const file = path.join(dir, 'synthetic.csv');
  fs.writeFileSync(file, ['# a synthetic machine', 'trace,rate', ...lines].join('\n') + '\n');
  return file;
}

describe('fit', () => {
  it('recovers a synthetic machine: its IOTLB size wins, its costs come back within a few percent', async () => {
    const dir = tmpDir();
    const csv = await syntheticCsv(dir);
    const out = path.join(dir, 'out');
    const r = runCli(['fit', csv, '--page-sizes', '4K', '--iotlb', '64x4', '128x4', '256x4', '128xfull', '--events', String(EVENTS), '--out', out]);
    expect(r.stderr).toMatch(/^128x(4|full) lru: worst error/);
    expect(r.status).toBe(0);
    const fit = JSON.parse(fs.readFileSync(path.join(out, 'fit.json'), 'utf8'));
    const best = fit.candidates[0];
    expect(best.configuration.iotlb.entries).toBe(128);
    // 4-way and fully associative LRU cannot be told apart on uniform random reads: both tie.
    expect(fit.ties).toContain('128x4 lru');
    expect(fit.ties).not.toContain('64x4 lru');
    expect(best.worstError).toBeLessThan(0.02);
    expect(best.costs.fixedNs).toBeGreaterThan(TRUE_FIXED_NS * 0.97);
    expect(best.costs.fixedNs).toBeLessThan(TRUE_FIXED_NS * 1.03);
    expect(best.missCostNs).toBeGreaterThan(4 * TRUE_WALK_ACCESS_NS * 0.95);
    expect(best.missCostNs).toBeLessThan(4 * TRUE_WALK_ACCESS_NS * 1.05);
    // With one lookup a transaction, hits = 1 - misses: the hit cost cannot be told from the fixed time.
    expect(best.notSeparable).toEqual(['iotlbHitNs']);
    expect(best.predictions).toHaveLength(WINDOWS.length);
    // The best configuration is one replay takes as it is.
    const best2 = path.join(out, 'best-config.json');
    expect(runCli(['replay', path.resolve('traces/nic.arrows'), '--config', best2, '--json', path.join(dir, 's.json')]).status).toBe(0);
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('<svg');
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toContain('## Candidates');

    // --predict: the same rows, the fitted configuration and costs, no fitting: the same predictions.
    const pred = path.join(dir, 'pred');
    const p = runCli(['fit', '--predict', path.join(out, 'fit.json'), csv, '--events', String(EVENTS), '--out', pred, '--quiet']);
    expect(p.stderr).toBe('');
    expect(p.status).toBe(0);
    const pj = JSON.parse(fs.readFileSync(path.join(pred, 'fit.json'), 'utf8'));
    expect(pj.kind).toBe('predict');
    expect(pj.candidates).toHaveLength(1);
    expect(pj.candidates[0].worstError).toBeCloseTo(best.worstError, 9);
    // Deterministic: the same inputs give the same bytes.
    const again = path.join(dir, 'again');
    expect(runCli(['fit', '--predict', path.join(out, 'fit.json'), csv, '--events', String(EVENTS), '--out', again, '--quiet']).status).toBe(0);
    for (const f of fs.readdirSync(pred)) expect(fs.readFileSync(path.join(again, f)).equals(fs.readFileSync(path.join(pred, f))), f).toBe(true);

    // rate_bytes: bytes per second over the trace's 64 bytes a transaction, the same predictions.
    const bytesCsv = path.join(dir, 'bytes.csv');
    const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
    fs.writeFileSync(bytesCsv, ['trace,rate_bytes', ...lines.slice(2).map((l) => `${l.split(',')[0]},${Number(l.split(',')[1]) * 64}`)].join('\n') + '\n');
    const bytes = path.join(dir, 'bytes');
    expect(runCli(['fit', '--predict', path.join(out, 'fit.json'), bytesCsv, '--events', String(EVENTS), '--out', bytes, '--quiet']).status).toBe(0);
    const bj = JSON.parse(fs.readFileSync(path.join(bytes, 'fit.json'), 'utf8'));
    expect(bj.candidates[0].predictions[0].unit).toBe('bytes/s');
    bj.candidates[0].predictions.forEach((p: { error: number }, i: number) => expect(p.error).toBeCloseTo(pj.candidates[0].predictions[i].error, 9));
  }, 240_000);

  it('window:...:warm counts only the transfers after as many again warmed the IOTLB: a window it holds never misses', async () => {
    const rows: MeasuredRow[] = ['window:256K:64', 'window:256K:64:warm'].map((trace, i) => ({ line: i + 2, trace, unit: 'transactions/s', measured: 1 }));
    const config = resolveConfig({ pageSizes: ['4K'], iotlb: { entries: 128, ways: 4 } });
    const counts = await replayRows(rows, [{ label: '128x4', config }], { events: 5000, seed: 1 });
    const cold = counts.get('window:256K:64')![0];
    const warm = counts.get('window:256K:64:warm')![0];
    expect(cold.walksPer * cold.transactions).toBeCloseTo(64, 6); // each of the window's 64 pages misses once
    expect(warm.walksPer).toBe(0);
    expect(warm.hitsPer).toBe(1);
    expect(warm.transactions).toBe(5000);
  }, 120_000);

  it("generates window traces in the candidates' granule: a 64K-page domain maps window:64K:64:buffer=100K as 128K, no fault", async () => {
    // Before, the generated traces were 4K-granule whatever the page sizes: under 64K pages every DMA faulted and fit refused.
    const dir = tmpDir();
    const csv = path.join(dir, 'granule.csv');
    fs.writeFileSync(csv, 'trace,rate\nwindow:64K:64:buffer=100K,5e7\nwindow:1M:64,3e7\nwindow:16M:64:warm,2e7\n');
    const out = path.join(dir, 'out64k');
    const r = runCli(['fit', csv, '--page-sizes', '64K', '--iotlb', '16x4', '--events', '2000', '--out', out, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // --predict a 4K fit on the same machine with 64K pages: the same granule rule.
    const out4k = path.join(dir, 'out4k');
    expect(runCli(['fit', csv, '--page-sizes', '4K', '--iotlb', '16x4', '--events', '2000', '--out', out4k, '--quiet']).status).toBe(0);
    const p = runCli([
      'fit',
      '--predict',
      path.join(out4k, 'fit.json'),
      csv,
      '--page-sizes',
      '64K',
      '--events',
      '2000',
      '--out',
      path.join(dir, 'p'),
      '--quiet',
    ]);
    expect(p.stderr).toBe('');
    expect(p.status).toBe(0);
    // Candidates of different granules in one call: each replays the trace of its own (a 4K trace would fault under 64K).
    const rows: MeasuredRow[] = [{ line: 2, trace: 'window:64K:64:buffer=100K', unit: 'transactions/s', measured: 1 }];
    const configs = ['4K', '16K', '64K'].map((s) => resolveConfig({ pageSizes: [s], iotlb: { entries: 16, ways: 4 } }));
    expect(configs.map(windowGranuleOf)).toEqual([4096, 16384, 65536]);
    const counts = (
      await replayRows(
        rows,
        configs.map((config, i) => ({ label: String(i), config })),
        { events: 2000, seed: 1 },
      )
    ).get(rows[0].trace)!;
    // A 64K window is 16 pages of 4K, 4 of 16K, 1 of 64K: a 16-entry IOTLB misses each once, cold.
    expect(counts.map((c) => Math.round(c.walksPer * c.transactions))).toEqual([16, 4, 1]);
  }, 120_000);

  it('says so when there are no more measurements than cost terms (any candidate fits exactly)', () => {
    const dir = tmpDir();
    const csv = path.join(dir, 'two.csv');
    fs.writeFileSync(csv, 'trace,rate\nwindow:16K:64,5e7\nwindow:64M:64,2e7\n');
    const out = path.join(dir, 'out');
    expect(runCli(['fit', csv, '--iotlb', '64x4', '--events', '2000', '--out', out, '--quiet']).status).toBe(0);
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toContain('Only 2 measurement(s) for 2 cost terms');
  }, 120_000);

  describe('bad measurements: one line, exit 2, no output', () => {
    const dir = tmpDir();
    const cases: [string, string, RegExp][] = [
      ['no rate column', 'trace,speed\nwindow:4M:64,1e6\n', /line 1: the header has no "rate" \(transactions per second\) or "rate_bytes"/],
      ['no trace column', 'window,rate\n4M,1e6\n', /line 1: the header has no "trace" column/],
      ['a rate that is no number', 'trace,rate\nwindow:4M:64,fast\n', /line 2: rate "fast" is not a positive number/],
      ['a negative rate', '# note\ntrace,rate\nwindow:4M:64,-5\n', /line 3: rate "-5" is not a positive number/],
      ['an unknown workload description', 'trace,rate\nnic:4M:64,1e6\n', /line 2: unknown workload description "nic:4M:64"/],
      ['a window description with a bad size', 'trace,rate\nwindow:big:64,1e6\n', /line 2: window "big" in "window:big:64" is not a size/],
      ['a missing trace file', 'trace,rate\nnope.arrows,1e6\n', /line 2: trace "nope.arrows" does not exist/],
      ['a short row', 'trace,rate\nwindow:4M:64\n', /line 2: 1 field\(s\), the header \(line 1\) has 2/],
      ['no rows', 'trace,rate\n', /no measurements after the header/],
    ];
    for (const [what, text, message] of cases) {
      it(what, () => {
        const csv = path.join(dir, `${what.replace(/\W+/g, '-')}.csv`);
        fs.writeFileSync(csv, text);
        const out = path.join(dir, `out-${what.replace(/\W+/g, '-')}`);
        const r = runCli(['fit', csv, '--out', out]);
        expect(r.status).toBe(2);
        expect(r.stderr.split('\n')).toHaveLength(2);
        expect(r.stderr).toMatch(/^iommu-replay: (Invalid|Cannot read) measurements /);
        expect(r.stderr).toMatch(message);
        expect(fs.existsSync(out)).toBe(false);
      });
    }

    it('a window too large for --max-table-memory names its measurement', () => {
      const csv = path.join(dir, 'huge.csv');
      fs.writeFileSync(csv, 'trace,rate\nwindow:4K:64,5e7\nwindow:1T:64,1e7\n');
      const out = path.join(dir, 'out-huge');
      const r = runCli(['fit', csv, '--page-sizes', '4K', '--iotlb', '64x4', '--events', '2000', '--max-table-memory', '2M', '--out', out]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(
        /^iommu-replay: Cannot replay "window:1T:64" \(measurements line 3\): Stopped at row 1: .* over the 2 MiB limit; raise it with --max-table-memory\n$/,
      );
      expect(fs.existsSync(out)).toBe(false);
    });

    it('a --predict file that is no fit', () => {
      const csv = path.join(dir, 'ok.csv');
      fs.writeFileSync(csv, 'trace,rate\nwindow:4M:64,1e6\n');
      const bogus = path.join(dir, 'bogus.json');
      fs.writeFileSync(bogus, '{"name": "x"}');
      const r = runCli(['fit', '--predict', bogus, csv, '--out', path.join(dir, 'p')]);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`iommu-replay: Invalid fit "${bogus}": expected the fit.json that \`iommu-replay fit\` writes (candidates[0] is missing)\n`);
    });
  });
});
