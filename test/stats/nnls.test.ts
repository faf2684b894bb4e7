// The fit's least squares (src/stats/nnls.ts): exact on exact data, never negative, honest about terms it cannot separate.
import { describe, expect, it } from 'vitest';
import { nnlsRelative } from '../../src/stats/nnls.js';

describe('nnlsRelative', () => {
  it('recovers known non-negative coefficients from exact data', () => {
    const x = [
      [1, 0.1, 2],
      [1, 0.5, 1],
      [1, 0.9, 0.2],
      [1, 0.3, 3],
    ];
    const c = [10, 4, 7];
    const y = x.map((r) => r.reduce((s, v, j) => s + v * c[j], 0));
    const r = nnlsRelative(x, y);
    r.coefficients.forEach((v, j) => expect(v).toBeCloseTo(c[j], 9));
    expect(r.dependent).toEqual([]);
  });

  it('clamps a term the data would make negative to 0 (the cost terms are non-negative)', () => {
    const x = [
      [1, 1],
      [1, 2],
      [1, 3],
    ];
    const y = [3, 2, 1]; // falling: an unconstrained slope would be -1
    const r = nnlsRelative(x, y);
    expect(r.coefficients[1]).toBe(0);
    expect(r.coefficients[0]).toBeGreaterThan(0);
  });

  it('names a column the earlier ones span (hits = 1 - misses) and leaves it at 0', () => {
    const misses = [0, 0.25, 0.5, 0.99];
    const x = misses.map((m) => [1, 4 * m, 1 - m]);
    const y = misses.map((m) => 20 + 35 * m);
    const r = nnlsRelative(x, y);
    expect(r.dependent).toEqual([2]);
    expect(r.rank).toBe(2);
    expect(r.coefficients[2]).toBe(0);
    expect(r.coefficients[0]).toBeCloseTo(20, 9);
    expect(r.coefficients[1]).toBeCloseTo(35 / 4, 9);
  });

  it("does not depend on a column's units: a small-valued column (walk accesses near 0) is solved, not skipped", () => {
    // y = 1 + 2e5 b with b from 1e-6 to 3.6e-5: before the columns were scaled the normal equations' pivot of
    // b fell under the solver's absolute 1e-9 while the rank test (relative 1e-7) counted b, so every support
    // with b was skipped and the fit answered [0, 261240], residual 0.75, rank 2.
    const b = Array.from({ length: 8 }, (_, i) => 1e-6 + (i * (3.6e-5 - 1e-6)) / 7);
    const y = b.map((v) => 1 + 2e5 * v);
    const r = nnlsRelative(
      b.map((v) => [1, v]),
      y,
    );
    expect(r.rank).toBe(2);
    expect(r.dependent).toEqual([]);
    expect(r.coefficients[0]).toBeCloseTo(1, 9);
    expect(r.coefficients[1] / 2e5).toBeCloseTo(1, 9);
    expect(r.residual).toBeLessThan(1e-20);
    // The same rows with b in units 1e4 times larger: the same fit, the coefficient 1e4 times smaller.
    const scaled = nnlsRelative(
      b.map((v) => [1, v * 1e4]),
      y,
    );
    expect(scaled.coefficients[0]).toBeCloseTo(1, 9);
    expect(scaled.coefficients[1]).toBeCloseTo(20, 9);
  });
});
