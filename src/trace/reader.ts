// Reads one trace file (Arrow IPC file or stream) batch by batch as typed-array
// column views, validating as it goes (docs/trace-format.md). Nothing in the
// file is trusted before it is checked: the framing of the whole file is
// checked when it is opened, before any row is handed out (ipc.ts), and
// each batch's buffers and values when it is read (columns.ts). Every
// rejection is one InputError naming the file and the byte, batch or row.
// Memory is bounded by the largest batch: BODIES (four) body buffers are reused.
import fs from 'node:fs';
import path from 'node:path';
import { describeIoError, traceError } from '../errors.js';
import type { EventBatch } from './batch.js';
import { loadCodec } from './codec.js';
import { checkBatchHeader, decodeColumns, decodeOpDictionary, layoutOf, type Layout, type OpDictionary } from './columns.js';
import { FormatError, fmtInt } from './flatbuf.js';
import { Codec, type RecordBatchHeader } from './format.js';
import { ARROW_MAGIC, WINDOW_BYTES, openFraming, type Framing, type MessageAt } from './ipc.js';
import { parseMetadata } from './metadata.js';
import type { TraceMetadata } from './schema.js';

/**
 * A batch as the reader hands it out. Its columns sit in the object itself,
 * not behind a spread of the decoded columns (a spread object measured 3 to
 * 4 times slower to scan), in one shape for every batch (`mapMore` present,
 * possibly undefined). A class, not an object literal: V8 makes a literal's
 * boilerplate at its second run and, doing so, forgets that its fields hold
 * typed arrays of one class, which deoptimized `consume` (model/replay.ts),
 * compiled during the first batch on that knowledge, at the second batch
 * ("code dependencies").
 */
class ReaderBatch implements EventBatch {
  declare length: number;
  declare firstRow: number;
  declare ts: Uint32Array;
  declare op: Uint8Array;
  declare device: Uint32Array;
  declare pasid: Uint32Array;
  declare domain: Uint32Array;
  declare iova: Uint32Array;
  declare paddr: Uint32Array;
  declare size: Uint32Array;
  declare mapMore: Uint32Array | undefined;
  constructor(n: number, firstRow: number, cols: Omit<EventBatch, 'firstRow'>) {
    this.length = n;
    this.firstRow = firstRow;
    this.ts = cols.ts;
    this.op = cols.op;
    this.device = cols.device;
    this.pasid = cols.pasid;
    this.domain = cols.domain;
    this.iova = cols.iova;
    this.paddr = cols.paddr;
    this.size = cols.size;
    this.mapMore = cols.mapMore;
  }
}

export interface TraceFile {
  path: string;
  /** Name used in messages: the path as the user gave it. */
  label: string;
  meta: TraceMetadata;
  /** Batches in file order; ts validated non-decreasing across the whole file. */
  batches(): AsyncGenerator<EventBatch>;
  close(): Promise<void>;
}

/**
 * What a file that is not Arrow seems to be, so the message can say what to
 * do: kernel trace text goes through `import`.
 */
