// Seeded random traces under random configurations, for the property tests:
// maps, unmaps (partial too), attach/detach/re-attach, PASIDs and SVA, device
// TLBs, two instances, strict and lazy mode, every page-size bitmap.
import { MODES, PARTIAL_UNMAP, POLICIES } from '../../src/config/config.js';
import { Rng } from '../../src/workloads/rng.js';
import type { Ev } from './events.js';
import type { Meta } from './replay.js';

const K4 = 0x1000;
const M2 = 0x200000;
const G1 = 0x40000000;

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

export function randomCase(seed: number): { events: Ev[]; config: Record<string, unknown>; meta: Meta } {
  const rng = new Rng(seed);
  const sizesChoices = [['4K'], ['4K', '2M'], ['4K', '2M', '1G'], ['4K', '64K', '2M'], ['16K', '32M'], ['4K', '8K', '2M', '1G']];
  const twoInst = rng.chance(0.5);
  // 0x10400 (PCI segment 1) and domain 0x80000005 below take the slot indexes' Map path (ids >= 2^16).
  const devices = [0x100, 0x200, 0x300, 0x10400].slice(0, 1 + rng.int(4));
  const config: Record<string, unknown> = {
    pageSizes: pick(rng, sizesChoices),
    svaPageSizes: pick(rng, sizesChoices),
    iotlb: { sets: pick(rng, [1, 2, 4]), ways: pick(rng, [1, 2, 4]), policy: pick(rng, POLICIES) },
    // Every policy but flush-when-full (a model of QEMU's IOTLB, not of a device TLB).
    devtlb: {
      sets: 1,
      ways: pick(rng, [1, 2, 4]),
      policy: pick(
        rng,
        POLICIES.filter((p) => p !== 'flush-when-full'),
      ),
    },
    partialUnmap: pick(rng, PARTIAL_UNMAP),
    invalidation: { mode: pick(rng, MODES), maxInvalidationMask: rng.int(12), fqSize: 1 + rng.int(4), fqTimeoutNs: pick(rng, [5, 50, 1000]) },
    domainIds: 3 + rng.int(4),
    pageTable: { levels: pick(rng, [4, 5]) },
    seed: rng.int(100),
  };
  if (twoInst) config.iommus = [{ name: 'a' }, { name: 'b', pageSizes: pick(rng, sizesChoices) }];
  const devCfg: Record<string, unknown> = {};
  for (const d of devices) {
    const entry: Record<string, unknown> = {};
    if (rng.chance(0.4)) entry.devtlb = true;
    if (twoInst && rng.chance(0.5)) entry.iommu = 'b';
    if (Object.keys(entry).length) devCfg[String(d)] = entry;
  }
  config.devices = devCfg;
  const types = ['paging', 'paging', 'paging', 'identity', 'blocked', 'sva'] as const;
  const domains: Record<number, (typeof types)[number]> = {};
  for (let id = 1; id <= 5; id++) domains[id] = pick(rng, types);
  const addrs = [0, K4, 2 * K4, 16 * K4, M2 - K4, M2, M2 + K4, 2 * M2, 3 * M2 - 2 * K4, G1 - M2, G1, 2 ** 47, 2 ** 48];
  // Sizes stay small enough for the reference's linear scans (a 1G map of 4K pages is 262144 leaves).
  const sizes = [0, K4, 2 * K4, 16 * K4, 64 * K4, M2, M2 + K4, 2 * M2, 3 * M2, 100];
  const events: Ev[] = [];
  let ts = 0;
  // Most devices start attached, so that DMA translates and caches fill.
  const attachedTo = new Map<string, number>();
  for (const device of devices) {
    if (rng.chance(0.8)) {
      const domain = 1 + rng.int(5);
      events.push({ ts, op: 'attach', device, pasid: 0, domain });
      attachedTo.set(`${device}:0`, domain);
    }
    if (rng.chance(0.4)) {
      const pasid = 1 + rng.int(2);
      const domain = 1 + rng.int(5);
      events.push({ ts, op: 'attach', device, pasid, domain });
      attachedTo.set(`${device}:${pasid}`, domain);
    }
  }
  const mapped: { domain: number; iova: number; size: number }[] = [];
  const n = 40 + rng.int(160);
  for (let i = 0; i < n; i++) {
    ts += pick(rng, [0, 0, 1, 3, 20, 200]);
    const op = rng.weighted(['dma_read', 'dma_write', 'map', 'unmap', 'attach', 'detach', 'flush'] as const, [40, 10, 18, 12, 8, 3, 2]);
    const device = pick(rng, devices);
    const pasid = rng.chance(0.7) ? 0 : 1 + rng.int(2);
    let domain = rng.chance(0.5) && attachedTo.size ? pick(rng, [...attachedTo.values()]) : 1 + rng.int(5);
    let iova = pick(rng, addrs) + (rng.chance(0.1) ? 0x800 : 0);
    // DMA aims at what its (device, pasid)'s domain mapped; unmaps at earlier maps.
    const target = op.startsWith('dma') ? attachedTo.get(`${device}:${pasid}`) : op === 'unmap' ? domain : undefined;
    const candidates = mapped.filter((m) => target === undefined || m.domain === target);
    if ((op.startsWith('dma') || op === 'unmap') && candidates.length && rng.chance(0.85)) {
      const m = pick(rng, candidates);
      if (op === 'unmap') domain = m.domain;
      iova = op === 'unmap' && rng.chance(0.6) ? m.iova : m.iova + rng.int(Math.max(1, Math.floor(m.size / K4))) * K4;
    }
    if (op === 'attach') attachedTo.set(`${device}:${pasid}`, domain);
    if (op === 'detach') attachedTo.delete(`${device}:${pasid}`);
    const congruent = rng.chance(0.6);
    const paddr = congruent ? iova + pick(rng, [0, G1, 4 * G1]) : pick(rng, addrs) + pick(rng, [0, K4]);
    let size = op.startsWith('dma') ? pick(rng, [0, 1, 64, K4, 3 * K4, M2 + 5]) : pick(rng, sizes);
    if (op === 'map' && rng.chance(0.05) && iova % G1 === 0) size = G1 + M2; // 1G pages where allowed
    if (op === 'map') mapped.push({ domain, iova, size });
    events.push({ ts, op, device, pasid, domain, iova, paddr, size });
  }
  const BIG = 0x80000005;
  for (const e of events) if (e.domain === 5) e.domain = BIG;
  domains[BIG] = domains[5];
  delete domains[5];
  return { events, config, meta: { domains } };
}

