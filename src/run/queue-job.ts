// What crosses Redis, checked on both sides. Anyone who can write to the
// Redis can place a job or rewrite a result, so neither side takes the other
// on trust (docs/distributed.md, "What a worker reads"):
// - a worker checks each job against the job schema and its own limits, and
//   reads a trace only when it is a regular file under one of its
//   --trace-root folders; what it stores as a failure names no file's size
//   or content;
// - the submitter checks each result against the summary's schema and the
//   job it asked for: the job's key, each summary's configuration and trace.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { POLICIES, resolveConfig, type ReplayConfig } from '../config/config.js';
import { parseSizeLog2 } from '../config/pagesizes.js';
import { InputError, describeIoError, traceError } from '../errors.js';
import { JsonError, MAX_JSON_DEPTH, parseUntrustedJson, stableStringify } from '../json.js';
import { DEFAULT_MAX_TABLE_BYTES } from '../model/tablememory.js';
import { parseSummary, type Summary } from '../stats/summary.js';
import { printable } from '../text.js';
import { MAX_CURVE_ENTRIES, type CurveResult } from './curve.js';
import type { CurveTask } from './curve-worker.js';
import type { TraceIdentity } from './identity.js';
import { MAX_POINTS_PER_TASK } from './sweep.js';

/**
 * What a job carries: everything a worker needs, and nothing that depends on
 * the submitting machine but the paths. A sweep job replays points; a curve
 * job computes one trace's curves (run/curve-worker.ts).
 */
export type JobData = { version: string; trace: TraceIdentity[] } & (
  { kind: 'points'; configs: ReplayConfig[]; maxTableBytes?: number } | { kind: 'curve'; curve: Omit<CurveTask, 'trace'> }
);

/**
 * A job's result: the key of the job the worker ran (jobId of the data it
 * read), and a points job's summaries as written to disk (stableStringify),
 * or a curve job's results as JSON.
 */
export interface JobResult {
  job: string;
  results: string[];
}

/**
 * Whether a job's `version` is the worker's own tool version (`own`), or it
 * with a tag after `+` (semver's build metadata: a run of its own, as the
 * bench's warm-up, whose results must not be another run's). A worker of
 * another version would compute the job with its own model and store the
 * result under the key the submitter asked for, whose numbers would then be
 * taken for the submitter's version's (processJob refuses it).
 */
export function versionMatches(jobVersion: string, own: string): boolean {
  return jobVersion === own || jobVersion.startsWith(`${own}+`);
}

/** The job's id and key: a hash of what the job computes (trace identities, resolved configurations, tool version, limits). */
export function jobId(data: JobData): string {
  return crypto.createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 32);
}

/** A trace of more files than this is not one a sweep names. */
const MAX_TRACE_FILES = 256;
const MAX_PATH_CHARS = 4096;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const traceIdentitySchema = z.strictObject({
  path: z.string().min(1).max(MAX_PATH_CHARS),
  size: z.number().int().min(0),
  head: sha256Hex,
  tail: sha256Hex,
});
const jobSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    version: z.string().max(200),
    kind: z.literal('points'),
    trace: z.array(traceIdentitySchema).min(1).max(MAX_TRACE_FILES),
    // planTasks never puts more points in one job.
    configs: z.array(z.unknown()).min(1).max(MAX_POINTS_PER_TASK),
    maxTableBytes: z.number().int().positive().optional(),
  }),
  z.strictObject({
    version: z.string().max(200),
    kind: z.literal('curve'),
    trace: z.array(traceIdentitySchema).length(1),
    curve: z.strictObject({
      config: z.unknown(),
      maxEntries: z.number().int().min(1).max(MAX_CURVE_ENTRIES),
      maxGroups: z.number().int().positive(),
      policy: z.enum(POLICIES),
      ways: z.number().int().min(0),
      opt: z.boolean(),
      maxTableBytes: z.number().int().positive().optional(),
    }),
  }),
]);

/** The first issue of a zod error as `where: what`. */
function issueOf(error: z.ZodError): string {
  const iss = error.issues[0];
  const where = iss.path.map(String).join('.');
  return `${printable(where, 80) || '(top level)'}: ${printable(iss.message, 120)}`;
}