export function notArrow(head: Buffer): string {
  const text = head.toString('latin1');
  if (text.startsWith('\x17\x08\x44tracing'))
    return 'is a trace-cmd .dat recording, not an Arrow trace: run "trace-cmd report" on it, then "iommu-replay import" on its output';
  if (text.startsWith('PAR1')) return 'is a Parquet file, not an Arrow IPC file or stream (write it with Arrow IPC, e.g. pyarrow.ipc or Polars write_ipc)';
  const printable = /^[\x09\x0a\x0d\x20-\x7e]*$/.test(text.slice(0, 256));
  if (printable && (/^# tracer:/m.test(text) || /^cpus=\d+/m.test(text) || /\b(iommu|dma):|\bmap: IOMMU|\b(map|unmap):\s/.test(text)))
    return 'is kernel trace text (ftrace, trace-cmd report or perf script), not an Arrow trace: convert it with "iommu-replay import FILE -o TRACE.arrows"';
  return 'not an Arrow IPC file or stream';
}

/**
 * checkBatchHeader for a walk over a file's messages: a header the cursor
 * hands out again (the same metadata bytes as the message before it,
 * MessageCursor.at) has the same answer, and is not checked again.
 */
function batchHeaderChecker(layout: Layout): (h: RecordBatchHeader, bodyLength: number, where: string) => number[] {
  let last: RecordBatchHeader | null = null;
  let lastBodyLength = -1;
  let lastStarts: number[] = [];
  return (h, bodyLength, where) => {
    if (h !== last || bodyLength !== lastBodyLength) {
      lastStarts = checkBatchHeader(layout, h, bodyLength, where);
      last = h;
      lastBodyLength = bodyLength;
    }
    return lastStarts;
  };
}

/** The file's framing, schema layout and metadata: everything checked before the first row. */
function openChecked(fd: number, size: number, label: string): { framing: Framing; layout: Layout; meta: TraceMetadata } {
  if (size === 0) throw traceError(label, 'the file is empty');
  const head = Buffer.alloc(Math.min(512, size));
  fs.readSync(fd, head, 0, head.length, 0);
  const isFileFormat = head.subarray(0, 6).toString('latin1') === ARROW_MAGIC;
  const isStream = head.length >= 8 && head.readUInt32LE(0) === 0xffffffff;
  if (!isFileFormat && !isStream) throw traceError(label, notArrow(head));
  try {
    const framing = openFraming(fd, size, isFileFormat);
    const layout = layoutOf(framing.schema);
    const meta = parseMetadata(label, framing.schema.metadata);
    // The whole file's framing, before any row: every message where it
    // should be, every batch's buffers inside its body and sized for its rows.
    let batch = 0;
    const check = batchHeaderChecker(layout);
    for (const m of framing.messages()) {
      if (m.message.dictionary) dictionaryValue(layout, m);
      else check(m.message.batch!, m.message.bodyLength, `record batch ${batch++} at byte ${m.start}`);
    }
    return { framing, layout, meta };
  } catch (err) {
    if (err instanceof FormatError) throw traceError(label, err.message);
    throw err;
  }
}

/** The value field of a dictionary batch's id, its header checked. */
function dictionaryValue(layout: Layout, m: MessageAt) {
  const d = m.message.dictionary!;
  const value = layout.dictionaries.get(d.id);
  if (value === undefined) throw new FormatError(`the dictionary batch at byte ${m.start} has id ${fmtInt(d.id)}, which no column uses`);
  return value;
}

/**
 * Record batches whose bodies are read ahead of the consumer, on libuv's
 * thread pool, each into its own body buffer. With one, a read had the time
 * of one batch (about 2 ms on the Dinero-equivalent trace) to be done, and
 * the main thread waited for it whenever it did not get the other core at
 * once: the thread-pool thread the main thread wakes can be queued on the
 * main thread's own core until the scheduler moves it (at a tick: 4 ms at
 * 250 Hz) or the main thread blocks. Two give a read the time of two
 * batches (4.6 ms there), more than a tick. A third did not wait less in
 * profiles and cost a fresh body buffer more, whose first read faults in
 * every page (tens of ms of system time on a loaded machine).
 */
const READS_AHEAD = 2;

/**
 * Body buffers a file's batches take in turn: the batch handed out last (the
 * consumer may hold it while it asks for the next: as with two buffers and
 * no read ahead), the one being checked and handed out, and those being read
 * ahead.
 */
const BODIES = READS_AHEAD + 2;

/** A gap between two column buffers that is read through rather than skipped: a read costs more than copying this much. */
const READ_THROUGH_BYTES = 64 << 10;

/**
 * A batch's body, into `buffer` (with room after the body) from its start:
 * a compressed one whole; an uncompressed one as the trace columns need it:
 * the byte ranges of their buffers are read, each to its own offset, and the
 * buffers of columns the trace does not use (a writer's extra columns) are
 * not copied; a gap of up to READ_THROUGH_BYTES between two ranges is read
 * with them. What is not read is never looked at (decodeColumns reads the
 * trace columns' buffers only). The read that reaches the body's end
 * brings in the next message's prefix and metadata with it
 * (MessageCursor.readAhead). `now`: read here and now, not on the thread
 * pool (the settled promise says so).
 */
async function readBody(framing: Framing, layout: Layout, m: MessageAt, starts: number[], buffer: Uint8Array, now: boolean): Promise<void> {
  const h = m.message.batch!;
  const bodyLength = m.message.bodyLength;
  const ranges: [number, number][] = [];
  if (h.codec !== Codec.None) ranges.push([0, bodyLength]);
  else
    for (const c of layout.columns)
      for (let b = starts[c.node]; b < starts[c.node + 1]; b++)
        if (h.buffers[2 * b + 1] > 0) ranges.push([h.buffers[2 * b], h.buffers[2 * b] + h.buffers[2 * b + 1]]);
  ranges.sort((x, y) => x[0] - y[0]);
  const cursor = framing.cursor;
  for (let i = 0; i < ranges.length;) {
    const from = ranges[i][0];
    let to = ranges[i][1];
    for (i++; i < ranges.length && ranges[i][0] <= to + READ_THROUGH_BYTES; i++) to = Math.max(to, ranges[i][1]);
    const at = m.bodyStart + from;
    if (i === ranges.length && to + READ_THROUGH_BYTES >= bodyLength) {
      if (now) cursor.readAheadSync(buffer, from, bodyLength - from, at);
      else await cursor.readAhead(buffer, from, bodyLength - from, at);
    } else if (now) cursor.read(buffer, from, to - from, at);
    else await cursor.readAsync(buffer, from, to - from, at);
  }
}

/**
 * The first row (0-based, within the batch) whose ts is below the one before
 * it, the row before the batch's first being (hi, lo); -1 when none. A
 * function of its own, which the JIT optimizes whole (inline in the batch
 * generator, an async generator, the loop showed slower in profiles).
 */
function tsBackwardsAt(ts: Uint32Array, n: number, hi: number, lo: number): number {
  for (let i = 0; i < n; i++) {
    const h = ts[2 * i + 1];
    const l = ts[2 * i];
    if (h < hi || (h === hi && l < lo)) return i;
    hi = h;
    lo = l;
  }
  return -1;
}

/** What a path that is no regular file is, as the refusal says it, or null for a regular file. */
export function notRegular(st: fs.Stats): string | null {
  if (st.isFile()) return null;
  if (st.isDirectory()) return 'is a directory, not a file';
  if (st.isFIFO() || st.isSocket())
    return `is a ${st.isFIFO() ? 'FIFO (named pipe)' : 'socket'}, not a regular file: replay and inspect read one as a stream, like standard input; this command needs a file`;
  return `is a ${st.isCharacterDevice() ? 'character' : st.isBlockDevice() ? 'block' : 'special'} device, not a trace file`;
}

/** Opens a trace file: checks it exists, is Arrow, has the required schema, and that its framing holds together. */
export async function openTraceFile(file: string): Promise<TraceFile> {
  const label = file;
  let fd: number;
  let size: number;
  try {
    // Before opening: opening a FIFO waits for a writer. The commands that
    // take a trace from standard input read FIFOs the same way (cli/stdio.ts);
    // the reader itself reads a trace twice, framing first, so it takes
    // regular files only.
    const kind = notRegular(fs.statSync(file));
    if (kind) throw traceError(label, kind);
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if (err instanceof Error && err.name === 'InputError') throw err;
    throw traceError(label, describeIoError(err));
  }
  let opened: ReturnType<typeof openChecked>;
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw traceError(label, 'is a directory, not a file');
    size = st.size;
    opened = openChecked(fd, size, label);
  } catch (err) {
    fs.closeSync(fd);
    if (err instanceof Error && err.name === 'InputError') throw err;
    throw traceError(label, describeIoError(err));
  }
  const { framing, layout, meta } = opened;
  let closed = false;

  /** The body reads under way: close() waits for them, so that the descriptor is not closed under a read. */
  const reading = new Set<Promise<void>>();
  const readsDone = () => Promise.all([...reading]);

  // A batch's columns are views of one of BODIES body buffers, used in turn.
  // Once a batch's body is in, the body READS_AHEAD batches on starts to be
  // read (on libuv's thread pool, so that the copy from the file overlaps the
  // checks and the replay) into the buffer after, before this one is checked
  // and handed out; so, as with two buffers and no read ahead, a batch stays
  // valid until the one after the next is handed out.
  async function* batches(): AsyncGenerator<EventBatch> {
    const bodies: Uint8Array[] = Array.from({ length: BODIES }, () => new Uint8Array(0));
    // With each body, the space its op codes are decoded into when they are not the body's own bytes.
    const opSpaces: Uint8Array[] = Array.from({ length: BODIES }, () => new Uint8Array(0));
    let which = 0;
    let firstBody = true;
    let opDictionary: OpDictionary | undefined;
    // The next batch's first row. -0, not 0: a double from the start. Row
    // counts come as heap numbers, and the batches' `firstRow` field, made for
    // small integers by the first batch's 0, changed the batches' map
    // (deprecating the first) at the second batch, which deoptimized `consume`
    // (model/replay.ts) and every loop that had read a batch ("wrong map").
    // A message shows -0 + i as i, and `${-0}` as 0.
    let row = -0;
    let batch = 0;
    let lastTsHi = 0;
    let lastTsLo = 0;
    const messages = framing.messages();
    const check = batchHeaderChecker(layout);

    /** A record batch with rows whose body is being read, ready to decode once `read` settles. */
    interface Next {
      h: RecordBatchHeader;
      starts: number[];
      where: string;
      body: Uint8Array;
      opSpace: Uint8Array;
      /** The op dictionary as the batch's place in the file has it (dictionary batches after it are applied before it is decoded). */
      dictionary: OpDictionary | undefined;
      read: Promise<void>;
    }
    /**
     * Walks to the next record batch with rows, applying the dictionary
     * batches on the way (they come before the batches that use them), and
     * starts reading its body; null at the end.
     */
    const ahead = async (): Promise<Next | null> => {
      for (let it = messages.next(); !it.done; it = messages.next()) {
        const m = it.value;
        const length = m.message.bodyLength;
        if (m.message.dictionary) {
          const d = m.message.dictionary;
          const value = dictionaryValue(layout, m);
          if (d.id !== layout.opDictionary) continue;
          if (d.data.codec !== Codec.None) await loadCodec(d.data.codec);
          const body = new Uint8Array(length);
          framing.cursor.read(body, 0, length, m.bodyStart);
          const next = decodeOpDictionary(value, d.data, body, `the dictionary batch at byte ${m.start}`);
          opDictionary =
            d.isDelta && opDictionary
              ? { codes: Uint8Array.from([...opDictionary.codes, ...next.codes]), names: [...opDictionary.names, ...next.names] }
              : next;
          continue;
        }
        const h = m.message.batch!;
        const where = `record batch ${batch} at byte ${m.start}`;
        const starts = check(h, length, where);
        batch++;
        if (h.length === 0) continue; // an empty batch holds no rows
        if (h.codec !== Codec.None) await loadCodec(h.codec);
        // Room for the body and for the next message's first bytes after it (readAhead).
        if (bodies[which].length < length + WINDOW_BYTES) bodies[which] = new Uint8Array(Math.ceil(length * 1.25) + WINDOW_BYTES);
        const buffer = bodies[which];
        const body = buffer.subarray(0, length);
        if (opSpaces[which].length < h.length) opSpaces[which] = new Uint8Array(Math.ceil(h.length * 1.25));
        const opSpace = opSpaces[which];
        which = (which + 1) % BODIES;
        // The first body is read here and now: nothing would overlap its read (the
        // consumer waits for it), and a hand-off to the thread pool costs a wait
        // for a thread to run (tens of ms on a loaded machine).
        const read = readBody(framing, layout, m, starts, buffer, firstBody);
        firstBody = false;
        // Settled here too, so that a failed read ahead the consumer never asks for is no unhandled rejection.
        const done = read.then(
          () => void reading.delete(done),
          () => void reading.delete(done),
        );
        reading.add(done);
        return { h, starts, where, body, opSpace, dictionary: opDictionary, read };
      }
      return null;
    };
    /** What ahead() gives or throws, as a promise that never rejects: a batch's error reaches the consumer after the batches before it. */
    interface Settled {
      next: Next | null;
      failed: boolean;
      err: unknown;
    }
    const settle = (p: Promise<Next | null>): Promise<Settled> =>
      p.then(
        (next) => ({ next, failed: false, err: null }),
        (err: unknown) => ({ next: null, failed: true, err }),
      );
    // The batches being read ahead, in file order. Each ahead() starts once
    // the one before it has settled: it walks the messages in order, and
    // there is no batch after a failure or the end.
    const pending: Promise<Settled>[] = [];
    let last: Promise<Settled> | null = null;
    const readAhead = () => {
      last = last === null ? settle(ahead()) : last.then((s) => (s.failed || s.next === null ? s : settle(ahead())));
      pending.push(last);
    };

    readAhead();
    try {
      for (;;) {
        let cols;
        try {
          const { next, failed, err } = await pending.shift()!;
          if (failed) throw err;
          if (next === null) return;
          await next.read;
          while (pending.length < READS_AHEAD) readAhead();
          cols = decodeColumns(layout, next.h, next.body, next.starts, next.dictionary, row, next.where, next.opSpace);
        } catch (err) {
          if (err instanceof FormatError) throw traceError(label, err.message);
          throw err;
        }
        const n = cols.length;
        // ts must not go backwards within a file.
        const t = cols.ts;
        const back = tsBackwardsAt(t, n, lastTsHi, lastTsLo);
        if (back >= 0) {
          const prev = back === 0 ? BigInt(lastTsHi) * 4294967296n + BigInt(lastTsLo) : BigInt(t[2 * back - 1]) * 4294967296n + BigInt(t[2 * back - 2]);
          const cur = BigInt(t[2 * back + 1]) * 4294967296n + BigInt(t[2 * back]);
          throw traceError(label, `column "ts" goes backwards at row ${row + back} (${cur} after ${prev})`);
        }
        if (n > 0) {
          lastTsHi = t[2 * n - 1];
          lastTsLo = t[2 * n - 2];
        }
        yield new ReaderBatch(n, row, cols);
        row += n;
      }
    } finally {
      // The consumer stopped (or a batch failed): the reads ahead finish before anything closes the file.
      await Promise.all(pending);
      await readsDone();
    }
  }

  return {
    path: path.resolve(file),
    label,
    meta,
    batches,
    close: async () => {
      await readsDone();
      if (!closed) fs.closeSync(fd);
      closed = true;
    },
  };
}
