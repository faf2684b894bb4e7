// Calibration (`fit`, docs/fit.md): replays each measured experiment under
// every candidate IOTLB geometry and fits the time per transaction as
//   fixedNs + iotlbHit x hits + walkAccess x walk accesses + walkCacheHit x walk-cache hits
// (per transaction, non-negative costs, least squares on relative error:
// stats/nnls.ts), then ranks the candidates by their worst relative error
// over the experiments. A trace is decoded once for all the candidates (a
// described one once per IOVA granule, windowGranuleOf): in strict mode
// without walk caches they are lanes of one replay (caches/lanes.ts, run.ts
// replayPointsFed).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ReplayConfig } from '../config/config.js';
import { parseSizeLog2 } from '../config/pagesizes.js';
import { InputError } from '../errors.js';
import { nnlsRelative } from '../stats/nnls.js';
import type { Summary } from '../stats/summary.js';
import { DEFAULT_OPTIONS, generate } from '../workloads/index.js';
import { parseWindowDescription, window } from '../workloads/window.js';
import { fileFeed } from './curve.js';
import { replayPointsFed } from './run.js';

/** One measured experiment: a row of the CSV. */
export interface MeasuredRow {
  /** The CSV line it came from (1 = the header). */
  line: number;
  /** A trace file (resolved) or a workload description (`window:4M:64`). */
  trace: string;
  /** What was measured: transactions per second, or bytes per second. */
  unit: 'transactions/s' | 'bytes/s';
  measured: number;
}

/** A candidate: a configuration the fit prices. */
export interface Candidate {
  /** "64x4 lru", "256xfull plru", "64x4 lru walkCache 16x4". */
  label: string;
  config: ReplayConfig;
}

/** The fitted costs, in ns (per transaction, per hit, per walk access, per walk-cache hit). */
export interface FittedCosts {
  fixedNs: number;
  iotlbHitNs: number;
  walkAccessNs: number;
  walkCacheHitNs: number;
}

/** The cost terms in the order the fit keeps them when the rows cannot tell them apart (the later is left at 0). */
const TERMS = ['fixedNs', 'walkAccessNs', 'walkCacheHitNs', 'iotlbHitNs'] as const;

/** What one replay of a row gives the fit: counts per transaction. */
export interface RowCounts {
  transactions: number;
  bytesPerTransaction: number;
  hitsPer: number;
  walksPer: number;
  walkAccessesPer: number;
  walkCacheHitsPer: number;
}

export interface RowPrediction {
  line: number;
  trace: string;
  unit: MeasuredRow['unit'];
  measured: number;
  predicted: number;
  /** (predicted - measured) / measured. */
  error: number;
  hitRate: number;
  walkAccessesPerTransaction: number;
}

export interface CandidateFit {
  label: string;
  configuration: ReplayConfig;
  costs: FittedCosts;
  /** Cost terms the rows cannot tell apart from the ones kept (left at 0): docs/fit.md. */
  notSeparable: (keyof FittedCosts)[];
  /** Cost terms the rows determine (fit; predict: 0): with no more rows than this, any candidate fits exactly. */
  fittedTerms: number;
  /** What a miss adds to a transaction over a hit (walk and walk-cache time less the hit), ns: defined even when the terms are not separable. */
  missCostNs: number;
  worstError: number;
  medianError: number;
  predictions: RowPrediction[];
}

export interface FitOptions {
  /** Transactions of a generated (described) trace. */
  events: number;
  seed: number;
  /** What a candidate's model may hold (--max-table-memory). */
  maxTableBytes?: number;
  /** Called once a trace has been replayed under every candidate. */
  onTrace?: (done: number, total: number) => void;
}

/** The median of `values` (not empty). */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** What a replay of a row counts (dma events, bytes, IOTLB hits, walks, walk accesses, walk-cache hits). */
interface RawCounts {
  transactions: number;
  bytes: number;
  hits: number;
  walks: number;
  walkAccesses: number;
  walkCacheHits: number;
}

