import * as A from 'apache-arrow';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isVendorModelled, resolveConfig } from '../../src/config/config.js';
import { PRESETS } from '../../src/config/presets.js';
import { expandSweep } from '../../src/config/sweep.js';
import { replayTrace } from '../../src/run/run.js';
import { planTasks } from '../../src/run/sweep.js';
import { stableStringify } from '../../src/json.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');
const SVA = path.resolve('traces/sva.arrows');

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else out.push(path.relative(dir, path.join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

describe('sweep grid', () => {
  it('the short forms expand to the documented grid, last axis fastest', () => {
    const points = expandSweep({}, { pageSizes: ['4K', '4K,2M', '4K,2M,1G'], iotlb: ['32x4', '64x4', '128x8', '256xfull'], mode: ['strict', 'lazy'] }, 'cli');
    expect(points.length).toBe(3 * 4 * 2);
    expect(points[0].label).toBe('pageSizes=4K iotlb=32x4 invalidation.mode=strict');
    expect(points[1].label).toBe('pageSizes=4K iotlb=32x4 invalidation.mode=lazy');
    expect(points[23].config).toMatchObject({ pageSizes: ['4K', '2M', '1G'], iotlb: { entries: 256, sets: 1, ways: 256 }, invalidation: { mode: 'lazy' } });
    expect(points[2].config.iotlb).toEqual({ entries: 64, sets: 16, ways: 4, policy: 'lru' });
  });

  it('the config sweep field and the base configuration combine', () => {
    const points = expandSweep({ name: 'x', iotlb: { policy: 'plru' }, sweep: { 'iotlb.sets': [8, 16] } }, { iotlb: undefined, mode: ['lazy'] }, 'c.json');
    expect(points.map((p) => p.config.name)).toEqual(['x iotlb.sets=8 invalidation.mode=lazy', 'x iotlb.sets=16 invalidation.mode=lazy']);
    expect(points.every((p) => p.config.iotlb.policy === 'plru')).toBe(true);
    // --iotlb keeps the base policy too.
    expect(expandSweep({ iotlb: { policy: 'fifo', sets: 4 } }, { iotlb: ['64x8'] }, 'c')[0].config.iotlb).toEqual({
      entries: 64,
      sets: 8,
      ways: 8,
      policy: 'fifo',
    });
  });

  it('bad sweep values give a clear error', () => {
    expect(() => expandSweep({}, { iotlb: ['64by4'] }, 'cli')).toThrow("Invalid option --iotlb: expected ENTRIESxWAYS like 64x4 or 256xfull, got '64by4'");
    expect(() => expandSweep({ sweep: { 'iotlb.sets': [16, 12] } }, {}, 'c.json')).toThrow(
      'Invalid config "c.json": iotlb.sets: expected a power of two, got 12 (in sweep point iotlb.sets=12)',
    );
    expect(() => expandSweep({ sweep: { 'iotlb.colour': ['red'] } }, {}, 'c.json')).toThrow(
      'Invalid config "c.json": iotlb.colour: unknown field (in sweep point iotlb.colour=red)',
    );
    expect(() => expandSweep({ sweep: { pageSizes: [] } }, {}, 'c.json')).toThrow(
      'Invalid config "c.json": sweep.pageSizes: expected a non-empty list of values',
    );
    expect(() => expandSweep({ sweep: { pageSizes: [['4K']] } }, { pageSizes: ['4K'] }, 'c.json')).toThrow(
      'Invalid sweep: the field "pageSizes" is swept twice',
    );
    expect(() => expandSweep({}, { pageSizes: ['4K', '4K'] }, 'c')).toThrow('two points are the same configuration');
  });

  it('tasks split points over jobs, one decode per task', () => {
    expect(planTasks(['a', 'b'], 5, 2).map((t) => `${t.trace}:${t.pointIndexes}`)).toEqual(['a:0,1,2', 'a:3,4', 'b:0,1,2', 'b:3,4']);
    expect(planTasks(['a'], 3, 1, (_, p) => p === 1).map((t) => t.pointIndexes)).toEqual([[0, 2]]);
  });
});

describe('sweep command', () => {
  it('results equal single replays point by point, and --jobs 1 and 2 give byte-identical files', async () => {
    const d1 = tmpDir();
    const d2 = tmpDir();
    const args = ['sweep', NIC, SVA, '--page-sizes', '4K', '4K,2M', '--iotlb', '32x4', '128x8', '--mode', 'strict', 'lazy', '--quiet'];
    expect(runCli([...args, '--out', d1, '--jobs', '1']).status).toBe(0);
    expect(runCli([...args, '--out', d2, '--jobs', '2']).status).toBe(0);
    const list = files(d1);
    expect(list).toEqual(files(d2));
    expect(list.filter((f) => f.startsWith('summaries/')).length).toBe(2 * 8);
    for (const f of list) expect(fs.readFileSync(path.join(d1, f)).equals(fs.readFileSync(path.join(d2, f))), f).toBe(true);
    // Point by point: the same as a replay of that configuration alone.
    const single = await replayTrace(
      [NIC],
      resolveConfig({
        name: 'pageSizes=4K+2M iotlb=128x8 invalidation.mode=lazy',
        pageSizes: ['4K', '2M'],
        iotlb: { entries: 128, ways: 8 },
        invalidation: { mode: 'lazy' },
      }),
    );
    single.trace.files = [NIC];
    const fromSweep = JSON.parse(fs.readFileSync(path.join(d1, 'summaries/nic/pageSizes=4K+2M_iotlb=128x8_invalidation.mode=lazy.json'), 'utf8'));
    // A sweep's summary is the replay's, with the key --resume matches beside it.
    expect(fromSweep.resumeKey).toMatch(/^[0-9a-f]{64}$/);
    delete fromSweep.resumeKey;
    expect(stableStringify(fromSweep)).toBe(stableStringify(single));
  });

  it('writes a tidy results.arrow, report.md and a self-contained report.html with a recommendation and charts', () => {
    const d = tmpDir();
    expect(runCli(['sweep', NIC, '--page-sizes', '4K', '4K,2M,1G', '--iotlb', '64x4', '256x8', '--out', d, '--quiet', '--jobs', '1']).status).toBe(0);
    const t = A.tableFromIPC(fs.readFileSync(path.join(d, 'results.arrow')));
    expect(t.numRows).toBe(4);
    expect(t.schema.fields.map((f) => f.name)).toEqual(
      expect.arrayContaining(['trace', 'point', 'page_sizes', 'iotlb_entries', 'iotlb_hit_rate', 'invalidation_cost_ns', 'peak_table_pages', 'map_pages_4K']),
    );
    expect(t.getChild('trace')!.toArray()).toEqual(['nic', 'nic', 'nic', 'nic']);
    const md = fs.readFileSync(path.join(d, 'report.md'), 'utf8');
    expect(md).toContain('pageSizes=4K+2M+1G iotlb=256x8');
    expect(md).toContain('**Recommendation.** All equal: every one of the 4 points has a translation cost of 717.42 µs');
    const html = fs.readFileSync(path.join(d, 'report.html'), 'utf8');
    expect(html).toContain('<p class="recommendation"><strong>Recommendation.</strong> All equal: ');
    // On nic at 64 entries and up nothing varies: each chart is a line of text.
    expect(html).not.toContain('<svg');
    expect(html).toContain('Translation cost is 717.42 µs at every point.');
    expect(html).toContain('Every bitmap maps the same page sizes: 4K 100%.');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });

  // Its presets set amd and smmuv3 (model §9.4): it runs once every vendor is modelled.
  it.skipIf(!PRESETS.every((p) => isVendorModelled(p.vendor)))(
    "docs/presets.md's sweep: the broken presets (maps that do not fit a 64K or 16K granule) are no candidates and are listed in a warning; presets are labelled by name",
    () => {
      const d = tmpDir();
      const example = /```json\n(.*"preset".*)\n```/.exec(fs.readFileSync('docs/presets.md', 'utf8'))![1];
      const config = path.join(d, 'presets.json');
      fs.writeFileSync(config, example);
      const out = path.join(d, 'out');
      expect(runCli(['sweep', NIC, '--config', config, '--out', out, '--quiet', '--jobs', '1']).status).toBe(0);
      const summary = (p: string) => JSON.parse(fs.readFileSync(path.join(out, `summaries/nic/preset=${p}.json`), 'utf8'));
      const s64 = summary('arm-smmu-64k');
      expect(s64.totals.dma.faults).toBe(s64.totals.dma.events); // every DMA faults: the point is broken
      const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
      // One recommendation per vendor (presets set it), each among its own points: the Arm part gets no AMD point.
      expect(md).toContain('**Recommendation, per vendor.**');
      expect(md).toContain('- `amd` (AMD-Vi): One working point to choose from: 64x4 with amd-v1, at a translation cost of ');
      expect(md).toContain('- `vtd` (Intel VT-d): One working point to choose from: 64x4 with intel-vtd, at a translation cost of ');
      const arm = /^- `smmuv3` \(Arm SMMUv3\): (.*)$/m.exec(md)![1];
      expect(arm).toMatch(/^No recommendation: every point has DMA faults or map errors/);
      expect(arm).not.toMatch(/amd-v1|intel-vtd|0 ns against 0 ns/);
      // Table memory in bytes beside the pages, which are 4, 16 and 64 KiB here.
      expect(md).toContain('| 6 × 4.0 KiB | 24.0 KiB |');
      expect(md).toContain('### Vendors side by side');
      expect(md).toContain('> **Warning.** 2 of 4 point(s) have DMA faults or map errors');
      expect(md).toContain(`> | preset=arm-smmu-64k | ${s64.totals.dma.faults.toLocaleString('en-US')} | ${s64.totals.map.errors.toLocaleString('en-US')} |`);
      expect(md).toContain('| arm-smmu-16k | ');
      expect(md).not.toContain('4K+8K+16K'); // amd-v1's 35 sizes: labelled by the preset's name
      const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
      expect(html).toContain('<div class="warning" role="alert">');
      expect(html).not.toContain('4K+8K+16K');
    },
  );

  it("results.arrow carries every raw count as int64 and the configuration as columns, equal to the point's summary", () => {
    const d = tmpDir();
    expect(
      runCli(['sweep', NIC, '--page-sizes', '4K', '4K,2M', '--iotlb', '32x4', '--mode', 'strict', 'lazy', '--out', d, '--quiet', '--jobs', '1']).status,
    ).toBe(0);
    const t = A.tableFromIPC(fs.readFileSync(path.join(d, 'results.arrow')));
    const types = Object.fromEntries(t.schema.fields.map((f) => [f.name, String(f.type)]));
    const counts = [
      'dma_events',
      'dma_bytes',
      'dma_faults',
      'dma_passthrough',
      'iotlb_lookups',
      'iotlb_hits',
      'iotlb_misses',
      'walks',
      'walk_accesses',
      'map_ops',
      'map_errors',
      'map_bytes',
      'unmap_ops',
      'unmap_errors',
      'unmap_bytes',
      'invalidation_page_commands',
      'invalidation_domain_commands',
      'invalidation_devtlb_commands',
      'invalidation_wait_commands',
      'invalidation_syncs',
      'invalidation_flushes',
      'stale_hits',
      'peak_table_pages',
      'peak_table_bytes',
    ];
    for (const c of counts) expect(types[c], c).toBe('Int64');
    const i = t.getChild('point')!.toArray().indexOf('pageSizes=4K+2M iotlb=32x4 invalidation.mode=lazy');
    const row = t.get(i)!.toJSON() as Record<string, unknown>;
    const s = JSON.parse(fs.readFileSync(path.join(d, 'summaries/nic/pageSizes=4K+2M_iotlb=32x4_invalidation.mode=lazy.json'), 'utf8'));
    const T = s.totals;
    const want: Record<string, number> = {
      dma_events: T.dma.events,
      dma_bytes: T.dma.bytes,
      dma_faults: T.dma.faults,
      dma_passthrough: T.dma.passthrough,
      iotlb_lookups: T.iotlb.lookups,
      iotlb_hits: T.iotlb.hits,
      iotlb_misses: T.iotlb.misses,
      walks: T.walks.count,
      walk_accesses: T.walks.memoryAccesses,
      map_ops: T.map.ops,
      map_errors: T.map.errors,
      map_bytes: T.map.bytes,
      unmap_ops: T.unmap.ops,
      unmap_errors: T.unmap.errors,
      unmap_bytes: T.unmap.bytes,
      invalidation_page_commands: T.invalidation.commands.page,
      invalidation_domain_commands: T.invalidation.commands.domain,
      invalidation_devtlb_commands: T.invalidation.commands.devtlb,
      invalidation_wait_commands: T.invalidation.commands.wait,
      invalidation_syncs: T.invalidation.syncs,
      invalidation_flushes: T.invalidation.flushes,
      stale_hits: T.iotlb.staleHits,
      peak_table_pages: T.pageTable.peakTablePages,
      peak_table_bytes: T.pageTable.peakTableBytes,
    };
    for (const [k, v] of Object.entries(want)) expect(Number(row[k]), k).toBe(v);
    expect(T.iotlb.lookups).toBeGreaterThan(0);
    expect(T.invalidation.commands.domain + T.invalidation.commands.page).toBeGreaterThan(0);
    expect(row).toMatchObject({
      page_sizes: '4K+2M',
      iotlb_entries: 32,
      iotlb_sets: 8,
      iotlb_ways: 4,
      iotlb_policy: s.config.iotlb.policy,
      mode: 'lazy',
      vendor: 'vtd',
      preset: null,
      devtlb_entries: s.config.devtlb.entries,
      devtlb_ways: s.config.devtlb.ways,
      walk_cache_entries: null,
      page_table_levels: 4,
      partial_unmap: s.config.partialUnmap,
      fq_timeout_ns: s.config.invalidation.fqTimeoutNs,
      cost_walk_access_ns: s.config.costs.walkAccess,
    });
    expect(Number(row.fq_size)).toBe(s.config.invalidation.fqSize);
    // The vendors' options (a sweep over them was told apart only by its label).
    expect(types.amd_np_cache).toBe('Bool');
    expect(types.smmu_asid_bits).toBe('Int32');
    expect(row).toMatchObject({
      amd_np_cache: s.config.amd.npCache,
      smmu_range_invalidation: s.config.smmu.rangeInvalidation,
      smmu_force_sync_erratum: s.config.smmu.forceSyncErratum,
      smmu_asid_bits: s.config.smmu.asidBits,
    });
    // Lazy mode's maps of IOVAs still in the flush queue (model §5); null for a strict point.
    expect(types.reused_before_flush_maps).toBe('Int64');
    expect(Number(row.reused_before_flush_maps)).toBe(T.invalidation.reusedBeforeFlush.maps);
    expect(Number(row.reused_before_flush_pages)).toBe(T.invalidation.reusedBeforeFlush.pages);
    expect(T.invalidation.reusedBeforeFlush.maps).toBeGreaterThan(0);
    const strict = t.get(t.getChild('point')!.toArray().indexOf('pageSizes=4K+2M iotlb=32x4 invalidation.mode=strict'))!.toJSON();
    expect(strict.reused_before_flush_maps).toBeNull();
    expect(strict.reused_before_flush_pages).toBeNull();
    // Hit rates re-weight from the counts.
    expect(row.iotlb_hit_rate).toBe(Number(row.iotlb_hits) / Number(row.iotlb_lookups));
  });

  for (const jobs of ['1', '2']) {
    it(`a point over --max-table-memory: the one line names the trace and the points being replayed (--jobs ${jobs})`, () => {
      // It named only "the IOTLB of dmar0", not which of the sweep's points asked for it. One thread replays both points (lanes); two, one each. One thread replays both points (lanes); two replay one each.
      const d = path.join(tmpDir(), 'out');
      const r = runCli([
        'sweep',
        NIC,
        '--iotlb',
        '64x4',
        '1048576x4',
        '--page-sizes',
        '4K',
        '--max-table-memory',
        '16M',
        '--out',
        d,
        '--quiet',
        '--jobs',
        jobs,
      ]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(
        /^iommu-replay: nic\.arrows with (pageSizes=4K iotlb=64x4, )?pageSizes=4K iotlb=1048576x4: Stopped at row 0: the IOTLB of dmar0 needs about 34\.3 MiB .*--max-table-memory\n$/,
      );
      expect(fs.existsSync(d)).toBe(false);
    });
  }

  it('--resume skips points whose summary exists', () => {
    const d = tmpDir();
    const args = ['sweep', NIC, '--iotlb', '32x4', '64x4', '--out', d, '--quiet', '--jobs', '1'];
    expect(runCli(args).status).toBe(0);
    const f = path.join(d, 'summaries/nic/iotlb=32x4.json');
    const marked = JSON.parse(fs.readFileSync(f, 'utf8'));
    marked.totals.iotlb.hitRate = 0.123456;
    fs.writeFileSync(f, JSON.stringify(marked));
    expect(runCli([...args, '--resume']).status).toBe(0);
    expect(JSON.parse(fs.readFileSync(f, 'utf8')).totals.iotlb.hitRate).toBe(0.123456);
    expect(fs.readFileSync(path.join(d, 'report.md'), 'utf8')).toContain('12.35%');
  });

  it('bad sweep input gives one line and exit 2 and writes nothing', () => {
    const d = path.join(tmpDir(), 'out');
    const r = runCli(['sweep', NIC, '--iotlb', '64x3', '--out', d]);
    expect(r.stderr).toBe("iommu-replay: Invalid option --iotlb '64x3': iotlb.entries: expected a multiple of ways (3), got 64\n");
    expect(r.status).toBe(2);
    expect(fs.existsSync(d)).toBe(false);
    const m = runCli(['sweep', NIC, '--mode', 'eager', '--out', d]);
    expect(m.stderr).toBe("iommu-replay: Invalid option --mode: expected strict or lazy, got 'eager'\n");
    const bad = path.join(tmpDir(), 'bad.arrows');
    fs.writeFileSync(bad, 'nope');
    expect(runCli(['sweep', NIC, bad, '--out', d, '--jobs', '2']).stderr).toBe(`iommu-replay: Cannot read trace "${bad}": not an Arrow IPC file or stream\n`);
    expect(fs.existsSync(d)).toBe(false);
  });
});
