// A seeded mutation fuzz of the trace reader (issue 19): mutants of small
// generated traces, files and streams, with the mutation kinds a damaged
// disk or a careless tool produces. Each mutant must be accepted, or
// rejected with exactly one clean line of ours, within a time and memory
// bound. Shared by the quick slice in `npm test` and `npm run fuzz`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../src/config/config.js';
import { InputError } from '../src/errors.js';
import { replayTrace } from '../src/run/run.js';
import { cloneBatch, type EventBatch } from '../src/trace/batch.js';
import { openTrace } from '../src/trace/merge.js';
import { writeTrace } from '../src/trace/writer.js';
import { generate, findWorkload } from '../src/workloads/index.js';
import { Rng } from '../src/workloads/rng.js';

export const MUTATION_KINDS = ['flip', 'flip-head', 'flip-tail', 'truncate', 'insert', 'delete', 'duplicate'] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

/** Text that only internal errors print: a clean rejection never has it. */
export const INTERNAL_TEXT = [
  'Cannot read properties',
  'undefined',
  'intermediate value',
  'TypeError',
  'RangeError',
  'ReferenceError',
  'is not a function',
  'NaN',
  'Infinity',
  'e+',
  '\n    at ',
  'Unrecognized type',
  'Vector constructor',
  'Invalid typed array',
];

/** Bounds per mutant (generous: the machine is shared and loaded). */
export const TIME_BOUND_MS = 2_000;
export const MEMORY_BOUND_BYTES = 200 * 1024 * 1024;

/** Seed traces: a few workloads, several batches each, as file and stream. */
export async function seedTraces(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of ['nic', 'nvme', 'mixed', 'sva']) {
    const tmp = path.join(dir, `${name}-gen.arrows`);
    await generate(findWorkload(name)!, tmp, { events: 240, seed: 7, devices: 1, fragmentation: 0.5, rateScale: 1 });
    const t = await openTrace([tmp]);
    const batches: EventBatch[] = [];
    for await (const b of t.batches()) {
      // Re-cut into batches of 60 rows: mutants then hit batch boundaries and later batches.
      for (let from = 0; from < b.length; from += 60) {
        const c = cloneBatch({ ...b, length: Math.min(b.length, from + 60) });
        batches.push(sliceBatch(c, from));
      }
    }
    const meta = t.meta;
    await t.close();
    for (const ext of ['.arrow', '.arrows']) {
      const f = path.join(dir, `${name}${ext}`);
      await writeTrace(f, meta, batches);
      out.push(f);
    }
    fs.rmSync(tmp);
  }
  return out;
}

function sliceBatch(b: EventBatch, from: number): EventBatch {
  const n = b.length - from;
  return {
    length: n,
    firstRow: 0,
    ts: b.ts.slice(2 * from),
    op: b.op.slice(from),
    device: b.device.slice(from),
    pasid: b.pasid.slice(from),
    domain: b.domain.slice(from),
    iova: b.iova.slice(2 * from),
    paddr: b.paddr.slice(2 * from),
    size: b.size.slice(2 * from),
  };
}

