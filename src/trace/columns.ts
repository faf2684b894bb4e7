// A record batch's trace columns, decoded by hand from its body (Arrow
// columnar format, "Physical memory layout"), checked before trusted:
// node lengths equal the batch's, every buffer inside the body and large
// enough for the rows, validity bitmaps honoured (a null anywhere in a
// required column is an error naming column and row), null counts agreeing
// with them, string offsets and views inside their data.
//
// What writers produce by default is accepted: uint64/uint32 as the spec
// says, and int64 (pandas, Polars) or any other integer width checked to be
// in range; `op` as utf8, large_utf8, utf8_view or a dictionary of any of
// them with any integer index. Conversions happen once a batch; uint64
// columns reach the model as lo/hi Uint32Array views of the body as before.
import { decompressBuffer, codecName } from './codec.js';
import { FormatError, fmtInt } from './flatbuf.js';
import { Codec, TypeId, fieldTypeName, fixedBufferCount, isView, type ArrowField, type ArrowSchema, type RecordBatchHeader } from './format.js';
import { COLUMNS, MAP_MORE_COLUMN, OP_NAMES, UNKNOWN_OP, type ColumnKind, type ColumnName } from './schema.js';
import { printable } from '../text.js';
import type { EventBatch } from './batch.js';

/** Rows one batch may have: far above what writers use, bounded so a compressed batch cannot claim what it likes. */
export const MAX_BATCH_ROWS = 1 << 26;
/** Bytes of string data a compressed `op` buffer may hold per row. */
const MAX_STRING_BYTES_PER_ROW = 256;
/** Code of a null entry in a dictionary of ops. */
const NULL_OP = 254;

interface Column {
  name: ColumnName | typeof MAP_MORE_COLUMN;
  kind: ColumnKind;
  field: ArrowField;
  /** Index of its node in the flattened field list. */
  node: number;
}

/** Where the trace's columns sit among a schema's flattened fields, worked out once per file. */
export interface Layout {
  /** Per flattened field: fixed buffer count and whether a view type (which adds variadic buffers). */
  fixed: number[];
  view: boolean[];
  columns: Column[];
  /** The op column's dictionary id, or -1 when op is plain strings. */
  opDictionary: number;
  /** Every dictionary id of the schema, with its value field. */
  dictionaries: Map<number, ArrowField>;
}

function isInt(f: ArrowField): boolean {
  return !f.dictionary && f.type.id === TypeId.Int;
}

function isString(t: number): boolean {
  return t === TypeId.Utf8 || t === TypeId.LargeUtf8 || t === TypeId.Utf8View;
}

function flatten(fields: ArrowField[], out: ArrowField[], dictionaries: Map<number, ArrowField>): void {
  for (const f of fields) {
    out.push(f);
    if (f.dictionary) {
      if (dictionaries.has(f.dictionary.id)) throw new FormatError(`two fields use dictionary id ${fmtInt(f.dictionary.id)}`);
      dictionaries.set(f.dictionary.id, { ...f, dictionary: null });
      // The record batch holds the indices only; the values' children are in the dictionary batch.
      const inner: ArrowField[] = [];
      flatten(f.children, inner, dictionaries);
    } else flatten(f.children, out, dictionaries);
  }
}

/** Checks the schema has the trace's columns (docs/trace-format.md) and lays them out. */
export function layoutOf(schema: ArrowSchema): Layout {
  const flat: ArrowField[] = [];
  const dictionaries = new Map<number, ArrowField>();
  flatten(schema.fields, flat, dictionaries);
  const columns: Column[] = [];
  let opDictionary = -1;
  for (const { name, kind } of COLUMNS) {
    const field = schema.fields.find((f) => f.name === name);
    if (!field) throw new FormatError(`column "${name}" is missing`);
    const ok = kind === 'op' ? isString(field.type.id) && (field.dictionary === null || field.dictionary.index.bitWidth > 0) : isInt(field);
    if (!ok) {
      const expected = kind === 'op' ? 'utf8, large_utf8, utf8_view or a dictionary of one of them' : `${kind} (or another integer type)`;
      throw new FormatError(`column "${name}" is ${fieldTypeName(field)}, expected ${expected}`);
    }
    if (kind === 'op' && field.dictionary) opDictionary = field.dictionary.id;
    columns.push({ name, kind, field, node: flat.indexOf(field) });
  }
  // The optional map-operation column: read when present, checked as the others are.
  const mapMore = schema.fields.find((f) => f.name === MAP_MORE_COLUMN);
  if (mapMore) {
    if (!isInt(mapMore)) throw new FormatError(`column "${MAP_MORE_COLUMN}" is ${fieldTypeName(mapMore)}, expected uint32 (or another integer type)`);
    columns.push({ name: MAP_MORE_COLUMN, kind: 'uint32', field: mapMore, node: flat.indexOf(mapMore) });
  }
  return { fixed: flat.map(fixedBufferCount), view: flat.map(isView), columns, opDictionary, dictionaries };
}

