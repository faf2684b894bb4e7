// Arrow IPC framing read straight from a file descriptor (Arrow columnar
// format, "Encapsulated message format": 0xFFFFFFFF, int32 metadata length, a
// flatbuffer Message, then the body; an older 4-byte form has no 0xFFFFFFFF;
// length 0 ends the stream). Every length is checked against the bytes that
// are really there before anything is read or allocated, and the metadata is
// decoded by our own verifying parser (format.ts), never by apache-arrow.
//
// A trace's framing is checked whole before any row is handed out
// (`scan`): a file's footer blocks, or a stream's chain of messages, walking
// the metadata only (bodies are skipped, so the check costs one small read a
// message: the prefix and the metadata come in one read through the cursor's
// window). A batch's body is read later into one of three reused buffers
// (reader.ts), with the next message's first bytes in the same read.
import fs from 'node:fs';
import { promisify } from 'node:util';
import { FormatError, fmtInt } from './flatbuf.js';
import { MessageHeader, headerName, parseFooter, parseMessage, type ArrowSchema, type Block, type Message } from './format.js';

const readAt = promisify(fs.read);

export const ARROW_MAGIC = 'ARROW1';
/** Metadata above this is not a trace's (a schema of a few columns is ~1 KiB). */
export const MAX_METADATA_BYTES = 16 << 20;

/**
 * Metadata that is there but over MAX_METADATA_BYTES: a schema's key/value
 * metadata of many MiB is no trace's, and would be parsed whole.
 */
function tooMuchMetadata(what: string, bytes: number): string {
  return `${what} has ${(bytes / 2 ** 20).toFixed(1)} MiB of metadata (the schema and its key/value metadata), more than the ${MAX_METADATA_BYTES / 2 ** 20} MiB a trace's may have`;
}

export interface MessageAt {
  message: Message;
  /** File offset of the message's first byte, of its body, and its whole length. */
  start: number;
  bodyStart: number;
  length: number;
}

/**
 * Bytes a small read brings in at once: a message's prefix and metadata (a
 * trace batch's is about 500 bytes) in one system call instead of two, and
 * the next message's when messages are small. Also what a body read takes
 * beyond its body (readAhead), so that the next message needs no read.
 */
export const WINDOW_BYTES = 4096;

export class MessageCursor {
  private readonly head = Buffer.alloc(8);
  /** File bytes [windowAt, windowAt + windowLength) as last read: small reads are served from here. */
  private readonly window = new Uint8Array(WINDOW_BYTES);
  private windowAt = 0;
  private windowLength = 0;
  /**
   * The metadata bytes last parsed and what they said: a message whose
   * metadata is the same bytes is that message again (a trace's full batches
   * all have the same header, offsets relative to their own bodies), and is
   * not parsed anew.
   */
  private lastMeta: Buffer | null = null;
  private lastMessage: Message | null = null;

  /** Messages in the file region [0, end): the file's end, or its footer in the file format. */
  constructor(
    private readonly fd: number,
    readonly end: number,
  ) {}

  /**
   * Reads `length` bytes at file offset `at` into `buf` at `offset`; a short
   * file is an error. A read of up to WINDOW_BYTES inside the region goes
   * through the window: one read of the window's size serves it and the
   * small reads after it.
   */
  read(buf: Uint8Array, offset: number, length: number, at: number): void {
    if (length <= WINDOW_BYTES && at + length <= this.end) {
      if (at < this.windowAt || at + length > this.windowAt + this.windowLength) {
        this.windowAt = at;
        this.windowLength = 0;
        this.windowLength = this.readSome(this.window, 0, length, Math.min(WINDOW_BYTES, this.end - at), at);
      }
      buf.set(this.window.subarray(at - this.windowAt, at - this.windowAt + length), offset);
      return;
    }
    this.readSome(buf, offset, length, length, at);
  }

  /** Reads at least `need` and at most `want` bytes at `at` (fewer than `need`: the file ends inside a message); returns how many. */
  private readSome(buf: Uint8Array, offset: number, need: number, want: number, at: number): number {
    let done = 0;
    while (done < want) {
      const n = fs.readSync(this.fd, buf, offset + done, want - done, at + done);
      if (n === 0) break;
      done += n;
    }
    if (done < need) throw new FormatError(`the file ends at byte ${at + done}, inside a message`);
    return done;
  }

