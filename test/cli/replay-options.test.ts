// replay takes sweep's short forms, one value each (issue 13, item 7), and
// every spelling of a page-size set means the same set (item 5).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/replay.js';
import { resolveConfig } from '../../src/config/config.js';
import { formatPageSizeSet, splitPageSizeList } from '../../src/config/pagesizes.js';
import { expandSweep } from '../../src/config/sweep.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');

describe('replay --page-sizes, --iotlb and --mode', () => {
  it('parse as sweep parses them, on top of the configuration file', () => {
    const d = tmpDir();
    const cfg = path.join(d, 'c.json');
    fs.writeFileSync(cfg, JSON.stringify({ name: 'mine', iotlb: { policy: 'fifo' }, costs: { walkAccess: 90 } }));
    const c = loadConfig(cfg, { pageSizes: ['4K+2M'], iotlb: ['128x8'], mode: ['lazy'] });
    const viaSweep = expandSweep(JSON.parse(fs.readFileSync(cfg, 'utf8')), { pageSizes: ['4K,2M'], iotlb: ['128x8'], mode: ['lazy'] }, cfg)[0].config;
    expect(c).toEqual(viaSweep);
    expect(c).toMatchObject({
      pageSizes: ['4K', '2M'],
      iotlb: { entries: 128, sets: 16, ways: 8, policy: 'fifo' },
      invalidation: { mode: 'lazy' },
      costs: { walkAccess: 90 },
    });
    expect(loadConfig(undefined)).toEqual(resolveConfig({}, '(defaults)'));
  });

  it('on the command line, and the summary carries them', () => {
    const r = runCli(['replay', NIC, '--page-sizes', '4K', '--iotlb', '256xfull', '--json', '-']);
    expect(r.stderr).toBe('');
    const s = JSON.parse(r.stdout);
    expect(s.config.pageSizes).toEqual(['4K']);
    expect(s.config.iotlb).toEqual({ entries: 256, sets: 1, ways: 256, policy: 'lru' });
  });

  it('bad or repeated values are one line', () => {
    expect(runCli(['replay', NIC, '--iotlb', '64by4']).stderr).toBe(
      "iommu-replay: Invalid option --iotlb: expected ENTRIESxWAYS like 64x4 or 256xfull, got '64by4'\n",
    );
    expect(runCli(['replay', NIC, '--iotlb', '32x4', '--iotlb', '64x4']).stderr).toBe(
      'iommu-replay: Invalid option --iotlb: replay takes one value, got 2 (several values are a sweep: iommu-replay sweep)\n',
    );
    expect(runCli(['replay', NIC, '--mode', 'eager']).stderr).toBe("iommu-replay: Invalid option --mode: expected strict or lazy, got 'eager'\n");
  });
});

describe('page-size sets: every spelling in, one spelling out', () => {
  it('4K,2M, 4K|2M and 4K+2M are the same set, written 4K+2M', () => {
    for (const text of ['4K,2M', '4K|2M', '4K+2M', ' 4K + 2M ']) expect(splitPageSizeList(text)).toEqual(['4K', '2M']);
    for (const text of ['4K,2M', '4K|2M', '4K+2M']) expect(resolveConfig({ pageSizes: text }).pageSizes).toEqual(['4K', '2M']);
    expect(formatPageSizeSet(['4K', '2M', '1G'])).toBe('4K+2M+1G');
  });

  it('sweep labels and file names use the one spelling, whatever was typed', () => {
    const points = expandSweep({}, { pageSizes: ['4K|2M', '4K,2M,1G'] }, 'cli');
    expect(points.map((p) => p.label)).toEqual(['pageSizes=4K+2M', 'pageSizes=4K+2M+1G']);
    expect(points.map((p) => p.slug)).toEqual(['pageSizes=4K+2M', 'pageSizes=4K+2M+1G']);
    expect(expandSweep({ sweep: { pageSizes: [['4K', '2M']] } }, {}, 'c')[0].label).toBe('pageSizes=4K+2M');
    // The same set spelled twice is the same point.
    expect(() => expandSweep({}, { pageSizes: ['4K,2M', '4K+2M'] }, 'cli')).toThrow('two points are the same configuration');
  });
});