/** The layout of a dictionary batch: its one field, the dictionary's values. */
export function dictionaryLayout(value: ArrowField): Layout {
  const flat: ArrowField[] = [];
  flatten([value], flat, new Map());
  return { fixed: flat.map(fixedBufferCount), view: flat.map(isView), columns: [], opDictionary: -1, dictionaries: new Map() };
}

/** Bytes a fixed-width integer column of `rows` needs. */
function intBytes(f: ArrowField, rows: number): number {
  return rows * (f.type.bitWidth / 8);
}

/**
 * Checks a batch's header against the layout and its body length, and
 * returns where each flattened field's buffers start. Nothing is read.
 */
export function checkBatchHeader(layout: Layout, h: RecordBatchHeader, bodyLength: number, where: string): number[] {
  const nFields = layout.fixed.length;
  if (h.length > MAX_BATCH_ROWS) throw new FormatError(`${where} has ${h.length} rows, more than the ${MAX_BATCH_ROWS} a batch may have`);
  if (h.nodes.length !== 2 * nFields) throw new FormatError(`${where} has ${h.nodes.length / 2} field nodes, the schema has ${nFields} fields`);
  const views = layout.view.filter(Boolean).length;
  if (h.variadicCounts.length !== views)
    throw new FormatError(`${where} has ${h.variadicCounts.length} variadic buffer counts, the schema has ${views} view fields`);
  const starts: number[] = [];
  let k = 0;
  let v = 0;
  for (let i = 0; i < nFields; i++) {
    starts.push(k);
    k += layout.fixed[i];
    if (layout.view[i]) {
      const extra = h.variadicCounts[v++];
      if (!(extra >= 0 && extra <= h.buffers.length / 2)) throw new FormatError(`${where} says a view field has ${fmtInt(extra)} data buffers`);
      k += extra;
    }
  }
  starts.push(k);
  if (h.buffers.length !== 2 * k) throw new FormatError(`${where} has ${h.buffers.length / 2} buffers, its fields need ${k}`);
  for (let b = 0; b < k; b++) {
    const off = h.buffers[2 * b];
    const len = h.buffers[2 * b + 1];
    if (!(off >= 0 && len >= 0 && off + len <= bodyLength))
      throw new FormatError(`${where}: buffer ${b} at ${fmtInt(off)}, ${fmtInt(len)} bytes, is outside the ${bodyLength}-byte body`);
  }
  for (const c of layout.columns) {
    const len = h.nodes[2 * c.node];
    const nulls = h.nodes[2 * c.node + 1];
    if (len !== h.length) throw new FormatError(`${where}, column "${c.name}": ${fmtInt(len)} values, the batch has ${h.length} rows`);
    if (!(nulls >= 0 && nulls <= len)) throw new FormatError(`${where}, column "${c.name}": a null count of ${fmtInt(nulls)} for ${len} values`);
    if (h.codec !== Codec.None) continue; // sizes are checked once decompressed
    const first = starts[c.node];
    const size = (j: number) => h.buffers[2 * (first + j) + 1];
    const validity = size(0);
    if (validity !== 0 && validity < Math.ceil(len / 8))
      throw new FormatError(`${where}, column "${c.name}": a validity bitmap of ${validity} bytes for ${len} rows`);
    const f = c.field;
    const [need, have] = f.dictionary
      ? [intBytes({ ...f, type: f.dictionary.index }, len), size(1)]
      : f.type.id === TypeId.Int
        ? [intBytes(f, len), size(1)]
        : f.type.id === TypeId.Utf8
          ? [len === 0 ? 0 : 4 * (len + 1), size(1)]
          : f.type.id === TypeId.LargeUtf8
            ? [len === 0 ? 0 : 8 * (len + 1), size(1)]
            : [16 * len, size(1)];
    if (have < need) throw new FormatError(`${where}, column "${c.name}": ${have} bytes of values for ${len} rows, expected ${need}`);
  }
  return starts;
}

