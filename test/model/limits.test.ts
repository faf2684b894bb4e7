// Bounds on a valid but huge input (docs/input-safety.md, "Limits"): the
// reproducers of trust-repro (table-limit-bypass-*, memory-40000-domains-*,
// memory-topology-30000-instances-*, config-iotlb-2^24-fully-associative-*),
// rebuilt here in the same shape, each within 500 MB: one memory-limit line
// and exit 2 where refused, a summary where served. What the model holds is
// charged where it is made (config/limits.ts MemoryBudget).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { MAX_INSTANCES } from '../../src/config/config.js';
import { Replay } from '../../src/model/replay.js';
import { MemoryBudget } from '../../src/config/limits.js';
import { PageTablePool, TABLE_PAGE_COST_BYTES } from '../../src/model/pagetable.js';
import { writeTrace } from '../../src/trace/writer.js';
import { batchOf, type Ev } from '../helpers/events.js';
import { runCliMeasured, tmpDir } from '../helpers/cli.js';
import { consumeInTwo, domainRow, metaOf, replayEvents } from '../helpers/replay.js';

const DEV = 0x300;
const MB500_KIB = 500 * 1000;
let dir = '';

beforeAll(() => {
  dir = tmpDir();
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function trace(name: string, events: Ev[], meta: object = {}): Promise<string> {
  const f = path.join(dir, name);
  const batches = [];
  for (let i = 0; i < events.length; i += 65536) batches.push(batchOf(events.slice(i, i + 65536).map((e, k) => ({ ...e, ts: i + k }))));
  await writeTrace(f, meta, batches);
  return f;
}

/** table-limit-bypass-small-maps: one domain, 20,000 maps of 4K, each 2 GiB apart (two new table pages each). */
function smallMaps(): Ev[] {
  return [
    { op: 'attach', device: DEV, domain: 1 },
    ...Array.from({ length: 20000 }, (_, k): Ev => ({ op: 'map', domain: 1, iova: (k + 1) * 2 ** 31, paddr: 0, size: 4096 })),
  ];
}

/** table-limit-bypass-10000-domains, memory-40000-domains: each domain attached, then one 4K map (four table pages). */
function manyDomains(n: number): Ev[] {
  return Array.from({ length: n }, (_, k): Ev[] => [
    { op: 'attach', device: DEV, domain: k + 2 },
    { op: 'map', domain: k + 2, iova: 4096, paddr: 4096, size: 4096 },
  ]).flat();
}

const LIMIT_LINE = (limit: string) =>
  new RegExp(`^iommu-replay: Stopped at row \\d+: .* needs about [\\d.]+ [KMG]?i?B.*, over the ${limit} limit; raise it with --max-table-memory\\n$`);

describe('--max-table-memory counts every table page and slot', () => {
  it('many small maps stop at the limit (table-limit-bypass-small-maps)', { timeout: 120_000 }, async () => {
    const f = await trace('small-maps.arrows', smallMaps());
    const out = path.join(dir, 'small.json');
    const r = runCliMeasured(['replay', f, '--max-table-memory', '16M', '--json', out]);
    expect(r.stderr).toMatch(
      /^iommu-replay: Stopped at row \d+: the map of 4K at iova 0x[0-9a-f]+ in domain 1 needs about [\d.]+ MiB for the page-table pool to grow \([\d.]+ MiB already in use\), over the 16 MiB limit; raise it with --max-table-memory\n$/,
    );
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
    expect(r.maxRssKiB).toBeLessThan(MB500_KIB);
  });

  it('many domains stop at the limit (table-limit-bypass-10000-domains)', { timeout: 120_000 }, async () => {
    const f = await trace('10000-domains.arrows', manyDomains(10000));
    const r = runCliMeasured(['replay', f, '--max-table-memory', '32M', '--json', path.join(dir, 'd.json')]);
    expect(r.stderr).toMatch(LIMIT_LINE('32 MiB'));
    expect(r.status).toBe(2);
    expect(r.maxRssKiB).toBeLessThan(MB500_KIB);
  });

  it('40,000 domains stop at the limit within its memory (memory-40000-domains-1.7GB)', { timeout: 120_000 }, async () => {
    const f = await trace('40000-domains.arrows', manyDomains(40000));
    const r = runCliMeasured(['replay', f, '--max-table-memory', '128M', '--json', path.join(dir, 'd.json')]);
    expect(r.stderr).toMatch(LIMIT_LINE('128 MiB'));
    expect(r.status).toBe(2);
    expect(r.maxRssKiB).toBeLessThan(MB500_KIB);
  });

  // At the default limit (DEFAULT_MAX_TABLE_BYTES) each shape is refused within 500 MB: at the
  // former 1 GiB, with the pool's growth copies not charged, 40,000 domains peaked at 1.7 GB.
  for (const [name, events] of [
    ['table-limit-bypass-small-maps', smallMaps],
    ['table-limit-bypass-10000-domains', () => manyDomains(10000)],
    ['memory-40000-domains-1.7GB', () => manyDomains(40000)],
  ] as const) {
    it(`at the default limit, ${name} stops with the line`, { timeout: 120_000 }, async () => {
      const f = await trace(`${name}.arrows`, events());
      const out = path.join(dir, 'default.json');
      const r = runCliMeasured(['replay', f, '--json', out]);
      expect(r.stderr).toMatch(LIMIT_LINE('384 MiB'));
      expect(r.stderr).toMatch(/ for the page-table pool to grow /);
      expect(r.status).toBe(2);
      expect(fs.existsSync(out)).toBe(false);
    });
  }

  it("the pool's growth holds the old arrays and the new at once: the budget counts both while it copies", () => {
    // A budget that notes the most it held: a growth from 2 table pages to 4 holds 6 while copying.
    class PeakBudget extends MemoryBudget {
      peak = 0;
      override charge(bytes: number, what: string | (() => string)): void {
        super.charge(bytes, what);
        this.peak = Math.max(this.peak, this.used);
      }
    }
    const budget = new PeakBudget(2 ** 30);
    const pool = new PageTablePool(4, 2, budget);
    for (let i = 0; i < 3; i++) pool.newRoot();
    expect(budget.peak).toBe(6 * TABLE_PAGE_COST_BYTES);
    expect(budget.used).toBe(4 * TABLE_PAGE_COST_BYTES);
    // Under a limit of 5 pages the same growth cannot happen (it once did: 4 pages charged, 6 held).
    const tight = new PageTablePool(4, 2, new MemoryBudget(5 * TABLE_PAGE_COST_BYTES));
    expect(() => {
      for (let i = 0; i < 3; i++) tight.newRoot();
    }).toThrow(/^Stopped before the first row: the page-table pool needs about 24 KiB \(18 KiB already in use\), over the 30 KiB limit/);
  });

  it('a map whose tables fit the limit is made: the pool grows once for it, not by doublings that hold old and new arrays', () => {
    // 2 GiB of 4K leaves: 1,024 leaf tables and 4 above, about 6 MiB; doubling from 64 pages would hold 6 and 12 MiB at once.
    const r = new Replay(resolveConfig({ pageSizes: ['4K'] }, 'limits'), metaOf(), { maxTableBytes: 7 * 2 ** 20 });
    consumeInTwo(r, [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 2 ** 32, paddr: 2 ** 32, size: 2 ** 31 },
    ]);
    expect(r.pool.alive).toBe(1 + 1 + 2 + 1024);
    expect(r.budget.used).toBeLessThanOrEqual(7 * 2 ** 20);
  });

  it(
    '100,000 devices stop at the default limit, which counts their rows of the summary (once served at 455 MB, 790 MB for domains)',
    { timeout: 120_000 },
    async () => {
      const events: Ev[] = [{ op: 'map', domain: 1, iova: 4096, paddr: 4096, size: 4096 }];
      for (let d = 0; d < 100_000; d++)
        events.push({ op: 'attach', device: 0x1000 + d, domain: 1 }, { op: 'dma_read', device: 0x1000 + d, iova: 4096, size: 64 });
      const f = await trace('100000-devices.arrows', events);
      const out = path.join(dir, 'devices.json');
      const r = runCliMeasured(['replay', f, '--json', out]);
      expect(r.stderr).toMatch(
        /^iommu-replay: Stopped at row \d+: device [0-9a-f:.]+ \([\d,]+ devices so far\) needs about [\d.]+ KiB \(384 MiB already in use\), over the 384 MiB limit; raise it with --max-table-memory\n$/,
      );
      expect(r.status).toBe(2);
      expect(fs.existsSync(out)).toBe(false);
    },
  );

  it('domains without tables (identity) are charged their summary rows: 2,000 of them pass no 8 MiB limit', () => {
    const domains = Object.fromEntries(Array.from({ length: 2000 }, (_, k) => [k + 2, 'identity']));
    const events = Array.from({ length: 2000 }, (_, k): Ev => ({ op: 'attach', device: DEV, domain: k + 2 }));
    const r = new Replay(resolveConfig({}, 'limits'), metaOf({ domains }), { maxTableBytes: 8 * 2 ** 20 });
    expect(() => consumeInTwo(r, events)).toThrow(/^Stopped at row \d+: domain \d+ \([\d,]+ domains so far\) needs about [\d.]+ KiB .* over the 8 MiB limit/);
  });

  it('a limit that fits serves the trace, and the budget holds what the tables hold', () => {
    const events = manyDomains(300);
    const r = new Replay(resolveConfig({}, 'limits'), metaOf(), { maxTableBytes: 64 * 2 ** 20 });
    consumeInTwo(r, events);
    // Four table pages a domain (root and three levels to the 4K leaf), in a pool of at least that many.
    expect(r.pool.alive).toBe(4 * 300);
    expect(r.budget.used).toBeGreaterThanOrEqual(4 * 300 * TABLE_PAGE_COST_BYTES + 300 * 1000);
    expect(r.budget.used).toBeLessThanOrEqual(64 * 2 ** 20);
    // The same trace under a limit it passes stops with the line, never past the limit.
    const small = new Replay(resolveConfig({}, 'limits'), metaOf(), { maxTableBytes: 2 * 2 ** 20 });
    expect(() => consumeInTwo(small, events)).toThrow(/^Stopped at row \d+: .* over the 2 MiB limit; raise it with --max-table-memory$/);
    expect(small.budget.used).toBeLessThanOrEqual(2 * 2 ** 20);
  });
});

describe('IOMMU instances: bounded, and paid for when used', () => {
  /** memory-topology-30000-instances-3-events: n instances of one device each, three events on another device. */
  function topology(n: number) {
    return { topology: { iommus: Array.from({ length: n }, (_, i) => ({ name: `d${i}`, devices: [0x308 + i] })) } };
  }
  const THREE: Ev[] = [
    { op: 'attach', device: DEV, domain: 1 },
    { op: 'map', domain: 1, iova: 4096, paddr: 4096, size: 4096 },
    { op: 'dma_read', device: DEV, iova: 4096, size: 64 },
  ];

  it('30,000 instances in the trace are refused in one line (memory-topology-30000-instances-3-events)', { timeout: 120_000 }, async () => {
    const f = await trace('30000-instances.arrows', THREE, topology(30000));
    const r = runCliMeasured(['replay', f, '--json', path.join(dir, 't.json')]);
    expect(r.stderr).toBe(`iommu-replay: Cannot use the trace's topology: 30,000 IOMMU instances, over the limit of 4,096\n`);
    expect(r.status).toBe(2);
    expect(r.maxRssKiB).toBeLessThan(MB500_KIB);
  });

  it(`${MAX_INSTANCES} instances, three events: served, each instance's DID space made only when used`, { timeout: 120_000 }, async () => {
    const f = await trace('4096-instances.arrows', THREE, topology(MAX_INSTANCES));
    const out = path.join(dir, 't.json');
    // 2^20 DIDs an instance: a MiB of DID space for the one instance in use (4 GiB were all made up front).
    const cfg = path.join(dir, 'dids.json');
    fs.writeFileSync(cfg, JSON.stringify({ domainIds: 2 ** 20 }));
    const r = runCliMeasured(['replay', f, '--config', cfg, '--json', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8')).totals.dma.events).toBe(1);
    expect(r.maxRssKiB).toBeLessThan(MB500_KIB);
  });

  it('a domain holds DIDs only on the instances it is attached on, not a column for every instance', () => {
    const iommus = Array.from({ length: MAX_INSTANCES }, (_, i) => ({ name: `i${i}` }));
    const r = new Replay(resolveConfig({ iommus }, 'limits'), metaOf(), { maxTableBytes: 48 * 2 ** 20 });
    // 1,000 domains, each attached once and mapped: about 37 MiB with their tables; 8 bytes x 4,096 instances each would add 32 MiB.
    consumeInTwo(r, manyDomains(1000));
    expect(r.nDomains).toBe(1000);
    expect(r.budget.used).toBeLessThan(48 * 2 ** 20);
  });

  it("an instance's IOTLB and walk caches are made with its first device", () => {
    // 4,096 IOTLBs of 65,536 entries would be 10 GiB; the one instance in use holds 2.7 MiB.
    const r = new Replay(
      resolveConfig({ iotlb: { entries: 65536, ways: 4 }, walkCache: { entries: 1024, ways: 4 } }, 'limits'),
      metaOf(topology(MAX_INSTANCES)),
      { maxTableBytes: 32 * 2 ** 20 },
    );
    consumeInTwo(r, THREE);
    expect(r.iotlbs.filter((t) => t !== undefined)).toHaveLength(1);
    expect(r.budget.used).toBeLessThan(32 * 2 ** 20);
  });

  it('a configuration of more instances is refused with its field', () => {
    expect(() => resolveConfig({ iommus: Array.from({ length: MAX_INSTANCES + 1 }, (_, i) => ({ name: `i${i}` })) }, 'c.json')).toThrow(
      `Invalid config "c.json": iommus: expected at most ${MAX_INSTANCES} instances, got ${MAX_INSTANCES + 1}`,
    );
  });

  it("a domain on the 151st instance takes that instance's page sizes (its index once wrapped in a byte)", () => {
    const iommus = Array.from({ length: 200 }, (_, i) => ({ name: `i${i}`, ...(i === 150 ? { pageSizes: ['4K'] } : {}) }));
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0x200000, paddr: 0x200000, size: 0x200000 },
      ],
      { iommus, devices: { '0000:03:00.0': { iommu: 'i150' } } },
    );
    // 4K only: 512 leaves of 4K, no 2M leaf.
    expect(domainRow(s, 1).map.pages).toEqual({ '4K': 512 });
  });
});

