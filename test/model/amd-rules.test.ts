// AMD-Vi's rules (docs/model.md §9, vendor "amd"), each with its counters
// written out by hand: build_inv_address()'s cover, the gather that merges an
// unmap into one sync, one domain-ID space for every instance (and its
// exhaustion), NpCache's split and its flush after map, the domain-wide flush
// and the teardown on every instance of the domain.
import { describe, expect, it } from 'vitest';
import { amdCover, amdCoverOut, npCacheBlockOrder } from '../../src/invalidation/amd.js';
import { K4, M2, type Ev } from '../helpers/events.js';
import { replayEvents } from '../helpers/replay.js';

const DEV = 0x300; // 0000:03:00.0
const DEV2 = 0x400; // 0000:04:00.0
const DEV3 = 0x500; // 0000:05:00.0
const AMD = { vendor: 'amd' };
const NP = { vendor: 'amd', amd: { npCache: true } };
/** Two instances: DEV and DEV3 behind "a", DEV2 behind "b". */
const TWO = {
  iommus: [{ name: 'a' }, { name: 'b' }],
  devices: { '0000:03:00.0': { iommu: 'a' }, '0000:04:00.0': { iommu: 'b' }, '0000:05:00.0': { iommu: 'a' } },
};
const read = (iova: number, device = DEV): Ev => ({ op: 'dma_read', device, iova, size: 64 });

/** The cover of a byte range [start, end) as bytes: [start, size], or 'all'. */
function coverBytes(start: number, end: number): [number, number] | 'all' {
  const order = amdCover(start / K4, end / K4);
  return order < 0 ? 'all' : [amdCoverOut.start * K4, 2 ** order * K4];
}

describe('amd: build_inv_address() cover (§9.3)', () => {
  it('the research worked values: 1 page, 2 aligned pages, 3 pages, 511 pages, the 8M cover, all past bit 51', () => {
    expect(coverBytes(0x1000, 0x2000)).toEqual([0x1000, K4]);
    expect(coverBytes(0x2000, 0x4000)).toEqual([0x2000, 2 * K4]);
    expect(coverBytes(0x1000, 0x4000)).toEqual([0, 4 * K4]); // 16 KiB @0
    expect(coverBytes(0x1000, 0x200000)).toEqual([0, M2]);
    expect(coverBytes(0x1000, 0x402000)).toEqual([0, 4 * M2]); // 8 MiB @0
    expect(coverBytes(2 ** 51 - K4, 2 ** 51 + K4)).toEqual([0, 2 ** 52]); // b = 51: still a block
    expect(coverBytes(2 ** 52 - K4, 2 ** 52 + K4)).toBe('all'); // b = 52 > 51
  });

  it('AMD cover of a 3-page range: [0x3000, 0x6000) invalidates the 32 KiB block @0, one command and one wait', () => {
    // 9 pages mapped and cached (pages 0..8 in 9 sets), then pages 3..5 unmapped.
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: 9 * K4 },
    ];
    for (let p = 0; p < 9; p++) ev.push(read(p * K4));
    ev.push({ op: 'unmap', domain: 1, iova: 3 * K4, size: 3 * K4 }, read(0), read(8 * K4));
    const s = replayEvents(ev, { ...AMD, pageSizes: ['4K'] });
    const inv = s.totals.invalidation;
    expect(inv.syncs).toBe(1);
    expect(inv.commands).toEqual({
      page: 1,
      domain: 0,
      devtlb: 0,
      wait: 1,
      byName: { INVALIDATE_IOMMU_PAGES: 1, INVALIDATE_IOTLB_PAGES: 0, COMPLETION_WAIT: 1 },
    });
    expect(inv.entriesRemoved).toBe(8); // pages 0..7: the cover, not the 3 pages
    expect(s.totals.iotlb).toMatchObject({ lookups: 11, hits: 1, misses: 10 }); // page 0 misses again, page 8 hits
  });

  it('AMD cover of an 8M range: unmap [0x1000, 0x402000) of 511 x 4K, 2M, 2 x 4K is one sync over 8 MiB @0 (VT-d: 3 syncs)', () => {
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0x1000, paddr: 0x1000, size: 0x401000 },
      { op: 'map', domain: 1, iova: 0x500000, paddr: 0x500000, size: K4 }, // inside the cover
      { op: 'map', domain: 1, iova: 0x800000, paddr: 0x800000, size: K4 }, // outside it
      read(0x500000),
      read(0x800000),
      { op: 'unmap', domain: 1, iova: 0x1000, size: 0x401000 },
      read(0x500000),
      read(0x800000),
    ];
    const s = replayEvents(ev, { ...AMD, pageSizes: ['4K', '2M'] });
    expect(s.totals.unmap.pages).toMatchObject({ '4K': 513, '2M': 1 });
    expect(s.totals.invalidation).toMatchObject({ syncs: 1, entriesRemoved: 1, commands: { page: 1, domain: 0, devtlb: 0, wait: 1 } });
    expect(s.totals.iotlb).toMatchObject({ lookups: 4, hits: 1 }); // 0x500000 was removed by the cover, 0x800000 hits
    const vtd = replayEvents(ev, { pageSizes: ['4K', '2M'] });
    expect(vtd.totals.invalidation).toMatchObject({ syncs: 3, commands: { page: 3, wait: 3 } });
  });

  it('a device with a device TLB gets one INVALIDATE_IOTLB_PAGES over the same cover', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: 4 * K4 },
        { op: 'unmap', domain: 1, iova: K4, size: 3 * K4 },
      ],
      { ...AMD, devices: { '0000:03:00.0': { devtlb: true } } },
    );
    expect(s.totals.invalidation.commands.byName).toEqual({ INVALIDATE_IOMMU_PAGES: 1, INVALIDATE_IOTLB_PAGES: 1, COMPLETION_WAIT: 1 });
  });
});