/**
 * Traces where IOTLB sizes part ways: lazy mode with a long flush queue, a
 * small pool of 4K and 2M pages unmapped and remapped (same or another paddr,
 * 4K inside an unmapped 2M), DMA to mapped and unmapped pages, device TLBs,
 * and an SVA PASID shared by two devices (one tag, two page tables).
 */
export function staleCase(seed: number): { events: Ev[]; config: Record<string, unknown>; meta: Meta } {
  const rng = new Rng(seed);
  const lazy = rng.chance(0.8);
  const config: Record<string, unknown> = {
    pageSizes: pick(rng, [['4K'], ['4K', '2M'], ['4K', '2M', '1G']]),
    svaPageSizes: ['4K', '2M'],
    devtlb: { sets: 1, ways: pick(rng, [1, 2, 4]), policy: 'lru' },
    invalidation: { mode: lazy ? 'lazy' : 'strict', fqSize: 1 + rng.int(40), fqTimeoutNs: pick(rng, [100, 1e6, 1e9]) },
    devices: { '256': { devtlb: rng.chance(0.5) }, '512': { devtlb: rng.chance(0.5) } },
  };
  const events: Ev[] = [];
  let ts = 0;
  events.push({ ts, op: 'attach', device: 0x100, pasid: 0, domain: 1 });
  events.push({ ts, op: 'attach', device: 0x200, pasid: 0, domain: 1 });
  events.push({ ts, op: 'attach', device: 0x100, pasid: 1, domain: 2 });
  events.push({ ts, op: 'attach', device: 0x200, pasid: 1, domain: 3 });
  const K4 = 0x1000;
  const M2 = 0x200000;
  // Pages: 24 4K pages and four 2M regions, iova = paddr or shifted.
  const pages = Array.from({ length: 24 }, (_, i) => 0x10000000 + i * K4);
  const regions = [0x40000000, 0x40200000, 0x40400000, 0x40600000];
  const n = 150 + rng.int(250);
  for (let i = 0; i < n; i++) {
    ts += pick(rng, [0, 1, 10, 1000]);
    const domain = rng.chance(0.7) ? 1 : 2 + rng.int(2);
    const big = rng.chance(0.25);
    const iova = big ? pick(rng, regions) : pick(rng, pages);
    const op = rng.weighted(['dma_read', 'map', 'unmap', 'flush', 'attach'] as const, [60, 15, 15, 2, 1]);
    if (op === 'dma_read') {
      const device = pick(rng, [0x100, 0x200]);
      const pasid = domain === 1 ? 0 : 1;
      const at = big && rng.chance(0.5) ? iova + rng.int(512) * K4 : iova;
      events.push({ ts, op, device, pasid, iova: at, size: pick(rng, [64, K4, 2 * K4]) });
    } else if (op === 'map') {
      const size = big ? (rng.chance(0.7) ? M2 : K4) : K4;
      const at = big && size === K4 ? iova + rng.int(512) * K4 : iova;
      events.push({ ts, op, domain, iova: at, paddr: at + pick(rng, [0, 0, M2 * 16]), size });
    } else if (op === 'unmap') {
      events.push({ ts, op, domain, iova, size: big ? M2 : K4 });
    } else if (op === 'flush') {
      events.push({ ts, op, domain });
    } else {
      events.push({ ts, op: 'attach', device: pick(rng, [0x100, 0x200]), pasid: 0, domain: pick(rng, [1, 4]) });
    }
  }
  return { events, config, meta: { domains: { 2: 'sva', 3: 'sva' } } };
}

