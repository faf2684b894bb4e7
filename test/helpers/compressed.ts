// Test helper: Arrow IPC with compressed bodies laid out as pyarrow writes
// them (each buffer: int64 uncompressed length, then an LZ4 frame or a ZSTD
// frame). apache-arrow 21 writes the frames but puts the compressed length
// in the prefix, against the format; the prefixes are fixed up afterwards.
// The frames are built here, as the reference libraries lay them out: LZ4
// frames of 64 KiB blocks, linked (a match may reach into the blocks before,
// the lz4 library's default and so pyarrow's), some stored uncompressed;
// ZSTD frames of raw and RLE blocks of at most 128 KiB.
import * as A from 'apache-arrow';
import fs from 'node:fs';
import { xxh32 } from '../../src/trace/codec.js';
import { openFraming } from '../../src/trace/ipc.js';

export interface Lz4Options {
  /** Block maximum size: 64 KiB (the default, as pyarrow writes), 256 KiB, 1 MiB or 4 MiB. */
  blockBytes?: number;
  /** Blocks independent of each other (flag set) rather than linked. */
  independent?: boolean;
  /** Store these blocks (by index in the frame) uncompressed, with the size's high bit. */
  stored?: (block: number) => boolean;
  blockChecksums?: boolean;
  contentSize?: boolean;
  contentChecksum?: boolean;
  /** Split the data into this many frames, one after another. */
  frames?: number;
  /** A skippable frame before each frame. */
  skippable?: boolean;
}

const BLOCK_CODES: Record<number, number> = { [64 << 10]: 4, [256 << 10]: 5, [1 << 20]: 6, [4 << 20]: 7 };

/** LZ4 frames (LZ4 frame format 1.6.x) of `data`, compressed by lz4Block. */
export function lz4FrameOf(data: Uint8Array, o: Lz4Options = {}): Uint8Array {
  const blockBytes = o.blockBytes ?? 64 << 10;
  const frames = o.frames ?? 1;
  const out: number[] = [];
  const u32 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  const per = Math.ceil(data.length / frames);
  for (let f = 0; f < frames; f++) {
    const start = Math.min(data.length, f * per);
    const end = Math.min(data.length, start + per);
    if (o.skippable) {
      u32(0x184d2a53);
      u32(5);
      out.push(1, 2, 3, 4, 5);
    }
    u32(0x184d2204);
    const descriptor = out.length;
    out.push(
      0x40 | (o.independent ? 0x20 : 0) | (o.blockChecksums ? 0x10 : 0) | (o.contentSize ? 0x08 : 0) | (o.contentChecksum ? 0x04 : 0),
      BLOCK_CODES[blockBytes] << 4,
    );
    if (o.contentSize) {
      u32(end - start);
      u32(0);
    }
    out.push((xxh32(Uint8Array.from(out), descriptor, out.length) >>> 8) & 0xff);
    const table = new Int32Array(1 << 16).fill(-1);
    for (let s = start, k = 0; s < end; s += blockBytes, k++) {
      const e = Math.min(end, s + blockBytes);
      if (o.independent) table.fill(-1);
      const block = lz4Block(data, s, e, o.independent ? s : start, table);
      const stored = o.stored?.(k) || block.length >= e - s;
      const bytes = stored ? data.subarray(s, e) : Uint8Array.from(block);
      u32((stored ? 0x80000000 : 0) | bytes.length);
      for (const b of bytes) out.push(b);
      if (o.blockChecksums) u32(xxh32(bytes, 0, bytes.length));
    }
    u32(0); // EndMark
    if (o.contentChecksum) u32(xxh32(data, start, end));
  }
  return Uint8Array.from(out);
}

/**
 * One LZ4 block (LZ4 block format) of data[start, end): greedy matches found
 * through `table` (positions by a hash of 4 bytes), reaching back to
 * `windowStart` and at most 65535 bytes; the last 5 bytes are literals and
 * no match starts in the last 12, as the format asks.
 */
function lz4Block(data: Uint8Array, start: number, end: number, windowStart: number, table: Int32Array): number[] {
  const out: number[] = [];
  const word = (i: number) => (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) >>> 0;
  const hash = (v: number) => Math.imul(v, 2654435761) >>> 16;
  const length = (n: number) => {
    for (n -= 15; n >= 255; n -= 255) out.push(255);
    out.push(n);
  };
  const literals = (from: number, to: number, match: number) => {
    const n = to - from;
    out.push((Math.min(n, 15) << 4) | (match < 0 ? 0 : Math.min(match - 4, 15)));
    if (n >= 15) length(n);
    for (let i = from; i < to; i++) out.push(data[i]);
  };
  let anchor = start;
  let i = start;
  while (i + 12 <= end) {
    const v = word(i);
    const h = hash(v);
    const cand = table[h];
    table[h] = i;
    if (cand >= windowStart && i - cand <= 65535 && word(cand) === v) {
      let n = 4;
      while (i + n < end - 5 && data[cand + n] === data[i + n]) n++;
      literals(anchor, i, n);
      out.push((i - cand) & 0xff, (i - cand) >>> 8);
      if (n - 4 >= 15) length(n - 4);
      i += n;
      anchor = i;
    } else i++;
  }
  literals(anchor, end, -1);
  return out;
}

