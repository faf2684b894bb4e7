// Sweeps that resume exactly, save as they go, group files, and leave nothing
// behind when they fail (issue 13, items 5, 6 and 8; issue 19, the two sweep items).
import * as A from 'apache-arrow';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resumeKey, traceIdentity } from '../../src/cli/resume.js';
import { traceGroup, traceNames } from '../../src/cli/sweep.js';
import { resolveConfig } from '../../src/config/config.js';
import { MAX_POINTS_PER_TASK, planTasks, runSweep } from '../../src/run/sweep.js';
import { replayTrace } from '../../src/run/run.js';
import { rowOf } from '../../src/report/compare.js';
import { stableStringify } from '../../src/json.js';
import { writeTrace } from '../../src/trace/writer.js';
import { batchOf } from '../helpers/events.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');
const SVA = path.resolve('traces/sva.arrows');
const NVME = path.resolve('traces/nvme.arrows');
const GPU = path.resolve('traces/gpu.arrows');

function read(dir: string, file: string): Buffer {
  return fs.readFileSync(path.join(dir, file));
}

describe('--resume reuses exactly the same trace, configuration and tool version', () => {
  it('the key changes with the configuration, the trace content and its size; not with its path', () => {
    const d = tmpDir();
    const copy = path.join(d, 'moved.arrows');
    fs.copyFileSync(SVA, copy);
    const c70 = resolveConfig({});
    const c500 = resolveConfig({ costs: { walkAccess: 500 } });
    const k = resumeKey(traceIdentity([SVA]), c70);
    expect(resumeKey(traceIdentity([copy]), c70)).toBe(k);
    expect(resumeKey(traceIdentity([SVA]), c500)).not.toBe(k);
    expect(resumeKey(traceIdentity([SVA, NIC]), c70)).not.toBe(k);
    const bytes = fs.readFileSync(copy);
    bytes[bytes.length - 100] ^= 1; // a change near the end (a file's footer, a stream's last batch)
    fs.writeFileSync(copy, bytes);
    expect(resumeKey(traceIdentity([copy]), c70)).not.toBe(k);
  });

  it('a walk cost of 500 does not reuse the summaries of a walk cost of 70', () => {
    const d = tmpDir();
    const out = path.join(d, 'out');
    const cfg = path.join(d, 'c.json');
    fs.writeFileSync(cfg, JSON.stringify({ costs: { walkAccess: 70 } }));
    const args = ['sweep', SVA, '--config', cfg, '--iotlb', '32x4', '--out', out, '--quiet', '--jobs', '1'];
    expect(runCli(args).status).toBe(0);
    fs.writeFileSync(cfg, JSON.stringify({ costs: { walkAccess: 500 } }));
    expect(runCli([...args, '--resume']).status).toBe(0);
    const s = JSON.parse(read(out, 'summaries/sva/iotlb=32x4.json').toString());
    expect(s.config.costs.walkAccess).toBe(500);
    expect(s.totals.costNs.translation).toBe(s.totals.iotlb.hits * 2 + s.totals.walks.memoryAccesses * 500);
    const t = A.tableFromIPC(read(out, 'results.arrow'));
    expect(JSON.parse(t.schema.metadata.get('iommu-replay.points')!)[0].config.costs.walkAccess).toBe(500);
  });
});