/**
 * A resolved configuration, as the submitter puts it in a job: valid, and
 * already in its resolved form (resolving it again changes nothing). A job
 * never carries a raw configuration for the worker to fill in.
 */
function checkResolvedConfig(value: unknown, where: string): ReplayConfig {
  let resolved: ReplayConfig;
  try {
    resolved = resolveConfig(value, where);
  } catch (err) {
    if (err instanceof InputError) throw new InputError(`Invalid job: ${err.message}`);
    throw err;
  }
  if (stableStringify(resolved) !== stableStringify(value))
    throw new InputError(`Invalid job: config "${where}" is not a resolved configuration (defaults missing, or fields that resolve otherwise)`);
  return resolved;
}

/** The limits a worker sets for every job (its command line), whatever the job asks. */
export interface WorkerLimits {
  /** Folders under which the worker reads traces (traceRoots). */
  traceRoots: string[];
  /** Page-table memory of one replay, at most. */
  maxTableBytes?: number;
}

/**
 * Refuses job data that nests deeper than a job can (MAX_JSON_DEPTH, json.ts):
 * checked first, without recursion, so that hashing or checking a forged
 * job 100,000 levels deep names what is wrong instead of overflowing the stack.
 */
export function checkJobDepth(data: unknown): void {
  const stack: [unknown, number][] = [[data, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) throw new InputError(`Invalid job: nests deeper than ${MAX_JSON_DEPTH} levels, expected a job`);
    for (const x of Object.values(v)) stack.push([x, depth + 1]);
  }
}

/**
 * The job checked: its shape, its configurations, and the worker's limits
 * in place of the job's where they are lower. InputError names the field.
 */
export function checkJob(data: unknown, limits: WorkerLimits): JobData {
  const parsed = jobSchema.safeParse(data);
  if (!parsed.success) throw new InputError(`Invalid job: ${issueOf(parsed.error)}`);
  const job = parsed.data;
  // The worker's limit, or the job's where lower: for curve jobs as for points (each curve is replays too).
  const own = limits.maxTableBytes ?? DEFAULT_MAX_TABLE_BYTES;
  if (job.kind === 'points') {
    const configs = job.configs.map((c, i) => checkResolvedConfig(c, `configs[${i}]`));
    return { ...job, configs, maxTableBytes: Math.min(job.maxTableBytes ?? own, own) };
  }
  const config = checkResolvedConfig(job.curve.config, 'curve.config');
  if (job.curve.ways > job.curve.maxEntries)
    throw new InputError(`Invalid job: curve.ways: expected at most maxEntries (${job.curve.maxEntries}), got ${job.curve.ways}`);
  if (job.curve.opt && job.curve.ways !== 0) throw new InputError('Invalid job: curve.opt: OPT is computed for the fully associative curve (ways 0)');
  return { ...job, curve: { ...job.curve, config, maxTableBytes: Math.min(job.curve.maxTableBytes ?? own, own) } };
}