/** A ZSTD block holds at most 128 KiB (RFC 8878 §3.1.1.2.4, Block_Maximum_Size). */
const ZSTD_BLOCK_MAX = 128 << 10;

/**
 * A ZSTD frame (RFC 8878 §3.1) of RLE blocks for runs of one byte and raw
 * blocks for the rest, content size recorded: real compression of the
 * repetitive columns of a trace, written without a ZSTD library.
 */
export function zstdRleFrame(data: Uint8Array, o: { contentSize?: boolean } = {}): Uint8Array {
  // With its content size: single segment, 8-byte size. Without (as a
  // streaming encoder writes it): a window descriptor of 1 MiB.
  const out: number[] = o.contentSize === false ? [0x28, 0xb5, 0x2f, 0xfd, 0x00, 10 << 3] : [0x28, 0xb5, 0x2f, 0xfd, 0xe0];
  if (o.contentSize !== false) for (let k = 0; k < 8; k++) out.push(Number((BigInt(data.length) >> BigInt(8 * k)) & 0xffn));
  const blocks: { type: number; size: number; content: number[] }[] = [];
  let raw: number[] = [];
  const flushRaw = () => {
    if (raw.length) blocks.push({ type: 0, size: raw.length, content: raw });
    raw = [];
  };
  for (let i = 0; i < data.length;) {
    let j = i;
    while (j < data.length && data[j] === data[i] && j - i < 65536) j++;
    if (j - i >= 8) {
      flushRaw();
      blocks.push({ type: 1, size: j - i, content: [data[i]] });
    } else
      for (let k = i; k < j; k++) {
        raw.push(data[k]);
        if (raw.length === ZSTD_BLOCK_MAX) flushRaw();
      }
    i = j;
  }
  flushRaw();
  if (blocks.length === 0) blocks.push({ type: 0, size: 0, content: [] });
  blocks.forEach((blk, n) => {
    const h = (blk.size << 3) | (blk.type << 1) | (n === blocks.length - 1 ? 1 : 0);
    out.push(h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff);
    for (const b of blk.content) out.push(b);
  });
  return Uint8Array.from(out);
}

export type CodecName = 'lz4' | 'zstd';

/**
 * Writes `table` compressed with `codec` (file format for .arrow, else
 * stream). `padTo` pads each buffer with zeros to a multiple of that many
 * bytes before compressing it, as pyarrow does (its uncompressed length is
 * then more than the rows need).
 */
export function writeCompressed(file: string, table: A.Table, codec: CodecName, encode?: (d: Uint8Array) => Uint8Array, padTo = 1): void {
  const type = codec === 'lz4' ? A.CompressionType.LZ4_FRAME : A.CompressionType.ZSTD;
  const enc = encode ?? (codec === 'lz4' ? (d: Uint8Array) => lz4FrameOf(d) : zstdRleFrame);
  // Each frame's uncompressed length, by the frame's bytes, for the prefixes.
  const lengths = new Map<string, number>();
  const encodeAndNote = (d: Uint8Array) => {
    const padded = new Uint8Array(Math.ceil(d.length / padTo) * padTo);
    padded.set(d);
    const frame = enc(padded);
    lengths.set(Buffer.from(frame).toString('base64'), padded.length);
    return frame;
  };
  A.compressionRegistry.set(type, { encode: encodeAndNote, decode: (d) => d });
  const writer = file.endsWith('.arrow') ? new A.RecordBatchFileWriter({ compressionType: type }) : new A.RecordBatchStreamWriter({ compressionType: type });
  writer.write(table);
  writer.finish();
  const bytes = Buffer.from(writer.toUint8Array(true));
  fs.writeFileSync(file, bytes);
  fixPrefixes(file, bytes, lengths);
}

function fixPrefixes(file: string, bytes: Buffer, lengths: Map<string, number>): void {
  const fd = fs.openSync(file, 'r');
  try {
    const framing = openFraming(fd, bytes.length, file.endsWith('.arrow'));
    for (const m of framing.messages()) {
      const h = m.message.batch ?? m.message.dictionary!.data;
      for (let b = 0; b < h.buffers.length / 2; b++) {
        const at = m.bodyStart + h.buffers[2 * b];
        const len = h.buffers[2 * b + 1];
        if (len < 8 || bytes.readBigInt64LE(at) === -1n) continue;
        const plain = lengths.get(bytes.subarray(at + 8, at + len).toString('base64'));
        if (plain !== undefined) bytes.writeBigInt64LE(BigInt(plain), at);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.writeFileSync(file, bytes);
}
