// Non-negative least squares for the few cost terms `fit` estimates (docs/fit.md):
// minimize sum_i ((x_i . c - y_i) / y_i)^2 over c >= 0, that is least squares
// on time per transaction weighted to relative error (the error `fit` ranks
// candidates by). With at most a handful of terms every support (set of
// non-zero terms) is tried: the optimum of NNLS is the unconstrained least
// squares on its support, so the best support whose solution is non-negative
// is the answer. No iteration limit, no tolerance on convergence.

/** The solution and which terms the rows cannot tell apart. */
export interface NnlsResult {
  /** One coefficient per column, >= 0 (0 for a column left out). */
  coefficients: number[];
  /** Sum of squared relative errors at the solution. */
  residual: number;
  /**
   * Columns that are linear combinations of the columns before them
   * (in the order given) on these rows: their share of the time cannot be
   * told from the others', and the solution leaves them at 0.
   */
  dependent: number[];
  /** The columns the rows tell apart (neither all zero nor dependent): with no more rows than these, any data fits exactly. */
  rank: number;
}

/** Relative size below which a column adds nothing the others do not span. */
const RANK_TOLERANCE = 1e-9;

/** Solves the k x k system `a x = b` by Gaussian elimination with partial pivoting; undefined when singular. */
function solve(a: number[][], b: number[]): number[] | undefined {
  const k = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  const scale = Math.max(1e-300, ...a.map((row) => Math.max(...row.map(Math.abs))));
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    if (Math.abs(m[p][c]) <= scale * RANK_TOLERANCE) return undefined;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let j = c; j <= k; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((row, i) => row[k] / row[i]);
}

/**
 * Columns (indexes, in order) that each add to the span of those kept
 * before them: Gram-Schmidt on the weighted columns, a column whose
 * remainder is a negligible part of it is dependent.
 */
function independentColumns(cols: number[][]): { kept: number[]; dependent: number[] } {
  const basis: number[][] = [];
  const kept: number[] = [];
  const dependent: number[] = [];
  cols.forEach((col, j) => {
    const norm = Math.hypot(...col);
    const v = [...col];
    for (const q of basis) {
      const d = v.reduce((s, x, i) => s + x * q[i], 0);
      for (let i = 0; i < v.length; i++) v[i] -= d * q[i];
    }
    const rest = Math.hypot(...v);
    if (norm === 0) return; // an all-zero column (a term these rows never use): left at 0, nothing to tell apart
    if (rest <= norm * 1e-7) {
      dependent.push(j);
      return;
    }
    basis.push(v.map((x) => x / rest));
    kept.push(j);
  });
  return { kept, dependent };
}

/**
 * The non-negative `c` minimizing sum_i ((x[i] . c - y[i]) / y[i])^2. `x`
 * is one row of terms per measurement, `y` the measured values (> 0).
 * Columns dependent on earlier ones are left at 0 (listed in `dependent`),
 * so put the terms to keep first.
 */
export function nnlsRelative(x: number[][], y: number[]): NnlsResult {
  const k = x[0]?.length ?? 0;
  const w = x.map((row, i) => row.map((v) => v / y[i]));
  const cols = Array.from({ length: k }, (_, j) => w.map((row) => row[j]));
  const { kept, dependent } = independentColumns(cols);
  let best: { c: number[]; residual: number } = { c: new Array(k).fill(0), residual: y.length };
  // Every subset of the kept columns, by bitmask: the empty support (all 0) costs sum 1^2 = n.
  for (let mask = 1; mask < 1 << kept.length; mask++) {
    const support = kept.filter((_, b) => mask & (1 << b));
    const ata = support.map((p) => support.map((q) => cols[p].reduce((s, v, i) => s + v * cols[q][i], 0)));
    const atb = support.map((p) => cols[p].reduce((s, v) => s + v, 0)); // weighted y is 1 in every row
    const sol = solve(ata, atb);
    if (!sol || sol.some((v) => v < 0)) continue;
    const c = new Array(k).fill(0);
    support.forEach((p, i) => (c[p] = sol[i]));
    let residual = 0;
    for (const row of w) {
      const e = row.reduce((s, v, j) => s + v * c[j], 0) - 1;
      residual += e * e;
    }
    // Ties (within rounding) keep the earlier, smaller support: deterministic.
    if (residual < best.residual * (1 - 1e-12)) best = { c, residual };
  }
  return { coefficients: best.c, residual: best.residual, dependent, rank: kept.length };
}