function rawCountsOf(s: Summary, trace: string): RawCounts {
  const t = s.totals;
  if (t.dma.faults > 0 || t.dma.passthrough > 0)
    throw new InputError(
      `Cannot fit "${trace}": ${t.dma.faults} of its DMAs fault and ${t.dma.passthrough} pass through under "${s.config.name}"; every transaction of a calibration must translate`,
    );
  return {
    transactions: t.dma.events,
    bytes: t.dma.bytes,
    hits: t.iotlb.hits,
    walks: t.walks.count,
    walkAccesses: t.walks.memoryAccesses,
    walkCacheHits: t.walks.walkCacheHits,
  };
}

function perTransaction(c: RawCounts, trace: string): RowCounts {
  const n = c.transactions;
  if (n === 0) throw new InputError(`Cannot fit "${trace}": it has no DMA transactions`);
  return {
    transactions: n,
    bytesPerTransaction: c.bytes / n,
    hitsPer: c.hits / n,
    walksPer: c.walks / n,
    walkAccessesPer: c.walkAccesses / n,
    walkCacheHitsPer: c.walkCacheHits / n,
  };
}

/** The summaries of `file` under every candidate: one decode, strict candidates as lanes. */
function replayFile(file: string, candidates: Candidate[], opts: FitOptions): Promise<Summary[]> {
  return replayPointsFed(
    fileFeed([file]),
    candidates.map((c) => c.config),
    { maxTableBytes: opts.maxTableBytes },
  );
}

/**
 * The IOVA granule a generated trace is mapped in for `config`: as
 * iommu_dma_init_domain() takes it, the smallest size of the domain's page
 * sizes, when it is one gen's DMA-API workloads take (16K, 64K: an Arm
 * SMMU's); 4 KiB otherwise. Maps rounded to 4 KiB would fault in a domain
 * whose smallest page is 64K.
 */
export function windowGranuleOf(config: ReplayConfig): number {
  const smallest = Math.min(...config.pageSizes.map((n) => parseSizeLog2(n)!));
  return smallest === 14 || smallest === 16 ? 2 ** smallest : 4096;
}

/**
 * A described row's counts under `candidates`, all of one granule. The
 * trace is generated into `tmp` with fragmentation 0: the buffer is one
 * contiguous, aligned block, as pcie-bench's hugepage-backed buffer is,
 * and whether it is mapped with 2M pages is the bitmap's call. `warm`: the
 * trace is made twice as long, and the counts of its first half (the same
 * rows: the generator is deterministic and stops at a row count) are taken
 * from the whole's, so that only transfers after the IOTLB has warmed are
 * counted.
 */
async function windowCounts(trace: string, granule: number, candidates: Candidate[], tmp: string, opts: FitOptions): Promise<RowCounts[]> {
  const { shape, warm } = parseWindowDescription(trace);
  const made = async (events: number) => {
    const file = path.join(tmp, `trace-${events}-${granule}.arrows`);
    await generate(window, file, { ...DEFAULT_OPTIONS, events, seed: opts.seed, fragmentation: 0, granule, ...shape });
    try {
      return (await replayFile(file, candidates, opts)).map((s) => rawCountsOf(s, trace));
    } finally {
      fs.rmSync(file, { force: true });
    }
  };
  const whole = await made(warm ? 2 * opts.events : opts.events);
  if (!warm) return whole.map((c) => perTransaction(c, trace));
  const warmup = await made(opts.events);
  return whole.map((c, k) => {
    const w = warmup[k];
    return perTransaction(
      {
        transactions: c.transactions - w.transactions,
        bytes: c.bytes - w.bytes,
        hits: c.hits - w.hits,
        walks: c.walks - w.walks,
        walkAccesses: c.walkAccesses - w.walkAccesses,
        walkCacheHits: c.walkCacheHits - w.walkCacheHits,
      },
      trace,
    );
  });
}

