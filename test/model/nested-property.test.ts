// Seeded random traces with nested domains (docs/model.md §8) under random
// configurations: the engine's counters must equal the plain reference's,
// totals.nested included, in strict and lazy mode, with device TLBs. Many
// small tests (a group of seeds each) rather than one long one.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { Rng } from '../../src/workloads/rng.js';
import { G1, K4, M2, type Ev } from '../helpers/events.js';
import { engineCounters, referenceCounters } from '../helpers/counters.js';
import { metaOf, replayEvents, type Meta } from '../helpers/replay.js';
import { referenceReplayNested } from './reference.js';

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

const SIZE_SETS = [['4K'], ['4K', '2M'], ['4K', '2M', '1G'], ['4K', '64K', '2M'], ['4K', '8K', '2M', '1G']];
const POLICIES = ['lru', 'fifo', 'plru', 'random'];
const PARENTS = [1, 2];
/** Nested domain id -> parent id; 6 is a plain paging domain, 7 identity. */
const NESTED: Record<number, number> = { 3: 1, 4: 1, 5: 2 };

/** A random trace over two parents and three nested domains, with plain domains beside them. */
function nestedCase(seed: number, mode: 'strict' | 'lazy'): { events: Ev[]; config: Record<string, unknown>; meta: Meta } {
  const rng = new Rng(seed * 7919 + (mode === 'lazy' ? 1 : 0));
  // Every configuration axis that §8 interacts with, each value drawn from its list.
  const axes: [string, readonly unknown[]][] = [
    ['pageSizes', SIZE_SETS],
    ['iotlb.sets', [1, 2, 4]],
    ['iotlb.ways', [1, 2, 4]],
    ['iotlb.policy', POLICIES],
    ['devtlb.ways', [1, 2, 4]],
    ['devtlb.policy', POLICIES],
    ['partialUnmap', ['whole-leaf', 'reject', 'split']],
    ['invalidation.maxInvalidationMask', [0, 1, 3, 5, 9, 11]],
    ['invalidation.fqSize', [1, 2, 4, 8]],
    ['invalidation.fqTimeoutNs', [5, 1000, 1_000_000]],
    ['domainIds', [3, 4, 5, 7]],
    ['pageTable.levels', [4, 5]],
    ['seed', [1, 7, 42]],
  ];
  const config: Record<string, Record<string, unknown>> & Record<string, unknown> = { invalidation: { mode }, iotlb: {}, devtlb: { sets: 1 }, pageTable: {} };
  for (const [key, values] of axes) {
    const [a, b] = key.split('.');
    if (b === undefined) config[a] = pick(rng, values);
    else (config[a] as Record<string, unknown>)[b] = pick(rng, values);
  }
  const devices = [0x100, 0x200, 0x300, 0x400].slice(0, 1 + rng.int(4));
  const instanceB = rng.chance(0.5) ? pick(rng, SIZE_SETS) : null;
  if (instanceB) config.iommus = [{ name: 'a' }, { name: 'b', pageSizes: instanceB }];
  // Device TLBs on most devices; behind b half the time when there is a b.
  config.devices = Object.fromEntries(devices.map((d) => [String(d), { devtlb: rng.chance(0.6), ...(instanceB && rng.chance(0.5) ? { iommu: 'b' } : {}) }]));
  const domains: Meta['domains'] = { 7: 'identity' };
  for (const [id, parent] of Object.entries(NESTED)) domains[Number(id)] = { type: 'nested', parent };
  const allDomains = [1, 2, 3, 4, 5, 6, 7];
  const nestedIds = Object.keys(NESTED).map(Number);

  const iovas = [0, K4, 2 * K4, 16 * K4, M2 - K4, M2, M2 + K4, 2 * M2, G1 - M2, G1, 2 ** 47];
  const ipas = [0, K4, M2, M2 + K4, 2 * M2, G1, G1 + M2, 4 * G1];
  const sizes = [0, K4, 2 * K4, 16 * K4, M2, M2 + K4, 2 * M2, 100];
  const events: Ev[] = [];
  let ts = 0;
  const attachedTo = new Map<string, number>();
  for (const device of devices) {
    // Mostly nested attachments, so that 2-D walks and S2 syncs happen.
    const domain = rng.chance(0.7) ? pick(rng, nestedIds) : pick(rng, allDomains);
    events.push({ ts, op: 'attach', device, pasid: 0, domain });
    attachedTo.set(`${device}:0`, domain);
    if (rng.chance(0.3)) {
      const pasid = 1 + rng.int(2);
      const d2 = pick(rng, nestedIds);
      events.push({ ts, op: 'attach', device, pasid, domain: d2 });
      attachedTo.set(`${device}:${pasid}`, d2);
    }
  }
  // What S1 and S2 mapped: DMA aims at S1 maps, S2 maps at the IPAs S1 maps point to.
  const mapped: { domain: number; iova: number; paddr: number; size: number }[] = [];
  const n = 40 + rng.int(140);
  for (let i = 0; i < n; i++) {
    ts += pick(rng, [0, 0, 1, 3, 20, 200]);
    const op = rng.weighted(['dma_read', 'dma_write', 'map', 'unmap', 'attach', 'detach', 'flush'] as const, [38, 10, 24, 12, 7, 3, 3]);
    const device = pick(rng, devices);
    const pasid = rng.chance(0.7) ? 0 : 1 + rng.int(2);
    let domain = rng.chance(0.35) ? pick(rng, PARENTS) : rng.chance(0.7) ? pick(rng, nestedIds) : pick(rng, allDomains);
    let iova = pick(rng, iovas);
    let paddr = rng.chance(0.5) ? iova + pick(rng, [0, G1, 4 * G1]) : pick(rng, ipas) + pick(rng, [0, 0, K4]);
    let size = op.startsWith('dma') ? pick(rng, [0, 1, 64, K4, 3 * K4, M2 + 5]) : pick(rng, sizes);
    const dmas = events.filter((e) => e.op.startsWith('dma'));
    if (op.startsWith('dma') && dmas.length && rng.chance(0.4)) {
      // Again where a recent DMA went: hits, and stale hits after an S1 unmap in lazy mode.
      const e = dmas[dmas.length - 1 - rng.int(Math.min(4, dmas.length))];
      events.push({ ...e, ts, op });
      continue;
    }
    if (op === 'unmap' && dmas.length && rng.chance(0.3)) {
      // Unmap in S1 the page the last DMA used, then DMA there again: in lazy mode, a stale hit.
      const e = dmas[dmas.length - 1];
      const d = attachedTo.get(`${e.device}:${e.pasid}`);
      if (d !== undefined && NESTED[d] !== undefined) {
        const page = Number(e.iova) - (Number(e.iova) % K4);
        events.push({ ts, op: 'unmap', domain: d, iova: page, size: K4 });
        // Sometimes remapped to another IPA that S2 maps: a hit then translates to another PA.
        const s2 = mapped.filter((m) => m.domain === NESTED[d] && m.size >= K4);
        if (s2.length && rng.chance(0.7)) {
          const m = pick(rng, s2);
          events.push({ ts, op: 'map', domain: d, iova: page, paddr: m.iova + rng.int(Math.floor(m.size / K4)) * K4, size: K4 });
        }
        events.push({ ...e, ts });
        continue;
      }
    }
    if (op.startsWith('dma')) {
      const target = attachedTo.get(`${device}:${pasid}`);
      const cands = mapped.filter((m) => m.domain === target);
      if (cands.length && rng.chance(0.85)) {
        const m = pick(rng, cands);
        iova = m.iova + rng.int(Math.max(1, Math.floor(m.size / K4))) * K4;
      }
    } else if (op === 'map' && PARENTS.includes(domain)) {
      // S2: back an IPA that some S1 map of a nested domain over this parent points to.
      const cands = mapped.filter((m) => NESTED[m.domain] === domain);
      if (cands.length && rng.chance(0.8)) {
        const m = pick(rng, cands);
        iova = m.paddr + (rng.chance(0.5) ? 0 : rng.int(Math.max(1, Math.floor(m.size / K4))) * K4);
        size = rng.chance(0.5) ? m.size : size;
      } else iova = pick(rng, ipas);
      paddr = rng.chance(0.6) ? iova + pick(rng, [0, G1, 8 * G1]) : pick(rng, ipas) + K4;
    } else if (op === 'unmap') {
      const cands = mapped.filter((m) => rng.chance(0.5) || m.domain === domain);
      if (cands.length && rng.chance(0.85)) {
        const m = pick(rng, cands);
        domain = m.domain;
        iova = rng.chance(0.6) ? m.iova : m.iova + rng.int(Math.max(1, Math.floor(m.size / K4))) * K4;
      }
    }
    if (op === 'map' && rng.chance(0.04) && iova % G1 === 0 && paddr % G1 === 0) size = G1; // 1G leaves where allowed
    if (op === 'attach') attachedTo.set(`${device}:${pasid}`, domain);
    if (op === 'detach') attachedTo.delete(`${device}:${pasid}`);
    if (op === 'map') mapped.push({ domain, iova, paddr, size });
    events.push({ ts, op, device, pasid, domain, iova, paddr, size });
  }
  return { events, config, meta: { domains } };
}

