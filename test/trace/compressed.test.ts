// Issue items A and B: LZ4 frames are read as the frame format says (several
// blocks, linked or independent, stored blocks, checksums, content size,
// skippable and concatenated frames), and compressed buffers may be padded
// as writers pad them. A trace compressed as pyarrow writes it replays to
// exactly the totals of its uncompressed copy.
import * as A from 'apache-arrow';
import lz4js from 'lz4js';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decompressBuffer, loadCodec, xxh32 } from '../../src/trace/codec.js';
import { FormatError } from '../../src/trace/flatbuf.js';
import { Codec } from '../../src/trace/format.js';
import { lz4FrameOf, writeCompressed, zstdRleFrame, type Lz4Options } from '../helpers/compressed.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();

/** 200 KB that compress and whose matches reach across 64 KiB blocks: a trace-like ramp with repeats. */
function sample(n = 200_000): Uint8Array {
  const out = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = i % 8 < 3 ? (i >>> 3) & 0xff : i % 5000 < 40 ? x >>> 24 : (i * 7) & 0x3f;
  }
  return out;
}

/** The Arrow body buffer: an int64 uncompressed length, then the frame. */
function prefixed(length: number, frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + frame.length);
  new DataView(out.buffer).setBigInt64(0, BigInt(length), true);
  out.set(frame, 8);
  return out;
}

function lz4Error(length: number, frame: Uint8Array, need = length): string {
  try {
    decompressBuffer(Codec.Lz4Frame, prefixed(length, frame), need);
  } catch (err) {
    expect(err).toBeInstanceOf(FormatError);
    return (err as Error).message;
  }
  return 'accepted';
}

describe('LZ4 frames (frame format 1.6.x)', () => {
  it('xxh32 gives the reference values, from any offset', () => {
    const data = sample(2000);
    for (const [start, end] of [
      [0, 0],
      [0, 3],
      [5, 21],
      [0, 16],
      [3, 1003],
      [0, 2000],
    ]) {
      expect(xxh32(data, start, end)).toBe(xxh32(data.slice(start, end), 0, end - start));
    }
    expect(xxh32(new Uint8Array(0), 0, 0)).toBe(0x02cc5d05); // the xxHash32 of nothing, seed 0
    expect(xxh32(new TextEncoder().encode('abc'), 0, 3)).toBe(0x32d153ff);
    expect(xxh32(new TextEncoder().encode('Nobody inspects the spammish repetition'), 0, 39)).toBe(0xe2293b2f);
  });

  const cases: [string, Lz4Options][] = [
    ['linked 64 KiB blocks (pyarrow, the lz4 library default)', {}],
    ['independent blocks', { independent: true }],
    ['some blocks stored uncompressed (high bit)', { stored: (k) => k % 2 === 1 }],
    ['block checksums, content size and content checksum', { blockChecksums: true, contentSize: true, contentChecksum: true }],
    ['256 KiB blocks', { blockBytes: 256 << 10 }],
    ['three concatenated frames with skippable frames between', { frames: 3, skippable: true, contentSize: true }],
  ];
  for (const [name, options] of cases) {
    it(name, () => {
      const data = sample();
      const frame = lz4FrameOf(data, options);
      expect(frame.length).toBeLessThan(data.length);
      expect(decompressBuffer(Codec.Lz4Frame, prefixed(data.length, frame), data.length)).toEqual(data);
    });
  }

  it('a frame written by lz4js (one 4 MiB block)', () => {
    const data = sample();
    expect(decompressBuffer(Codec.Lz4Frame, prefixed(data.length, lz4js.compress(data)), data.length)).toEqual(data);
  });

  it('linked blocks are really linked: the same frame read as independent blocks is refused', () => {
    const data = sample();
    const frame = lz4FrameOf(data);
    frame[4] |= 0x20; // FLG: block independence
    frame[6] = (xxh32(frame, 4, 6) >>> 8) & 0xff;
    expect(lz4Error(data.length, frame)).toMatch(/^its LZ4 frame is corrupt \(a match reaches \d+ bytes back, before the data it may use\)$/);
  });

  it('every malformation is one line naming what is wrong', () => {
    const data = sample(100_000);
    const good = () => lz4FrameOf(data, { blockChecksums: true, contentChecksum: true });
    const n = data.length;
    expect(lz4Error(n, good().subarray(0, 100))).toMatch(/past its end|ends inside a block header/);
    expect(lz4Error(n, good().subarray(0, good().length - 4))).toBe('its LZ4 frame is corrupt (it ends before its content checksum)');
    let f = good();
    f[6] ^= 1;
    expect(lz4Error(n, f)).toBe('its LZ4 frame is corrupt (its frame descriptor checksum does not match)');
    f = good();
    f[20] ^= 0x55;
    expect(lz4Error(n, f)).toMatch(/the checksum of the block at 7 does not match/);
    f = good();
    f[f.length - 1] ^= 1;
    expect(lz4Error(n, f)).toBe('its LZ4 frame is corrupt (its content checksum does not match)');
    expect(lz4Error(n + 64, lz4FrameOf(data))).toBe(`a LZ4_FRAME-compressed buffer holds ${n} bytes, its length says ${n + 64}`);
    expect(lz4Error(n - 100, lz4FrameOf(data))).toBe('its LZ4 frame is corrupt (a block decodes to more bytes than its length says)');
    expect(lz4Error(n, Uint8Array.from([...lz4FrameOf(data), 9, 9]))).toBe('its LZ4 frame is corrupt (2 stray byte(s) after its last frame)');
    expect(
      lz4Error(
        n,
        lz4FrameOf(data, { contentSize: true, frames: 1 }).map((b, i) => (i === 6 ? b + 1 : b)),
      ),
    ).toMatch(/descriptor checksum|holds/);
    f = lz4FrameOf(data);
    f[4] |= 0x01; // a dictionary id
    expect(lz4Error(n, f)).toMatch(/^its LZ4 frame is corrupt/);
    // A block size over the maximum, with its bytes there.
    f = Uint8Array.from([...lz4FrameOf(new Uint8Array(0)).subarray(0, 7), 0x01, 0x00, 0x01, 0x80, ...new Uint8Array(65537), 0, 0, 0, 0]);
    expect(lz4Error(65537, f, 65537)).toBe('its LZ4 frame is corrupt (a block of 65537 bytes at 7, more than its maximum of 65536)');
  });
});

