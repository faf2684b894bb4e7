// A trace of several files is their merge by ts; ties go to the file named
// first, then row order (docs/trace-format.md). One file passes through
// without copying.
import { allocBatch, copyRow, type EventBatch } from './batch.js';
import { mergeMetadata } from './metadata.js';
import { openTraceFile, type TraceFile } from './reader.js';
import type { TraceMetadata } from './schema.js';

export const MERGE_BATCH_ROWS = 65536;

export interface Trace {
  files: TraceFile[];
  meta: TraceMetadata;
  /** Batches of the merged trace in ts order. */
  batches(): AsyncGenerator<EventBatch>;
  close(): Promise<void>;
}

export async function openTrace(paths: string[]): Promise<Trace> {
  const files: TraceFile[] = [];
  let meta: TraceMetadata;
  try {
    for (const p of paths) files.push(await openTraceFile(p));
    meta = mergeMetadata(files.map((f) => ({ path: f.label, meta: f.meta })));
  } catch (err) {
    await Promise.all(files.map((f) => f.close()));
    throw err;
  }
  return {
    files,
    meta,
    batches: () => (files.length === 1 ? files[0].batches() : mergeBatches(files.map((f) => f.batches()))),
    close: async () => {
      await Promise.all(files.map((f) => f.close()));
    },
  };
}

/** k-way merge of sorted batch streams by ts (lo/hi words), ties by input order. */
export async function* mergeBatches(inputs: AsyncGenerator<EventBatch>[], batchRows = MERGE_BATCH_ROWS): AsyncGenerator<EventBatch> {
  const k = inputs.length;
  const cur: (EventBatch | null)[] = new Array(k).fill(null);
  const pos = new Int32Array(k);
  const advance = async (i: number): Promise<void> => {
    for (;;) {
      const next = await inputs[i].next();
      if (next.done) {
        cur[i] = null;
        return;
      }
      if (next.value.length > 0) {
        cur[i] = next.value;
        pos[i] = 0;
        return;
      }
    }
  };
  for (let i = 0; i < k; i++) await advance(i);

  // Two output buffers alternate so the consumer may hold one while we fill the other.
  const out = [allocBatch(batchRows), allocBatch(batchRows)];
  let which = 0;
  let o = out[which];
  let n = 0;
  let emitted = 0;
  for (;;) {
    let best = -1;
    let bestHi = 0;
    let bestLo = 0;
    for (let i = 0; i < k; i++) {
      const b = cur[i];
      if (b === null) continue;
      const r = pos[i];
      const hi = b.ts[2 * r + 1];
      const lo = b.ts[2 * r];
      if (best < 0 || hi < bestHi || (hi === bestHi && lo < bestLo)) {
        best = i;
        bestHi = hi;
        bestLo = lo;
      }
    }
    if (best < 0) break;
    const b = cur[best]!;
    copyRow(b, pos[best], o, n++);
    if (++pos[best] >= b.length) await advance(best);
    if (n === batchRows) {
      o.length = n;
      o.firstRow = emitted;
      emitted += n;
      yield o;
      which ^= 1;
      o = out[which];
      n = 0;
    }
  }
  if (n > 0) {
    o.length = n;
    o.firstRow = emitted;
    yield o;
  }
}
