// Issue 19: the same discipline for configurations as for traces. Each
// malformed file is rejected with one line naming the field (or the file),
// before any work; nothing reaches an object's prototype.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfigFile } from '../../src/config/config.js';
import { expandSweep } from '../../src/config/sweep.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();

/** [what, file content, the message after `Invalid config "FILE": `] */
const CASES: [string, string, string][] = [
  ['string where a number goes', '{"iotlb": {"sets": "16"}}', 'iotlb.sets: expected a positive integer, got "16"'],
  ['zero ways', '{"iotlb": {"ways": 0}}', 'iotlb.ways: expected a positive integer, got 0'],
  ['negative sets', '{"iotlb": {"sets": -4}}', 'iotlb.sets: expected a positive integer, got -4'],
  ['fractional entries', '{"iotlb": {"entries": 64.5}}', 'iotlb.entries: expected a positive integer, got 64.5'],
  ['huge entries', '{"iotlb": {"entries": 1073741824, "ways": 4}}', 'iotlb.entries: expected at most 16777216 entries, got 1073741824'],
  ['sets not a power of two', '{"devtlb": {"sets": 12}}', 'devtlb.sets: expected a power of two, got 12'],
  ['unknown top-level field', '{"pagesize": ["4K"]}', 'pagesize: unknown field'],
  ['unknown nested field', '{"invalidation": {"mode": "strict", "batch": 4}}', 'invalidation.batch: unknown field'],
  ['unknown policy', '{"iotlb": {"policy": "mru"}}', 'iotlb.policy: expected one of "lru", "fifo", "plru", "random", "flush-when-full", got "mru"'],
  ['unknown mode', '{"invalidation": {"mode": "eager"}}', 'invalidation.mode: expected one of "strict", "lazy", got "eager"'],
  ['unknown partial-unmap rule', '{"partialUnmap": "maybe"}', 'partialUnmap: expected one of "whole-leaf", "reject", "split", got "maybe"'],
  ['page size 3K', '{"pageSizes": ["4K", "3K"]}', 'pageSizes: expected a power-of-two size like "4K" or "2M", got "3K"'],
  ['page size 0', '{"pageSizes": ["0"]}', 'pageSizes: expected a power-of-two size like "4K" or "2M", got "0"'],
  ['page size 0K', '{"svaPageSizes": ["0K"]}', 'svaPageSizes: expected a power-of-two size like "4K" or "2M", got "0K"'],
  ['no page sizes', '{"pageSizes": []}', 'pageSizes: expected at least one page size, got none'],
  ['page sizes as a number', '{"pageSizes": 4096}', 'pageSizes: expected a list of sizes like ["4K", "2M"] or a bitmap like "0x40201000", got 4096'],
  ['a page size above the table', '{"pageSizes": ["4K", "256T"]}', 'pageSizes: 256T is larger than a 4-level page table can map'],
  ['plru on 3 ways', '{"iotlb": {"sets": 4, "ways": 3, "policy": "plru"}}', 'iotlb.ways: expected a power of two for the "plru" policy, got 3'],
  ['duplicate instances', '{"iommus": [{"name": "dmar0"}, {"name": "dmar0"}]}', 'iommus[1].name: duplicate instance name "dmar0"'],
  ['instances not a list', '{"iommus": {"name": "dmar0"}}', 'iommus: expected a list of {"name": ...}, got {"name":"dmar0"}'],
  [
    'device number too large for a BDF',
    '{"devices": {"0000:03:32.0": {}}}',
    'devices.0000:03:32.0: expected a device like "0000:03:00.0" or a requester ID number, got "0000:03:32.0"',
  ],
  [
    'device that is not a BDF',
    '{"devices": {"zz:00.0": {"devtlb": true}}}',
    'devices.zz:00.0: expected a device like "0000:03:00.0" or a requester ID number, got "zz:00.0"',
  ],
  ['devtlb not a boolean', '{"devices": {"03:00.0": {"devtlb": "yes"}}}', 'devices.03:00.0.devtlb: expected true or false, got "yes"'],
  ['domain IDs below 2', '{"domainIds": 1}', 'domainIds: expected at least 2 (DIDs 0 and 1 are reserved), got 1'],
  ['domain IDs too many', '{"domainIds": 1073741824}', 'domainIds: expected at most 16777216, got 1073741824'],
  ['invalidation mask above 63', '{"invalidation": {"maxInvalidationMask": 64}}', 'invalidation.maxInvalidationMask: expected at most 63, got 64'],
  ['flush queue of 0', '{"invalidation": {"fqSize": 0}}', 'invalidation.fqSize: expected a positive integer, got 0'],
  ['negative flush timeout', '{"invalidation": {"fqTimeoutNs": -1}}', 'invalidation.fqTimeoutNs: expected a non-negative number, got -1'],
  ['a cost as text', '{"costs": {"wait": "fast"}}', 'costs.wait: expected a non-negative number, got "fast"'],
  ['negative seed', '{"seed": -1}', 'seed: expected a non-negative integer, got -1'],
  ['three-level table', '{"pageTable": {"levels": 3}}', 'pageTable.levels: expected 4 or 5, got 3'],
  ['name not a string', '{"name": 42}', 'name: expected a string, got 42'],
  [
    'unknown preset',
    '{"preset": "intel"}',
    'preset: expected one of "intel-vtd", "amd-v1", "amd-v2", "arm-smmu-4k", "arm-smmu-16k", "arm-smmu-64k", got "intel"',
  ],
  ['top level an array', '[{"name": "x"}]', '(top level): expected a JSON object'],
  ['a __proto__ device', '{"devices": {"__proto__": {"devtlb": true}}}', 'devices.__proto__: the key "__proto__" is not allowed'],
  ['a constructor key', '{"costs": {"constructor": {"wait": 1}}}', 'costs.constructor: the key "constructor" is not allowed'],
  ['a __proto__ sweep axis', '{"sweep": {"__proto__.polluted": [1, 2]}}', 'sweep.__proto__.polluted: expected a field path like "iotlb.sets"'],
  ['a sweep that is a list', '{"sweep": [1, 2]}', 'sweep: expected an object of field path to values'],
  ['a sweep axis with no values', '{"sweep": {"iotlb.sets": []}}', 'sweep.iotlb.sets: expected a non-empty list of values'],
  ['a bad value in a sweep point', '{"sweep": {"iotlb.sets": [16, 24]}}', 'iotlb.sets: expected a power of two, got 24 (in sweep point iotlb.sets=24)'],
  ['invalid JSON', '{"iotlb": {"sets": 16,}}', 'not valid JSON (at character 22)'],
  ['an empty file', '', 'empty, expected JSON'],
  ['deep nesting', '{"a":'.repeat(5000) + '1' + '}'.repeat(5000), 'nests deeper than 32 levels, expected a small JSON document'],
];

