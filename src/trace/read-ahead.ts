// A trace read on its own thread (read-worker.ts): the same batches as
// openTrace, in the same order, while this thread replays. Each batch's
// storage goes back to the reader when the next one is asked for, so a batch
// is valid until then (as with openTrace) and memory stays bounded by
// CREDITS batches whatever the trace's length.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InputError } from '../errors.js';
import type { EventBatch } from './batch.js';
import { viewPacked } from './packed.js';
import type { TraceMetadata } from './schema.js';

/** Batches the reader may run ahead of the consumer. */
const CREDITS = 3;

export type ReadAheadMessage =
  | { kind: 'open'; meta: TraceMetadata; labels: string[] }
  | { kind: 'batch'; buffer: ArrayBuffer; length: number; firstRow: number }
  | { kind: 'end' }
  | { kind: 'inputError'; message: string }
  | { kind: 'error'; message: string };

/** From the consumer: one more credit, with a buffer to reuse when it has one. */
export interface ReadAheadReply {
  buffer?: ArrayBuffer;
}

export interface ReadAheadTrace {
  labels: string[];
  meta: TraceMetadata;
  batches(): AsyncGenerator<EventBatch>;
  close(): Promise<void>;
}

function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  // Under the test runner this module is TypeScript; the thread runs the build.
  return here.endsWith('.ts') ? path.resolve('dist/src/trace/read-worker.js') : path.join(path.dirname(here), 'read-worker.js');
}

export async function openTraceReadAhead(paths: string[]): Promise<ReadAheadTrace> {
  const worker = new Worker(workerFile(), { workerData: paths });
  const queue: ReadAheadMessage[] = [];
  let waiting: (() => void) | null = null;
  let failure: Error | null = null;
  const push = (m: ReadAheadMessage): void => {
    queue.push(m);
    waiting?.();
  };
  worker.on('message', push);
  worker.on('error', (err) => {
    failure = err;
    waiting?.();
  });
  worker.on('exit', () => push({ kind: 'error', message: 'the reader thread exited early' }));
  const next = async (): Promise<ReadAheadMessage> => {
    while (queue.length === 0 && failure === null) await new Promise<void>((r) => (waiting = r));
    waiting = null;
    if (failure !== null) throw failure;
    const m = queue.shift()!;
    if (m.kind === 'inputError') throw new InputError(m.message);
    if (m.kind === 'error') throw new Error(`reader thread: ${m.message}`);
    return m;
  };
  let first: ReadAheadMessage;
  try {
    first = await next();
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  if (first.kind !== 'open') throw new Error('reader thread: expected the trace metadata first');
  return {
    labels: first.labels,
    meta: first.meta,
    async *batches(): AsyncGenerator<EventBatch> {
      for (let k = 0; k < CREDITS; k++) worker.postMessage({} satisfies ReadAheadReply);
      for (;;) {
        const m = await next();
        if (m.kind === 'end') return;
        if (m.kind !== 'batch') throw new Error(`reader thread: unexpected ${m.kind}`);
        yield viewPacked(m.buffer, m.length, m.firstRow);
        // The consumer has moved on: the storage goes back with the credit.
        worker.postMessage({ buffer: m.buffer } satisfies ReadAheadReply, [m.buffer]);
      }
    },
    close: async () => {
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}