/** The bytes of one buffer of a body, decompressed when the batch is. */
function bufferOf(h: RecordBatchHeader, body: Uint8Array, b: number, maxBytes: number): Uint8Array {
  const raw = body.subarray(h.buffers[2 * b], h.buffers[2 * b] + h.buffers[2 * b + 1]);
  return h.codec === Codec.None ? raw : decompressBuffer(h.codec, raw, maxBytes);
}

/** Row (0-based, within the batch) of the first null, -1 when none; checks the null count agrees. */
function firstNull(validity: Uint8Array, n: number, nullCount: number, what: string): number {
  if (validity.length === 0) {
    if (nullCount > 0) throw new FormatError(`${what} has a null count of ${nullCount} but no validity bitmap`);
    return -1;
  }
  if (validity.length < Math.ceil(n / 8)) throw new FormatError(`${what} has a validity bitmap of ${validity.length} bytes for ${n} rows`);
  const full = n >>> 3;
  for (let i = 0; i < full; i++) {
    if (validity[i] !== 0xff) for (let bit = 0; bit < 8; bit++) if ((validity[i] & (1 << bit)) === 0) return 8 * i + bit;
  }
  for (let r = 8 * full; r < n; r++) if ((validity[r >>> 3] & (1 << (r & 7))) === 0) return r;
  if (nullCount > 0) throw new FormatError(`${what} has a null count of ${nullCount} but its validity bitmap marks no row null`);
  return -1;
}

/** An aligned copy of `bytes` when it is not aligned to `align`. */
function aligned(bytes: Uint8Array, align: number): Uint8Array {
  return bytes.byteOffset % align === 0 ? bytes : bytes.slice();
}

/** A 64-bit value from lo/hi words, as text (for messages only). */
function show64(lo: number, hi: number, signed: boolean): string {
  const v = (BigInt(hi) << 32n) | BigInt(lo);
  return String(signed ? BigInt.asIntN(64, v) : v);
}

/** An integer column as lo/hi Uint32 words a row: the body itself when uint64 or int64. */
function toWords(f: ArrowField, bytes: Uint8Array, n: number, what: string, firstRow: number): Uint32Array {
  const { bitWidth, signed } = f.type;
  if (bitWidth === 64) {
    const words = new Uint32Array(aligned(bytes, 4).buffer, aligned(bytes, 4).byteOffset, 2 * n);
    if (signed)
      for (let i = 0; i < n; i++)
        if (words[2 * i + 1] >= 0x80000000)
          throw new FormatError(`${what} has a negative value ${show64(words[2 * i], words[2 * i + 1], true)} at row ${firstRow + i}`);
    return words;
  }
  const narrow = narrowView(f, bytes, n);
  const words = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const x = narrow[i];
    if (x < 0) throw new FormatError(`${what} has a negative value ${x} at row ${firstRow + i}`);
    words[2 * i] = x;
  }
  return words;
}

function narrowView(f: ArrowField, bytes: Uint8Array, n: number): ArrayLike<number> {
  const b = aligned(bytes, f.type.bitWidth / 8);
  const { bitWidth, signed } = f.type;
  if (bitWidth === 8) return signed ? new Int8Array(b.buffer, b.byteOffset, n) : new Uint8Array(b.buffer, b.byteOffset, n);
  if (bitWidth === 16) return signed ? new Int16Array(b.buffer, b.byteOffset, n) : new Uint16Array(b.buffer, b.byteOffset, n);
  return signed ? new Int32Array(b.buffer, b.byteOffset, n) : new Uint32Array(b.buffer, b.byteOffset, n);
}

