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

/**
 * The one tolerance for rank and solve: a column whose part outside the span
 * of the columns before it is at most this fraction of its norm adds nothing
 * they do not span. Relative to each column's own norm, so a term measured in
 * small units (walk accesses per transaction near 0 under a large IOTLB) is
 * judged as one in large units.
 */
const RANK_TOLERANCE = 1e-7;

/** Columns scaled to unit norm and orthogonalized (modified Gram-Schmidt): `a_j / norms_j = sum_i r[j][i] q_i`. */
interface Orthogonalized {
  /** Indexes (in order) of the columns that add to the span of those before them. */
  kept: number[];
  /** Indexes of the columns the ones before them span. */
  dependent: number[];
  /** One orthonormal vector per kept column. */
  q: number[][];
  /** Per kept column: its coordinates on q[0..j] (the column j of R in A = QR, for the unit-norm columns). */
  r: number[][];
  /** Per kept column: its norm (the scale undone on the coefficients). */
  norms: number[];
}

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

/**
 * Gram-Schmidt on the columns, each scaled to unit norm first: the same
 * test decides the rank (nnlsRelative's `dependent`) and whether a support
 * solves, whatever the columns' units. An all-zero column (a term these rows
 * never use) is neither kept nor dependent.
 */
function orthogonalize(cols: number[][]): Orthogonalized {
  const out: Orthogonalized = { kept: [], dependent: [], q: [], r: [], norms: [] };
  cols.forEach((col, j) => {
    const norm = Math.hypot(...col);
    if (norm === 0) return;
    const v = col.map((x) => x / norm);
    const r: number[] = [];
    for (const q of out.q) {
      const d = dot(v, q);
      r.push(d);
      for (let i = 0; i < v.length; i++) v[i] -= d * q[i];
    }
    const rest = Math.hypot(...v);
    if (rest <= RANK_TOLERANCE) {
      out.dependent.push(j);
      return;
    }
    r.push(rest);
    out.q.push(v.map((x) => x / rest));
    out.r.push(r);
    out.norms.push(norm);
    out.kept.push(j);
  });
  return out;
}

/**
 * The least-squares `c` of `sum_j c_j cols[j] ~ 1` (the weighted rows' target)
 * by QR of the unit-norm columns; undefined when a column is dependent on
 * the ones before it. The right side is reduced vector by vector as the
 * columns were (modified Gram-Schmidt stays accurate where the normal
 * equations, their condition squared, do not).
 */
function leastSquaresOnes(cols: number[][]): number[] | undefined {
  const o = orthogonalize(cols);
  if (o.kept.length !== cols.length) return undefined;
  const b = new Array<number>(cols[0].length).fill(1);
  const z = o.q.map((q) => {
    const d = dot(b, q);
    for (let i = 0; i < b.length; i++) b[i] -= d * q[i];
    return d;
  });
  // Back substitution on R (upper triangular: column j is r[j]), then the scale undone.
  const k = cols.length;
  const u = new Array<number>(k).fill(0);
  for (let i = k - 1; i >= 0; i--) {
    let s = z[i];
    for (let j = i + 1; j < k; j++) s -= o.r[j][i] * u[j];
    u[i] = s / o.r[i][i];
  }
  return u.map((x, j) => x / o.norms[j]);
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
  const { kept, dependent } = orthogonalize(cols);
  let best: { c: number[]; residual: number } = { c: new Array(k).fill(0), residual: y.length };
  // Every subset of the kept columns, by bitmask: the empty support (all 0) costs sum 1^2 = n.
  for (let mask = 1; mask < 1 << kept.length; mask++) {
    const support = kept.filter((_, b) => mask & (1 << b));
    const sol = leastSquaresOnes(support.map((p) => cols[p])); // weighted y is 1 in every row
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
