// Lazy mode's IOVAs reused before their flush (docs/model.md §5,
// report-keys.md `invalidation.reusedBeforeFlush`): the queued ranges' union
// against a brute-force page set, the engine's counts against the plain
// reference's scan of each flush queue on seeded random traces, and the rules.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { QueuedIovas } from '../../src/invalidation/queued-iovas.js';
import { Rng } from '../../src/workloads/rng.js';
import { K4, M2, type Ev } from '../helpers/events.js';
import { randomCase, vendorCase } from '../helpers/random-case.js';
import { domainRow, metaOf, replayEvents } from '../helpers/replay.js';
import { referenceReplay } from '../model/reference.js';

const DEV = 0x300;

describe('QueuedIovas: the union of the queued ranges', () => {
  it('overlap() counts the pages of a brute-force page set, over random adds, clears and queries', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rng = new Rng(seed);
      const q = new QueuedIovas();
      q.ensureDomains(2);
      const sets = [new Set<number>(), new Set<number>()];
      for (let step = 0; step < 400; step++) {
        const d = rng.int(2);
        const start = rng.int(200);
        const end = start + 1 + rng.int(rng.chance(0.2) ? 60 : 6);
        const what = rng.int(10);
        if (what === 0) {
          q.clear(d);
          sets[d].clear();
        } else if (what < 5) {
          q.add(d, start, end);
          for (let p = start; p < end; p++) sets[d].add(p);
        } else {
          let want = 0;
          for (let p = start; p < end; p++) if (sets[d].has(p)) want++;
          expect({ seed, step, hit: q.overlap(d, start, end), pages: q.pages }).toEqual({ seed, step, hit: want > 0, pages: want });
        }
      }
    }
  });

  it('a range of a 1G leaf is one interval, whatever its size', () => {
    const q = new QueuedIovas();
    q.add(0, 2 ** 18, 2 * 2 ** 18);
    q.add(0, 2 ** 18 + 5, 2 ** 18 + 6); // inside: no change
    expect(q.overlap(0, 2 ** 18 - 1, 2 ** 18 + 1)).toBe(true);
    expect(q.pages).toBe(1);
    expect(q.overlap(0, 0, 2 ** 30)).toBe(true);
    expect(q.pages).toBe(2 ** 18);
  });
});

describe('engine equals the reference scan of each flush queue on seeded random lazy traces', () => {
  // Longer queues than randomCase's, so that maps meet queued IOVAs often; full-queue and timeout flushes still happen.
  const lazyOf = (c: { config: Record<string, unknown> }, seed: number) => ({
    ...c.config,
    invalidation: { ...(c.config.invalidation as object), mode: 'lazy', fqSize: 2 + (seed % 7), fqTimeoutNs: [50, 1000, 1e6][seed % 3] },
  });
  it.each(['vtd', 'amd', 'smmuv3'] as const)('%s: maps and pages reused before their flush', (vendor) => {
    let reusing = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const c = vendor === 'vtd' ? randomCase(seed) : vendorCase(seed, vendor);
      const config = lazyOf(c, seed);
      const got = replayEvents(c.events, config, c.meta).totals.invalidation.reusedBeforeFlush;
      const want = referenceReplay(c.events, resolveConfig(config, 'property'), metaOf(c.meta)).invalidation.reusedBeforeFlush;
      expect({ seed, ...got }).toEqual({ seed, ...want });
      if (want!.maps > 0) reusing++;
    }
    expect(reusing).toBeGreaterThan(5); // the traces do reuse queued IOVAs: the comparison is not of zeros
  });
});

describe('§5 lazy: IOVAs reused before their flush', () => {
  const base: Ev[] = [
    { op: 'attach', device: DEV, domain: 1 },
    { op: 'map', domain: 1, iova: 0, paddr: 0, size: 2 * K4 },
  ];
  const lazy = { invalidation: { mode: 'lazy', fqSize: 4, fqTimeoutNs: 100 } };

  it('a map onto a page whose unmap is still queued is counted, with its queued pages only', () => {
    const s = replayEvents(
      [...base, { op: 'unmap', domain: 1, iova: 0, size: 2 * K4, ts: 3 }, { op: 'map', domain: 1, iova: K4, paddr: 0x9000, size: 4 * K4, ts: 4 }],
      lazy,
    );
    expect(s.totals.invalidation.reusedBeforeFlush).toEqual({ maps: 1, pages: 1 });
    expect(domainRow(s, 1).invalidation.reusedBeforeFlush).toEqual({ maps: 1, pages: 1 });
  });

  it('strict summaries have no such key (strict frees the IOVA after its sync)', () => {
    const s = replayEvents([...base, { op: 'unmap', domain: 1, iova: 0, size: 2 * K4 }, { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 }]);
    expect(s.totals.invalidation).not.toHaveProperty('reusedBeforeFlush');
    expect(domainRow(s, 1).invalidation).not.toHaveProperty('reusedBeforeFlush');
  });

  it('the timeout flush frees the queued IOVAs; a flush op does not (it leaves the queue as it is)', () => {
    const unmap: Ev = { op: 'unmap', domain: 1, iova: 0, size: 2 * K4, ts: 10 };
    const after = (ts: number): Ev => ({ op: 'map', domain: 1, iova: 0, paddr: 0, size: K4, ts });
    expect(replayEvents([...base, unmap, after(110)], lazy).totals.invalidation.reusedBeforeFlush).toEqual({ maps: 0, pages: 0 });
    expect(replayEvents([...base, unmap, after(109)], lazy).totals.invalidation.reusedBeforeFlush).toEqual({ maps: 1, pages: 1 });
    const flushed = replayEvents([...base, unmap, { op: 'flush', domain: 1, ts: 11 }, after(12)], lazy);
    expect(flushed.totals.invalidation.reusedBeforeFlush).toEqual({ maps: 1, pages: 1 });
  });

  it('the full-queue flush frees what was queued before it, not the unmap that found the queue full', () => {
    const ev: Ev[] = [{ op: 'attach', device: DEV, domain: 1 }];
    for (let k = 0; k < 5; k++) ev.push({ op: 'map', domain: 1, iova: k * K4, paddr: 0, size: K4 });
    for (let k = 0; k < 5; k++) ev.push({ op: 'unmap', domain: 1, iova: k * K4, size: K4 }); // the 5th flushes the 4 before it
    ev.push({ op: 'map', domain: 1, iova: 0, paddr: 0, size: 5 * K4 });
    const s = replayEvents(ev, lazy);
    expect(s.totals.invalidation.flushes).toBe(1);
    expect(s.totals.invalidation.reusedBeforeFlush).toEqual({ maps: 1, pages: 1 });
  });

  it('an unmap that begins inside a 2M leaf (whole-leaf) holds the whole leaf; a failed map is not counted', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: M2, paddr: M2, size: M2 },
        { op: 'map', domain: 1, iova: 2 * M2, paddr: 0, size: K4 },
        { op: 'unmap', domain: 1, iova: M2 + 8 * K4, size: K4 },
        { op: 'map', domain: 1, iova: M2, paddr: 0, size: K4 },
        { op: 'map', domain: 1, iova: 2 * M2, paddr: 0, size: K4 }, // EEXIST
      ],
      { pageSizes: ['4K', '2M'], partialUnmap: 'whole-leaf', invalidation: { mode: 'lazy' } },
    );
    expect(s.totals.map.errors).toBe(1);
    expect(s.totals.invalidation.reusedBeforeFlush).toEqual({ maps: 1, pages: 1 });
  });
});
