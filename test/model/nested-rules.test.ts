// One test per rule of docs/model.md §8 (nested translation), named after the
// rule, on hand-built traces with their counters written out.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { InputError } from '../../src/errors.js';
import { Replay } from '../../src/model/replay.js';
import { mergeMetadata, parseMetadata } from '../../src/trace/metadata.js';
import { writeTrace } from '../../src/trace/writer.js';
import { runCli, tmpDir } from '../helpers/cli.js';
import { G1, K4, M2, batchOf, type Ev } from '../helpers/events.js';
import { domainRow, metaOf, replayEvents, type Meta } from '../helpers/replay.js';

const DEV = 0x300;
const DEV2 = 0x400;
const DEV3 = 0x500;
const P = 5; // the parent (stage 2)
const N = 7; // the nested domain (stage 1)
const N2 = 8; // a second nested domain over P
const META: Meta = { domains: { [N]: { type: 'nested', parent: P }, [N2]: { type: 'nested', parent: P } } };
const IPA = 4 * G1; // where the guest's RAM lies in IPA space
const PA = 8 * G1; // where the host put it
const IOVA = G1;
const DEVTLB = { devices: { '0000:03:00.0': { devtlb: true } } };

/** N attached at DEV; S1 maps IOVA -> IPA (s1 bytes), S2 maps IPA -> PA (s2 bytes); a 1-byte read at IOVA + off. */
function pair(s1: number, s2: number, extra: Ev[] = [], config: object = {}) {
  return replayEvents(
    [
      { op: 'attach', device: DEV, domain: N },
      { op: 'map', domain: P, iova: IPA, paddr: PA, size: s2 },
      { op: 'map', domain: N, iova: IOVA, paddr: IPA, size: s1 },
      { op: 'dma_read', device: DEV, iova: IOVA, size: 1 },
      ...extra,
    ],
    config,
    META,
  );
}

