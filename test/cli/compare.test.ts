// `compare A B` (issue 13, item 9): two summaries or two sweep folders, the
// counters that differ side by side; exit 0; bad inputs one line and exit 2.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareText } from '../../src/cli/compare.js';
import { InputError } from '../../src/errors.js';
import { diffCounters, flattenCounters } from '../../src/report/diff.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const EXAMPLE = path.resolve('reports/example');
const S32 = path.join(EXAMPLE, 'summaries/nic/pageSizes=4K_iotlb=32x4_invalidation.mode=strict.json');
const S64 = path.join(EXAMPLE, 'summaries/nic/pageSizes=4K_iotlb=64x4_invalidation.mode=strict.json');
const load = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));

describe('counters of two summaries', () => {
  it('flattens totals, derived figures and per-device, per-domain and per-page-size rows by their keys', () => {
    const f = flattenCounters(load(S32));
    expect(f.get('totals.iotlb.hits')).toBe(load(S32).totals.iotlb.hits);
    expect(f.has('byDevice[0000:03:00.0].iotlb.hits')).toBe(true);
    expect(f.has('byPageSize[4K].lookups')).toBe(true);
    expect([...f.keys()][0].startsWith('totals.')).toBe(true);
  });

  it("skips only a row's own id: byDomain[d].invalidation.commands.domain is a counter, byDomain[d].domain is not", () => {
    const s = load(S32);
    const f = flattenCounters(s);
    const row = s.byDomain[0];
    expect(f.get(`byDomain[${row.domain}].invalidation.commands.domain`)).toBe(row.invalidation.commands.domain);
    expect(f.has(`byDomain[${row.domain}].domain`)).toBe(false);
    // Every number of a row but its id is counted once: differ + equal is the whole flattened set.
    const { differ, equal } = diffCounters(s, s);
    expect(differ).toEqual([]);
    expect(equal).toBe(f.size);
  });

  it('lists only what differs, with B - A', () => {
    const { differ, equal } = diffCounters(load(S32), load(S64));
    const hits = differ.find((d) => d.counter === 'totals.iotlb.hits')!;
    expect(hits.b! - hits.a!).toBe(load(S64).totals.iotlb.hits - load(S32).totals.iotlb.hits);
    expect(differ.some((d) => d.counter === 'totals.dma.events')).toBe(false);
    expect(equal).toBeGreaterThan(0);
  });

  it('on the command line: a table and a count, exit 0', () => {
    const r = runCli(['compare', S32, S64]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('| counter | A | B | B - A | change |');
    expect(r.stdout).toMatch(/\| totals\.iotlb\.hits \| \d+ \| \d+ \| -?\d+ \| -?[0-9.]+% \|/);
    expect(r.stdout).toMatch(/\d+ counter\(s\) differ, \d+ equal\n$/);
    expect(runCli(['compare', S32, S32]).stdout).toMatch(/all \d+ counters equal\n$/);
  });
});

describe('two sweep folders', () => {
  it('pairs summaries by trace and point, shows only those that differ', () => {
    const d = tmpDir();
    const b = path.join(d, 'b');
    fs.cpSync(EXAMPLE, b, { recursive: true });
    const changed = path.join(b, 'summaries/gpu/pageSizes=4K+2M_iotlb=64x4_invalidation.mode=strict.json');
    const s = load(changed);
    s.totals.walks.count += 1;
    fs.writeFileSync(changed, JSON.stringify(s));
    fs.rmSync(path.join(b, 'summaries/nvme/pageSizes=4K_iotlb=32x4_invalidation.mode=strict.json'));
    const r = runCli(['compare', EXAMPLE, b]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('## gpu/pageSizes=4K+2M_iotlb=64x4_invalidation.mode=strict.json');
    expect(r.stdout).toContain('1 counter(s) differ');
    expect(r.stdout).toContain('## nvme/pageSizes=4K_iotlb=32x4_invalidation.mode=strict.json\n\nonly in A');
    expect(r.stdout).toContain('72 summaries: 70 with every counter equal, 2 different or in one folder only');
  });
});

describe('bad inputs are one line and exit 2', () => {
  const d = tmpDir();
  const notJson = path.join(d, 'x.json');
  fs.writeFileSync(notJson, '{ nope');
  const notSummary = path.join(d, 'y.json');
  fs.writeFileSync(notSummary, '{"a": 1}');
  it.each([
    [[notJson, S32], `Cannot read summary "${notJson}": not valid JSON`],
    [[notSummary, S32], `Cannot read summary "${notSummary}": not an iommu-replay summary (expected "version": 1 and "totals", as replay --json writes)`],
    [[S32, EXAMPLE], 'Cannot compare a file with a folder: give two summary files or two sweep folders'],
    [[d, EXAMPLE], `Cannot compare "${d}": a folder must be a sweep's output, with a summaries/ folder in it`],
  ])('%j', (args, message) => {
    expect(() => compareText(args[0], args[1])).toThrow(new InputError(message));
  });

  it('on the command line', () => {
    const missing = path.join(d, 'missing.json');
    expect(runCli(['compare', missing, S32])).toEqual({ status: 2, stdout: '', stderr: `iommu-replay: Cannot compare "${missing}": no such file\n` });
  });
});
