// Compressed IPC bodies (Arrow columnar format, "Compression": each buffer is
// an int64 uncompressed length, -1 for "stored as is", then the codec's
// frame). LZ4_FRAME through lz4js, ZSTD through fzstd, both pure JavaScript.
// The output size is known before decompressing and bounded by the caller,
// so a corrupt length cannot allocate what it likes. Each library loads when
// a batch first needs it (loadCodec): most traces are not compressed, and
// loading both takes longer than inspecting a small trace.
import type { decompress as ZstdDecompress } from 'fzstd';
import type Lz4 from 'lz4js';
import { FormatError } from './flatbuf.js';
import { Codec } from './format.js';

let zstdDecompress: typeof ZstdDecompress | undefined;
let lz4: typeof Lz4 | undefined;

/** Loads the library of `codec` (once); a batch compressed with it can be decompressed after. */
export async function loadCodec(codec: Codec): Promise<void> {
  if (codec === Codec.Zstd) zstdDecompress ??= (await import('fzstd')).decompress;
  else if (codec === Codec.Lz4Frame) lz4 ??= (await import('lz4js')).default;
}

function notLoaded(codec: Codec): never {
  throw new Error(`${codecName(codec)} decompression before loadCodec`);
}

export function codecName(codec: Codec): string {
  return codec === Codec.Zstd ? 'ZSTD' : 'LZ4_FRAME';
}

const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK_SIZES: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };

/**
 * An LZ4 frame (lz4 frame format 1.6.x) decoded block by block: the frame
 * header and every block size are checked against the input here, so that
 * lz4js's block decoder only ever sees a block that is really there.
 */
function lz4Frame(src: Uint8Array, out: Uint8Array): number {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const bad = (what: string): never => {
    throw new FormatError(`its LZ4 frame is corrupt (${what})`);
  };
  if (src.length < 7 || view.getUint32(0, true) !== LZ4_MAGIC) bad('no LZ4 frame magic');
  const flags = src[4];
  if ((flags >> 6) !== 1) bad(`frame version ${flags >> 6}`);
  if (flags & 1) bad('a dictionary id, which Arrow never writes');
  const blockChecksum = (flags & 0x10) !== 0;
  const contentSize = (flags & 0x08) !== 0;
  const maxBlock = LZ4_BLOCK_SIZES[(src[5] >> 4) & 7] ?? bad('an unknown block size');
  let at = 6 + (contentSize ? 8 : 0) + 1;
  let done = 0;
  for (;;) {
    if (at + 4 > src.length) bad('it ends inside a block header');
    const word = view.getUint32(at, true);
    at += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > maxBlock || at + size > src.length) bad(`a block of ${size} bytes at ${at - 4}`);
    if (word & 0x80000000) {
      if (done + size > out.length) bad('more data than its length says');
      out.set(src.subarray(at, at + size), done);
      done += size;
    } else {
      const scratch = new Uint8Array(maxBlock);
      const n = (lz4 ?? notLoaded(Codec.Lz4Frame)).decompressBlock(src, scratch, at, size, 0);
      if (!(n >= 0 && n <= maxBlock) || done + n > out.length) bad('more data than its length says');
      out.set(scratch.subarray(0, n), done);
      done += n;
    }
    at += size + (blockChecksum ? 4 : 0);
  }
  return done;
}

/**
 * Checks a ZSTD frame's header says it holds `length` bytes (Arrow writers
 * always record the content size): fzstd fills a buffer of the size given
 * and cannot tell a short frame from a full one.
 */
function zstdContentSize(src: Uint8Array, length: number): void {
  if (src.length < 6 || src[0] !== 0x28 || src[1] !== 0xb5 || src[2] !== 0x2f || src[3] !== 0xfd) throw new FormatError('its ZSTD frame is corrupt (no ZSTD magic)');
  const flags = src[4];
  const singleSegment = (flags >> 5) & 1;
  const fcf = flags >> 6;
  const dictBytes = [0, 1, 2, 4][flags & 3];
  const sizeBytes = fcf ? 1 << fcf : singleSegment;
  if (sizeBytes === 0) return;
  const at = 5 + (singleSegment ? 0 : 1) + dictBytes;
  if (at + sizeBytes > src.length) throw new FormatError('its ZSTD frame is corrupt (it ends in its header)');
  let size = 0;
  for (let i = sizeBytes - 1; i >= 0; i--) size = size * 256 + src[at + i];
  if (sizeBytes === 2) size += 256;
  if (size !== length) throw new FormatError(`its ZSTD frame holds ${size} bytes, its length says ${length}`);
}

/**
 * The bytes of one body buffer of a compressed batch. `maxBytes` bounds the
 * uncompressed length it may claim.
 */
export function decompressBuffer(codec: Codec, raw: Uint8Array, maxBytes: number): Uint8Array {
  if (raw.length === 0) return raw;
  if (raw.length < 8) throw new FormatError(`a ${codecName(codec)}-compressed buffer of ${raw.length} bytes has no length prefix`);
  const view = new DataView(raw.buffer, raw.byteOffset, 8);
  const lo = view.getUint32(0, true);
  const hi = view.getInt32(4, true);
  if (hi === -1 && lo === 0xffffffff) return raw.subarray(8); // stored uncompressed
  const length = hi * 4294967296 + lo;
  if (hi < 0 || length > maxBytes) throw new FormatError(`a ${codecName(codec)}-compressed buffer says it holds ${hi < 0 ? -(2 ** 64 - length) : length} bytes, expected at most ${maxBytes}`);
  const out = new Uint8Array(length);
  const src = raw.subarray(8);
  let n: number;
  if (codec === Codec.Lz4Frame) {
    n = lz4Frame(src, out);
  } else {
    zstdContentSize(src, length);
    const decompress = zstdDecompress ?? notLoaded(codec);
    try {
      n = decompress(src, out).length;
    } catch {
      throw new FormatError('its ZSTD frame is corrupt');
    }
  }
  if (n !== length) throw new FormatError(`a ${codecName(codec)}-compressed buffer holds ${n} bytes, its length says ${length}`);
  return out;
}