describe('§8 trace: iommu.domains objects', () => {
  const raw = (domains: unknown) => new Map([['iommu.domains', JSON.stringify(domains)]]);

  it('a nested domain is {"type": "nested", "parent": N} over a paging parent, listed or not; the string forms stay valid', () => {
    const m = parseMetadata('t.arrow', raw({ 7: { type: 'nested', parent: 5 }, 8: { type: 'nested', parent: 9 }, 9: 'paging', 3: 'identity' }));
    expect([...m.domains]).toEqual(
      [
        ['3', 'identity'],
        ['7', 'nested'],
        ['8', 'nested'],
        ['9', 'paging'],
      ]
        .map(([k, v]) => [Number(k), v])
        .sort((a, b) => (a[0] as number) - (b[0] as number)),
    );
    expect([...m.parents!]).toEqual([
      [7, 5],
      [8, 9],
    ]);
  });

  it('a nested domain without a parent, or over anything but a paging domain, is a bad trace', () => {
    const bad = (domains: unknown) => () => parseMetadata('t.arrow', raw(domains));
    expect(bad({ 7: { type: 'nested' } })).toThrow(
      new InputError(
        'Cannot read trace "t.arrow": metadata "iommu.domains" gives nested domain 7 no parent, expected {"type": "nested", "parent": <the uint32 id of a paging domain>}',
      ),
    );
    expect(bad({ 7: 'nested' })).toThrow(
      new InputError(
        'Cannot read trace "t.arrow": metadata "iommu.domains" gives domain 7 type "nested" without a parent, expected {"type": "nested", "parent": <id>}',
      ),
    );
    expect(bad({ 7: { type: 'nested', parent: 5 }, 5: 'identity' })).toThrow(
      new InputError('Cannot read trace "t.arrow": metadata "iommu.domains" gives nested domain 7 parent 5, which is identity, expected a paging domain'),
    );
    expect(bad({ 7: { type: 'nested', parent: 8 }, 8: { type: 'nested', parent: 5 } })).toThrow(
      /nested domain 7 parent 8, which is nested, expected a paging domain/,
    );
    expect(bad({ 7: { type: 'nested', parent: -1 } })).toThrow(/parent -1, expected the uint32 id/);
  });

  it('files of one trace must agree on nested parents, and a parent typed in another file must be paging', () => {
    const a = parseMetadata('a.arrow', raw({ 7: { type: 'nested', parent: 5 } }));
    const b = parseMetadata('b.arrow', raw({ 7: { type: 'nested', parent: 6 } }));
    const c = parseMetadata('c.arrow', raw({ 5: 'sva' }));
    expect(() =>
      mergeMetadata([
        { path: 'a.arrow', meta: a },
        { path: 'b.arrow', meta: b },
      ]),
    ).toThrow('Cannot read trace "b.arrow": nested domain 7 has parent 6 here but 5 in an earlier file');
    expect(() =>
      mergeMetadata([
        { path: 'a.arrow', meta: a },
        { path: 'c.arrow', meta: c },
      ]),
    ).toThrow(/"c.arrow": metadata "iommu.domains" gives nested domain 7 parent 5, which is sva/);
    expect(
      mergeMetadata([
        { path: 'a.arrow', meta: a },
        { path: 'a2.arrow', meta: a },
      ]).parents,
    ).toEqual(new Map([[7, 5]]));
  });

  it('a bad nested domain stops replay with one line on stderr, exit 2 and no output file', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'bad.arrows');
    await writeTrace(
      f,
      {
        domains: new Map([
          [7, 'nested'],
          [5, 'blocked'],
        ]),
        parents: new Map([[7, 5]]),
      },
      [batchOf([{ op: 'flush', domain: 7 }])],
    );
    const out = path.join(dir, 's.json');
    const r = runCli(['replay', f, '--json', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `iommu-replay: Cannot read trace "${f}": metadata "iommu.domains" gives nested domain 7 parent 5, which is blocked, expected a paging domain\n`,
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a written nested domain reads back with its parent', async () => {
    const f = path.join(tmpDir(), 'ok.arrows');
    await writeTrace(f, metaOf(META), [batchOf([{ op: 'flush', domain: N }])]);
    const r = runCli(['inspect', f, '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).domains).toContainEqual({ domain: N, type: 'nested', parent: P, declared: true, events: 1 });
  });

  it('a parent may itself be attached, mapped and flushed directly', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV2, domain: P },
        { op: 'map', domain: P, iova: 0, paddr: PA, size: K4 },
        { op: 'dma_read', device: DEV2, iova: 0, size: 1 },
        { op: 'flush', domain: P },
      ],
      {},
      META,
    );
    expect(s.totals.walks).toMatchObject({ count: 1, memoryAccesses: 4 });
    expect(s.totals.nested).toEqual({ walks: 0, memoryAccesses: 0, s1Faults: 0, s2Faults: 0 });
    expect(domainRow(s, P).invalidation).toMatchObject({ flushes: 1, commands: { page: 0, domain: 1, devtlb: 0, wait: 1 }, entriesRemoved: 1 });
  });
});

describe('§8 map and unmap: on a nested domain they change S1, on a parent S2', () => {
  it('§3 and §4 apply to each table unchanged: the iommu_pgsize split and the chunks', () => {
    const s = replayEvents(
      [
        { op: 'map', domain: N, iova: 0x1000, paddr: 0x1000, size: 2 * M2 }, // example B: 511 x 4K, 1 x 2M, 1 x 4K
        { op: 'map', domain: P, iova: 0, paddr: G1, size: G1 + M2 },
        { op: 'unmap', domain: P, iova: 0, size: G1 },
      ],
      {},
      META,
    );
    expect(domainRow(s, N).map.pages).toEqual({ '4K': 512, '2M': 1 });
    expect(domainRow(s, P).map.pages).toEqual({ '1G': 1, '2M': 1 });
    expect(domainRow(s, P).unmap.pages).toEqual({ '1G': 1 });
    expect(domainRow(s, N).type).toBe('nested');
  });

  it("a nested domain's bitmap is fixed as a paging domain's is: mapped before any attach, the first instance's", () => {
    const s = replayEvents(
      [
        { op: 'map', domain: N, iova: 0, paddr: 0, size: M2 },
        { op: 'attach', device: DEV, domain: N }, // behind b (4K only): S1 is not checked
        { op: 'map', domain: N, iova: M2, paddr: M2, size: M2 },
      ],
      {
        iommus: [
          { name: 'a', pageSizes: ['4K', '2M'] },
          { name: 'b', pageSizes: ['4K'] },
        ],
        devices: { '0000:03:00.0': { iommu: 'b' } },
      },
      META,
    );
    expect(domainRow(s, N).map.pages).toEqual({ '2M': 2 });
    expect(s.totals.attach).toEqual({ ops: 1, errors: 0 });
  });

  it('maps on either stage send nothing', () => {
    const s = pair(
      K4,
      K4,
      [
        { op: 'map', domain: P, iova: IPA + M2, paddr: PA + M2, size: M2 },
        { op: 'map', domain: N, iova: 0, paddr: IPA + M2, size: M2 },
      ],
      DEVTLB,
    );
    expect(s.totals.invalidation).toMatchObject({ syncs: 0, commands: { page: 0, domain: 0, devtlb: 0, wait: 0 }, flushes: 0 });
  });
});