  /** As read(), on libuv's thread pool: the caller goes on while the bytes are copied. */
  async readAsync(buf: Uint8Array, offset: number, length: number, at: number): Promise<void> {
    await this.readAsyncSome(buf, offset, length, length, at);
  }

  /** As readSome(), on libuv's thread pool. */
  private async readAsyncSome(buf: Uint8Array, offset: number, need: number, want: number, at: number): Promise<number> {
    let done = 0;
    while (done < want) {
      const { bytesRead } = await readAt(this.fd, buf, offset + done, want - done, at + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done < need) throw new FormatError(`the file ends at byte ${at + done}, inside a message`);
    return done;
  }

  /**
   * As readAsync(), and the up to WINDOW_BYTES of the region after the
   * range too, read into `buf` after it (which has room for them) and kept
   * as the window once read: the next message's prefix and metadata, which
   * at() then takes with no read of its own.
   */
  async readAhead(buf: Uint8Array, offset: number, length: number, at: number): Promise<void> {
    const got = await this.readAsyncSome(buf, offset, length, length + this.roomAfter(buf, offset, length, at), at);
    this.keep(buf, offset, length, got, at);
  }

  /** As readAhead(), here and now. */
  readAheadSync(buf: Uint8Array, offset: number, length: number, at: number): void {
    const got = this.readSome(buf, offset, length, length + this.roomAfter(buf, offset, length, at), at);
    this.keep(buf, offset, length, got, at);
  }

  /** How many bytes after the range readAhead takes: up to WINDOW_BYTES, inside the region and `buf`. */
  private roomAfter(buf: Uint8Array, offset: number, length: number, at: number): number {
    return Math.max(0, Math.min(WINDOW_BYTES, this.end - at - length, buf.length - offset - length));
  }

  /** What a readAhead brought in after its range becomes the window. */
  private keep(buf: Uint8Array, offset: number, length: number, got: number, at: number): void {
    if (got > length) {
      this.window.set(buf.subarray(offset + length, offset + got));
      this.windowAt = at + length;
      this.windowLength = got - length;
    }
  }

  /**
   * The message at file offset `start`, or null for the end-of-stream marker
   * (or for the end of the region: a file's footer follows its messages
   * whether or not the writer put the marker before it).
   */
  at(start: number): MessageAt | null {
    if (start === this.end) return null;
    if (start + 4 > this.end) throw new FormatError(`${this.end - start} stray byte(s) at byte ${start}, expected a message or the end-of-stream marker`);
    const framed = start + 8 <= this.end;
    this.read(this.head, 0, framed ? 8 : 4, start);
    let headLength = 4;
    let metaLength = this.head.readInt32LE(0);
    if (metaLength === -1) {
      if (!framed) throw new FormatError(`the file ends at byte ${this.end}, inside the message at byte ${start}`);
      headLength = 8;
      metaLength = this.head.readInt32LE(4);
    }
    if (metaLength === 0) return null;
    const room = this.end - start - headLength;
    if (metaLength > MAX_METADATA_BYTES && metaLength <= room) throw new FormatError(tooMuchMetadata(`the message at byte ${start}`, metaLength));
    if (metaLength < 0 || metaLength > room) throw new FormatError(`the message at byte ${start} says its metadata is ${metaLength} bytes, but ${room} remain`);
    const meta = Buffer.allocUnsafe(metaLength);
    this.read(meta, 0, metaLength, start + headLength);
    let message: Message;
    if (this.lastMessage !== null && this.lastMeta!.equals(meta)) message = this.lastMessage;
    else {
      message = parseMessage(meta, start + headLength);
      this.lastMeta = meta;
      this.lastMessage = message;
    }
    const bodyStart = start + headLength + metaLength;
    if (message.bodyLength > this.end - bodyStart)
      throw new FormatError(
        `the ${headerName(message.headerType)} at byte ${start} says its body is ${message.bodyLength} bytes, but ${this.end - bodyStart} remain`,
      );
    return { message, start, bodyStart, length: headLength + metaLength + message.bodyLength };
  }

  /**
   * A stream's messages after its schema, in order: dictionaries and record
   * batches only, ending at the end-of-stream marker (0xFFFFFFFF 0, or the
   * older 4-byte 0) with nothing after it. A stream that stops at a message
   * boundary without the marker is cut short (a writer that died, a copy or
   * a pipe that ended early): its rows are some of the trace's, and a replay
   * of them would give wrong totals, so it is refused. Writers (pyarrow,
   * Polars, arrow-js, ours) all write the marker when they close a stream.
   */
  *stream(first: number): Generator<MessageAt> {
    let batches = 0;
    for (let pos = first; ;) {
      if (pos === this.end)
        throw new FormatError(
          `the stream ends without Arrow's end-of-stream marker after ${batches} record batch${batches === 1 ? '' : 'es'}: the file is truncated`,
        );
      const m = this.at(pos);
      if (m === null) {
        const marker = this.end - pos >= 8 && this.head.readInt32LE(0) === -1 ? 8 : 4;
        if (pos + marker < this.end) throw new FormatError(`${this.end - pos - marker} byte(s) after the end-of-stream marker at byte ${pos}`);
        return;
      }
      if (m.message.headerType === MessageHeader.Schema) throw new FormatError(`a second schema message at byte ${pos}`);
      if (m.message.headerType === MessageHeader.RecordBatch) batches++;
      yield m;
      pos += m.length;
    }
  }

  /**
   * A file's messages where its footer puts them, dictionaries first: each
   * must be there, of the kind and length the footer gives.
   */
  *blocks(dictionaries: Block[], batches: Block[]): Generator<MessageAt> {
    for (const [blocks, kind] of [
      [dictionaries, MessageHeader.DictionaryBatch],
      [batches, MessageHeader.RecordBatch],
    ] as const) {
      for (const b of blocks) {
        const what = `the footer's ${headerName(kind)} at byte ${fmtInt(b.offset)}`;
        if (!Number.isSafeInteger(b.offset) || b.offset < 8 || b.offset >= this.end)
          throw new FormatError(`${what} is outside the file's ${this.end} bytes of messages`);
        const m = this.at(b.offset);
        if (m === null) throw new FormatError(`${what} is an end-of-stream marker`);
        if (m.message.headerType !== kind) throw new FormatError(`${what} is a ${headerName(m.message.headerType)}`);
        if (m.length !== b.metaDataLength + b.bodyLength)
          throw new FormatError(`${what} is ${m.length} bytes long, the footer says ${fmtInt(b.metaDataLength + b.bodyLength)}`);
        yield m;
      }
    }
  }
}

/** Where a file's or stream's messages are, and its schema. */
export interface Framing {
  schema: ArrowSchema;
  cursor: MessageCursor;
  /** The dictionary and record batch messages in order (a new walk each call). */
  messages(): Generator<MessageAt>;
}

/** Reads the framing of an Arrow IPC file (magic, footer) or stream (schema message). */
export function openFraming(fd: number, size: number, isFileFormat: boolean): Framing {
  if (!isFileFormat) {
    const cursor = new MessageCursor(fd, size);
    const first = cursor.at(0);
    if (first === null || first.message.headerType !== MessageHeader.Schema)
      throw new FormatError(
        `the stream starts with ${first === null ? 'an end-of-stream marker' : `a ${headerName(first.message.headerType)}`}, expected a schema`,
      );
    return { schema: first.message.schema!, cursor, messages: () => cursor.stream(first.length) };
  }
  // File format: "ARROW1", padding, the stream's messages, the footer, its
  // int32 length, "ARROW1".
  if (size < 18) throw new FormatError(`the file is ${size} bytes, too short for an Arrow file (no footer)`);
  const tail = Buffer.alloc(10);
  new MessageCursor(fd, size).read(tail, 0, 10, size - 10);
  if (tail.subarray(4).toString('latin1') !== ARROW_MAGIC)
    throw new FormatError(`the file does not end with "${ARROW_MAGIC}" (truncated: no Arrow file footer)`);
  const footerLength = tail.readInt32LE(0);
  const room = size - 18;
  if (footerLength > MAX_METADATA_BYTES && footerLength <= room)
    throw new FormatError(tooMuchMetadata(`the footer at byte ${size - 10 - footerLength}`, footerLength));
  if (footerLength <= 0 || footerLength > room)
    throw new FormatError(`the footer length at byte ${size - 10} is ${footerLength}, but ${room} bytes are left for it`);
  const end = size - 10 - footerLength;
  const footerBytes = Buffer.allocUnsafe(footerLength);
  new MessageCursor(fd, size).read(footerBytes, 0, footerLength, end);
  const footer = parseFooter(footerBytes, end);
  const cursor = new MessageCursor(fd, end);
  return { schema: footer.schema, cursor, messages: () => cursor.blocks(footer.dictionaries, footer.recordBatches) };
}

/**
 * Follows an Arrow stream that arrives in chunks (standard input, a pipe) to
 * its end-of-stream marker, so that a copy of it holds the stream and stops
 * there: each message's metadata is parsed as it passes (its lengths checked,
 * so that what is not a stream is refused at once, not after the pipe has
 * run dry), bodies are only counted. The reader checks everything again on
 * the copy; this only finds where the stream ends. The file format holds
 * the same stream, end-of-stream marker included, between its magic and its
 * footer (Arrow columnar format, "IPC File Format").
 */
export class StreamEndFinder {
  /** File offset of the first byte of the next chunk. */
  private pos: number;
  private step: 'prefix' | 'length' | 'meta' | 'body' = 'prefix';
  /** Bytes the step needs; for 'body', those still to pass. */
  private need = 4;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private messageStart: number;
  ended = false;