const GROUPS = 15;
const PER_GROUP = 12;
const groups = Array.from({ length: GROUPS }, (_, g) => [g * PER_GROUP + 1, (g + 1) * PER_GROUP] as const);

describe.each(['strict', 'lazy'] as const)('§8 engine equals the plain reference on seeded nested traces (%s)', (mode) => {
  it.each(groups)('seeds %i..%i give identical counters', (first, last) => {
    let nestedWalks = 0;
    for (let seed = first; seed <= last; seed++) {
      const { events, config, meta } = nestedCase(seed, mode);
      const got = engineCounters(replayEvents(events, config, meta), true);
      const ref = referenceReplayNested(events, resolveConfig(config, 'property'), metaOf(meta));
      const want = referenceCounters(ref.result, ref.nested);
      if (JSON.stringify(got) !== JSON.stringify(want)) expect({ seed, ...got }).toEqual({ seed, ...want });
      nestedWalks += got.nested.walks;
    }
    // The generator must exercise §8, not only the paging paths.
    expect(nestedWalks).toBeGreaterThan(0);
  });
});

describe('the nested generator covers §8', () => {
  it('over all seeds: 2-D walks, faults of both stages, stale hits, S2 syncs with nested commands, device-TLB hits', () => {
    const sum = { walks: 0, s1Faults: 0, s2Faults: 0, stale: 0, devtlbHits: 0, parentCommands: 0 };
    for (const mode of ['strict', 'lazy'] as const) {
      for (let seed = 1; seed <= 60; seed++) {
        const { events, config, meta } = nestedCase(seed, mode);
        const s = replayEvents(events, config, meta);
        sum.walks += s.totals.nested.walks;
        sum.s1Faults += s.totals.nested.s1Faults;
        sum.s2Faults += s.totals.nested.s2Faults;
        sum.stale += s.totals.iotlb.staleHits;
        sum.devtlbHits += s.totals.devtlb.hits;
        for (const d of s.byDomain) if (PARENTS.includes(d.domain)) sum.parentCommands += d.invalidation.commands.page + d.invalidation.commands.domain;
      }
    }
    for (const v of Object.values(sum)) expect(v).toBeGreaterThan(0);
  });
});
