// The Arrow IPC metadata the trace reader needs, decoded by hand from the
// flatbuffers of format/Message.fbs, Schema.fbs and File.fbs (slot numbers
// below are the fields' order in those files; a union takes two slots, its
// type then its value). Everything is bounded: field counts, nesting depth,
// vector lengths; anything else is a FormatError.
import { FbBuffer, FbTable, FormatError, fmtInt } from './flatbuf.js';
import { printable } from '../text.js';

/** Schema.fbs `union Type` ids. */
export const TypeId = {
  Null: 1,
  Int: 2,
  FloatingPoint: 3,
  Binary: 4,
  Utf8: 5,
  Bool: 6,
  Decimal: 7,
  Date: 8,
  Time: 9,
  Timestamp: 10,
  Interval: 11,
  List: 12,
  Struct: 13,
  Union: 14,
  FixedSizeBinary: 15,
  FixedSizeList: 16,
  Map: 17,
  Duration: 18,
  LargeBinary: 19,
  LargeUtf8: 20,
  LargeList: 21,
  RunEndEncoded: 22,
  BinaryView: 23,
  Utf8View: 24,
  ListView: 25,
  LargeListView: 26,
} as const;

const TYPE_NAMES: Record<number, string> = {
  1: 'null',
  3: 'float',
  4: 'binary',
  5: 'utf8',
  6: 'bool',
  7: 'decimal',
  8: 'date',
  9: 'time',
  10: 'timestamp',
  11: 'interval',
  12: 'list',
  13: 'struct',
  14: 'union',
  15: 'fixed_size_binary',
  16: 'fixed_size_list',
  17: 'map',
  18: 'duration',
  19: 'large_binary',
  20: 'large_utf8',
  21: 'large_list',
  22: 'run_end_encoded',
  23: 'binary_view',
  24: 'utf8_view',
  25: 'list_view',
  26: 'large_list_view',
};

export interface ArrowType {
  id: number;
  /** Int only. */
  bitWidth: number;
  signed: boolean;
  /** FloatingPoint: 16, 32 or 64 bits. */
  floatBits: number;
  /** Union only: 0 sparse, 1 dense. */
  unionMode: number;
}

export interface ArrowField {
  name: string;
  type: ArrowType;
  /** Dictionary-encoded: the dictionary id and the index type. */
  dictionary: { id: number; index: ArrowType } | null;
  children: ArrowField[];
}

export interface ArrowSchema {
  fields: ArrowField[];
  metadata: Map<string, string>;
}

export const enum Codec {
  None = -1,
  Lz4Frame = 0,
  Zstd = 1,
}

export interface RecordBatchHeader {
  length: number;
  /** Per flattened field: [length, nullCount] pairs. */
  nodes: number[];
  /** Per buffer: [offset, length] pairs, relative to the body. */
  buffers: number[];
  codec: Codec;
  variadicCounts: number[];
}

export interface Message {
  headerType: number;
  bodyLength: number;
  schema?: ArrowSchema;
  batch?: RecordBatchHeader;
  dictionary?: { id: number; isDelta: boolean; data: RecordBatchHeader };
}

export interface Block {
  offset: number;
  metaDataLength: number;
  bodyLength: number;
}

export interface Footer {
  schema: ArrowSchema;
  dictionaries: Block[];
  recordBatches: Block[];
}

export const MessageHeader = { Schema: 1, DictionaryBatch: 2, RecordBatch: 3, Tensor: 4, SparseTensor: 5 } as const;
const HEADER_NAMES = ['none', 'schema', 'dictionary batch', 'record batch', 'tensor', 'sparse tensor'];
export function headerName(t: number): string {
  return HEADER_NAMES[t] ?? `unknown (${t})`;
}

/** Limits on what a schema may hold: far above any trace, far below what hurts. */
export const MAX_FIELDS = 10_000;
export const MAX_FIELD_DEPTH = 64;
export const MAX_METADATA_ENTRIES = 1_000;