  /** `origin`: the file offset of the first message (8 in the file format, after its magic and padding). */
  constructor(origin = 0) {
    this.pos = origin;
    this.messageStart = origin;
  }

  /** Takes the next chunk: how many of its bytes belong to the stream (all of them until the marker, which is the last). */
  push(chunk: Buffer): number {
    let i = 0;
    while (i < chunk.length && !this.ended) {
      if (this.step === 'body') {
        const n = Math.min(this.need, chunk.length - i);
        i += n;
        this.need -= n;
        if (this.need === 0) this.next(this.pos + i);
        continue;
      }
      const n = Math.min(this.need - this.pendingBytes, chunk.length - i);
      this.pending.push(chunk.subarray(i, i + n));
      this.pendingBytes += n;
      i += n;
      if (this.pendingBytes < this.need) continue;
      const bytes = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      this.collected(bytes, this.pos + i);
    }
    // What follows the marker is not the stream's, and not read (as Arrow's
    // own stream readers stop there): a writer may go on after it.
    this.pos += i;
    return i;
  }

  private next(at: number): void {
    this.step = 'prefix';
    this.need = 4;
    this.messageStart = at;
  }

  /** A step's bytes are all there; `end` is the stream offset just after them. */
  private collected(bytes: Buffer, end: number): void {
    if (this.step === 'prefix' && bytes.readInt32LE(0) === -1) {
      this.step = 'length';
      return;
    }
    if (this.step === 'prefix' || this.step === 'length') {
      const metaLength = bytes.readInt32LE(0);
      if (metaLength === 0) {
        this.ended = true;
        return;
      }
      if (metaLength < 0) throw new FormatError(`the message at byte ${this.messageStart} says its metadata is ${metaLength} bytes`);
      if (metaLength > MAX_METADATA_BYTES)
        throw new FormatError(
          `the message at byte ${this.messageStart} says its metadata is ${metaLength} bytes, more than the ${MAX_METADATA_BYTES >> 20} MiB a trace's may have`,
        );
      this.step = 'meta';
      this.need = metaLength;
      return;
    }
    const message = parseMessage(bytes, end - bytes.length);
    if (message.bodyLength === 0) this.next(end);
    else {
      this.step = 'body';
      this.need = message.bodyLength;
    }
  }
}