describe('§8 attach and DIDs', () => {
  const TWO = {
    iommus: [
      { name: 'a', pageSizes: ['4K', '2M'] },
      { name: 'b', pageSizes: ['4K'] },
    ],
    devices: { '0000:03:00.0': { iommu: 'b' }, '0000:04:00.0': { iommu: 'a' } },
  };

  it('a nested attach is also a use of its parent, fixing the parent bitmap', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: N }, // behind b: P's bitmap becomes 4K
        { op: 'map', domain: P, iova: 0, paddr: 0, size: M2 },
        { op: 'attach', device: DEV2, domain: P }, // behind a: 4K fits
      ],
      TWO,
      META,
    );
    expect(domainRow(s, P).map.pages).toEqual({ '4K': 512 });
    expect(s.totals.attach).toEqual({ ops: 2, errors: 0 });
  });

  it("a nested attach fails with EINVAL when the parent's bitmap does not fit the instance; the S1 bitmap is not checked", () => {
    const s = replayEvents(
      [
        { op: 'map', domain: P, iova: 0, paddr: 0, size: K4 }, // P fixed to a: 4K|2M
        { op: 'map', domain: N2, iova: 0, paddr: 0, size: K4 }, // N2 fixed to a: 4K|2M, never checked
        { op: 'attach', device: DEV, domain: N }, // behind b: P's 2M does not fit
        { op: 'dma_read', device: DEV, iova: 0, size: 1 }, // nothing attached: a fault
      ],
      TWO,
      META,
    );
    expect(s.totals.attach).toEqual({ ops: 1, errors: 1 });
    expect(s.totals.dma.faults).toBe(1);
    const t = replayEvents(
      [
        { op: 'attach', device: DEV3, domain: P }, // P fixed to a (DEV3 sits behind the first instance)
        { op: 'map', domain: N, iova: 0, paddr: 0, size: K4 },
      ],
      {
        iommus: [
          { name: 'a', pageSizes: ['4K'] },
          { name: 'b', pageSizes: ['4K', '2M'] },
        ],
        devices: { '0000:04:00.0': { iommu: 'a' } },
      },
      META,
    );
    expect(t.totals.attach.errors).toBe(0);
    const u = replayEvents(
      [
        { op: 'map', domain: N, iova: 0, paddr: 0, size: K4 }, // N fixed to a: 4K|2M
        { op: 'attach', device: DEV2, domain: P }, // behind a
        { op: 'attach', device: DEV, domain: N }, // behind b (4K): P's 4K|2M does not fit; N's own bitmap is not what fails
      ],
      TWO,
      META,
    );
    expect(u.totals.attach).toEqual({ ops: 2, errors: 1 });
    const v = replayEvents(
      [
        { op: 'map', domain: N, iova: 0, paddr: 0, size: K4 }, // N fixed to a: 4K|2M, which b lacks
        { op: 'attach', device: DEV, domain: N2 }, // N2 fixes P to b: 4K
        { op: 'attach', device: DEV, pasid: 1, domain: N }, // P (4K) fits b: succeeds although N has 2M
      ],
      TWO,
      META,
    );
    expect(v.totals.attach).toEqual({ ops: 2, errors: 0 });
  });

  it('a nested domain gets its own DID on each instance; its attachment gives the parent none; two nested domains never share one', () => {
    // domainIds 4: DIDs 2 and 3 only.
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: N },
        { op: 'attach', device: DEV2, domain: N2 }, // a second DID: the parent took none
        { op: 'attach', device: DEV3, domain: P }, // ENOSPC: both DIDs are the nested domains'
        { op: 'detach', device: DEV },
        { op: 'attach', device: DEV3, domain: P }, // N's DID is free again
      ],
      { domainIds: 4 },
      META,
    );
    expect(s.totals.attach).toEqual({ ops: 5, errors: 1 });
  });

  it("a nested attach at a PASID works like a paging domain's", () => {
    const s = pair(K4, K4, [
      { op: 'attach', device: DEV, pasid: 3, domain: N },
      { op: 'dma_read', device: DEV, pasid: 3, iova: IOVA, size: 1 },
    ]);
    expect(s.totals.iotlb).toMatchObject({ lookups: 2, hits: 0 }); // another tag (DID, PASID 3): a miss
    expect(s.totals.nested.walks).toBe(2);
  });

  it("replacing or removing a nested attachment is §2's paging teardown on the nested DID", () => {
    const s = pair(K4, K4, [{ op: 'detach', device: DEV }], DEVTLB);
    expect(domainRow(s, N).invalidation).toMatchObject({ flushes: 1, commands: { page: 0, domain: 1, devtlb: 1, wait: 1 }, entriesRemoved: 1 });
    expect(domainRow(s, P).invalidation).toMatchObject({ flushes: 0, commands: { page: 0, domain: 0, devtlb: 0, wait: 0 } });
  });
});