describe('amd: one domain-ID space for every instance (§9.1)', () => {
  it('one ID across two instances: domainIds 2 leaves one ID (0 is reserved), and one domain takes it on both', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'attach', device: DEV2, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
        { op: 'unmap', domain: 1, iova: 0, size: K4 },
      ],
      { ...AMD, ...TWO, domainIds: 2 },
    );
    expect(s.totals.attach).toEqual({ ops: 2, errors: 0 });
    // The sync goes to both instances: one command and one wait on each.
    expect(s.totals.invalidation).toMatchObject({ syncs: 1, commands: { page: 2, domain: 0, wait: 2 } });
  });

  it('ID exhaustion: a second domain finds the one ID taken, on the other instance too, and after the first is detached (IDs are kept)', () => {
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'attach', device: DEV2, domain: 2 }, // ENOSPC: the space is global
      { op: 'detach', device: DEV },
      { op: 'attach', device: DEV3, domain: 2 }, // ENOSPC: domain 1 keeps its ID
      { op: 'attach', device: DEV, domain: 1 }, // its ID again
    ];
    const s = replayEvents(ev, { ...AMD, ...TWO, domainIds: 2 });
    expect(s.totals.attach).toEqual({ ops: 5, errors: 2 });
    // VT-d's DIDs (one usable with domainIds 3: 0 and 1 are reserved) are per
    // instance and freed on detach: only the last attach fails, instance a's
    // DID being domain 2's by then.
    expect(replayEvents(ev, { ...TWO, domainIds: 3 }).totals.attach).toEqual({ ops: 5, errors: 1 });
  });
});

