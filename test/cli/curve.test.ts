import * as A from 'apache-arrow';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { withIotlb } from '../../src/run/curve.js';
import { replayTrace } from '../../src/run/run.js';
import { writeTrace } from '../../src/trace/writer.js';
import { runCli, tmpDir } from '../helpers/cli.js';
import { batchOf } from '../helpers/events.js';

const NIC = path.resolve('traces/nic.arrows');

describe('curve command', () => {
  it('writes curves.arrow with the documented columns, curves.json, report.md and report.html; same input, same bytes', async () => {
    const d = tmpDir();
    const args = ['curve', NIC, '--page-sizes', '4K,2M', '--mode', 'lazy', '--max-entries', '64', '--opt', '--quiet', '--out'];
    const r = runCli([...args, d]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.readdirSync(d).sort()).toEqual(['curves.arrow', 'curves.json', 'manifest.json', 'report.html', 'report.md']);
    const t = A.tableFromIPC(fs.readFileSync(path.join(d, 'curves.arrow')));
    expect(t.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'trace:Utf8',
      'pageSizes:Utf8',
      'mode:Utf8',
      'vendor:Utf8',
      'policy:Utf8',
      'ways:Uint32',
      'sets:Uint32',
      'entries:Uint32',
      'lookups:Int64',
      'hits:Int64',
      'misses:Int64',
      'staleHits:Int64',
      'walks:Int64',
      'walkAccesses:Int64',
      'faults:Int64',
      'hitRate:Float64',
      'translationCostNs:Float64',
    ]);
    expect(t.numRows).toBe(2 * 64);
    // A point of the curve is the replay at that geometry.
    const rows = t.toArray().map((x) => x.toJSON());
    const p32 = rows.find((x) => x.pageSizes === '4K+2M' && x.policy === 'lru' && x.entries === 32)!;
    const s = await replayTrace([NIC], withIotlb(resolveConfig({ pageSizes: ['4K', '2M'], invalidation: { mode: 'lazy' } }), 1, 32, 'lru'));
    expect([
      Number(p32.lookups),
      Number(p32.hits),
      Number(p32.staleHits),
      Number(p32.walks),
      Number(p32.walkAccesses),
      Number(p32.faults),
      p32.translationCostNs,
    ]).toEqual([
      s.totals.iotlb.lookups,
      s.totals.iotlb.hits,
      s.totals.iotlb.staleHits,
      s.totals.walks.count,
      s.totals.walks.memoryAccesses,
      s.totals.dma.faults,
      s.totals.costNs.translation,
    ]);
    const j = JSON.parse(fs.readFileSync(path.join(d, 'curves.json'), 'utf8'));
    expect(j.curves.map((c: { policy: string; knees: unknown[] }) => [c.policy, c.knees.length])).toEqual([
      ['lru', 3],
      ['opt', 3],
    ]);
    expect(fs.readFileSync(path.join(d, 'report.html'), 'utf8')).toContain('<svg');
    expect(fs.readFileSync(path.join(d, 'report.md'), 'utf8')).toContain('## Knees');
    const d2 = tmpDir();
    expect(runCli([...args, d2]).status).toBe(0);
    for (const f of fs.readdirSync(d)) expect(fs.readFileSync(path.join(d2, f)).equals(fs.readFileSync(path.join(d, f)))).toBe(true);
  });

  it('reach of a multi-size bitmap is the knee times the page sizes the translations used (issue: "2 (NaN B at 4K+2M)")', () => {
    // docs/curves.md's worked example: a 4 MiB window mapped with 2M pages needs 2 entries.
    const d = tmpDir();
    const trace = path.join(d, 'w4M.arrows');
    expect(runCli(['gen', 'window', '--window', '4M', '--events', '20000', '--fragmentation', '0', '-o', trace]).status).toBe(0);
    const out = path.join(d, 'out');
    expect(runCli(['curve', trace, '--page-sizes', '4K', '4K+2M', '--max-entries', '2048', '--quiet', '--out', out]).status).toBe(0);
    const j = JSON.parse(fs.readFileSync(path.join(out, 'curves.json'), 'utf8'));
    const knee99 = (pageSizes: string) => j.curves.find((c: { pageSizes: string }) => c.pageSizes === pageSizes).knees[2];
    expect(knee99('4K+2M')).toEqual({ fraction: 0.99, entries: 2, reachBytes: { '2M': 4 * 2 ** 20 } });
    expect(knee99('4K').reachBytes).toEqual({ '4K': knee99('4K').entries * 4096 });
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(md).toContain('| 2 (4.0 MiB at 2M) |');
    expect(md).not.toContain('NaN');
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).not.toContain('NaN');
  });

  it('a lazy curve says how many maps reused an IOVA still in the flush queue, as replay and sweep do (LRU stack, points, OPT); a strict one does not', () => {
    const d = tmpDir();
    const r = runCli(['curve', NIC, '--mode', 'strict', 'lazy', '--max-entries', '16', '--opt', '--quiet', '--out', d]);
    expect(r.status).toBe(0);
    const curves = JSON.parse(fs.readFileSync(path.join(d, 'curves.json'), 'utf8')).curves;
    for (const c of curves) expect(c.reusedBeforeFlush, `${c.mode} ${c.policy}`).toEqual(c.mode === 'lazy' ? { maps: 2139, pages: 2380 } : undefined);
    const md = fs.readFileSync(path.join(d, 'report.md'), 'utf8');
    const note = '> 2,139 of 3,251 successful maps reused an IOVA still waiting in the flush queue';
    expect(md.split(note).length - 1).toBe(2); // the lazy LRU and OPT curves
    expect(fs.readFileSync(path.join(d, 'report.html'), 'utf8')).toContain('2,139 of 3,251 successful maps reused');
    const points = tmpDir();
    expect(runCli(['curve', NIC, '--mode', 'lazy', '--ways', '4', '--max-entries', '16', '--quiet', '--out', points]).status).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(points, 'curves.json'), 'utf8')).curves[0].reusedBeforeFlush).toEqual({ maps: 2139, pages: 2380 });
  });

  it('--jobs 2 and --jobs 1 write the same bytes', () => {
    const [a, b] = [tmpDir(), tmpDir()];
    const args = ['curve', NIC, path.resolve('traces/sva.arrows'), '--page-sizes', '4K', '4K,2M', '--max-entries', '32', '--quiet', '--out'];
    expect(runCli([...args, a, '--jobs', '2']).status).toBe(0);
    expect(runCli([...args, b, '--jobs', '1']).status).toBe(0);
    for (const f of fs.readdirSync(a)) expect(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f)))).toBe(true);
  });

  it('a trace with nested domains is replayed as exact points (its walks are two-stage), and --opt says it cannot bound it', async () => {
    const d = tmpDir();
    const trace = path.join(d, 'vmn.arrows');
    expect(runCli(['gen', 'vm-nested', '-o', trace, '--events', '4000']).status).toBe(0);
    const out = path.join(d, 'out');
    const r = runCli(['curve', trace, '--max-entries', '16', '--out', out]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('the trace has nested domains');
    const t = A.tableFromIPC(fs.readFileSync(path.join(out, 'curves.arrow')));
    expect(t.getChild('entries')!.toArray()).toEqual(Uint32Array.from([1, 2, 4, 8, 16]));
    const p8 = t
      .toArray()
      .map((x) => x.toJSON())
      .find((x) => x.entries === 8)!;
    const s = await replayTrace([trace], withIotlb(resolveConfig({}), 1, 8, 'lru'));
    expect([Number(p8.hits), Number(p8.walkAccesses)]).toEqual([s.totals.iotlb.hits, s.totals.walks.memoryAccesses]);
    const o = runCli(['curve', trace, '--opt', '--max-entries', '16', '--out', path.join(d, 'o')]);
    expect(o.stderr).toBe(
      `iommu-replay: Cannot bound "${trace}" with --opt: it has nested domains (two-stage walks), which the OPT bound does not model; run without --opt\n`,
    );
    expect(o.status).toBe(2);
  });

  it('fifo has no stack property: replayed as points at the powers of two, and says so', () => {
    const d = tmpDir();
    const r = runCli(['curve', NIC, '--policy', 'fifo', '--max-entries', '16', '--out', d]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('fifo has no stack property');
    const t = A.tableFromIPC(fs.readFileSync(path.join(d, 'curves.arrow')));
    expect(t.getChild('entries')!.toArray()).toEqual(Uint32Array.from([1, 2, 4, 8, 16]));
  });

  it("the configuration's iotlb.policy is the curve's policy unless --policy is given (a fifo configuration was curved as lru)", () => {
    const cfg = path.join(tmpDir(), 'fifo.json');
    fs.writeFileSync(cfg, JSON.stringify({ iotlb: { entries: 64, ways: 4, policy: 'fifo' } }));
    const policyOf = (extra: string[]) => {
      const d = tmpDir();
      const r = runCli(['curve', NIC, '--config', cfg, '--max-entries', '8', '--quiet', '--out', d, ...extra]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const t = A.tableFromIPC(fs.readFileSync(path.join(d, 'curves.arrow')));
      return [...new Set(t.getChild('policy')!.toArray() as string[])];
    };
    expect(policyOf([])).toEqual(['fifo']);
    expect(policyOf(['--policy', 'lru'])).toEqual(['lru']);
  });

  it('4 ways: every power-of-two number of sets', () => {
    const d = tmpDir();
    expect(runCli(['curve', NIC, '--ways', '4', '--max-entries', '32', '--out', d, '--quiet']).status).toBe(0);
    const t = A.tableFromIPC(fs.readFileSync(path.join(d, 'curves.arrow')));
    expect(t.getChild('sets')!.toArray()).toEqual(Uint32Array.from([1, 2, 4, 8]));
  });

  it('a configuration with walk caches: one line naming the file, exit 2, no output', () => {
    const dir = tmpDir();
    const cfg = path.join(dir, 'wc.json');
    fs.writeFileSync(cfg, JSON.stringify({ walkCache: { entries: 16, ways: 4 } }));
    const d = path.join(dir, 'out');
    const r = runCli(['curve', NIC, '--config', cfg, '--out', d]);
    expect(r.stderr).toBe(`iommu-replay: Invalid config "${cfg}": walkCache: curves do not follow walk caches; remove it\n`);
    expect(r.status).toBe(2);
    expect(fs.existsSync(d)).toBe(false);
  });

  it.each([
    [['--max-entries', '0'], "iommu-replay: Invalid option --max-entries: expected an integer in 1..1048576, got '0'\n"],
    [['--ways', '3x'], 'iommu-replay: Invalid option --ways: expected full or an integer in 1..4096, got 3x\n'],
    [['--ways', '4', '--opt'], 'iommu-replay: Invalid option --opt: OPT is computed for the fully associative curve (--ways full)\n'],
    [['--policy', 'mru'], 'iommu-replay: Invalid option --policy: expected one of lru, fifo, plru, random, flush-when-full, got mru\n'],
    // Issue 25: sizes without a bound on time or memory are refused before any work.
    [['--max-entries', String(2 ** 24)], "iommu-replay: Invalid option --max-entries: expected an integer in 1..1048576, got '16777216'\n"],
    [
      ['--max-entries', String(2 ** 20), '--opt'],
      'iommu-replay: Invalid option --max-entries: 2 curve(s) of 1..1048576 entries (2,097,152 points) need about 1.2 GiB, over the 384 MiB limit; lower --max-entries or raise --max-table-memory\n',
    ],
    [
      ['--max-entries', '4096', '--page-sizes', '4K', '4K,2M', '--max-table-memory', '4M'],
      'iommu-replay: Invalid option --max-entries: 2 curve(s) of 1..4096 entries (8,192 points) need about 4.7 MiB, over the 4 MiB limit; lower --max-entries or raise --max-table-memory\n',
    ],
    [['--max-table-memory', 'lots'], 'iommu-replay: Invalid option --max-table-memory: expected a size like 512M, 4G or 1T, got "lots"\n'],
  ])('bad option %j: one line, exit 2, no output', (extra, message) => {
    const d = path.join(tmpDir(), 'out');
    const r = runCli(['curve', NIC, '--out', d, ...extra]);
    expect(r.stderr).toBe(message);
    expect(r.status).toBe(2);
    expect(fs.existsSync(d)).toBe(false);
  });
});

describe('a size with no lookups', () => {
  it("has hitRate null (n/a) in curves.arrow, curves.json and report.md, as in replay's summary", async () => {
    const d = tmpDir();
    const trace = path.join(d, 'no-dma.arrows');
    await writeTrace(trace, {}, [
      batchOf([
        { op: 'attach', device: 0x300, pasid: 0, domain: 1 },
        { op: 'map', domain: 1, iova: 0x1000, paddr: 0x5000, size: 0x1000 },
      ]),
    ]);
    const out = path.join(d, 'c');
    const r = runCli(['curve', trace, '--max-entries', '2', '--out', out, '--jobs', '1', '--quiet']);
    expect(r.stderr).toBe('');
    const t = A.tableFromIPC(fs.readFileSync(path.join(out, 'curves.arrow')));
    expect(t.getChild('hitRate')!.toArray().length).toBe(2);
    expect([0, 1].map((i) => t.get(i)!.hitRate)).toEqual([null, null]);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'curves.json'), 'utf8')).curves[0].largest.hitRate).toBeNull();
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(/\| 2 \| 1 \| n\/a \|/);
    expect(JSON.parse(runCli(['replay', trace, '--iotlb', '2xfull', '--json', '-']).stdout).totals.iotlb.hitRate).toBeNull();
  });
});