/** An integer column as one Uint32 a row: the body itself when uint32 (or int32 with no negative value). */
function toU32(f: ArrowField, bytes: Uint8Array, n: number, what: string, firstRow: number): Uint32Array {
  const { bitWidth, signed } = f.type;
  if (bitWidth === 64) {
    const words = toWords(f, bytes, n, what, firstRow);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      if (words[2 * i + 1] !== 0)
        throw new FormatError(`${what} has the value ${show64(words[2 * i], words[2 * i + 1], signed)} at row ${firstRow + i}, more than a uint32 holds`);
      out[i] = words[2 * i];
    }
    return out;
  }
  if (bitWidth === 32) {
    const b = aligned(bytes, 4);
    const out = new Uint32Array(b.buffer, b.byteOffset, n);
    if (signed)
      for (let i = 0; i < n; i++) if (out[i] >= 0x80000000) throw new FormatError(`${what} has a negative value ${out[i] | 0} at row ${firstRow + i}`);
    return out;
  }
  const narrow = narrowView(f, bytes, n);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    if (narrow[i] < 0) throw new FormatError(`${what} has a negative value ${narrow[i]} at row ${firstRow + i}`);
    out[i] = narrow[i];
  }
  return out;
}

const OP_BYTES = OP_NAMES.map((s) => new TextEncoder().encode(s));

