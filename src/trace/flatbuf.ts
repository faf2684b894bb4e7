// A minimal, verifying flatbuffer reader for the few Arrow tables the trace
// reader needs (format/Schema.fbs, Message.fbs, File.fbs). apache-arrow's
// generated accessors trust every offset and length in the buffer: a corrupt
// one reads out of range, loops or allocates what a count says. Here every
// read is bounds-checked against the metadata bytes actually present and a
// failure is a FormatError that says where, in our words.

/** Bad input found while decoding; the reader adds the file name. */
export class FormatError extends Error {
  override name = 'FormatError';
}

/** An int64 read from a file, for messages: exact, or "more than 2^53" when a double cannot hold it. */
export function fmtInt(n: number): string {
  if (Number.isSafeInteger(n)) return String(n);
  return n < 0 ? 'less than -2^53' : 'more than 2^53';
}

/** A table inside a flatbuffer: its position and its vtable's. */
export class FbTable {
  constructor(
    readonly fb: FbBuffer,
    readonly pos: number,
    private readonly vtable: number,
    private readonly vtableSize: number,
    /** What the table is, for messages ("Field", "RecordBatch"). */
    readonly what: string,
  ) {}

  /** Absolute position of field `slot`, or 0 when absent (flatbuffers' vtable lookup). */
  private field(slot: number, width: number): number {
    const vo = 4 + 2 * slot;
    if (vo + 2 > this.vtableSize) return 0;
    const rel = this.fb.u16(this.vtable + vo);
    if (rel === 0) return 0;
    const at = this.pos + rel;
    this.fb.need(at, width, `${this.what} field ${slot}`);
    return at;
  }

  has(slot: number): boolean {
    return this.field(slot, 0) !== 0;
  }

  u8(slot: number, dflt = 0): number {
    const at = this.field(slot, 1);
    return at === 0 ? dflt : this.fb.bytes[at];
  }

  bool(slot: number): boolean {
    return this.u8(slot) !== 0;
  }

  i16(slot: number, dflt = 0): number {
    const at = this.field(slot, 2);
    return at === 0 ? dflt : this.fb.view.getInt16(at, true);
  }

  i32(slot: number, dflt = 0): number {
    const at = this.field(slot, 4);
    return at === 0 ? dflt : this.fb.view.getInt32(at, true);
  }

  /** An int64 field as a number (see FbBuffer.i64). */
  i64(slot: number, dflt = 0): number {
    const at = this.field(slot, 8);
    return at === 0 ? dflt : this.fb.i64(at);
  }

  /** The sub-table at field `slot`, or null when absent. */
  table(slot: number, what: string): FbTable | null {
    const at = this.field(slot, 4);
    return at === 0 ? null : this.fb.tableAt(this.fb.deref(at), what);
  }

  /** The string at field `slot`, or null when absent. */
  string(slot: number): string | null {
    const at = this.field(slot, 4);
    if (at === 0) return null;
    const [start, n] = this.fb.vector(this.fb.deref(at), 1, `${this.what} string`);
    return utf8.decode(this.fb.bytes.subarray(start, start + n));
  }

  /** The vector at field `slot` as (position of element 0, length); [0, 0] when absent. */
  vector(slot: number, elementSize: number): [number, number] {
    const at = this.field(slot, 4);
    return at === 0 ? [0, 0] : this.fb.vector(this.fb.deref(at), elementSize, `a vector in the ${this.what}`);
  }

  /** The tables of a vector of tables at field `slot`. */
  tables(slot: number, what: string): FbTable[] {
    const [start, n] = this.vector(slot, 4);
    const out: FbTable[] = [];
    for (let i = 0; i < n; i++) out.push(this.fb.tableAt(this.fb.deref(start + 4 * i), what));
    return out;
  }
}

/** One decoder for every buffer: a new one a message (a record batch's header is parsed three times a replay) cost more than the parse. */
const utf8 = new TextDecoder('utf-8', { fatal: false });

export class FbBuffer {
  readonly view: DataView;

  /** `base` is the file offset of bytes[0], for messages. */
  constructor(
    readonly bytes: Uint8Array,
    readonly base: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(at: number, width: number, what: string): void {
    if (at < 0 || at + width > this.bytes.length)
      throw new FormatError(`${what} at byte ${this.base + at} lies outside its ${this.bytes.length}-byte metadata`);
  }

  u16(at: number): number {
    this.need(at, 2, 'a vtable entry');
    return this.view.getUint16(at, true);
  }

  /** An int64 as a number: exact below 2^53; beyond, approximate but finite (every bounds check rejects it; `fmtInt` shows it). */
  i64(at: number): number {
    const lo = this.view.getUint32(at, true);
    const hi = this.view.getInt32(at + 4, true);
    return hi * 4294967296 + lo;
  }

  /** Follows the uoffset stored at `at`. */
  deref(at: number): number {
    this.need(at, 4, 'an offset');
    return at + this.view.getUint32(at, true);
  }

  vector(at: number, elementSize: number, what: string): [number, number] {
    this.need(at, 4, what);
    const n = this.view.getUint32(at, true);
    const start = at + 4;
    if (n * elementSize > this.bytes.length - start)
      throw new FormatError(`${what} at byte ${this.base + at} says it holds ${n} elements, more than its ${this.bytes.length}-byte metadata can`);
    return [start, n];
  }

  tableAt(pos: number, what: string): FbTable {
    this.need(pos, 4, what);
    const vtable = pos - this.view.getInt32(pos, true);
    if (vtable < 0 || vtable + 4 > this.bytes.length)
      throw new FormatError(`the ${what} at byte ${this.base + pos} has its vtable outside its ${this.bytes.length}-byte metadata`);
    const vtableSize = this.view.getUint16(vtable, true);
    if (vtableSize < 4 || vtableSize % 2 !== 0) throw new FormatError(`the vtable of ${what} at byte ${this.base + vtable} has size ${vtableSize}`);
    this.need(vtable, vtableSize, `the vtable of ${what}`);
    return new FbTable(this, pos, vtable, vtableSize, what);
  }

  root(what: string): FbTable {
    return this.tableAt(this.deref(0), what);
  }
}
