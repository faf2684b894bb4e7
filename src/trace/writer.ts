// Writes the trace format from typed arrays: an IPC file for `.arrow`, a stream
// otherwise. Writes go to a temporary file renamed into place on close, so a
// trace on disk is either complete or absent.
import * as A from 'apache-arrow';
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { ensureDir, outputTarget } from '../files.js';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { cloneBatch, type EventBatch } from './batch.js';
import { metadataToRaw } from './metadata.js';
import { MAP_MORE_COLUMN, OP_NAMES, type TraceMetadata } from './schema.js';

const OP_DICTIONARY = A.vectorFromArray([...OP_NAMES], new A.Utf8());
const OP_TYPE = new A.Dictionary(new A.Utf8(), new A.Int8(), 0, false);

function traceSchema(meta: Partial<TraceMetadata>, mapOps: boolean): A.Schema {
  const u64 = new A.Uint64();
  const u32 = new A.Uint32();
  return new A.Schema(
    [
      new A.Field('ts', u64, false),
      new A.Field('op', OP_TYPE, false),
      new A.Field('device', u32, false),
      new A.Field('pasid', u32, false),
      new A.Field('domain', u32, false),
      new A.Field('iova', u64, false),
      new A.Field('paddr', u64, false),
      new A.Field('size', u64, false),
      ...(mapOps ? [new A.Field(MAP_MORE_COLUMN, u32, false)] : []),
    ],
    metadataToRaw(meta),
  );
}

function u64Data(words: Uint32Array, n: number): A.Data {
  const aligned = words.byteOffset % 8 === 0 ? words : words.slice();
  return A.makeData({ type: new A.Uint64(), length: n, data: new BigUint64Array(aligned.buffer, aligned.byteOffset, n) });
}

function u32Data(values: Uint32Array, n: number): A.Data {
  return A.makeData({ type: new A.Uint32(), length: n, data: values.subarray(0, n) });
}

export function toRecordBatch(schema: A.Schema, b: EventBatch): A.RecordBatch {
  const n = b.length;
  const op = A.makeData({
    type: OP_TYPE,
    length: n,
    data: new Int8Array(b.op.buffer, b.op.byteOffset, n),
    dictionary: OP_DICTIONARY,
  });
  const children = [
    u64Data(b.ts, n),
    op,
    u32Data(b.device, n),
    u32Data(b.pasid, n),
    u32Data(b.domain, n),
    u64Data(b.iova, n),
    u64Data(b.paddr, n),
    u64Data(b.size, n),
  ];
  if (schema.fields.length > children.length) children.push(u32Data(b.mapMore ?? new Uint32Array(n), n));
  const struct = A.makeData({ type: new A.Struct(schema.fields), length: n, nullCount: 0, children });
  return new A.RecordBatch(schema, struct);
}

export class TraceWriter {
  readonly path: string;
  private readonly tmpPath: string;
  private readonly schema: A.Schema;
  private readonly writer: A.RecordBatchWriter;
  private readonly out: fs.WriteStream;
  private rows = 0;
  private closed = false;
  private failure: NodeJS.ErrnoException | undefined;
  /** A device or FIFO target: written in place, never renamed over. */
  private readonly direct: boolean;

  /** `mapOps`: write the `map_more` column (map-operation boundaries, docs/trace-format.md). */
  constructor(file: string, meta: Partial<TraceMetadata>, mapOps = false) {
    ensureDir(path.dirname(file));
    const target = outputTarget(file);
    this.path = target.path;
    this.direct = target.direct;
    this.tmpPath = target.direct ? target.path : `${target.path}.tmp-${process.pid}`;
    this.schema = traceSchema(meta, mapOps);
    this.writer = file.endsWith('.arrow') ? new A.RecordBatchFileWriter() : new A.RecordBatchStreamWriter();
    this.writer.reset(undefined, this.schema);
    this.out = fs.createWriteStream(this.tmpPath);
    this.out.on('error', (err) => (this.failure = err));
    this.writer.toNodeStream().pipe(this.out);
  }

  private check(): void {
    if (this.failure) throw new InputError(`Cannot write "${this.path}": ${this.failure.code ?? this.failure.message}`);
  }

  get rowsWritten(): number {
    return this.rows;
  }

  /**
   * Appends a batch. The rows are copied first: Arrow's writer queues
   * references to the buffers, and callers reuse theirs.
   */
  async write(batch: EventBatch): Promise<void> {
    if (batch.length === 0) return;
    this.check();
    this.writer.write(toRecordBatch(this.schema, cloneBatch(batch)));
    this.rows += batch.length;
    if (this.out.writableNeedDrain) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.writer.finish();
    try {
      await finished(this.out);
      this.check();
      if (!this.direct) await fs.promises.rename(this.tmpPath, this.path);
    } catch (err) {
      if (!this.direct) await fs.promises.rm(this.tmpPath, { force: true });
      if (err instanceof InputError) throw err;
      throw new InputError(`Cannot write "${this.path}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  /** Gives up: removes the temporary file, leaves no output. */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.out.destroy();
    if (!this.direct) await fs.promises.rm(this.tmpPath, { force: true });
  }
}

/** Writes whole batches to `file` (convenience for tests, generators and importers). */
export async function writeTrace(file: string, meta: Partial<TraceMetadata>, batches: Iterable<EventBatch>, mapOps = false): Promise<number> {
  const w = new TraceWriter(file, meta, mapOps);
  try {
    for (const b of batches) await w.write(b);
    await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
  return w.rowsWritten;
}