/** The op code of the string bytes[start, start + len), or UNKNOWN_OP. */
function opCodeOf(bytes: Uint8Array, start: number, len: number): number {
  for (let code = 0; code < OP_BYTES.length; code++) {
    const name = OP_BYTES[code];
    if (name.length !== len) continue;
    let j = 0;
    while (j < len && bytes[start + j] === name[j]) j++;
    if (j === len) return code;
  }
  return UNKNOWN_OP;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * A string column's values, one at a time, every offset or view checked
 * against its data before use. `code(i)` is the op code, `text(i)` the
 * string (messages only).
 */
class Strings {
  private bytes: Uint8Array = new Uint8Array(0);
  private start = 0;
  private len = 0;
  private readonly dv: DataView;

  constructor(
    private readonly kind: number,
    private readonly offsetsOrViews: Uint8Array,
    private readonly data: Uint8Array[],
    private readonly what: string,
  ) {
    this.dv = new DataView(offsetsOrViews.buffer, offsetsOrViews.byteOffset, offsetsOrViews.byteLength);
  }

  /** Sets bytes/start/len to value i. */
  private locate(i: number): void {
    const v = this.offsetsOrViews;
    const dv = this.dv;
    if (this.kind === TypeId.Utf8View) {
      const len = dv.getInt32(16 * i, true);
      if (len < 0) throw new FormatError(`${this.what}: the view of row ${i} has length ${len}`);
      if (len <= 12) {
        this.bytes = v;
        this.start = 16 * i + 4;
      } else {
        const buf = dv.getInt32(16 * i + 8, true);
        const off = dv.getInt32(16 * i + 12, true);
        const data = this.data[buf];
        if (data === undefined || off < 0 || off + len > data.length)
          throw new FormatError(`${this.what}: the view of row ${i} points outside its data (buffer ${buf}, offset ${off}, ${len} bytes)`);
        this.bytes = data;
        this.start = off;
      }
      this.len = len;
      return;
    }
    let a: number;
    let b: number;
    if (this.kind === TypeId.LargeUtf8) {
      const read = (k: number) => (dv.getUint32(8 * k + 4, true) !== 0 ? Infinity : dv.getUint32(8 * k, true));
      a = read(i);
      b = read(i + 1);
    } else {
      a = dv.getInt32(4 * i, true);
      b = dv.getInt32(4 * (i + 1), true);
    }
    const data = this.data[0];
    if (!(a >= 0 && a <= b && b <= data.length))
      throw new FormatError(`${this.what}: the offsets of row ${i} (${a}..${b}) are outside its ${data.length} bytes of data`);
    this.bytes = data;
    this.start = a;
    this.len = b - a;
  }

  code(i: number): number {
    this.locate(i);
    return opCodeOf(this.bytes, this.start, this.len);
  }

  text(i: number): string {
    this.locate(i);
    return utf8.decode(this.bytes.subarray(this.start, this.start + this.len));
  }
}

/** What a dictionary of ops decodes to: a code per entry (NULL_OP for a null entry). */
export interface OpDictionary {
  codes: Uint8Array;
  names: string[];
}

/** A batch's columns as the replay takes them (batch.ts), before the reader numbers its rows. */
export type DecodedColumns = Omit<EventBatch, 'firstRow'>;

/** Reads a string-typed field's buffers (starting at buffer index `first`) as Strings. */
function stringsOf(
  f: ArrowField,
  h: RecordBatchHeader,
  body: Uint8Array,
  first: number,
  last: number,
  n: number,
  what: string,
): { strings: Strings; validity: Uint8Array } {
  const validity = bufferOf(h, body, first, Math.ceil(n / 8));
  const kind = f.type.id;
  let main: Uint8Array;
  const data: Uint8Array[] = [];
  if (kind === TypeId.Utf8View) {
    main = bufferOf(h, body, first + 1, 16 * n);
    for (let b = first + 2; b < last; b++) data.push(bufferOf(h, body, b, MAX_STRING_BYTES_PER_ROW * n + 4096));
  } else {
    const width = kind === TypeId.LargeUtf8 ? 8 : 4;
    main = bufferOf(h, body, first + 1, width * (n + 1));
    data.push(bufferOf(h, body, first + 2, MAX_STRING_BYTES_PER_ROW * n + 4096));
  }
  const need = n === 0 ? 0 : kind === TypeId.Utf8View ? 16 * n : (kind === TypeId.LargeUtf8 ? 8 : 4) * (n + 1);
  if (main.length < need)
    throw new FormatError(`${what}: ${main.length} bytes of ${kind === TypeId.Utf8View ? 'views' : 'offsets'} for ${n} rows, expected ${need}`);
  return { strings: new Strings(kind, main, data, what), validity };
}

/** Decodes a dictionary batch of op strings. */
export function decodeOpDictionary(value: ArrowField, h: RecordBatchHeader, body: Uint8Array, where: string): OpDictionary {
  const layout = dictionaryLayout(value);
  const starts = checkBatchHeader(layout, h, body.length, where);
  const n = h.length;
  if (h.nodes[0] !== n) throw new FormatError(`${where}: ${fmtInt(h.nodes[0])} values, the batch has ${n} rows`);
  const what = `${where} (the "op" dictionary)`;
  let decoded: ReturnType<typeof stringsOf>;
  try {
    decoded = stringsOf(value, h, body, starts[0], starts[1], n, what);
  } catch (err) {
    if (err instanceof FormatError && h.codec !== Codec.None && /frame|compressed/.test(err.message))
      throw new FormatError(`${what}: a buffer compressed with ${codecName(h.codec)} cannot be read: ${err.message}`);
    throw err;
  }
  const { strings, validity } = decoded;
  const codes = new Uint8Array(n);
  const names: string[] = new Array(n);
  const hasNulls = validity.length > 0;
  if (hasNulls && validity.length < Math.ceil(n / 8)) throw new FormatError(`${what} has a validity bitmap of ${validity.length} bytes for ${n} entries`);
  for (let i = 0; i < n; i++) {
    if (hasNulls && (validity[i >>> 3] & (1 << (i & 7))) === 0) {
      codes[i] = NULL_OP;
      names[i] = 'null';
      continue;
    }
    codes[i] = strings.code(i);
    names[i] = codes[i] === UNKNOWN_OP ? strings.text(i) : OP_NAMES[codes[i]];
  }
  return { codes, names };
}

/**
 * The trace columns of a record batch whose header `checkBatchHeader`
 * accepted. `where` names the batch (for a buffer that cannot be
 * decompressed); rows in messages count from `firstRow`. `opSpace`, when it
 * holds the rows, is where op codes are written when they are not the
 * body's own bytes (the reader reuses one with each body buffer): a new
 * array a batch cost more than the rest of the op decode.
 */
export function decodeColumns(
  layout: Layout,
  h: RecordBatchHeader,
  body: Uint8Array,
  starts: number[],
  opDictionary: OpDictionary | undefined,
  firstRow: number,
  where: string,
  opSpace?: Uint8Array,
): DecodedColumns {
  const n = h.length;
  const opArray = () => (opSpace !== undefined && opSpace.length >= n ? opSpace.subarray(0, n) : new Uint8Array(n));
  const out = { length: n } as DecodedColumns;
  for (const c of layout.columns) {
    const what = `column "${c.name}"`;
    const first = starts[c.node];
    const f = c.field;
    const nulls = h.nodes[2 * c.node + 1];
    let validity: Uint8Array;
    try {
      if (c.kind === 'op') {
        if (f.dictionary) {
          validity = bufferOf(h, body, first, Math.ceil(n / 8));
          const indexField = { ...f, type: f.dictionary.index, dictionary: null };
          const values = bufferOf(h, body, first + 1, intBytes(indexField, n));
          if (values.length < intBytes(indexField, n)) throw new FormatError(`${what}: ${values.length} bytes of indices for ${n} rows`);
          const at = firstNull(validity, n, nulls, what);
          if (at >= 0) throw new FormatError(`${what} has a null at row ${firstRow + at}`);
          out.op = opsFromDictionary(indexField, values, n, opDictionary, what, firstRow, opArray);
        } else {
          const { strings, validity: v } = stringsOf(f, h, body, first, starts[c.node + 1], n, what);
          const at = firstNull(v, n, nulls, what);
          if (at >= 0) throw new FormatError(`${what} has a null at row ${firstRow + at}`);
          const op = opArray();
          for (let i = 0; i < n; i++) {
            const code = strings.code(i);
            if (code === UNKNOWN_OP) throw new FormatError(`${what} has an unknown operation "${printable(strings.text(i))}" at row ${firstRow + i}`);
            op[i] = code;
          }
          out.op = op;
        }
        continue;
      }
      validity = bufferOf(h, body, first, Math.ceil(n / 8));
      const values = bufferOf(h, body, first + 1, intBytes(f, n));
      if (values.length < intBytes(f, n)) throw new FormatError(`${what}: ${values.length} bytes of values for ${n} rows, expected ${intBytes(f, n)}`);
      const at = firstNull(validity, n, nulls, what);
      if (at >= 0) throw new FormatError(`${what} has a null at row ${firstRow + at}`);
      if (c.name === MAP_MORE_COLUMN) out.mapMore = toU32(f, values, n, what, firstRow);
      else out[c.name as Exclude<ColumnName, 'op'>] = c.kind === 'uint64' ? toWords(f, values, n, what, firstRow) : toU32(f, values, n, what, firstRow);
    } catch (err) {
      if (err instanceof FormatError && h.codec !== Codec.None && /frame|compressed/.test(err.message))
        throw new FormatError(`${where}, ${what}: a buffer compressed with ${codecName(h.codec)} cannot be read: ${err.message}`);
      throw err;
    }
  }
  return out;
}

/** Op codes from dictionary indices, into `opArray()` unless the indices themselves are the codes (opsFromByteIndices). */
function opsFromDictionary(
  index: ArrowField,
  bytes: Uint8Array,
  n: number,
  dict: OpDictionary | undefined,
  what: string,
  firstRow: number,
  opArray: () => Uint8Array,
): Uint8Array {
  if (dict === undefined) throw new FormatError(`${what} uses a dictionary that no dictionary batch has sent before this batch`);
  const codes = dict.codes;
  const size = codes.length;
  const fail = (i: number, k: number | string): never => {
    if (typeof k === 'number' && k >= 0 && k < size) {
      if (codes[k] === NULL_OP) throw new FormatError(`${what} has a null at row ${firstRow + i}`);
      throw new FormatError(`${what} has an unknown operation "${printable(dict.names[k])}" at row ${firstRow + i}`);
    }
    throw new FormatError(`${what} has dictionary index ${k} at row ${firstRow + i}, the dictionary has ${size} entries`);
  };
  if (index.type.bitWidth === 8) return opsFromByteIndices(index.type.signed, bytes.subarray(0, n), n, codes, fail, opArray);
  const op = opArray();
  if (index.type.bitWidth === 64) {
    const w = new Uint32Array(aligned(bytes, 4).buffer, aligned(bytes, 4).byteOffset, 2 * n);
    for (let i = 0; i < n; i++) {
      const k = w[2 * i];
      if (w[2 * i + 1] !== 0 || k >= size) fail(i, w[2 * i + 1] !== 0 ? show64(k, w[2 * i + 1], index.type.signed) : k);
      const code = codes[k];
      if (code >= NULL_OP) fail(i, k);
      op[i] = code;
    }
    return op;
  }
  const idx = narrowView(index, bytes, n);
  for (let i = 0; i < n; i++) {
    const k = idx[i];
    const code = k >= 0 && k < size ? codes[k] : UNKNOWN_OP;
    if (code >= NULL_OP) fail(i, k);
    op[i] = code;
  }
  return op;
}

/**
 * Ops from 8-bit dictionary indices (what our writer, arrow-js and pyarrow
 * write for a handful of strings): one pass with a 256-entry table instead
 * of a range check and a lookup a row. When the dictionary lists the ops in
 * code order (ours does: writer.ts), an index is its op's code, so the
 * indices themselves are the column, checked in place and not copied.
 */
function opsFromByteIndices(
  signed: boolean,
  indices: Uint8Array,
  n: number,
  codes: Uint8Array,
  fail: (i: number, k: number) => never,
  opArray: () => Uint8Array,
): Uint8Array {
  // table[byte] = the op code of index `byte` (a signed index >= 128 is negative: none).
  const table = new Uint8Array(256).fill(UNKNOWN_OP);
  const entries = Math.min(codes.length, signed ? 128 : 256);
  let identity = true;
  for (let k = 0; k < entries; k++) {
    table[k] = codes[k];
    if (codes[k] !== k) identity = false;
  }
  const index = (i: number) => (signed ? (indices[i] << 24) >> 24 : indices[i]);
  // Every valid code is below 128 (OP_NAMES), NULL_OP and UNKNOWN_OP are not:
  // bit 7 of the OR of the codes says whether a row is bad, found again only then.
  if (identity) {
    if (anyByteAtLeast(indices, entries)) for (let i = 0; i < n; i++) if (table[indices[i]] >= NULL_OP) fail(i, index(i));
    return indices;
  }
  const op = opArray();
  let any = 0;
  for (let i = 0; i < n; i++) any |= op[i] = table[indices[i]];
  if (any & 0x80) for (let i = 0; i < n; i++) if (op[i] >= NULL_OP) fail(i, index(i));
  return op;
}

/**
 * Whether any of `bytes` is `limit` (1..128) or more, four bytes a step.
 *
 * Called once a batch, so V8 compiles its loop on stack replacement during
 * the first batch. Code that has not run by then has no type feedback and
 * deoptimizes the function when it first runs ("Insufficient type feedback"):
 * the code after the loop, and byte loops for an unaligned head or a tail
 * that most batches skip. So the loop is alone in its own function (what
 * follows it in `wordsAtLeast` needs no feedback), and the few bytes either
 * side of the aligned words are read as whole words of the same buffer with
 * the bytes outside `bytes` masked off (little-endian, as the reader assumes
 * throughout), so every batch runs the same code.
 */
export function anyByteAtLeast(bytes: Uint8Array, limit: number): boolean {
  const n = bytes.length;
  if (n === 0) return false;
  const start = bytes.byteOffset;
  const end = start + n;
  const wordStart = start & ~3;
  const wordEnd = (end + 3) & ~3;
  // Per byte b: bit 7 of (b & 0x7f) + (128 - limit) is set when b & 0x7f >= limit, and of b itself when b >= 128.
  const add = Math.imul(0x01010101, 128 - limit);
  if (wordEnd > bytes.buffer.byteLength) {
    // The buffer ends within the last word: that word's bytes one at a time (a rare path, at most three bytes).
    let any = 0;
    const lastWord = end & ~3;
    for (let i = Math.max(lastWord, start) - start; i < n; i++) any |= bytes[i] >= limit ? 1 : 0;
    return any !== 0 || (lastWord > start && anyByteAtLeast(bytes.subarray(0, lastWord - start), limit));
  }
  const w = new Uint32Array(bytes.buffer, wordStart, (wordEnd - wordStart) >>> 2);
  const last = w.length - 1;
  // Bit 7 of each byte of `bytes` in the first and the last word (the same word when `bytes` fits in one).
  const firstMask = (0x80808080 << (8 * (start & 3))) >>> 0;
  const lastMask = 0x80808080 >>> (8 * (wordEnd - end));
  if (last === 0) return (wordFlags(w[0], add) & firstMask & lastMask) !== 0;
  if ((wordFlags(w[0], add) & firstMask) !== 0 || (wordFlags(w[last], add) & lastMask) !== 0) return true;
  return (wordsAtLeast(w, 1, last, add) & 0x80808080) !== 0;
}

/** Bit 7 of each byte of `x` set when that byte is at least the limit that `add` was made for (anyByteAtLeast). */
function wordFlags(x: number, add: number): number {
  return (x | ((x & 0x7f7f7f7f) + add)) & 0x80808080;
}

/** The OR over words [from, to) of `w` of x | ((x & 0x7f7f7f7f) + add): its bit 7 of a byte says whether a byte was at least the limit. */
function wordsAtLeast(w: Uint32Array, from: number, to: number, add: number): number {
  let acc = 0;
  for (let j = from; j < to; j++) {
    const x = w[j];
    acc |= x | ((x & 0x7f7f7f7f) + add);
  }
  return acc;
}