describe('corrupt LZ4 frames', () => {
  it('every byte flip or cut of a frame decodes or is one FormatError, never another error, never past its length', () => {
    const data = sample(70_000);
    const frame = lz4FrameOf(data, { contentSize: true });
    let seed = 7;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let k = 0; k < 600; k++) {
      const bad = frame.slice(0, k % 5 === 0 ? rand(frame.length) : frame.length);
      if (k % 5 !== 0) for (let j = 0; j <= k % 3; j++) bad[rand(bad.length)] ^= 1 << rand(8);
      try {
        expect(decompressBuffer(Codec.Lz4Frame, prefixed(data.length, bad), data.length).length).toBe(data.length);
      } catch (err) {
        expect(err, String(err)).toBeInstanceOf(FormatError);
      }
    }
  });
});

describe('ZSTD frames that do not say their size', () => {
  it('are decoded block by block and counted: short or long is an error, never zero padding', async () => {
    await loadCodec(Codec.Zstd);
    const data = sample(300_000);
    const frame = zstdRleFrame(data, { contentSize: false });
    expect(decompressBuffer(Codec.Zstd, prefixed(data.length, frame), data.length)).toEqual(data);
    expect(() => decompressBuffer(Codec.Zstd, prefixed(data.length + 32, frame), data.length)).toThrow(
      `a ZSTD-compressed buffer holds ${data.length} bytes, its length says ${data.length + 32}`,
    );
    expect(() => decompressBuffer(Codec.Zstd, prefixed(data.length - 64, frame), data.length - 64)).toThrow(
      'its ZSTD frame holds more bytes than its length says',
    );
    const huge = Uint8Array.from(frame);
    huge[5] = 30 << 3; // a 1 TiB window
    expect(() => decompressBuffer(Codec.Zstd, prefixed(data.length, huge), data.length)).toThrow(
      `its ZSTD frame asks for a window of ${2 ** 40} bytes and does not say its size`,
    );
  });
});

describe('padded uncompressed lengths (issue item B)', () => {
  it('up to the next multiple of 64 bytes beyond what the rows need is accepted; more is refused', async () => {
    await loadCodec(Codec.Zstd);
    const need = 1001; // a validity bitmap of 8001 rows
    for (const codec of [Codec.Lz4Frame, Codec.Zstd]) {
      const enc = (d: Uint8Array) => (codec === Codec.Zstd ? zstdRleFrame(d) : lz4FrameOf(d));
      for (const padded of [1001, 1008, 1024]) expect(decompressBuffer(codec, prefixed(padded, enc(new Uint8Array(padded))), need).length).toBe(padded);
      const name = codec === Codec.Zstd ? 'ZSTD' : 'LZ4_FRAME';
      expect(() => decompressBuffer(codec, prefixed(1025, enc(new Uint8Array(1025))), need)).toThrow(
        `a ${name}-compressed buffer says it holds 1025 bytes, expected at most 1024`,
      );
      expect(() => decompressBuffer(codec, prefixed(2 ** 40, enc(new Uint8Array(8))), need)).toThrow(
        `a ${name}-compressed buffer says it holds ${2 ** 40} bytes, expected at most 1024`,
      );
    }
  });
});

/** `replay TRACE --json -` run where the trace is named `trace`, so that two summaries can be compared byte for byte. */
function summaryOf(file: string): string {
  const d = fs.mkdtempSync(path.join(dir, 'run-'));
  fs.copyFileSync(file, path.join(d, 'trace'));
  const r = runCli(['replay', 'trace', '--json', '-'], { cwd: d });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

describe('compressed traces replay to the totals of their uncompressed copy', () => {
  it('pyarrow\'s write_feather(compression="lz4") of traces/nic.arrows (fixture, 12000 rows in one batch)', () => {
    expect(summaryOf('test/trace/fixtures/formats/pyarrow-lz4-12000-rows.arrow')).toBe(summaryOf('traces/nic.arrows'));
  }, 60_000);

  it('lz4 and zstd, file and stream, 10001 rows (more than 8192, not a multiple of 8), buffers padded to 8 and 64 bytes', () => {
    const nic = A.tableFromIPC(fs.readFileSync('traces/nic.arrows'));
    const table = nic.slice(0, 10001);
    expect(table.numRows).toBe(10001);
    const plain = path.join(dir, 'plain.arrows');
    fs.writeFileSync(plain, A.tableToIPC(table, 'stream'));
    const expected = summaryOf(plain);
    expect(JSON.parse(expected).trace).toBeDefined();
    for (const codec of ['lz4', 'zstd'] as const) {
      for (const ext of ['.arrow', '.arrows']) {
        for (const padTo of [8, 64]) {
          const f = path.join(dir, `nic-${codec}-${padTo}${ext}`);
          writeCompressed(f, table, codec, undefined, padTo);
          expect(summaryOf(f), `${codec} ${ext} padded to ${padTo}`).toBe(expected);
        }
      }
    }
  }, 180_000);
});
