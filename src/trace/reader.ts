// Reads one trace file (Arrow IPC file or stream) batch by batch as typed-array
// column views, validating as it goes. Memory is bounded by the batch size: a
// batch is dropped once the consumer has moved on (spec/trace-format.md).
import * as A from 'apache-arrow';
import fs from 'node:fs';
import path from 'node:path';
import { describeIoError, traceError } from '../errors.js';
import type { EventBatch } from './batch.js';
import { BatchStream, MessageCursor, schemaMessage, type MessageAt } from './ipc.js';
import { parseMetadata } from './metadata.js';
import { COLUMNS, OP_CODE_BY_NAME, UNKNOWN_OP, type ColumnName, type TraceMetadata } from './schema.js';

const ARROW_MAGIC = 'ARROW1';

export interface TraceFile {
  path: string;
  /** Name used in messages: the path as the user gave it. */
  label: string;
  meta: TraceMetadata;
  /** Batches in file order; ts validated non-decreasing across the whole file. */
  batches(): AsyncGenerator<EventBatch>;
  close(): Promise<void>;
}

function typeName(t: A.DataType): string {
  if (A.DataType.isInt(t)) return `${t.isSigned ? 'int' : 'uint'}${t.bitWidth}`;
  if (A.DataType.isDictionary(t)) return `dictionary<${typeName(t.indices)}, ${typeName(t.dictionary)}>`;
  if (A.DataType.isUtf8(t)) return 'utf8';
  if (A.DataType.isLargeUtf8(t)) return 'large_utf8';
  if (A.DataType.isFloat(t)) return `float${t.precision === 0 ? 16 : t.precision === 1 ? 32 : 64}`;
  return String(t).toLowerCase();
}

function isUint(t: A.DataType, bits: number): boolean {
  return A.DataType.isInt(t) && !t.isSigned && t.bitWidth === bits;
}

function isString(t: A.DataType): boolean {
  return A.DataType.isUtf8(t) || A.DataType.isLargeUtf8(t);
}

function checkSchema(label: string, schema: A.Schema): void {
  for (const { name, kind } of COLUMNS) {
    const field = schema.fields.find((f) => f.name === name);
    if (!field) throw traceError(label, `column "${name}" is missing`);
    const t = field.type;
    const ok =
      kind === 'uint64' ? isUint(t, 64)
      : kind === 'uint32' ? isUint(t, 32)
      : isString(t) || (A.DataType.isDictionary(t) && isString(t.dictionary) && A.DataType.isInt(t.indices));
    if (!ok) {
      const expected = kind === 'op' ? 'dictionary<int, utf8> or utf8' : kind;
      throw traceError(label, `column "${name}" is ${typeName(t)}, expected ${expected}`);
    }
  }
}

/** Row index (within the data) of the first null, or -1. */
function firstNull(data: A.Data): number {
  if (data.nullCount === 0) return -1;
  for (let i = 0; i < data.length; i++) if (!data.getValid(i)) return i;
  return -1;
}

function u32View(batch: A.RecordBatch, name: ColumnName): { data: A.Data; view: Uint32Array } {
  const data = batch.getChild(name)!.data[0];
  const values = data.values as Uint32Array;
  return { data, view: values.subarray(data.offset, data.offset + data.length) };
}

function u64View(batch: A.RecordBatch, name: ColumnName): { data: A.Data; view: Uint32Array } {
  const data = batch.getChild(name)!.data[0];
  const values = data.values as BigUint64Array;
  const byteOffset = values.byteOffset + data.offset * 8;
  if (byteOffset % 4 === 0) {
    return { data, view: new Uint32Array(values.buffer, byteOffset, data.length * 2) };
  }
  // Misaligned buffer (possible in hand-made IPC): copy once.
  const copy = new Uint32Array(data.length * 2);
  new Uint8Array(copy.buffer).set(new Uint8Array(values.buffer, byteOffset, data.length * 8));
  return { data, view: copy };
}

interface Columns {
  ts: { data: A.Data; view: Uint32Array };
  iova: { data: A.Data; view: Uint32Array };
  paddr: { data: A.Data; view: Uint32Array };
  size: { data: A.Data; view: Uint32Array };
  device: { data: A.Data; view: Uint32Array };
  pasid: { data: A.Data; view: Uint32Array };
  domain: { data: A.Data; view: Uint32Array };
  opData: A.Data;
}

