// The DMA run's set-up kept from one run to the next (src/model/dma.ts
// DmaPath.setUp, valid while Attachments.epoch is unchanged) against the
// generic loop, which resolves every run afresh: runs of one device and PASID
// separated only by attaches and detaches that move it to another domain
// (another tag, table and page sizes), to identity, to the blocked domain and
// back, and runs of devices and PASIDs taking turns. Every counter of the
// summary must be the same.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { stableStringify } from '../../src/json.js';
import { Replay } from '../../src/model/replay.js';
import { buildSummary } from '../../src/stats/summary.js';
import { Rng } from '../../src/workloads/rng.js';
import { batchOf, type Ev } from '../helpers/events.js';
import { consumeInTwo, metaOf, type Meta } from '../helpers/replay.js';

const K4 = 0x1000;
const M2 = 0x200000;
const VENDORS = ['vtd', 'amd', 'smmuv3'] as const;
const MODES = ['strict', 'lazy'] as const;

function summaryOf(events: Ev[], config: object, meta: Meta, generic: boolean): string {
  const r = new Replay(resolveConfig(config, 'run-setup'), metaOf(meta), { generic });
  expect(r.specialized).toBe(!generic);
  consumeInTwo(r, events);
  return stableStringify(buildSummary(r, ['t']));
}

/**
 * Two instances with different page sizes, so that a device moved to a
 * domain of the other size set probes other orders; domains 1-3 paging
 * (each its own table and mappings, 2 mapped in 2M pages where allowed),
 * 4 identity, 5 blocked, 6 SVA. Bursts of DMAs of one (device, PASID) with
 * attaches and detaches of that same pair between them, and bursts of
 * devices taking turns.
 */
function switchCase(seed: number, vendor: string, mode: string): { events: Ev[]; config: object; meta: Meta } {
  const rng = new Rng(seed);
  const config = {
    vendor,
    invalidation: { mode, fqSize: 1 + rng.int(4), fqTimeoutNs: [5, 50, 1000][rng.int(3)] },
    pageSizes: ['4K', '2M'],
    svaPageSizes: ['4K', '2M'],
    iotlb: { sets: [1, 2, 4][rng.int(3)], ways: [1, 2, 4][rng.int(3)], policy: rng.chance(0.5) ? 'lru' : 'fifo' },
    iommus: [{ name: 'a' }, { name: 'b', pageSizes: ['4K'] }],
    devices: { '512': { iommu: 'b' }, '768': { devtlb: rng.chance(0.5) } },
  };
  const meta: Meta = { domains: { 1: 'paging', 2: 'paging', 3: 'paging', 4: 'identity', 5: 'blocked', ...(vendor === 'smmuv3' ? {} : { 6: 'sva' }) } };
  const devices = [0x100, 0x200, 0x300];
  const pagingDomains = [1, 2, 3];
  const targets = vendor === 'smmuv3' ? [1, 2, 3, 4, 5] : [1, 2, 3, 4, 5, 6];
  const pages = [0, K4, 7 * K4, M2, M2 + 3 * K4, 2 * M2];
  let ts = 0;
  const events: Ev[] = [];
  for (const domain of [...pagingDomains, 6]) {
    if (domain === 6 && vendor === 'smmuv3') continue;
    for (const iova of pages) {
      if (rng.chance(0.7)) events.push({ ts, op: 'map', domain, iova, paddr: iova + domain * 16 * M2, size: iova % M2 === 0 && rng.chance(0.4) ? M2 : K4 });
    }
  }
  for (const device of devices) events.push({ ts, op: 'attach', device, pasid: 0, domain: pagingDomains[rng.int(3)] });
  const dma = (device: number, pasid: number): void => {
    ts += [0, 1, 3, 20][rng.int(4)];
    const iova = pages[rng.int(pages.length)] + (rng.chance(0.3) ? rng.int(512) * K4 : 0);
    events.push({ ts, op: rng.chance(0.5) ? 'dma_read' : 'dma_write', device, pasid, iova, size: [64, K4, 2 * K4][rng.int(3)] });
  };
  for (let burst = 0; burst < 40; burst++) {
    const device = devices[rng.int(devices.length)];
    const pasid = rng.chance(0.7) ? 0 : 1 + rng.int(2);
    const kind = rng.int(4);
    if (kind === 0) {
      // One pair's runs, cut only by a change of its own attachment.
      for (let i = 0; i < 1 + rng.int(4); i++) dma(device, pasid);
      const domain = targets[rng.int(targets.length)];
      events.push(
        rng.chance(0.2) ? { ts, op: 'detach', device, pasid } : { ts, op: 'attach', device, pasid, domain: pasid !== 0 || domain !== 6 ? domain : 1 },
      );
      for (let i = 0; i < 1 + rng.int(4); i++) dma(device, pasid);
    } else if (kind === 1) {
      // Devices and PASIDs taking turns, run by run.
      for (let i = 0; i < 2 + rng.int(6); i++) dma(devices[rng.int(devices.length)], rng.chance(0.8) ? 0 : 1);
    } else if (kind === 2) {
      // Another pair's attachment changes between two runs of this pair.
      dma(device, pasid);
      events.push({ ts, op: 'attach', device: devices[rng.int(devices.length)], pasid: 0, domain: pagingDomains[rng.int(3)] });
      dma(device, pasid);
    } else {
      // Maps, unmaps and flushes between runs (they change no attachment).
      dma(device, pasid);
      const domain = pagingDomains[rng.int(3)];
      const iova = pages[rng.int(pages.length)];
      events.push(
        rng.chance(0.5)
          ? { ts, op: 'unmap', domain, iova, size: K4 }
          : rng.chance(0.5)
            ? { ts, op: 'map', domain, iova, paddr: iova, size: K4 }
            : { ts, op: 'flush', domain },
      );
      dma(device, pasid);
    }
  }
  return { events, config, meta };
}

