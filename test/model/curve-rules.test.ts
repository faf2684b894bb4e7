// The curve's traps, each by the rule it follows: the stack profiler must give
// what `replay` gives at each size where a plain LRU stack would not.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { lruStackCurve } from '../../src/run/curve.js';
import type { Ev } from '../helpers/events.js';
import { K4 } from '../helpers/events.js';
import { countersOf, memFeed, replayAt } from '../helpers/curve.js';

const N = 6;
const A = 0x100000;
const dma = (iova: number, size = 64, device = 0x300): Ev => ({ op: 'dma_read', device, iova, size });
const map = (iova: number, size = K4, paddr = iova): Ev => ({ op: 'map', domain: 1, iova, paddr, size });
const unmap = (iova: number, size = K4): Ev => ({ op: 'unmap', domain: 1, iova, size });
const attach: Ev = { op: 'attach', device: 0x300, domain: 1 };

async function curveEqualsReplay(events: Ev[], config: object) {
  const cfg = resolveConfig(config, 'test');
  const curve = await lruStackCurve(memFeed(events), cfg, N);
  for (let size = 1; size <= N; size++) expect({ size, ...countersOf(curve.points[size - 1]) }).toEqual({ size, ...replayAt(events, cfg, {}, 1, size) });
  return curve;
}

describe('curve rules', () => {
  it('an invalidated entry frees a slot at every size that held it, and pulls nothing up', async () => {
    // Stack after the DMAs: C B A; size 2 has evicted A. Unmapping C frees a
    // slot at sizes >= 1; a stack that deleted C would pull A into size 2.
    const [a, b, c] = [A, A + K4, A + 2 * K4];
    const events = [attach, map(a), map(b), map(c), dma(a), dma(b), dma(c), unmap(c), dma(a)];
    const curve = await curveEqualsReplay(events, { pageSizes: ['4K'] });
    expect(curve.points[1].hits).toBe(0); // size 2: A was gone before C was
    expect(curve.points[2].hits).toBe(1); // size 3 still held A
  });

  it('a hit below a hole takes the hole: sizes that missed fill the freed slot', async () => {
    const p = (i: number) => A + i * K4;
    const events = [attach, ...[0, 1, 2, 3].map((i) => map(p(i))), dma(p(0)), dma(p(1)), dma(p(2)), unmap(p(1)), dma(p(0)), dma(p(3)), dma(p(2)), dma(p(0))];
    await curveEqualsReplay(events, { pageSizes: ['4K'] });
  });

  it('lazy mode: an unmapped page is a stale hit at sizes that hold it and a fault, with the rest of the access dropped, below', async () => {
    const p = (i: number) => A + i * K4;
    // p0 is used, pushed down by p1..p3, then unmapped without a flush; the
    // 2-page access at p0 hits stale and goes on to p1 at sizes >= 4 only.
    const events = [attach, ...[0, 1, 2, 3].map((i) => map(p(i))), dma(p(0)), dma(p(1)), dma(p(2)), dma(p(3)), unmap(p(0)), dma(p(0), 2 * K4), dma(p(1))];
    const curve = await curveEqualsReplay(events, { pageSizes: ['4K'], invalidation: { mode: 'lazy', fqSize: 64, fqTimeoutNs: 1e9 } });
    expect(curve.points[3].staleHits).toBe(1);
    expect(curve.points[2].staleHits).toBe(0);
    expect(curve.points[2].faults).toBe(1);
    expect(curve.points[3].faults).toBe(0);
    expect(curve.groups).toBe(2);
  });

  it('lazy mode: a stale hit at large sizes, a walk that fills the remapped leaf at small ones', async () => {
    const p = (i: number) => A + i * K4;
    const events = [
      attach,
      ...[0, 1, 2].map((i) => map(p(i))),
      dma(p(0)),
      dma(p(1)),
      dma(p(2)),
      unmap(p(0)),
      map(p(0), K4, 0x9000000),
      dma(p(0)),
      dma(p(1)),
      dma(p(0)),
    ];
    await curveEqualsReplay(events, { pageSizes: ['4K'], invalidation: { mode: 'lazy', fqSize: 64, fqTimeoutNs: 1e9 } });
  });

  it('a stale IOTLB hit fills the device TLB, a fault does not: the device TLB follows each size', async () => {
    const p = (i: number) => A + i * K4;
    const events = [attach, ...[0, 1, 2, 3].map((i) => map(p(i))), dma(p(0)), dma(p(1)), dma(p(2)), dma(p(3)), unmap(p(0)), dma(p(0)), dma(p(0)), dma(p(1))];
    const curve = await curveEqualsReplay(events, {
      pageSizes: ['4K'],
      devtlb: { sets: 1, ways: 2 },
      devices: { '768': { devtlb: true } },
      invalidation: { mode: 'lazy', fqSize: 64, fqTimeoutNs: 1e9 },
    });
    // Sizes that missed p0 fault twice; sizes that held it hit stale once, then the device TLB.
    expect(curve.points[0].faults).toBe(2);
    expect(curve.points[N - 1].faults).toBe(0);
  });

  it('probes the page sizes largest first: a stale 2M entry over a fresh 4K one wins only where it is held', async () => {
    const M2 = 0x200000;
    const B = 0x40000000;
    const events = [attach, map(B, M2), dma(B), dma(B + 5 * K4), unmap(B, M2), map(B + 5 * K4), map(A), dma(B + 5 * K4), dma(A), dma(B + 5 * K4)];
    await curveEqualsReplay(events, { pageSizes: ['4K', '2M'], invalidation: { mode: 'lazy', fqSize: 64, fqTimeoutNs: 1e9 } });
  });
});