/** What `sweep --config FILE` does with it before any trace is read (replay resolves the same way). */
function load(file: string): string {
  try {
    expandSweep(readConfigFile(file), {}, file);
    return 'accepted';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('malformed configuration files: one line naming the field', () => {
  for (const [name, text, message] of CASES) {
    it(name, () => {
      const f = path.join(dir, `${name.replace(/\W+/g, '-')}.json`);
      fs.writeFileSync(f, text);
      const got = load(f);
      expect(got).toBe(`Invalid config "${f}": ${message}`);
      expect(got.includes('\n')).toBe(false);
    });
  }

  it('a directory, and a missing file', () => {
    expect(load(dir)).toBe(`Cannot read config "${dir}": is a directory, not a file`);
    expect(load(path.join(dir, 'none.json'))).toBe(`Cannot read config "${path.join(dir, 'none.json')}": no such file`);
  });

  it('nothing reaches Object.prototype', () => {
    const f = path.join(dir, 'proto.json');
    fs.writeFileSync(f, '{"devices": {"__proto__": {"polluted": true}}, "sweep": {"__proto__.polluted": [1]}}');
    expect(load(f)).toMatch(/the key "__proto__" is not allowed/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('the reproducers of issue 19, through the CLI', () => {
  const trace = path.resolve('traces/nic.arrows');
  it('deep nesting, a __proto__ device, 9 million points: one line, exit 2, no output', () => {
    const out = path.join(dir, 'out');
    for (const [name, cmd, text] of [
      ['config-deep-nesting.json', 'replay', 'nests deeper than 32 levels, expected a small JSON document'],
      ['config-proto-device.json', 'replay', 'devices.__proto__: the key "__proto__" is not allowed'],
      ['config-9M-points.json', 'sweep', ''],
    ]) {
      const f = path.join('test/config/fixtures', name);
      const r = runCli([cmd, trace, '--config', f, ...(cmd === 'sweep' ? ['--out', out] : ['--json', path.join(out, 'x.json')])]);
      expect(r.stderr).toBe(
        text
          ? `iommu-replay: Invalid config "${f}": ${text}\n`
          : 'iommu-replay: Invalid sweep: 9,000,000 points (seed: 3000 x costs.wait: 3000), over the limit of 10,000; raise it with --max-points\n',
      );
      expect(r.status).toBe(2);
      expect(fs.existsSync(out)).toBe(false);
    }
  });
});
