// Test helper: Arrow IPC with compressed bodies laid out as pyarrow writes
// them (each buffer: int64 uncompressed length, then an LZ4 frame or a ZSTD
// frame). apache-arrow 21 writes the frames but puts the compressed length
// in the prefix, against the format; the prefixes are fixed up afterwards.
import * as A from 'apache-arrow';
import lz4 from 'lz4js';
import fs from 'node:fs';
import { openFraming } from '../../src/trace/ipc.js';

/**
 * A ZSTD frame (RFC 8878 §3.1) of RLE blocks for runs of one byte and raw
 * blocks for the rest, content size recorded: real compression of the
 * repetitive columns of a trace, written without a ZSTD library.
 */
export function zstdRleFrame(data: Uint8Array): Uint8Array {
  const out: number[] = [0x28, 0xb5, 0x2f, 0xfd, 0xe0];
  for (let k = 0; k < 8; k++) out.push(Number((BigInt(data.length) >> BigInt(8 * k)) & 0xffn));
  const blocks: { type: number; size: number; content: number[] }[] = [];
  let raw: number[] = [];
  const flushRaw = () => {
    if (raw.length) blocks.push({ type: 0, size: raw.length, content: raw });
    raw = [];
  };
  for (let i = 0; i < data.length; ) {
    let j = i;
    while (j < data.length && data[j] === data[i] && j - i < 65536) j++;
    if (j - i >= 8) {
      flushRaw();
      blocks.push({ type: 1, size: j - i, content: [data[i]] });
    } else for (let k = i; k < j; k++) raw.push(data[k]);
    i = j;
  }
  flushRaw();
  if (blocks.length === 0) blocks.push({ type: 0, size: 0, content: [] });
  blocks.forEach((blk, n) => {
    const h = (blk.size << 3) | (blk.type << 1) | (n === blocks.length - 1 ? 1 : 0);
    out.push(h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, ...blk.content);
  });
  return Uint8Array.from(out);
}

export type CodecName = 'lz4' | 'zstd';

/** Writes `table` compressed with `codec` (file format for .arrow, else stream). */
export function writeCompressed(file: string, table: A.Table, codec: CodecName, encode?: (d: Uint8Array) => Uint8Array): void {
  const type = codec === 'lz4' ? A.CompressionType.LZ4_FRAME : A.CompressionType.ZSTD;
  const enc = encode ?? (codec === 'lz4' ? (d: Uint8Array) => lz4.compress(d) : zstdRleFrame);
  // Each frame's uncompressed length, by the frame's bytes, for the prefixes.
  const lengths = new Map<string, number>();
  const encodeAndNote = (d: Uint8Array) => {
    const frame = enc(d);
    lengths.set(Buffer.from(frame).toString('base64'), d.length);
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
