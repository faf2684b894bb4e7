import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();
const trace = path.resolve('traces/nic.arrows');

describe('configuration', () => {
  it('fills in every default', () => {
    const c = resolveConfig({});
    expect(c).toMatchObject({
      name: 'baseline',
      pageSizes: ['4K', '2M', '1G'],
      svaPageSizes: ['4K', '2M', '1G'],
      domainIds: 65536,
      pageTable: { levels: 4 },
      iotlb: { entries: 64, sets: 16, ways: 4, policy: 'lru' },
      devtlb: { entries: 32, sets: 1, ways: 32, policy: 'lru' },
      partialUnmap: 'whole-leaf',
      invalidation: { mode: 'strict', maxInvalidationMask: 9, fqSize: 256, fqTimeoutNs: 10000000 },
      costs: { iotlbHit: 2, walkAccess: 70, pageInvalidation: 400, domainInvalidation: 400, devtlbInvalidation: 1000, wait: 1000 },
      seed: 1,
    });
  });

  it('takes a bitmap, entries with ways, and "full"', () => {
    expect(resolveConfig({ pageSizes: '0x40201000' }).pageSizes).toEqual(['4K', '2M', '1G']);
    expect(resolveConfig({ pageSizes: ['64K', '512M'] }).pageSizes).toEqual(['64K', '512M']);
    expect(resolveConfig({ iotlb: { entries: 128, ways: 8 } }).iotlb).toEqual({ entries: 128, sets: 16, ways: 8, policy: 'lru' });
    expect(resolveConfig({ iotlb: { entries: 32, ways: 'full', policy: 'plru' } }).iotlb).toEqual({ entries: 32, sets: 1, ways: 32, policy: 'plru' });
    expect(resolveConfig({ devices: { '768': { devtlb: true }, '03:00.1': {} } }).devices).toEqual({
      '0000:03:00.0': { devtlb: true },
      '0000:03:00.1': { devtlb: false },
    });
  });

  const bad: [string, unknown, string][] = [
    ['unknown field', { iotlb: { sets: 16, colour: 'red' } }, 'iotlb.colour: unknown field'],
    ['unknown top-level field', { pagesizes: ['4K'] }, 'pagesizes: unknown field'],
    ['ways not positive', { iotlb: { ways: 0 } }, 'iotlb.ways: expected a positive integer, got 0'],
    ['sets not a power of two', { iotlb: { sets: 12 } }, 'iotlb.sets: expected a power of two, got 12'],
    ['entries not a multiple of ways', { iotlb: { entries: 100, ways: 8 } }, 'iotlb.entries: expected a multiple of ways (8), got 100'],
    ['empty page sizes', { pageSizes: [] }, 'pageSizes: expected at least one page size, got none'],
    ['a size that is not a power of two', { pageSizes: ['4K', '3M'] }, 'pageSizes: expected a power-of-two size like "4K" or "2M", got "3M"'],
    ['a size below the granule', { pageSizes: ['2K'] }, 'pageSizes: 2K is smaller than the 4K page-table granule'],
    ['a size too large for the table', { pageSizes: ['4K', '256T'] }, 'pageSizes: 256T is larger than a 4-level page table can map'],
    [
      'unknown instance name in devices',
      { iommus: [{ name: 'dmar0' }], devices: { '0000:03:00.0': { iommu: 'dmar9' } } },
      'devices.0000:03:00.0.iommu: unknown IOMMU instance "dmar9" (instances: dmar0)',
    ],
    ['a bad policy', { iotlb: { policy: 'mru' } }, 'iotlb.policy: expected one of "lru", "fifo", "plru", "random", "flush-when-full", got "mru"'],
    ['plru on a non-power-of-two set', { iotlb: { sets: 1, ways: 3, policy: 'plru' } }, 'iotlb.ways: expected a power of two for the "plru" policy, got 3'],
    ['levels', { pageTable: { levels: 3 } }, 'pageTable.levels: expected 4 or 5, got 3'],
    ['a negative cost', { costs: { wait: -1 } }, 'costs.wait: expected a non-negative number, got -1'],
    ['a bad mode', { invalidation: { mode: 'eager' } }, 'invalidation.mode: expected one of "strict", "lazy", got "eager"'],
  ];
  for (const [name, value, message] of bad) {
    it(`rejects ${name} with one line naming the field, exit 2, no output`, () => {
      expect(() => resolveConfig(value, 'x.json')).toThrow(`Invalid config "x.json": ${message}`);
      const f = path.join(dir, `${name.replace(/\W+/g, '-')}.json`);
      fs.writeFileSync(f, JSON.stringify(value));
      const out = path.join(dir, 'out.json');
      const r = runCli(['replay', trace, '--config', f, '--json', out]);
      expect(r.stderr).toBe(`iommu-replay: Invalid config "${f}": ${message}\n`);
      expect(r.status).toBe(2);
      expect(fs.existsSync(out)).toBe(false);
    });
  }

  it('rejects a config file that is not JSON, or missing', () => {
    const f = path.join(dir, 'broken.json');
    fs.writeFileSync(f, '{ "iotlb": ');
    expect(runCli(['replay', trace, '--config', f]).stderr).toMatch(new RegExp(`^iommu-replay: Invalid config "${f}": not valid JSON( \\(.*\\))?\\n$`));
    expect(runCli(['replay', trace, '--config', path.join(dir, 'none.json')]).stderr).toBe(
      `iommu-replay: Cannot read config "${path.join(dir, 'none.json')}": no such file\n`,
    );
  });

  it('rejects a devices entry naming an instance the trace topology lacks', () => {
    const f = path.join(dir, 'dev.json');
    fs.writeFileSync(f, JSON.stringify({ devices: { '0000:03:00.0': { iommu: 'dmar7' } } }));
    const r = runCli(['replay', trace, '--config', f]);
    expect(r.stderr).toBe('iommu-replay: Invalid config: devices.0000:03:00.0.iommu: unknown IOMMU instance "dmar7" (instances: dmar0)\n');
    expect(r.status).toBe(2);
  });
});