describe('§8 translation', () => {
  it.each([
    ['4K', '4K', K4, K4, 24],
    ['2M', '4K', M2, K4, 19],
    ['4K', '2M', K4, M2, 19],
    ['2M', '2M', M2, M2, 15],
    ['2M', '1G', M2, G1, 11],
    ['1G', '1G', G1, G1, 8],
  ])('a miss walks both stages: (s1+1)(s2+1)-1 accesses, %s over %s', (_a, _b, s1, s2, accesses) => {
    // 4 levels: a 4K leaf takes 4 accesses, 2M 3, 1G 2. 4K over 4K: 5 * 5 - 1 = 24; 2M over 4K: 4 * 5 - 1 = 19;
    // 2M over 2M: 4 * 4 - 1 = 15; 2M over 1G: 4 * 3 - 1 = 11; 1G over 1G: 3 * 3 - 1 = 8.
    const s = pair(s1, s2);
    expect(s.totals.walks).toMatchObject({ count: 1, memoryAccesses: accesses });
    expect(s.totals.nested).toEqual({ walks: 1, memoryAccesses: accesses, s1Faults: 0, s2Faults: 0 });
    expect(s.totals.iotlb).toMatchObject({ lookups: 1, hits: 0, misses: 1 });
  });

  it('5-level tables: 4K over 4K is 6 * 6 - 1 = 35 accesses', () => {
    expect(pair(K4, K4, [], { pageTable: { levels: 5 } }).totals.nested.memoryAccesses).toBe(35);
  });

  it('a miss faults when no S1 leaf covers the IOVA, or no S2 leaf covers the IPA; the rest of the event is dropped', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: N },
        { op: 'map', domain: N, iova: IOVA, paddr: IPA, size: 3 * K4 },
        { op: 'map', domain: P, iova: IPA, paddr: PA, size: K4 },
        { op: 'map', domain: P, iova: IPA + 2 * K4, paddr: PA, size: K4 },
        { op: 'dma_read', device: DEV, iova: IOVA, size: 3 * K4 }, // page 2's IPA has no S2 leaf: 1 walk, then a fault
        { op: 'dma_read', device: DEV, iova: 0, size: 1 }, // no S1 leaf
      ],
      {},
      META,
    );
    expect(s.totals.dma).toMatchObject({ events: 2, faults: 2 });
    expect(s.totals.nested).toEqual({ walks: 1, memoryAccesses: 24, s1Faults: 1, s2Faults: 1 });
    expect(s.totals.iotlb).toMatchObject({ lookups: 3, hits: 0 });
  });

  it('a miss fills one entry of the smaller leaf, based at the address rounded down, its PA the S2 translation of that base; the walk continues at its end', () => {
    const config = resolveConfig({}, 'test');
    const r = new Replay(config, metaOf(META));
    // S1: one 2M leaf IOVA -> IPA; S2: 4K leaves (PA 4K-aligned only).
    r.consume(
      batchOf([
        { op: 'attach', device: DEV, domain: N },
        { op: 'map', domain: P, iova: IPA, paddr: PA + K4, size: M2 },
        { op: 'map', domain: N, iova: IOVA, paddr: IPA, size: M2 },
        { op: 'dma_read', device: DEV, iova: IOVA + 5 * K4 + 0x10, size: 2 * K4 - 0x10 }, // pages 5 and 6: two 4K entries
        { op: 'dma_read', device: DEV, iova: IOVA + 6 * K4, size: 1 }, // a hit
      ]),
    );
    const t = r.iotlbs[0];
    const valid = [...t.state.keys()]
      .filter((i) => t.state[i] === 1)
      .map((i) => [t.base[i] * K4, t.order[i], t.phys[i] * K4])
      .sort((a, b) => a[0] - b[0]);
    expect(valid).toEqual([
      [IOVA + 5 * K4, 0, PA + K4 + 5 * K4],
      [IOVA + 6 * K4, 0, PA + K4 + 6 * K4],
    ]);
    expect(r.counters.nestedWalks).toBe(2);
    // S1 4K over S2 2M: 4K entries too.
    const s = pair(K4, M2, [{ op: 'dma_read', device: DEV, iova: IOVA, size: 1 }]);
    expect(s.totals.iotlb).toMatchObject({ lookups: 2, hits: 1 });
    expect(s.byPageSize.find((p) => p.pageSize === '4K')).toMatchObject({ lookups: 2, hits: 1 });
    // 2M over 2M: one 2M entry serves the whole 2M.
    const m = pair(M2, M2, [{ op: 'dma_read', device: DEV, iova: IOVA + M2 - K4, size: K4 }]);
    expect(m.totals.iotlb).toMatchObject({ lookups: 2, hits: 1 });
    expect(m.byPageSize.find((p) => p.pageSize === '2M')).toMatchObject({ lookups: 2, hits: 1 });
  });

  it("the probe tries every size of either stage's bitmap, largest first", () => {
    // S1 allows 4K|2M (fixed to instance a by a map before any attach), S2 64K|2M
    // (fixed to c by its own attach): a 2M S1 leaf over 64K S2 leaves fills
    // 64K entries, a size that only S2 allows, and the next DMA finds one.
    const s = replayEvents(
      [
        { op: 'map', domain: N, iova: IOVA, paddr: IPA, size: M2 },
        { op: 'attach', device: DEV3, domain: P },
        { op: 'map', domain: P, iova: IPA, paddr: PA + 0x10000, size: M2 },
        { op: 'attach', device: DEV, domain: N },
        { op: 'dma_read', device: DEV, iova: IOVA + 0x10000, size: 1 },
        { op: 'dma_read', device: DEV, iova: IOVA + 0x1f000, size: 1 },
      ],
      {
        iommus: [
          { name: 'a', pageSizes: ['4K', '2M'] },
          { name: 'b', pageSizes: ['4K', '64K', '2M'] },
          { name: 'c', pageSizes: ['64K', '2M'] },
        ],
        devices: { '0000:03:00.0': { iommu: 'b' }, '0000:05:00.0': { iommu: 'c' } },
      },
      META,
    );
    expect(domainRow(s, P).map.pages).toEqual({ '64K': 32 });
    // 2M S1 leaf: 3 accesses; 64K S2 leaf (replicated 4K-level entries): 4. (3+1)(4+1)-1 = 19.
    expect(s.totals.nested).toMatchObject({ walks: 1, memoryAccesses: 19 });
    expect(s.totals.iotlb).toMatchObject({ lookups: 2, hits: 1 });
    expect(s.byPageSize.find((p) => p.pageSize === '64K')).toMatchObject({ lookups: 2, hits: 1 });
  });

  it('a hit is stale when a walk made now for its base would fault or give another base, size or PA', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: N },
        { op: 'map', domain: P, iova: IPA, paddr: PA, size: 2 * K4 },
        { op: 'map', domain: N, iova: IOVA, paddr: IPA, size: K4 },
        { op: 'dma_read', device: DEV, iova: IOVA, size: 1 }, // walk, fill (PA)
        { op: 'unmap', domain: N, iova: IOVA, size: K4 }, // lazy S1: nothing sent
        { op: 'dma_read', device: DEV, iova: IOVA, size: 1 }, // stale: a walk now faults in S1
        { op: 'map', domain: N, iova: IOVA, paddr: IPA + K4, size: K4 },
        { op: 'dma_read', device: DEV, iova: IOVA, size: 1 }, // stale: now PA + 4K
        { op: 'unmap', domain: N, iova: IOVA, size: K4 },
        { op: 'map', domain: N, iova: IOVA, paddr: IPA, size: K4 },
        { op: 'dma_read', device: DEV, iova: IOVA, size: 1 }, // remapped alike: not stale
        { op: 'map', domain: N, iova: IOVA + M2, paddr: IPA, size: M2 }, // a 4K entry inside a 2M S1 leaf over 4K S2: same base, size, PA
      ],
      { invalidation: { mode: 'lazy' } },
      META,
    );
    expect(s.totals.iotlb).toMatchObject({ lookups: 4, hits: 3, staleHits: 2 });
    expect(s.totals.nested.walks).toBe(1);
    expect(domainRow(s, N).iotlb).toMatchObject({ lookups: 4, hits: 3, staleHits: 2 });
  });

  it('walk caches (an extension) do not apply to nested walks', () => {
    const s = pair(
      K4,
      K4,
      [
        { op: 'map', domain: N, iova: IOVA + K4, paddr: IPA, size: K4 },
        { op: 'dma_read', device: DEV, iova: IOVA + K4, size: 1 },
      ],
      { walkCache: { entries: 16, ways: 4 } },
    );
    expect(s.totals.walks).toMatchObject({ count: 2, memoryAccesses: 48, walkCacheHits: 0 });
  });

  it('a device TLB holds combined entries tagged by PASID and is filled on a walk and on an IOTLB hit', () => {
    const s = pair(K4, K4, [{ op: 'dma_read', device: DEV, iova: IOVA, size: 1 }], DEVTLB);
    expect(s.totals.devtlb).toMatchObject({ lookups: 2, hits: 1 });
    expect(s.totals.iotlb).toMatchObject({ lookups: 1, hits: 0 });
  });
});