export type VendorName = 'vtd' | 'amd' | 'smmuv3';

/** Bitmaps an SMMUv3 (io-pgtable-arm's LPAE format, model §9.2) can have: 4K, 16K and 64K granules. */
export const SMMU_SIZES = [['4K'], ['4K', '2M'], ['4K', '2M', '1G'], ['16K'], ['16K', '32M'], ['64K'], ['64K', '512M']];

/**
 * randomCase under a vendor (model §9): amd draws npCache and map operations; smmuv3 draws
 * range invalidation, the forced-sync erratum, sometimes a tiny ASID space,
 * and granule bitmaps for the domains, SVA and the second SMMU, with maps and
 * unmaps moved onto the granule (and some 512M/32M blocks) so that larger
 * granules map something. Strict and lazy, device TLBs and two instances
 * come from randomCase.
 */
export function vendorCase(seed: number, vendor: VendorName): { events: Ev[]; config: Record<string, unknown>; meta: Meta } {
  const base = randomCase(seed);
  const rng = new Rng(seed * 15485863 + 7);
  const config: Record<string, unknown> = { ...base.config, vendor };
  if (vendor === 'amd') {
    config.amd = { npCache: rng.chance(0.4) };
    // Map operations (the trace's map_more column): some maps continue into their domain's next one.
    return { events: base.events.map((e) => (e.op === 'map' && rng.chance(0.3) ? { ...e, mapMore: 1 } : e)), config, meta: base.meta };
  }
  if (vendor !== 'smmuv3') return { events: base.events, config, meta: base.meta };
  delete config.pageTable; // io-pgtable-arm's levels follow the granule (§9.2); the engine refuses pageTable.levels under smmuv3
  config.smmu = { rangeInvalidation: rng.chance(0.6), forceSyncErratum: rng.chance(0.4), asidBits: rng.chance(0.3) ? 1 + rng.int(2) : 16 };
  const sizes = pick(rng, SMMU_SIZES);
  // One page-table format per configuration: every bitmap (SVA's, the second SMMU's) shares the granule.
  const sameGranule = SMMU_SIZES.filter((s) => s[0] === sizes[0]);
  config.pageSizes = sizes;
  config.svaPageSizes = pick(rng, sameGranule);
  if (Array.isArray(config.iommus)) config.iommus = [{ name: 'a' }, { name: 'b', pageSizes: pick(rng, sameGranule) }];
  const granule = sizes[0] === '64K' ? 0x10000 : sizes[0] === '16K' ? 0x4000 : K4;
  const block = sizes[0] === '64K' ? 0x20000000 : sizes[0] === '16K' ? 0x2000000 : M2;
  const events = base.events.map((e) => {
    if ((e.op !== 'map' && e.op !== 'unmap') || granule === K4 || !rng.chance(0.7)) return e;
    const down = (v: number | bigint | undefined) => Number(v ?? 0) - (Number(v ?? 0) % granule);
    const out: Ev = { ...e, iova: down(e.iova), paddr: down(e.paddr), size: Math.ceil(Number(e.size ?? 0) / granule) * granule };
    // Now and then a block of the granule's second level (32M, 512M), whole or with a granule more.
    if (rng.chance(0.15)) {
      const at = pick(rng, [0, block, 2 * block, 4 * block]);
      Object.assign(out, { iova: at, paddr: at + pick(rng, [0, block]), size: block + pick(rng, [0, 0, granule]) });
    }
    return out;
  });
  return { events, config, meta: base.meta };
}