/** The trace's columns of a record batch (a corrupt batch throws here). */
function columnsOf(rb: A.RecordBatch): Columns {
  return {
    ts: u64View(rb, 'ts'),
    iova: u64View(rb, 'iova'),
    paddr: u64View(rb, 'paddr'),
    size: u64View(rb, 'size'),
    device: u32View(rb, 'device'),
    pasid: u32View(rb, 'pasid'),
    domain: u32View(rb, 'domain'),
    opData: rb.getChild('op')!.data[0],
  };
}

/** Decodes the `op` column to codes: dictionaries are mapped once per batch. */
class OpDecoder {
  private lastDictionary: A.Vector | undefined;
  private lut = new Uint8Array(0);
  private lutNames: string[] = [];
  private stringCodes = new Map<string, number>();

  decode(label: string, data: A.Data, firstRow: number, out: Uint8Array): void {
    const n = data.length;
    if (data.dictionary) {
      const dict = data.dictionary;
      if (dict !== this.lastDictionary) {
        this.lastDictionary = dict;
        this.lut = new Uint8Array(dict.length);
        this.lutNames = new Array(dict.length);
        for (let i = 0; i < dict.length; i++) {
          const name = dict.get(i) as string | null;
          this.lutNames[i] = String(name);
          this.lut[i] = (name !== null ? OP_CODE_BY_NAME.get(name) : undefined) ?? UNKNOWN_OP;
        }
      }
      const idx = (data.values as Int32Array).subarray(data.offset, data.offset + n);
      const lut = this.lut;
      for (let i = 0; i < n; i++) {
        const k = idx[i];
        const code = k >= 0 && k < lut.length ? lut[k] : UNKNOWN_OP;
        if (code === UNKNOWN_OP) {
          const what = k >= 0 && k < lut.length ? `"${this.lutNames[k]}"` : `dictionary index ${k}`;
          throw traceError(label, `column "op" has an unknown operation ${what} at row ${firstRow + i}`);
        }
        out[i] = code;
      }
      return;
    }
    // Plain utf8: the slow path, cached by string.
    const vec = A.makeVector(data);
    for (let i = 0; i < n; i++) {
      const s = vec.get(i) as string;
      let code = this.stringCodes.get(s);
      if (code === undefined) {
        code = OP_CODE_BY_NAME.get(s) ?? UNKNOWN_OP;
        this.stringCodes.set(s, code);
      }
      if (code === UNKNOWN_OP) throw traceError(label, `column "op" has an unknown operation "${s}" at row ${firstRow + i}`);
      out[i] = code;
    }
  }
}