describe('amd: NpCache (§9.3)', () => {
  it('the split: [0x1000, 0x402000) is 11 naturally aligned blocks (4K@0x1000, 8K@0x2000 ... 2M@0x200000, 8K@0x400000)', () => {
    const blocks: [number, number][] = [];
    for (let s = 1, end = 0x402; s < end;) {
      const n = 2 ** npCacheBlockOrder(s, end);
      blocks.push([s * K4, n * K4]);
      s += n;
    }
    expect(blocks).toEqual([
      [0x1000, 0x1000],
      [0x2000, 0x2000],
      [0x4000, 0x4000],
      [0x8000, 0x8000],
      [0x10000, 0x10000],
      [0x20000, 0x20000],
      [0x40000, 0x40000],
      [0x80000, 0x80000],
      [0x100000, 0x100000],
      [0x200000, 0x200000],
      [0x400000, 0x2000],
    ]);
    expect(npCacheBlockOrder(0, 5)).toBe(2); // address 0 is aligned to anything: 4 pages, then 1
  });

  it("NpCache's flush after map, and an unmap of [0x1000, 0x402000): 11 commands each, one wait each, one sync", () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0x1000, paddr: 0x1000, size: 0x401000 },
        { op: 'unmap', domain: 1, iova: 0x1000, size: 0x401000 },
      ],
      { ...NP, pageSizes: ['4K', '2M'] },
    );
    expect(s.totals.invalidation).toMatchObject({ syncs: 1, flushes: 0 });
    expect(s.totals.invalidation.commands).toEqual({
      page: 22,
      domain: 0,
      devtlb: 0,
      wait: 2,
      byName: { INVALIDATE_IOMMU_PAGES: 22, INVALIDATE_IOTLB_PAGES: 0, COMPLETION_WAIT: 2 },
    });
  });

  it("NpCache's flush after map: one command per block (and per block for a device TLB), one wait; none before an attach, none without NpCache", () => {
    const ev: Ev[] = [
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 }, // not attached anywhere: nothing to flush
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: K4, paddr: K4, size: 3 * K4 }, // blocks 4K@0x1000, 8K@0x2000
    ];
    const devtlb = { devices: { '0000:03:00.0': { devtlb: true } } };
    expect(replayEvents(ev, { ...NP, ...devtlb }).totals.invalidation).toMatchObject({ syncs: 0, commands: { page: 2, domain: 0, devtlb: 2, wait: 1 } });
    expect(replayEvents(ev, { ...AMD, ...devtlb }).totals.invalidation.commands).toMatchObject({ page: 0, domain: 0, devtlb: 0, wait: 0 });
  });

  it("NpCache's flush after map counts once per map operation (map_more): a 3-row scatter-gather map of [0, 0x4000) is one 16K command and one wait, not 3 and 3", () => {
    // iommu_map_sg() maps its segments with one __iommu_map() each (one iommu:map event each) and syncs once over the whole.
    const sg: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0x10000, size: K4, mapMore: 1 },
      { op: 'map', domain: 1, iova: K4, paddr: 0x30000, size: K4, mapMore: 1 },
      { op: 'map', domain: 1, iova: 2 * K4, paddr: 0x50000, size: 2 * K4 }, // ends the operation: [0, 0x4000) is one aligned 16K block
    ];
    const byName = (s: ReturnType<typeof replayEvents>) => s.totals.invalidation.commands.byName;
    expect(byName(replayEvents(sg, NP))).toEqual({ INVALIDATE_IOMMU_PAGES: 1, INVALIDATE_IOTLB_PAGES: 0, COMPLETION_WAIT: 1 });
    // The same rows without map_more (older traces): each map its own operation, 4K@0, 4K@0x1000, 8K@0x2000.
    const single = sg.map((e) => ({ ...e, mapMore: undefined }));
    expect(byName(replayEvents(single, NP))).toEqual({ INVALIDATE_IOMMU_PAGES: 3, INVALIDATE_IOTLB_PAGES: 0, COMPLETION_WAIT: 3 });
    // Without NpCache maps send nothing, map_more or not.
    expect(byName(replayEvents(sg, AMD))).toEqual({ INVALIDATE_IOMMU_PAGES: 0, INVALIDATE_IOTLB_PAGES: 0, COMPLETION_WAIT: 0 });
  });

  it("a map operation is per domain (another domain's map between its rows flushes alone), and a map that fails ends it unflushed", () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'attach', device: DEV2, domain: 2 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4, mapMore: 1 },
        { op: 'map', domain: 2, iova: 0, paddr: 0, size: K4 }, // domain 2's own operation: 1 command, 1 wait
        { op: 'map', domain: 1, iova: K4, paddr: K4, size: K4 }, // ends domain 1's [0, 0x2000): one 8K command, 1 wait
        { op: 'map', domain: 1, iova: 4 * K4, paddr: 4 * K4, size: K4, mapMore: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 }, // EEXIST: the operation fails, nothing is flushed
        { op: 'map', domain: 1, iova: 8 * K4, paddr: 8 * K4, size: K4 }, // its own operation: 4K@0x8000, 1 wait
      ],
      NP,
    );
    expect(s.totals.invalidation.commands.byName).toEqual({ INVALIDATE_IOMMU_PAGES: 3, INVALIDATE_IOTLB_PAGES: 0, COMPLETION_WAIT: 3 });
    expect(s.totals.invalidation.entriesRemoved).toBe(0);
  });

  it('NpCache with lazy mode: maps still flush, and a domain-wide flush is one all-addresses INVALIDATE_IOMMU_PAGES per instance', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'attach', device: DEV2, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 }, // 1 command + 1 wait on each instance
        { op: 'unmap', domain: 1, iova: 0, size: K4 }, // queued
        { op: 'flush', domain: 1 },
      ],
      { ...NP, ...TWO, invalidation: { mode: 'lazy' } },
    );
    expect(s.totals.invalidation).toMatchObject({ syncs: 0, flushes: 1, commands: { page: 2, domain: 2, devtlb: 0, wait: 4 } });
  });
});

