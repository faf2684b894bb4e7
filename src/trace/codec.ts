// Compressed IPC bodies (Arrow columnar format, "Compression": each buffer is
// an int64 uncompressed length, -1 for "stored as is", then the codec's
// frame). LZ4_FRAME is decoded here (the LZ4 frame format 1.6.x and block
// format, straight into the output buffer), ZSTD through fzstd (pure
// JavaScript, loaded when a batch first needs it: most traces are not
// compressed, and loading it takes longer than inspecting a small trace).
// The output size is known before decompressing and bounded by the caller,
// so a corrupt length cannot allocate what it likes, and every length in a
// frame is checked against the input and the output before it is used.
import type * as Fzstd from 'fzstd';
import { FormatError } from './flatbuf.js';
import { Codec } from './format.js';

let fzstd: typeof Fzstd | undefined;

/** Loads the library of `codec` (once); a batch compressed with it can be decompressed after. */
export async function loadCodec(codec: Codec): Promise<void> {
  if (codec === Codec.Zstd) fzstd ??= await import('fzstd');
}

function notLoaded(codec: Codec): never {
  throw new Error(`${codecName(codec)} decompression before loadCodec`);
}

export function codecName(codec: Codec): string {
  return codec === Codec.Zstd ? 'ZSTD' : 'LZ4_FRAME';
}

/**
 * Arrow pads buffers to 8 or 64 bytes, and writers compress the padded
 * buffer (pyarrow's validity bitmap of 8001 rows says 1008 bytes): a
 * buffer may hold up to the next multiple of 64 beyond what its rows need.
 */
export function paddedBytes(needBytes: number): number {
  return Math.ceil(needBytes / 64) * 64;
}

const LZ4_MAGIC = 0x184d2204;
/** Skippable frames (LZ4 frame format, "Skippable frames"): 0x184D2A50 to 0x184D2A5F. */
const LZ4_SKIPPABLE = 0x184d2a50;
const LZ4_LEGACY_MAGIC = 0x184c2102;
/** Block maximum sizes by the BD byte's bits 6-4. */
const LZ4_BLOCK_SIZES: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };

const PRIME32_1 = 0x9e3779b1;
const PRIME32_2 = 0x85ebca77;
const PRIME32_3 = 0xc2b2ae3d;
const PRIME32_4 = 0x27d4eb2f;
const PRIME32_5 = 0x165667b1;