describe('results.arrow', () => {
  it("counts are int64 columns, rates and costs float64; metadata has the versions and each point's configuration", () => {
    const out = path.join(tmpDir(), 'o');
    expect(runCli(['sweep', SVA, '--iotlb', '32x4', '64x8', '--out', out, '--quiet', '--jobs', '1']).status).toBe(0);
    const t = A.tableFromIPC(read(out, 'results.arrow'));
    const type = (name: string) => String(t.schema.fields.find((f) => f.name === name)?.type);
    for (const c of ['dma_events', 'walk_accesses', 'invalidation_commands', 'stale_hits', 'stale_window_max_ns', 'peak_table_pages', 'map_pages_4K'])
      expect(type(c), c).toBe('Int64');
    for (const c of ['iotlb_hit_rate', 'invalidation_cost_ns', 'translation_cost_ns']) expect(type(c), c).toBe('Float64');
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
    expect(t.schema.metadata.get('iommu-replay.version')).toBe(pkg.version);
    expect(t.schema.metadata.get('iommu-replay.spec_version')).toBe('1');
    const points = JSON.parse(t.schema.metadata.get('iommu-replay.points')!);
    expect(points.map((p: { label: string }) => p.label)).toEqual(['iotlb=32x4', 'iotlb=64x8']);
    expect(points[1].config.iotlb).toEqual({ entries: 64, policy: 'lru', sets: 8, ways: 8 });
  });
});

describe('summaries are saved as points finish', () => {
  it('a task holds at most MAX_POINTS_PER_TASK points, so one trace and one job still finish in steps', () => {
    const tasks = planTasks([['a']], 12, 1);
    expect(tasks.map((t) => t.pointIndexes.length)).toEqual([6, 6]);
    expect(MAX_POINTS_PER_TASK).toBe(6);
    expect(planTasks([['a']], 13, 1).map((t) => t.pointIndexes.length)).toEqual([5, 5, 3]);
    expect(planTasks([['a']], 5, 2).map((t) => t.pointIndexes)).toEqual([
      [0, 1, 2],
      [3, 4],
    ]);
  });

  it('the first points are handed over while work remains', async () => {
    const configs = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384].map((sets) => resolveConfig({ iotlb: { sets, ways: 1 } }));
    const log: string[] = [];
    await runSweep([[SVA]], configs, { jobs: 1, onProgress: () => log.push('progress'), onResult: (_, p) => log.push(`result ${p}`) });
    const first = log.indexOf('result 0');
    expect(log.slice(first, first + 6)).toEqual(['result 0', 'result 1', 'result 2', 'result 3', 'result 4', 'result 5']);
    expect(log.slice(first + 6)).toContain('progress'); // the last six points still ran after the first six were handed over
    expect(log.filter((l) => l.startsWith('result')).length).toBe(12);
  });
});

describe('report files are byte-identical whether summaries were computed or resumed', () => {
  it('report.html, report.md and results.arrow', () => {
    const a = path.join(tmpDir(), 'a');
    // The GPU trace maps 4K, 2M and 1G pages: a summary read back lists them 1G, 2M, 4K.
    const args = ['sweep', GPU, '--page-sizes', '4K', '4K+2M+1G', '--iotlb', '32x4', '--quiet', '--jobs', '1'];
    expect(runCli([...args, '--out', a]).status).toBe(0);
    const before = ['report.html', 'report.md', 'results.arrow'].map((f) => read(a, f));
    for (const f of ['report.html', 'report.md', 'results.arrow']) fs.rmSync(path.join(a, f));
    const summary = path.join(a, 'summaries/gpu/pageSizes=4K+2M+1G_iotlb=32x4.json');
    const mtime = fs.statSync(summary).mtimeMs;
    expect(runCli([...args, '--out', a, '--resume']).status).toBe(0);
    expect(fs.statSync(summary).mtimeMs).toBe(mtime); // read back, not computed again
    ['report.html', 'report.md', 'results.arrow'].forEach((f, i) => expect(read(a, f).equals(before[i]), f).toBe(true));
  });

  it("the vendors' command names in the vendor's order, not the summary JSON's alphabetical one (report.md, report.html, manifest.json)", () => {
    const d = tmpDir();
    const a = path.join(d, 'a');
    const nic = path.join(d, 'nic.arrows'); // with unmaps, so that every vendor sends commands
    expect(runCli(['gen', 'nic', '-o', nic, '--events', '20000']).status).toBe(0);
    const args = ['sweep', nic, '--vendor', 'vtd', 'amd', 'smmuv3', '--quiet', '--jobs', '1'];
    expect(runCli([...args, '--out', a]).status).toBe(0);
    const files = ['report.html', 'report.md', 'manifest.json'];
    const before = files.map((f) => read(a, f));
    expect(before[1].toString()).toMatch(/INVALIDATE\\_IOMMU\\_PAGES, [\d,]+ COMPLETION\\_WAIT/);
    for (const f of files) fs.rmSync(path.join(a, f));
    expect(runCli([...args, '--out', a, '--resume']).status).toBe(0);
    files.forEach((f, i) => expect(read(a, f).toString(), f).toBe(before[i].toString()));
  });

  it('a row from a summary read back has its page sizes smallest first', () => {
    const s = JSON.parse(fs.readFileSync(path.join(path.resolve('reports/example/summaries/nic'), fs.readdirSync('reports/example/summaries/nic')[0]), 'utf8'));
    expect(Object.keys(rowOf('nic', 'p', s).mapPages)).toEqual(['4K', '2M', '1G'].filter((k) => k in s.totals.map.pages));
  });
});