/**
 * A row's counts under every candidate. A description is generated once per
 * distinct granule of the candidates (windowGranuleOf), each candidate
 * replaying the trace of its own.
 */
async function rowCounts(trace: string, candidates: Candidate[], tmp: string, opts: FitOptions): Promise<RowCounts[]> {
  if (!trace.startsWith('window:')) return (await replayFile(trace, candidates, opts)).map((s) => perTransaction(rawCountsOf(s, trace), trace));
  const granules = candidates.map((c) => windowGranuleOf(c.config));
  const out = new Array<RowCounts>(candidates.length);
  for (const granule of [...new Set(granules)].sort((a, b) => a - b)) {
    const which = candidates.flatMap((_, k) => (granules[k] === granule ? [k] : []));
    const counts = await windowCounts(
      trace,
      granule,
      which.map((k) => candidates[k]),
      tmp,
      opts,
    );
    which.forEach((k, i) => (out[k] = counts[i]));
  }
  return out;
}

/**
 * The counts of every distinct trace of `rows` under every candidate:
 * result[trace][candidate]. Each trace is decoded once for all candidates.
 */
export async function replayRows(rows: MeasuredRow[], candidates: Candidate[], opts: FitOptions): Promise<Map<string, RowCounts[]>> {
  const traces = [...new Set(rows.map((r) => r.trace))];
  const out = new Map<string, RowCounts[]>();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-replay-fit-'));
  try {
    for (const [i, trace] of traces.entries()) {
      const line = rows.find((r) => r.trace === trace)!.line;
      try {
        out.set(trace, await rowCounts(trace, candidates, tmp, opts));
      } catch (err) {
        // A generated trace's rows mean nothing to the user: say which measurement it was.
        if (err instanceof InputError && trace.startsWith('window:'))
          throw new InputError(`Cannot replay "${trace}" (measurements line ${line}): ${err.message}`);
        throw err;
      }
      opts.onTrace?.(i + 1, traces.length);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

/** A row's measured transactions per second (bytes per second over the trace's bytes per transaction). */
function measuredTransactionsPerS(row: MeasuredRow, c: RowCounts): number {
  return row.unit === 'transactions/s' ? row.measured : row.measured / c.bytesPerTransaction;
}

function nsPerTransaction(costs: FittedCosts, c: RowCounts): number {
  return costs.fixedNs + costs.iotlbHitNs * c.hitsPer + costs.walkAccessNs * c.walkAccessesPer + costs.walkCacheHitNs * c.walkCacheHitsPer;
}

/** What a candidate is priced with: its label, configuration and costs, and the terms the fit could not separate. */
export interface Priced {
  label: string;
  config: ReplayConfig;
  costs: FittedCosts;
  notSeparable: (keyof FittedCosts)[];
  fittedTerms: number;
}

/** The predictions and errors of a priced candidate on the rows (counts in row order). */
export function evaluate(rows: MeasuredRow[], counts: RowCounts[], { label, config, costs, notSeparable, fittedTerms }: Priced): CandidateFit {
  const predictions = rows.map((row, i) => {
    const c = counts[i];
    const ns = nsPerTransaction(costs, c);
    const perS = ns > 0 ? 1e9 / ns : Infinity;
    const predicted = row.unit === 'transactions/s' ? perS : perS * c.bytesPerTransaction;
    return {
      line: row.line,
      trace: row.trace,
      unit: row.unit,
      measured: row.measured,
      predicted,
      error: (predicted - row.measured) / row.measured,
      hitRate: c.hitsPer + c.walksPer === 0 ? 0 : c.hitsPer / (c.hitsPer + c.walksPer),
      walkAccessesPerTransaction: c.walkAccessesPer,
    };
  });
  const abs = predictions.map((p) => Math.abs(p.error));
  // A miss: its walk's accesses and walk-cache hits, less the hit it is not (means over the rows' walks).
  let walks = 0;
  let accesses = 0;
  let wcHits = 0;
  for (const c of counts) {
    walks += c.walksPer;
    accesses += c.walkAccessesPer;
    wcHits += c.walkCacheHitsPer;
  }
  const missCostNs = walks === 0 ? 0 : (costs.walkAccessNs * accesses + costs.walkCacheHitNs * wcHits) / walks - costs.iotlbHitNs;
  return {
    label,
    configuration: config,
    costs,
    notSeparable,
    fittedTerms,
    missCostNs,
    worstError: Math.max(...abs),
    medianError: median(abs),
    predictions,
  };
}

/** The configuration with the fitted costs that the model has fields for (docs/fit.md: the fixed time and walk-cache hits have none). */
export function withFittedCosts(config: ReplayConfig, costs: FittedCosts, name: string): ReplayConfig {
  return { ...config, name, costs: { ...config.costs, iotlbHit: costs.iotlbHitNs, walkAccess: costs.walkAccessNs } };
}

/** Fits one candidate's costs to the rows (counts in row order). */
export function fitCandidate(candidate: Candidate, rows: MeasuredRow[], counts: RowCounts[]): CandidateFit {
  const x = counts.map((c) => {
    const term: Record<(typeof TERMS)[number], number> = {
      fixedNs: 1,
      walkAccessNs: c.walkAccessesPer,
      walkCacheHitNs: c.walkCacheHitsPer,
      iotlbHitNs: c.hitsPer,
    };
    return TERMS.map((t) => term[t]);
  });
  const y = rows.map((row, i) => 1e9 / measuredTransactionsPerS(row, counts[i]));
  const r = nnlsRelative(x, y);
  const costs = Object.fromEntries(TERMS.map((t, j) => [t, r.coefficients[j]])) as unknown as FittedCosts;
  return evaluate(rows, counts, {
    label: candidate.label,
    config: withFittedCosts(candidate.config, costs, `fit ${candidate.label}`),
    costs,
    notSeparable: r.dependent.map((j) => TERMS[j]),
    fittedTerms: r.rank,
  });
}

/** Best first: worst error, then median error, then the order the candidates were given. */
export function rankFits(fits: CandidateFit[]): CandidateFit[] {
  return fits
    .map((f, i) => ({ f, i }))
    .sort((a, b) => a.f.worstError - b.f.worstError || a.f.medianError - b.f.medianError || a.i - b.i)
    .map(({ f }) => f);
}

/** The labels of the candidates (best first) whose worst error is within `margin` of the best's: the measurements do not tell them apart. */
export function tiesOf(ranked: CandidateFit[], margin: number): string[] {
  if (ranked.length === 0) return [];
  return ranked.filter((f) => f.worstError <= ranked[0].worstError + margin).map((f) => f.label);
}

/** Replays the rows under every candidate and fits each: the fits, best first. */
export async function fitRows(rows: MeasuredRow[], candidates: Candidate[], opts: FitOptions): Promise<CandidateFit[]> {
  const counts = await replayRows(rows, candidates, opts);
  return rankFits(
    candidates.map((cand, k) =>
      fitCandidate(
        cand,
        rows,
        rows.map((r) => counts.get(r.trace)![k]),
      ),
    ),
  );
}

/** Replays the rows under one fitted configuration and prices them with its costs (no fitting): `fit --predict`. */
export async function predictRows(rows: MeasuredRow[], candidate: Candidate, costs: FittedCosts, opts: FitOptions): Promise<CandidateFit> {
  const counts = await replayRows(rows, [candidate], opts);
  return evaluate(
    rows,
    rows.map((r) => counts.get(r.trace)![0]),
    { label: candidate.label, config: candidate.config, costs, notSeparable: [], fittedTerms: 0 },
  );
}