/** xxHash32 of bytes [start, end) with seed 0: the LZ4 frame format's checksums. */
export function xxh32(b: Uint8Array, start: number, end: number): number {
  const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
  const u32 = (i: number) => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
  const round = (acc: number, lane: number) => Math.imul(rotl((acc + Math.imul(lane, PRIME32_2)) | 0, 13), PRIME32_1);
  let i = start;
  let h: number;
  if (end - start >= 16) {
    let v1 = (PRIME32_1 + PRIME32_2) | 0;
    let v2 = PRIME32_2;
    let v3 = 0;
    let v4 = -PRIME32_1 | 0;
    for (; i + 16 <= end; i += 16) {
      v1 = round(v1, u32(i));
      v2 = round(v2, u32(i + 4));
      v3 = round(v3, u32(i + 8));
      v4 = round(v4, u32(i + 12));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = PRIME32_5;
  }
  h = (h + (end - start)) | 0;
  for (; i + 4 <= end; i += 4) h = Math.imul(rotl((h + Math.imul(u32(i), PRIME32_3)) | 0, 17), PRIME32_4);
  for (; i < end; i++) h = Math.imul(rotl((h + Math.imul(b[i], PRIME32_5)) | 0, 11), PRIME32_1);
  h ^= h >>> 15;
  h = Math.imul(h, PRIME32_2);
  h ^= h >>> 13;
  h = Math.imul(h, PRIME32_3);
  h ^= h >>> 16;
  return h >>> 0;
}

function lz4Corrupt(what: string): never {
  throw new FormatError(`its LZ4 frame is corrupt (${what})`);
}

/**
 * Decodes the LZ4 block src[at, end) (LZ4 block format: sequences of a
 * token, literals, a 2-byte offset and a match) into out from `outAt`; a
 * match may reach back to `windowStart` (the block's own start when blocks
 * are independent, the frame's start when they are linked). Returns the
 * end of the output. Every read and write is checked first: a corrupt
 * block can neither overrun `out` nor read outside its data.
 */
function lz4Block(src: Uint8Array, at: number, end: number, out: Uint8Array, outAt: number, windowStart: number, blockMax: number): number {
  const outEnd = Math.min(out.length, outAt + blockMax);
  let o = outAt;
  while (at < end) {
    const token = src[at++];
    let literals = token >>> 4;
    if (literals === 15) {
      let more: number;
      do {
        if (at >= end) lz4Corrupt('a literal length runs past its block');
        more = src[at++];
        literals += more;
      } while (more === 255);
    }
    if (literals > end - at) lz4Corrupt('literals run past their block');
    if (literals > outEnd - o) lz4Corrupt('a block decodes to more bytes than its length says');
    // Short runs byte by byte: a subarray and a call cost more than they copy.
    if (literals < 32) for (let k = 0; k < literals; k++) out[o + k] = src[at + k];
    else out.set(src.subarray(at, at + literals), o);
    at += literals;
    o += literals;
    if (at === end) break; // the last sequence has literals only
    if (end - at < 2) lz4Corrupt('a match offset runs past its block');
    const offset = src[at] | (src[at + 1] << 8);
    at += 2;
    if (offset === 0 || offset > o - windowStart) lz4Corrupt(`a match reaches ${offset} bytes back, before the data it may use`);
    let match = token & 15;
    if (match === 15) {
      let more: number;
      do {
        if (at >= end) lz4Corrupt('a match length runs past its block');
        more = src[at++];
        match += more;
      } while (more === 255);
    }
    match += 4;
    if (match > outEnd - o) lz4Corrupt('a block decodes to more bytes than its length says');
    const from = o - offset;
    if (offset >= match && match >= 32) out.copyWithin(o, from, from + match);
    else for (let k = 0; k < match; k++) out[o + k] = out[from + k]; // short, or overlapping: a repeated pattern
    o += match;
  }
  return o;
}

/**
 * LZ4 frames (LZ4 frame format 1.6.x) decoded straight into `out`: one or
 * more frames one after another, skippable frames skipped. Each frame's
 * descriptor is read whole (version, block independence, block and content
 * checksums, content size, dictionary id, block maximum size, header
 * checksum); its blocks run to the EndMark, a block with the high bit of its
 * size set being stored uncompressed. Blocks are linked unless the
 * descriptor says they are independent: a match may reach into the blocks
 * before it (what the reference library writes by default, and so pyarrow).
 * Checksums that are present are verified. Returns the bytes decoded.
 */
function lz4Frames(src: Uint8Array, out: Uint8Array): number {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  let at = 0;
  let done = 0;
  let frames = 0;
  while (at < src.length) {
    if (src.length - at < 4) lz4Corrupt(`${src.length - at} stray byte(s) after ${frames ? 'its last frame' : 'its start'}`);
    const magic = view.getUint32(at, true);
    if ((magic & 0xfffffff0) === LZ4_SKIPPABLE) {
      if (src.length - at < 8) lz4Corrupt('a skippable frame ends in its header');
      const size = view.getUint32(at + 4, true);
      if (size > src.length - at - 8) lz4Corrupt(`a skippable frame of ${size} bytes at ${at}, past its end`);
      at += 8 + size;
      continue;
    }
    if (magic === LZ4_LEGACY_MAGIC) lz4Corrupt('the legacy LZ4 format, which Arrow does not use');
    if (magic !== LZ4_MAGIC) lz4Corrupt(frames ? `no LZ4 frame magic at byte ${at}` : 'no LZ4 frame magic');
    frames++;
    const descriptor = at + 4;
    if (src.length - descriptor < 3) lz4Corrupt('it ends in its frame descriptor');
    const flags = src[descriptor];
    const bd = src[descriptor + 1];
    if (flags >> 6 !== 1) lz4Corrupt(`frame version ${flags >> 6}`);
    if (flags & 0x02 || bd & 0x8f) lz4Corrupt('reserved bits set in its frame descriptor');
    const independent = (flags & 0x20) !== 0;
    const blockChecksum = (flags & 0x10) !== 0;
    const hasContentSize = (flags & 0x08) !== 0;
    const contentChecksum = (flags & 0x04) !== 0;
    const hasDictionary = (flags & 0x01) !== 0;
    const blockMax = LZ4_BLOCK_SIZES[(bd >> 4) & 7] ?? lz4Corrupt(`block maximum size code ${(bd >> 4) & 7}`);
    const headerChecksumAt = descriptor + 2 + (hasContentSize ? 8 : 0) + (hasDictionary ? 4 : 0);
    if (headerChecksumAt >= src.length) lz4Corrupt('it ends in its frame descriptor');
    if (((xxh32(src, descriptor, headerChecksumAt) >>> 8) & 0xff) !== src[headerChecksumAt]) lz4Corrupt('its frame descriptor checksum does not match');
    // A dictionary is agreed between writer and reader outside the frame: Arrow has none to give.
    if (hasDictionary) lz4Corrupt('it needs a dictionary, which an Arrow file cannot carry');
    let contentSize = -1;
    if (hasContentSize) {
      const hi = view.getUint32(descriptor + 6, true);
      contentSize = hi * 4294967296 + view.getUint32(descriptor + 2, true);
      if (contentSize > out.length - done) lz4Corrupt(`a frame says it holds ${contentSize} bytes, more than its length leaves (${out.length - done})`);
    }
    at = headerChecksumAt + 1;
    const frameStart = done;
    for (;;) {
      if (src.length - at < 4) lz4Corrupt('it ends inside a block header, before its EndMark');
      const word = view.getUint32(at, true);
      at += 4;
      if (word === 0) break; // EndMark
      const size = word & 0x7fffffff;
      if (size > blockMax) lz4Corrupt(`a block of ${size} bytes at ${at - 4}, more than its maximum of ${blockMax}`);
      if (size + (blockChecksum ? 4 : 0) > src.length - at) lz4Corrupt(`a block of ${size} bytes at ${at - 4}, past its end`);
      if (blockChecksum && xxh32(src, at, at + size) !== view.getUint32(at + size, true)) lz4Corrupt(`the checksum of the block at ${at - 4} does not match`);
      if (word & 0x80000000) {
        if (size > out.length - done) lz4Corrupt('a block decodes to more bytes than its length says');
        out.set(src.subarray(at, at + size), done);
        done += size;
      } else {
        done = lz4Block(src, at, at + size, out, done, independent ? done : frameStart, blockMax);
      }
      at += size + (blockChecksum ? 4 : 0);
    }
    if (contentChecksum) {
      if (src.length - at < 4) lz4Corrupt('it ends before its content checksum');
      if (xxh32(out, frameStart, done) !== view.getUint32(at, true)) lz4Corrupt('its content checksum does not match');
      at += 4;
    }
    if (contentSize >= 0 && done - frameStart !== contentSize) lz4Corrupt(`a frame says it holds ${contentSize} bytes, its blocks hold ${done - frameStart}`);
  }
  if (frames === 0) lz4Corrupt('no LZ4 frame, only skippable ones');
  return done;
}

/** A window of at most this much is taken from a ZSTD frame that does not say its size (zstd's levels up to 19 stay within it). */
const ZSTD_MAX_WINDOW = 8 << 20;

/**
 * A ZSTD frame's content size as its header says it (RFC 8878 §3.1.1.1.4),
 * or null when it leaves it out; and its window size.
 */
function zstdHeader(src: Uint8Array): { contentSize: number | null; windowSize: number } {
  if (src.length < 6 || src[0] !== 0x28 || src[1] !== 0xb5 || src[2] !== 0x2f || src[3] !== 0xfd)
    throw new FormatError('its ZSTD frame is corrupt (no ZSTD magic)');
  const flags = src[4];
  const singleSegment = (flags >> 5) & 1;
  const fcf = flags >> 6;
  const dictBytes = [0, 1, 2, 4][flags & 3];
  const sizeBytes = fcf ? 1 << fcf : singleSegment;
  const at = 5 + (singleSegment ? 0 : 1) + dictBytes;
  if (at + sizeBytes > src.length) throw new FormatError('its ZSTD frame is corrupt (it ends in its header)');
  let size = 0;
  for (let i = sizeBytes - 1; i >= 0; i--) size = size * 256 + src[at + i];
  if (sizeBytes === 2) size += 256;
  const contentSize = sizeBytes === 0 ? null : size;
  if (singleSegment) return { contentSize, windowSize: size };
  const base = 2 ** (10 + (src[5] >> 3));
  return { contentSize, windowSize: base + (base / 8) * (src[5] & 7) };
}

/**
 * Decodes the ZSTD frame(s) `src` into `out`, returning the bytes they hold.
 * Arrow writers record the content size: fzstd then fills `out`, which is
 * that size. A frame that leaves it out (a streaming encoder's) is decoded
 * block by block, each block counted and checked to fit, since fzstd given
 * a buffer cannot tell a short frame from a full one (it would come out
 * zero-padded); its window, which fzstd allocates, must be a usual one.
 */
function zstdFrames(src: Uint8Array, out: Uint8Array): number {
  const z = fzstd ?? notLoaded(Codec.Zstd);
  const { contentSize, windowSize } = zstdHeader(src);
  try {
    if (contentSize !== null) {
      if (contentSize !== out.length) throw new FormatError(`its ZSTD frame holds ${contentSize} bytes, its length says ${out.length}`);
      return z.decompress(src, out).length;
    }
    if (windowSize > Math.max(ZSTD_MAX_WINDOW, out.length))
      throw new FormatError(`its ZSTD frame asks for a window of ${windowSize} bytes and does not say its size`);
    let done = 0;
    const stream = new z.Decompress((chunk) => {
      if (chunk.length > out.length - done) throw new FormatError('its ZSTD frame holds more bytes than its length says');
      out.set(chunk, done);
      done += chunk.length;
    });
    stream.push(src, true);
    return done;
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw new FormatError('its ZSTD frame is corrupt');
  }
}

/**
 * The bytes of one body buffer of a compressed batch. `needBytes` is what
 * its rows need: the uncompressed length it claims may exceed that by
 * Arrow's padding (paddedBytes), and no more, so a corrupt length cannot
 * allocate what it likes.
 */
export function decompressBuffer(codec: Codec, raw: Uint8Array, needBytes: number): Uint8Array {
  const maxBytes = paddedBytes(needBytes);
  if (raw.length === 0) return raw;
  if (raw.length < 8) throw new FormatError(`a ${codecName(codec)}-compressed buffer of ${raw.length} bytes has no length prefix`);
  const view = new DataView(raw.buffer, raw.byteOffset, 8);
  const lo = view.getUint32(0, true);
  const hi = view.getInt32(4, true);
  if (hi === -1 && lo === 0xffffffff) return raw.subarray(8); // stored uncompressed
  const length = hi * 4294967296 + lo;
  if (hi < 0 || length > maxBytes)
    throw new FormatError(`a ${codecName(codec)}-compressed buffer says it holds ${hi < 0 ? -(2 ** 64 - length) : length} bytes, expected at most ${maxBytes}`);
  const out = new Uint8Array(length);
  const src = raw.subarray(8);
  let n: number;
  if (codec === Codec.Lz4Frame) {
    n = lz4Frames(src, out);
  } else {
    n = zstdFrames(src, out);
  }
  if (n !== length) throw new FormatError(`a ${codecName(codec)}-compressed buffer holds ${n} bytes, its length says ${length}`);
  return out;
}