describe('a.arrows+b.arrows is one trace of two files', () => {
  it('parses only after an Arrow extension, and only when no file has the whole name', () => {
    const d = tmpDir();
    const plus = path.join(d, 'c++.arrows+x.arrows');
    fs.writeFileSync(plus, '');
    expect(traceGroup(plus)).toEqual([plus]);
    expect(traceGroup('a.arrow+b.arrows')).toEqual(['a.arrow', 'b.arrows']);
    expect(traceGroup('x+y.arrows')).toEqual(['x+y.arrows']);
    expect(traceNames(['dir/a.arrow+b.arrows', 'c.arrows'])).toEqual(['a+b', 'c']);
  });

  it('gives the summary of replay with both files', async () => {
    const out = path.join(tmpDir(), 'o');
    expect(runCli(['sweep', `${SVA}+${NVME}`, '--iotlb', '32x4', '--out', out, '--quiet', '--jobs', '1']).status).toBe(0);
    const swept = JSON.parse(read(out, 'summaries/sva+nvme/iotlb=32x4.json').toString());
    const replayed = await replayTrace([SVA, NVME], resolveConfig({ iotlb: { entries: 32, ways: 4 } }));
    expect(swept.trace.files).toEqual([SVA, NVME]);
    expect(swept.totals).toEqual(JSON.parse(stableStringify(replayed.totals)));
  });
});

describe('a sweep that fails on a bad trace leaves no partial output', () => {
  it("no summaries/ from this run; an earlier run's summaries stay for --resume", async () => {
    const d = tmpDir();
    const bad = path.join(d, 'late-bad.arrows');
    const first = batchOf(Array.from({ length: 5 }, (_, i) => ({ ts: 10 + i, op: 'flush' as const })));
    await writeTrace(bad, {}, [first, batchOf([{ ts: 1, op: 'flush' }])]); // framing fine, ts goes backwards at row 5
    const fresh = path.join(d, 'fresh');
    const r = runCli(['sweep', SVA, bad, '--iotlb', '32x4', '64x4', '--out', fresh, '--quiet', '--jobs', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`iommu-replay: Cannot read trace "${bad}": column "ts" goes backwards at row 5 (1 after 14)\n`);
    expect(fs.existsSync(fresh)).toBe(false);

    const kept = path.join(d, 'kept');
    expect(runCli(['sweep', SVA, '--iotlb', '32x4', '--out', kept, '--quiet', '--jobs', '1']).status).toBe(0);
    const before = fs.readdirSync(kept).sort();
    const again = runCli(['sweep', SVA, bad, '--iotlb', '32x4', '64x4', '--out', kept, '--quiet', '--jobs', '2', '--resume']);
    expect(again.status, again.stderr).toBe(2);
    expect(fs.readdirSync(kept).sort()).toEqual(before);
    expect(fs.readdirSync(path.join(kept, 'summaries'))).toEqual(['sva']);
    expect(fs.readdirSync(path.join(kept, 'summaries/sva'))).toEqual(['iotlb=32x4.json']);
  });
});