describe('§8 invalidation', () => {
  it('S1 changes follow invalidation.mode: strict sends §5 commands on the nested tag', () => {
    const s = pair(
      2 * K4,
      2 * K4,
      [
        { op: 'dma_read', device: DEV, iova: IOVA + K4, size: 1 },
        { op: 'unmap', domain: N, iova: IOVA, size: K4 },
      ],
      DEVTLB,
    );
    // Page-selective over [IOVA, IOVA+4K): the one entry there; the device-TLB command over the same cover.
    expect(domainRow(s, N).invalidation).toMatchObject({ syncs: 1, commands: { page: 1, domain: 0, devtlb: 1, wait: 1 }, entriesRemoved: 1 });
    expect(domainRow(s, P).invalidation).toMatchObject({ syncs: 0, commands: { page: 0, domain: 0, devtlb: 0, wait: 0 } });
  });

  it('S1 changes follow invalidation.mode: lazy queues them and the flush queue flushes the nested tags', () => {
    const s = pair(
      K4,
      K4,
      [
        { ts: 100, op: 'unmap', domain: N, iova: IOVA, size: K4 },
        { ts: 200, op: 'dma_read', device: DEV, iova: IOVA, size: 1 }, // stale
        { ts: 20_000_000, op: 'dma_read', device: DEV, iova: IOVA, size: 1 }, // after the timeout flush: S1 fault
      ],
      { invalidation: { mode: 'lazy' }, ...DEVTLB },
    );
    expect(domainRow(s, N).invalidation).toMatchObject({ syncs: 0, flushes: 1, commands: { page: 0, domain: 1, devtlb: 1, wait: 1 }, entriesRemoved: 1 });
    expect(s.totals.nested.s1Faults).toBe(1);
    expect(s.totals.devtlb).toMatchObject({ lookups: 3, hits: 1 });
  });

  it('S2 changes are always strict and send one command per nested tag, which removes every entry of that tag', () => {
    // Lazy mode: the guest's choice, not the host's. N is attached at DEV
    // (device TLB) on PASIDs 0 and 2; two entries of each tag, in two S2 pages.
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: N },
        { op: 'attach', device: DEV, pasid: 2, domain: N },
        { op: 'map', domain: P, iova: IPA, paddr: PA, size: 2 * K4 },
        { op: 'map', domain: N, iova: IOVA, paddr: IPA, size: 2 * K4 },
        { op: 'dma_read', device: DEV, iova: IOVA, size: 2 * K4 },
        { op: 'dma_read', device: DEV, pasid: 2, iova: IOVA, size: 2 * K4 },
        { op: 'unmap', domain: P, iova: IPA, size: K4 }, // one S2 page: every entry of both tags goes
        { op: 'dma_read', device: DEV, iova: IOVA + K4, size: 1 }, // a miss now, and a walk
      ],
      { invalidation: { mode: 'lazy' }, ...DEVTLB },
      META,
    );
    expect(domainRow(s, P).invalidation).toMatchObject({ syncs: 1, flushes: 0, commands: { page: 2, domain: 0, devtlb: 2, wait: 1 }, entriesRemoved: 4 });
    expect(domainRow(s, N).invalidation).toMatchObject({ syncs: 0, flushes: 0, commands: { page: 0, domain: 0, devtlb: 0, wait: 0 }, entriesRemoved: 0 });
    expect(s.totals.nested.walks).toBe(5);
    expect(s.totals.iotlb).toMatchObject({ lookups: 5, hits: 0, invalidatedMisses: 1 });
  });

  it("an S2 sync also sends the parent's own §5 commands, and one wait per instance touched", () => {
    const config = {
      iommus: [{ name: 'a' }, { name: 'b' }],
      devices: { '0000:03:00.0': { iommu: 'b', devtlb: true }, '0000:04:00.0': { iommu: 'a', devtlb: true } },
    };
    const events: Ev[] = [
      { op: 'attach', device: DEV, domain: N },
      { op: 'attach', device: DEV2, domain: P },
      { op: 'map', domain: P, iova: IPA, paddr: PA, size: K4 },
      { op: 'map', domain: N, iova: IOVA, paddr: IPA, size: K4 },
      { op: 'unmap', domain: P, iova: IPA, size: K4 },
    ];
    const s = replayEvents(events, config, META);
    // Own: one page command (tag of DEV2 on a), one device-TLB command over the cover;
    // nested: one page command (N's tag on b), one all-addresses device-TLB command; waits on a and b.
    expect(domainRow(s, P).invalidation).toMatchObject({ syncs: 1, commands: { page: 2, domain: 0, devtlb: 2, wait: 2 } });
    const same = replayEvents(events, { devices: { '0000:03:00.0': { devtlb: true } } }, META);
    expect(domainRow(same, P).invalidation).toMatchObject({ syncs: 1, commands: { page: 2, domain: 0, devtlb: 1, wait: 1 } });
  });

  it('an S2 sync whose cover exceeds maxInvalidationMask counts its nested commands as domain-selective', () => {
    const s = pair(K4, 2 * M2, [{ op: 'unmap', domain: P, iova: IPA, size: 2 * M2 }]);
    // 4 MiB = 1024 pages: mask 10 > 9.
    expect(domainRow(s, P).invalidation).toMatchObject({ syncs: 1, commands: { page: 0, domain: 1, devtlb: 0, wait: 1 }, entriesRemoved: 1 });
  });

  it('an S2 sync with no attachment of the parent or of a nested domain over it is counted and sends nothing', () => {
    const s = replayEvents(
      [
        { op: 'map', domain: N, iova: 0, paddr: 0, size: K4 },
        { op: 'map', domain: P, iova: 0, paddr: 0, size: K4 },
        { op: 'unmap', domain: P, iova: 0, size: K4 },
      ],
      {},
      META,
    );
    expect(domainRow(s, P).invalidation).toMatchObject({ syncs: 1, commands: { page: 0, domain: 0, devtlb: 0, wait: 0 } });
  });

  it("flush on a nested domain is §5's domain-wide flush of its tags", () => {
    const s = pair(K4, K4, [{ op: 'flush', domain: N }], DEVTLB);
    expect(domainRow(s, N).invalidation).toMatchObject({ flushes: 1, commands: { page: 0, domain: 1, devtlb: 1, wait: 1 }, entriesRemoved: 1 });
  });

  it('flush on a parent is the S2 sync with every IOTLB command domain-selective and every device-TLB command all-addresses', () => {
    const s = pair(
      K4,
      K4,
      [
        { op: 'attach', device: DEV2, domain: P },
        { op: 'attach', device: DEV3, domain: N2 },
        { op: 'flush', domain: P },
      ],
      { devices: { '0000:03:00.0': { devtlb: true }, '0000:04:00.0': { devtlb: true } } },
    );
    // Own tag (DEV2), N's tag, N2's tag: 3 domain-selective commands; device TLBs of DEV2 and DEV; one instance.
    expect(domainRow(s, P).invalidation).toMatchObject({ syncs: 0, flushes: 1, commands: { page: 0, domain: 3, devtlb: 2, wait: 1 }, entriesRemoved: 1 });
  });
});

