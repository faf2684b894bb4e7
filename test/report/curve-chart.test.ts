// A chart of a long curve draws the sizes where the hit rate changes (issue
// 25: a 2^20-size curve sent a million points to the chart renderer).
import { describe, expect, it } from 'vitest';
import { chartPoints } from '../../src/report/curve.js';
import type { CurveCounters } from '../../src/run/curve.js';

function curveOf(n: number, rate: (size: number) => number): CurveCounters[] {
  return Array.from({ length: n }, (_, i) => {
    const hitRate = rate(i + 1);
    return {
      entries: i + 1,
      sets: 1,
      lookups: 1e6,
      hits: hitRate * 1e6,
      misses: 0,
      staleHits: 0,
      walks: 0,
      walkAccesses: 0,
      faults: 0,
      hitRate,
      translationCostNs: 0,
    };
  });
}

/** The hit rate a step-after line through `pts` draws at `size`. */
function drawnAt(pts: CurveCounters[], size: number): number {
  let y = NaN;
  for (const p of pts) if (p.entries <= size) y = p.hitRate;
  return y;
}

describe('chartPoints', () => {
  it('up to 4096 sizes: every point, as before', () => {
    const c = curveOf(4096, (s) => Math.min(1, s / 1000));
    expect(chartPoints(c)).toBe(c);
  });

  it('a long curve with sparse steps: only the steps, and the line drawn is the same at every size', () => {
    const c = curveOf(50_000, (s) => Math.floor(s / 500) / 100);
    const pts = chartPoints(c);
    expect(pts.length).toBeLessThan(200);
    for (let s = 1; s <= c.length; s += 7) expect(drawnAt(pts, s)).toBe(c[s - 1].hitRate);
    expect(pts[pts.length - 1]).toBe(c[c.length - 1]);
  });

  it('a long curve that changes at every size: bounded per octave, ends kept, every kept point as computed', () => {
    const c = curveOf(1 << 16, (s) => 1 - 1 / (s + 1));
    const pts = chartPoints(c);
    expect(pts.length).toBeLessThanOrEqual(17 * 64 * 4);
    expect(pts[0]).toBe(c[0]);
    expect(pts[pts.length - 1]).toBe(c[c.length - 1]);
    for (const p of pts) expect(p).toBe(c[p.entries - 1]);
  });
});