/** Whether `file` is `dir` or inside it (both absolute and normalized). */
function isUnder(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The --trace-root folders (default: the current directory), each as given
 * (made absolute) and as its real path: a job's path is checked as written
 * against the first, its real path against the second (a real path never
 * passes through a symbolic link, so the first never admits it wrongly).
 */
export function traceRoots(dirs: string[]): string[] {
  const roots = new Set<string>();
  for (const d of dirs.length > 0 ? dirs : ['.']) {
    let real: string;
    try {
      real = fs.realpathSync(d);
    } catch (err) {
      throw new InputError(`Invalid option --trace-root "${printable(d, 200)}": ${describeIoError(err)}`);
    }
    if (!fs.statSync(real).isDirectory()) throw new InputError(`Invalid option --trace-root "${printable(d, 200)}": not a directory`);
    roots.add(path.resolve(d));
    roots.add(real);
  }
  return [...roots];
}

/**
 * Checks that a job's trace file may be read: a regular file whose real path
 * (symbolic links followed) is under one of the roots. A path outside the
 * roots is refused before the file system is asked anything about it, so
 * the refusal says nothing about what exists there. Returns the path to
 * open, as the job names it (the summary names the files so).
 */
export function checkTracePath(file: string, roots: string[]): string {
  const shown = printable(file, 200);
  const outside = new InputError(`Trace "${shown}" is outside this worker's trace folders (worker --trace-root)`);
  // "-" is standard input to the trace reader: never a job's file.
  if (file === '-') throw outside;
  const abs = path.resolve(file);
  if (!roots.some((r) => isUnder(abs, r))) throw outside;
  let real: string;
  let st: fs.Stats;
  try {
    real = fs.realpathSync(abs);
    if (!roots.some((r) => isUnder(real, r))) throw outside;
    st = fs.statSync(real);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw traceError(shown, describeIoError(err));
  }
  // A FIFO or a device would block the worker, or never end.
  if (!st.isFile()) throw traceError(shown, 'not a regular file');
  return file;
}

// The summary's schema (docs/report-keys.md): the core keys with their types;
// keys beside them are kept, as the report's contract allows.
const count = z.number().min(0).refine(Number.isInteger, { error: 'expected a non-negative integer' });
const real = z.number().min(0);
const rate = z.number().min(0).max(1).nullable();
const pages = z.record(z.string().max(8), count);
const dma = z.looseObject({ events: count, bytes: count, faults: count, passthrough: count });
const iotlb = z.looseObject({ lookups: count, hits: count, misses: count, staleHits: count, hitRate: rate, invalidatedMisses: count });
const devtlb = z.looseObject({ lookups: count, hits: count, misses: count, hitRate: rate });
const walks = z.looseObject({ count, memoryAccesses: count, walkCacheHits: count });
const invalidation = z.looseObject({
  syncs: count,
  commands: z.looseObject({ page: count, domain: count, devtlb: count, wait: count, byName: z.record(z.string(), count).optional() }),
  entriesRemoved: count,
  flushes: count,
  staleWindowMaxNs: count,
  staleWindowMeanNs: real.nullable(),
});
const summarySchema = z.looseObject({
  version: z.literal(1),
  config: z.record(z.string(), z.unknown()),
  trace: z.looseObject({ files: z.array(z.string()), events: count, firstTs: z.number(), lastTs: z.number(), spanNs: real, workload: z.string().optional() }),
  totals: z.looseObject({
    dma,
    iotlb,
    devtlb,
    walks,
    map: z.looseObject({ ops: count, errors: count, bytes: count, pages }),
    unmap: z.looseObject({ ops: count, errors: count, short: count, bytes: count, requestedBytes: count, pages }),
    attach: z.looseObject({ ops: count, errors: count }),
    invalidation,
    // peakTableBytes goes into results.arrow as int64: checked like every count (optional: a summary may predate it).
    pageTable: z.looseObject({ peakTablePages: count, peakTableBytes: count.optional() }),
    nested: z.looseObject({ walks: count, memoryAccesses: count, s1Faults: count, s2Faults: count }),
    costNs: z.looseObject({ translation: real, invalidation: real }),
  }),
  byDevice: z.array(z.looseObject({ device: z.string(), iommu: z.string(), devtlbPresent: z.boolean(), dma, iotlb, devtlb, walks })),
  byDomain: z.array(
    z.looseObject({
      domain: count,
      type: z.string(),
      parent: count.optional(),
      iotlb: z.looseObject({ lookups: count, hits: count, staleHits: count, hitRate: rate }),
    }),
  ),
  byPageSize: z.array(z.looseObject({ pageSize: z.string(), lookups: count, hits: count, hitRate: rate })),
  derived: z.record(z.string(), z.number().nullable()),
});

const curvePoint = z.strictObject({
  entries: z.number().int().min(1),
  sets: z.number().int().min(1),
  lookups: count,
  hits: count,
  misses: count,
  staleHits: count,
  walks: count,
  walkAccesses: count,
  faults: count,
  hitRate: rate, // null at no lookups (run/curve.ts)
  translationCostNs: real,
});
const curveResultSchema = z.strictObject({
  policy: z.enum([...POLICIES, 'opt']),
  ways: z.number().int().min(0),
  method: z.enum(['stack', 'points']),
  points: z.array(curvePoint).min(1),
  // The page sizes a knee's reach multiplies (report/curve.ts): size names, at most one per order.
  pageSizesUsed: z.array(z.string().refine((s) => parseSizeLog2(s) !== undefined, { error: 'expected a page size like "4K"' })).max(64),
  groups: z.number().int().min(1).optional(),
  passes: z.number().int().min(1).optional(),
  approximate: z.array(z.tuple([z.number().int().min(1), z.number().int().min(1)])).optional(),
  reusedBeforeFlush: z.strictObject({ maps: count, pages: count, successfulMaps: count }).optional(),
  ops: z.strictObject({
    dmaEvents: count,
    maps: count,
    mapErrors: count,
    unmaps: count,
    unmapErrors: count,
    attaches: count,
    attachErrors: count,
  }),
});

/** Parses one JSON text of a result: bounded nesting, no prototype keys; `why` on anything else. */
function parseResultJson(text: unknown): unknown {
  if (typeof text !== 'string') throw new Error('not a text');
  try {
    return parseUntrustedJson(text);
  } catch (err) {
    if (err instanceof JsonError) throw new Error(err.message);
    throw err;
  }
}

/**
 * A points job's summaries from its result, checked: the worker ran this
 * very job (its key), there is one summary per point, each fits the
 * summary's schema, and each is of the job's configuration and trace files.
 * Throws Error with what is wrong (the caller names the job).
 */
export function summariesOf(result: unknown, data: JobData & { kind: 'points' }, id: string): Summary[] {
  const texts = resultTexts(result, id, data.configs.length);
  const files = JSON.stringify(data.trace.map((t) => t.path));
  return texts.map((text, k) => {
    const parsed = summarySchema.safeParse(parseResultJson(text));
    if (!parsed.success) throw new Error(`summary ${k + 1}: ${issueOf(parsed.error)}`);
    if (!sameConfig(parsed.data.config, data.configs[k])) throw new Error(`summary ${k + 1} is of another configuration than the job's point`);
    if (JSON.stringify(parsed.data.trace.files) !== files) throw new Error(`summary ${k + 1} is of other trace files than the job's`);
    return parseSummary(text as string);
  });
}

/**
 * Whether a summary is of the job's configuration: the same, but for the
 * IOMMU instances, which a replay takes from the trace when the
 * configuration names none (and which must then be valid ones).
 */
function sameConfig(summary: Record<string, unknown>, job: ReplayConfig): boolean {
  const { iommus, ...rest } = summary;
  if (job.iommus !== undefined || iommus === undefined) return stableStringify(summary) === stableStringify(job);
  if (stableStringify(rest) !== stableStringify(job)) return false;
  try {
    return stableStringify(resolveConfig(summary).iommus) === stableStringify(iommus);
  } catch {
    return false;
  }
}

/** A curve job's curves from its result, checked as summariesOf checks summaries. */
export function curvesOf(result: unknown, data: JobData & { kind: 'curve' }, id: string): CurveResult[] {
  const [text] = resultTexts(result, id, 1);
  const value = parseResultJson(text);
  const { curve } = data;
  const expected = curve.opt ? 2 : 1;
  if (!Array.isArray(value) || value.length !== expected) throw new Error(`expected ${expected} curve(s)`);
  return value.map((v, k) => {
    const parsed = curveResultSchema.safeParse(v);
    if (!parsed.success) throw new Error(`curve ${k + 1}: ${issueOf(parsed.error)}`);
    const c = parsed.data;
    const policy = k === 1 ? 'opt' : curve.policy;
    if (c.policy !== policy || c.ways !== curve.ways) throw new Error(`curve ${k + 1} is of another policy or geometry than the job's`);
    if (c.points.some((p, i) => p.entries > curve.maxEntries || (i > 0 && p.entries <= c.points[i - 1].entries)))
      throw new Error(`curve ${k + 1}: sizes not ascending within 1..${curve.maxEntries}`);
    return c as CurveResult;
  });
}

function resultTexts(result: unknown, id: string, n: number): string[] {
  const r = result as Partial<JobResult> | null | undefined;
  if (typeof r !== 'object' || r === null || typeof r.job !== 'string' || !Array.isArray(r.results))
    throw new Error('not a result of this version (expected {job, results})');
  if (r.job !== id) throw new Error('it is the result of another job');
  if (r.results.length !== n) throw new Error(`${r.results.length} result(s) where the job has ${n}`);
  return r.results;
}
