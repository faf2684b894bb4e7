// The read-ahead thread: opens and decodes a trace (reader.ts, merge.ts) and
// posts its batches, packed, to the replaying thread, at most CREDITS ahead.
// Read and replay then run on two cores instead of taking turns on one.
import { parentPort, workerData } from 'node:worker_threads';
import { InputError } from '../errors.js';
import { openTrace } from './merge.js';
import { pack, packedBytes } from './packed.js';
import type { ReadAheadMessage, ReadAheadReply } from './read-ahead.js';

const port = parentPort!;
const paths = workerData as string[];

/** Buffers handed back by the consumer, and credits: how many batches may be in flight. */
const free: ArrayBuffer[] = [];
let credits = 0;
let wake: (() => void) | null = null;
port.on('message', (m: ReadAheadReply) => {
  if (m.buffer) free.push(m.buffer);
  credits++;
  wake?.();
});

function post(m: ReadAheadMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

async function main(): Promise<void> {
  const trace = await openTrace(paths);
  try {
    post({ kind: 'open', meta: trace.meta, labels: trace.files.map((f) => f.label) });
    for await (const b of trace.batches()) {
      while (credits === 0) await new Promise<void>((r) => (wake = r));
      wake = null;
      credits--;
      const need = packedBytes(b.length);
      let buf = free.pop();
      if (buf === undefined || buf.byteLength < need) buf = new ArrayBuffer(need);
      pack(b, buf);
      post({ kind: 'batch', buffer: buf, length: b.length, firstRow: b.firstRow }, [buf]);
    }
    post({ kind: 'end' });
  } finally {
    await trace.close();
  }
}

main().catch((err: unknown) => {
  // Error classes do not survive the thread boundary: an input error goes as its message.
  if (err instanceof InputError) post({ kind: 'inputError', message: err.message });
  else post({ kind: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
});
// The thread lives until the consumer terminates it (read-ahead.ts close()).