export function typeName(t: ArrowType): string {
  if (t.id === TypeId.Int) return `${t.signed ? 'int' : 'uint'}${t.bitWidth}`;
  if (t.id === TypeId.FloatingPoint) return `float${t.floatBits}`;
  return TYPE_NAMES[t.id] ?? `type ${t.id}`;
}

export function fieldTypeName(f: ArrowField): string {
  return f.dictionary ? `dictionary<${typeName(f.dictionary.index)}, ${typeName(f.type)}>` : typeName(f.type);
}

function parseInt_(t: FbTable | null, what: string): ArrowType {
  const bitWidth = t ? t.i32(0) : 0;
  if (![8, 16, 32, 64].includes(bitWidth)) throw new FormatError(`${what} is an integer of ${bitWidth} bits (expected 8, 16, 32 or 64)`);
  return { id: TypeId.Int, bitWidth, signed: t!.bool(1), floatBits: 0, unionMode: 0 };
}

function parseType(f: FbTable, what: string): ArrowType {
  const id = f.u8(2);
  if (id === 0 || id > TypeId.LargeListView) throw new FormatError(`${what} has an unknown type (id ${id})`);
  const body = f.table(3, `${what}'s type`);
  if (id === TypeId.Int) return parseInt_(body, what);
  const t: ArrowType = { id, bitWidth: 0, signed: false, floatBits: 0, unionMode: 0 };
  if (id === TypeId.FloatingPoint) t.floatBits = [16, 32, 64][body?.i16(0) ?? 0] ?? 0;
  if (id === TypeId.Union) t.unionMode = body?.i16(0) ?? 0;
  return t;
}

class SchemaParser {
  private count = 0;

  field(f: FbTable, depth: number, path: string): ArrowField {
    if (++this.count > MAX_FIELDS) throw new FormatError(`the schema has more than ${MAX_FIELDS} fields`);
    if (depth > MAX_FIELD_DEPTH) throw new FormatError(`the schema nests fields more than ${MAX_FIELD_DEPTH} deep`);
    const name = f.string(0) ?? '';
    const what = `field "${printable(path + name, 40)}"`;
    const type = parseType(f, what);
    const d = f.table(4, `${what}'s dictionary encoding`);
    const dictionary = d ? { id: d.i64(0), index: parseInt_(d.table(1, 'dictionary index type') ?? null, `${what}'s dictionary index`) } : null;
    if (d && !d.has(1)) throw new FormatError(`${what} is dictionary-encoded with no index type`);
    const children = f.tables(5, 'Field').map((c) => this.field(c, depth + 1, `${path}${name}.`));
    return { name, type, dictionary, children };
  }
}

export function parseKeyValues(vec: FbTable[]): Map<string, string> {
  if (vec.length > MAX_METADATA_ENTRIES) throw new FormatError(`the schema metadata has ${vec.length} entries (at most ${MAX_METADATA_ENTRIES})`);
  const out = new Map<string, string>();
  for (const kv of vec) {
    const key = kv.string(0);
    if (key !== null) out.set(key, kv.string(1) ?? '');
  }
  return out;
}

function parseSchema(s: FbTable): ArrowSchema {
  if (s.i16(0) !== 0) throw new FormatError('the schema is big-endian (only little-endian Arrow data is read)');
  const p = new SchemaParser();
  const fields = s.tables(1, 'Field').map((f) => p.field(f, 0, ''));
  return { fields, metadata: parseKeyValues(s.tables(2, 'KeyValue')) };
}

function parseRecordBatch(t: FbTable): RecordBatchHeader {
  const length = t.i64(0);
  if (!Number.isSafeInteger(length) || length < 0) throw new FormatError(`a record batch says it has ${fmtInt(length)} rows`);
  const fb = t.fb;
  const nodes: number[] = [];
  const [ns, nn] = t.vector(1, 16);
  for (let i = 0; i < nn; i++) nodes.push(fb.i64(ns + 16 * i), fb.i64(ns + 16 * i + 8));
  const buffers: number[] = [];
  const [bs, bn] = t.vector(2, 16);
  for (let i = 0; i < bn; i++) buffers.push(fb.i64(bs + 16 * i), fb.i64(bs + 16 * i + 8));
  const c = t.table(3, 'BodyCompression');
  let codec = Codec.None;
  if (c) {
    const kind = c.u8(0);
    if (kind !== Codec.Lz4Frame && kind !== Codec.Zstd) throw new FormatError(`a record batch is compressed with an unknown codec (${kind})`);
    if (c.u8(1) !== 0) throw new FormatError(`a record batch uses an unknown body compression method (${c.u8(1)})`);
    codec = kind;
  }
  const variadicCounts: number[] = [];
  const [vs, vn] = t.vector(4, 8);
  for (let i = 0; i < vn; i++) variadicCounts.push(fb.i64(vs + 8 * i));
  return { length, nodes, buffers, codec, variadicCounts };
}