/** One mutation of `data` of the given kind. */
export function mutate(data: Uint8Array, kind: MutationKind, rng: Rng): Uint8Array {
  const n = data.length;
  const pick = (lo: number, hi: number) => lo + Math.floor(rng.float() * Math.max(1, hi - lo));
  const byte = () => (rng.float() < 0.3 ? [0x00, 0xff, 0x7f, 0x80][pick(0, 4)] : pick(0, 256));
  switch (kind) {
    case 'flip':
    case 'flip-head':
    case 'flip-tail': {
      const out = data.slice();
      const [lo, hi] = kind === 'flip' ? [0, n] : kind === 'flip-head' ? [0, Math.min(n, 1024)] : [Math.max(0, n - 1024), n];
      const count = 1 + (rng.float() < 0.3 ? pick(1, 4) : 0);
      for (let k = 0; k < count; k++) out[pick(lo, hi)] = byte();
      return out;
    }
    case 'truncate':
      return data.slice(0, pick(0, n));
    case 'insert': {
      const at = pick(0, n + 1);
      const run = new Uint8Array(pick(1, 65));
      const zeros = rng.float() < 0.5;
      if (!zeros) for (let i = 0; i < run.length; i++) run[i] = byte();
      return concat(data.subarray(0, at), run, data.subarray(at));
    }
    case 'delete': {
      const at = pick(0, n);
      return concat(data.subarray(0, at), data.subarray(Math.min(n, at + pick(1, 65))));
    }
    case 'duplicate': {
      const from = pick(0, n);
      const len = pick(1, 513);
      const block = data.subarray(from, Math.min(n, from + len));
      const at = rng.float() < 0.5 ? from + block.length : pick(0, n + 1);
      return concat(data.subarray(0, at), block, data.subarray(at));
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export type Outcome = { kind: 'accepted'; rows: number } | { kind: 'rejected'; message: string } | { kind: 'internal'; message: string };

/** Whether a rejection message is one clean line of ours. */
export function isCleanLine(message: string): boolean {
  if (message.includes('\n') || message.includes('\r')) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(message)) return false;
  return !INTERNAL_TEXT.some((t) => message.includes(t));
}

const CONFIG = resolveConfig({});
/** The page-table limit of fuzz replays: far below the memory bound (a table page costs the replay ~6 KiB). */
export const FUZZ_MAX_TABLE_BYTES = 4 * 2 ** 20;

/**
 * Reads a mutant through the reader (every batch) and, when `replay` is set,
 * replays it with the default configuration.
 */
export async function runOne(file: string, replay: boolean): Promise<Outcome> {
  try {
    let rows = 0;
    if (replay) {
      const s = await replayTrace([file], CONFIG, { maxTableBytes: FUZZ_MAX_TABLE_BYTES });
      rows = s.trace.events;
    } else {
      const t = await openTrace([file]);
      try {
        for await (const b of t.batches()) rows += b.length;
      } finally {
        await t.close();
      }
    }
    return { kind: 'accepted', rows };
  } catch (err) {
    if (err instanceof InputError) {
      return isCleanLine(err.message) ? { kind: 'rejected', message: err.message } : { kind: 'internal', message: err.message };
    }
    return { kind: 'internal', message: String((err as Error)?.stack ?? err) };
  }
}

export interface MutantResult {
  seed: string;
  mutant: number;
  kind: MutationKind;
  outcome: Outcome;
  ms: number;
  rssGrowth: number;
}

/** Mutants [first, first + count) of one seed trace; mutant k is the same bytes on every run. */
export async function campaign(
  seedFile: string,
  first: number,
  count: number,
  dir: string,
  opts: { replay: boolean; keep?: (r: MutantResult, bytes: Uint8Array) => void },
): Promise<MutantResult[]> {
  const data = new Uint8Array(fs.readFileSync(seedFile));
  const ext = path.extname(seedFile);
  const results: MutantResult[] = [];
  for (let k = first; k < first + count; k++) {
    const rng = new Rng(hashSeed(path.basename(seedFile), k));
    const kind = MUTATION_KINDS[k % MUTATION_KINDS.length];
    let bytes = mutate(data, kind, rng);
    if (rng.float() < 0.15) bytes = mutate(bytes, MUTATION_KINDS[Math.floor(rng.float() * MUTATION_KINDS.length)], rng);
    const f = path.join(dir, `mutant${ext}`);
    fs.writeFileSync(f, bytes);
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const outcome = await runOne(f, opts.replay);
    const ms = performance.now() - t0;
    const rssGrowth = Math.max(0, process.memoryUsage().rss - rss0);
    const r = { seed: path.basename(seedFile), mutant: k, kind, outcome, ms, rssGrowth };
    results.push(r);
    opts.keep?.(r, bytes);
  }
  return results;
}

function hashSeed(name: string, k: number): number {
  let h = 2166136261;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return Math.imul(h ^ k, 2654435761) >>> 0 || 1;
}

export function scratchDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-fuzz-'));
}