/** Opens a trace file: checks it exists, is Arrow, and has the required schema. */
export async function openTraceFile(file: string): Promise<TraceFile> {
  const label = file;
  let handle: fs.promises.FileHandle;
  let size: number;
  try {
    handle = await fs.promises.open(file, 'r');
    const st = await handle.stat();
    if (st.isDirectory()) {
      await handle.close();
      throw traceError(label, 'is a directory, not a file');
    }
    size = st.size;
  } catch (err) {
    if (err instanceof Error && err.name === 'InputError') throw err;
    throw traceError(label, describeIoError(err));
  }
  const fail = async (what: string): Promise<never> => {
    await handle.close().catch(() => {});
    throw traceError(label, what);
  };
  if (size === 0) await fail('the file is empty');

  // Classify by the leading bytes so that errors say what is really wrong.
  const head = Buffer.alloc(Math.min(8, size));
  await handle.read(head, 0, head.length, 0);
  const isFileFormat = head.subarray(0, 6).toString('latin1') === ARROW_MAGIC;
  const isStream = head.length >= 4 && head.readUInt32LE(0) === 0xffffffff;
  if (!isFileFormat && !isStream) await fail('not an Arrow IPC file or stream');
  if (isFileFormat) {
    const tail = Buffer.alloc(6);
    if (size < 12) await fail('the file is truncated (no Arrow file footer)');
    await handle.read(tail, 0, 6, size - 6);
    if (tail.toString('latin1') !== ARROW_MAGIC) await fail('the file is truncated (no Arrow file footer)');
  }

  // Where the messages are: after the magic and before the footer in the file
  // format (the footer's length sits just before the closing magic).
  let end = size;
  if (isFileFormat) {
    const len = Buffer.alloc(4);
    await handle.read(len, 0, 4, size - 10);
    const footerLength = len.readInt32LE(0);
    if (footerLength < 0 || footerLength > size - 18) await fail('the file is truncated or corrupt (bad footer length)');
    end = size - 10 - footerLength;
  }
  // The schema, through apache-arrow's reader: the file format keeps it in
  // the footer, and apache-arrow's own file writer writes it nowhere else.
  // A file's messages are then read where its footer puts them; a stream's
  // in order after its schema.
  let schema: A.Schema;
  let messages: () => Generator<MessageAt>;
  const cursor = new MessageCursor(handle.fd, end);
  try {
    const reader = (await A.RecordBatchReader.from(handle)) as A.RecordBatchReader;
    await reader.open();
    schema = reader.schema;
    if (reader.isFile()) {
      const footer = reader.footer!;
      const block = (b: { offset: number; metaDataLength: number; bodyLength: number }) => ({ offset: Number(b.offset), length: b.metaDataLength + Number(b.bodyLength) });
      const dictionaries = [...footer.dictionaryBatches()].map(block);
      const recordBatches = [...footer.recordBatches()].map(block);
      messages = () => cursor.blocks(dictionaries, recordBatches);
    } else {
      const first = cursor.at(0);
      if (first === null || !first.message.isSchema()) return fail('the file has no schema (truncated?)');
      messages = () => cursor.stream(first.length);
    }
  } catch (err) {
    return fail(`the file is truncated or corrupt (${(err as Error).message})`);
  }
  if (!schema) return fail('the file has no schema (truncated?)');
  const schemaBytes = schemaMessage(schema);
  let meta: TraceMetadata;
  try {
    checkSchema(label, schema);
    meta = parseMetadata(label, schema.metadata);
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }

  // A batch stays valid until the one after the next is read (BatchStream).
  async function* batches(): AsyncGenerator<EventBatch> {
    const ops = new OpDecoder();
    let row = 0;
    let lastTsHi = 0;
    let lastTsLo = 0;
    const stream = new BatchStream(cursor, messages(), schemaBytes);
    for (;;) {
      let rb: A.RecordBatch | null;
      let cols: Columns;
      try {
        rb = stream.next();
        if (rb === null) break;
        cols = columnsOf(rb);
      } catch (err) {
        throw traceError(label, `the file is truncated or corrupt after row ${row} (${(err as Error).message})`);
      }
      const n = rb.numRows;
      const { ts, iova, paddr, size: sizeCol, device, pasid, domain, opData } = cols;
      for (const [name, data] of [
        ['ts', ts.data], ['op', opData], ['device', device.data], ['pasid', pasid.data],
        ['domain', domain.data], ['iova', iova.data], ['paddr', paddr.data], ['size', sizeCol.data],
      ] as const) {
        const at = firstNull(data);
        if (at >= 0) throw traceError(label, `column "${name}" has a null at row ${row + at}`);
      }
      const op = new Uint8Array(n);
      ops.decode(label, opData, row, op);
      // ts must not go backwards within a file.
      const t = ts.view;
      let hi = lastTsHi;
      let lo = lastTsLo;
      for (let i = 0; i < n; i++) {
        const h = t[2 * i + 1];
        const l = t[2 * i];
        if (h < hi || (h === hi && l < lo)) {
          const prev = BigInt(hi) * 4294967296n + BigInt(lo);
          const cur = BigInt(h) * 4294967296n + BigInt(l);
          throw traceError(label, `column "ts" goes backwards at row ${row + i} (${cur} after ${prev})`);
        }
        hi = h;
        lo = l;
      }
      lastTsHi = hi;
      lastTsLo = lo;
      yield {
        length: n,
        firstRow: row,
        ts: t,
        op,
        device: device.view,
        pasid: pasid.view,
        domain: domain.view,
        iova: iova.view,
        paddr: paddr.view,
        size: sizeCol.view,
      };
      row += n;
    }
  }

  return {
    path: path.resolve(file),
    label,
    meta,
    batches,
    close: () => handle.close().catch(() => {}),
  };
}