describe('§8 summary', () => {
  it("byDomain gives nested domains their type and parent; a parent's entry counts the commands sent for nested tags", () => {
    const s = pair(K4, K4, [{ op: 'unmap', domain: P, iova: IPA, size: K4 }]);
    expect(domainRow(s, N)).toMatchObject({ domain: N, type: 'nested', parent: P });
    expect(domainRow(s, P)).toMatchObject({ domain: P, type: 'paging' });
    expect(domainRow(s, P).parent).toBeUndefined();
    expect(domainRow(s, P).invalidation.commands).toMatchObject({ page: 1, domain: 0, devtlb: 0, wait: 1 });
    expect(s.totals.invalidation.commands).toMatchObject({ page: 1, domain: 0, devtlb: 0, wait: 1 });
  });

  it('walks include 2-D walks; totals.nested breaks them out; s1Faults + s2Faults are within dma.faults', () => {
    const s = pair(K4, K4, [
      { op: 'attach', device: DEV2, domain: P },
      { op: 'map', domain: P, iova: 0, paddr: 0, size: K4 },
      { op: 'dma_read', device: DEV2, iova: 0, size: 1 }, // a 1-D walk of the parent: 4
      { op: 'dma_read', device: DEV2, iova: K4, size: 1 }, // a paging fault
      { op: 'dma_read', device: DEV, iova: 0, size: 1 }, // an S1 fault
    ]);
    expect(s.totals.walks).toMatchObject({ count: 2, memoryAccesses: 28 });
    expect(s.totals.nested).toEqual({ walks: 1, memoryAccesses: 24, s1Faults: 1, s2Faults: 0 });
    expect(s.totals.dma.faults).toBe(2);
  });

  it('peakTablePages counts S1 and S2 tables', () => {
    // One 4K leaf in each of 4-level S1 and S2: a root and three lower tables each.
    expect(pair(K4, K4).totals.pageTable.peakTablePages).toBe(8);
  });
});