describe('amd: domain-wide flush and teardown (§9.1, §9.3)', () => {
  it('a flush op: INVALIDATE_IOMMU_PAGES all per instance, INVALIDATE_IOTLB_PAGES all per device TLB, COMPLETION_WAIT per instance', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'attach', device: DEV2, domain: 1 },
        { op: 'attach', device: DEV3, domain: 1 },
        { op: 'flush', domain: 1 },
      ],
      { ...AMD, ...TWO, devices: { ...TWO.devices, '0000:04:00.0': { iommu: 'b', devtlb: true } } },
    );
    expect(s.totals.invalidation).toMatchObject({ flushes: 1, commands: { page: 0, domain: 2, devtlb: 1, wait: 2 } });
  });

  it("teardown flushes the old domain's ID on every instance where it is attached (6.1 do_detach), with every device TLB of the domain", () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'attach', device: DEV2, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
        read(0, DEV),
        read(0, DEV2),
        { op: 'detach', device: DEV }, // instance a (the departing device's) and b
      ],
      { ...AMD, ...TWO, devices: { '0000:03:00.0': { iommu: 'a', devtlb: true }, '0000:04:00.0': { iommu: 'b', devtlb: true } } },
    );
    expect(s.totals.invalidation).toMatchObject({ flushes: 1, entriesRemoved: 2, commands: { page: 0, domain: 2, devtlb: 2, wait: 2 } });
  });

  it("teardown of an identity attachment is a paging domain's (6.1 do_detach): INVALIDATE_IOMMU_PAGES all per instance, the device TLBs, COMPLETION_WAIT per instance", () => {
    // 6.1 gives an identity domain an ID (protection_domain_init_v1() -> domain_id_alloc()) and do_detach() flushes it;
    // the model takes no ID for it (§9.5), so the command removes nothing, but it is sent and waited for.
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'attach', device: DEV2, domain: 1 },
      { op: 'detach', device: DEV }, // instance a (the departing device's) and b, where DEV2 stays
    ];
    const s = replayEvents(ev, AMD, { domains: { 1: 'identity' } });
    expect(s.totals.invalidation).toMatchObject({ flushes: 1, entriesRemoved: 0, commands: { page: 0, domain: 1, devtlb: 0, wait: 1 } });
    const two = { ...AMD, ...TWO, devices: { '0000:03:00.0': { iommu: 'a', devtlb: true }, '0000:04:00.0': { iommu: 'b', devtlb: true } } };
    // (before: devtlb 1 and no COMPLETION_WAIT at all)
    const ats = replayEvents(ev, two, { domains: { 1: 'identity' } });
    expect(ats.totals.invalidation).toMatchObject({ flushes: 1, commands: { page: 0, domain: 2, devtlb: 2, wait: 2 } });
  });
});