describe('large TLBs', () => {
  it('a valid 2^24-entry fully associative IOTLB is served (config-iotlb-2^24-fully-associative-slow)', { timeout: 120_000 }, () => {
    const cfg = path.join(dir, 'iotlb-2^24.json');
    fs.writeFileSync(cfg, JSON.stringify({ iotlb: { entries: 16777216, ways: 'full' } }));
    const out = path.join(dir, 'big.json');
    const r = runCliMeasured(['replay', 'traces/nic.arrows', '--config', cfg, '--json', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.maxRssKiB).toBeLessThan(MB500_KIB);
    // Nothing is evicted from so large a table: the hits of any fully associative table that holds every fill.
    const ref = path.join(dir, 'ref.json');
    expect(runCliMeasured(['replay', 'traces/nic.arrows', '--iotlb', '65536xfull', '--json', ref]).status).toBe(0);
    const totals = (f: string) => JSON.stringify(JSON.parse(fs.readFileSync(f, 'utf8')).totals);
    expect(totals(out)).toBe(totals(ref));
  });

  it('a 2^24-entry device TLB on 2,000 devices costs what the devices fill', { timeout: 120_000 }, async () => {
    const devices: Record<string, { devtlb: boolean }> = {};
    const events: Ev[] = [{ op: 'map', domain: 1, iova: 4096, paddr: 4096, size: 4096 }];
    for (let d = 0; d < 2000; d++) {
      devices[String(0x1000 + d)] = { devtlb: true };
      events.push({ op: 'attach', device: 0x1000 + d, domain: 1 }, { op: 'dma_read', device: 0x1000 + d, iova: 4096, size: 64 });
    }
    const f = await trace('2000-devtlbs.arrows', events);
    const cfg = path.join(dir, 'devtlb-2^24.json');
    fs.writeFileSync(cfg, JSON.stringify({ devtlb: { entries: 16777216, ways: 'full' }, devices }));
    const out = path.join(dir, 'devtlb.json');
    const r = runCliMeasured(['replay', f, '--config', cfg, '--json', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8')).totals.devtlb.lookups).toBe(2000);
    expect(r.maxRssKiB).toBeLessThan(MB500_KIB);
  });
});