describe('a DMA run set-up kept across runs equals the generic loop', () => {
  for (const vendor of VENDORS) {
    for (const mode of MODES) {
      it(`${vendor} ${mode}: attaches, detaches and device turns between runs, 30 seeds`, () => {
        for (let seed = 1; seed <= 30; seed++) {
          const { events, config, meta } = switchCase(seed, vendor, mode);
          const want = summaryOf(events, config, meta, true);
          const got = summaryOf(events, config, meta, false);
          if (got !== want) expect({ seed, got }).toEqual({ seed, got: want });
        }
      });
    }
  }

  it('a run right after its own pair moves to another domain takes the new domain (not the kept set-up)', () => {
    const config = { pageSizes: ['4K'], iotlb: { sets: 1, ways: 4, policy: 'lru' } };
    const meta: Meta = { domains: { 1: 'paging', 2: 'paging' } };
    const events: Ev[] = [
      { op: 'map', domain: 1, iova: 0, paddr: 0x10000, size: K4 },
      { op: 'attach', device: 0x100, pasid: 0, domain: 1 },
      { op: 'dma_read', device: 0x100, pasid: 0, iova: 0, size: 64 },
      { op: 'attach', device: 0x100, pasid: 0, domain: 2 },
      // Domain 2 maps nothing: a fault, not a hit on domain 1's entry.
      { op: 'dma_read', device: 0x100, pasid: 0, iova: 0, size: 64 },
    ];
    const r = new Replay(resolveConfig(config, 'run-setup'), metaOf(meta));
    // A batch an event: the attach comes between two calls of the run.
    for (const e of events) r.consume(batchOf([e]));
    const s = buildSummary(r, ['t']);
    expect(s.byDevice[0].dma.faults).toBe(1);
    expect(s.byDevice[0].iotlb.lookups).toBe(2);
  });
});