/** Decodes a Message flatbuffer; `base` is its file offset (for messages). */
export function parseMessage(bytes: Uint8Array, base: number): Message {
  const fb = new FbBuffer(bytes, base);
  const m = fb.root('Message');
  const version = m.i16(0);
  if (version < 3 || version > 4) throw new FormatError(`a message at byte ${base} has metadata version ${version + 1} (expected V4 or V5)`);
  const headerType = m.u8(1);
  const bodyLength = m.i64(3);
  if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) throw new FormatError(`a message at byte ${base} says its body is ${fmtInt(bodyLength)} bytes`);
  const out: Message = { headerType, bodyLength };
  const h = m.table(2, headerName(headerType));
  if (headerType === MessageHeader.Schema) {
    if (!h) throw new FormatError(`the schema message at byte ${base} is empty`);
    out.schema = parseSchema(h);
  } else if (headerType === MessageHeader.RecordBatch) {
    if (!h) throw new FormatError(`the record batch message at byte ${base} is empty`);
    out.batch = parseRecordBatch(h);
  } else if (headerType === MessageHeader.DictionaryBatch) {
    const data = h?.table(1, 'RecordBatch');
    if (!h || !data) throw new FormatError(`the dictionary batch message at byte ${base} has no data`);
    out.dictionary = { id: h.i64(0), isDelta: h.bool(2), data: parseRecordBatch(data) };
  } else {
    throw new FormatError(`unexpected ${headerName(headerType)} message at byte ${base}`);
  }
  return out;
}

/** Decodes a file's Footer flatbuffer. */
export function parseFooter(bytes: Uint8Array, base: number): Footer {
  const fb = new FbBuffer(bytes, base);
  const f = fb.root('Footer');
  const s = f.table(1, 'Schema');
  if (!s) throw new FormatError(`the footer at byte ${base} has no schema`);
  const blocks = (slot: number): Block[] => {
    const [start, n] = f.vector(slot, 24);
    const out: Block[] = [];
    for (let i = 0; i < n; i++) {
      const at = start + 24 * i;
      out.push({ offset: fb.i64(at), metaDataLength: fb.view.getInt32(at + 8, true), bodyLength: fb.i64(at + 16) });
    }
    return out;
  };
  return { schema: parseSchema(s), dictionaries: blocks(2), recordBatches: blocks(3) };
}

/**
 * How many buffers a field of this type takes in a record batch (Arrow
 * columnar format, "Buffer listing for each layout"; V5: unions and null have
 * no validity buffer). View types add their variadic data buffers.
 */
export function fixedBufferCount(f: ArrowField): number {
  if (f.dictionary) return 2;
  switch (f.type.id) {
    case TypeId.Null:
    case TypeId.RunEndEncoded:
      return 0;
    case TypeId.Struct:
    case TypeId.FixedSizeList:
      return 1;
    case TypeId.Union:
      return f.type.unionMode === 1 ? 2 : 1;
    case TypeId.Binary:
    case TypeId.Utf8:
    case TypeId.LargeBinary:
    case TypeId.LargeUtf8:
    case TypeId.ListView:
    case TypeId.LargeListView:
      return 3;
    default:
      return 2; // fixed width, List, LargeList, Map, and the views' validity + views
  }
}

export function isView(f: ArrowField): boolean {
  return !f.dictionary && (f.type.id === TypeId.Utf8View || f.type.id === TypeId.BinaryView);
}
