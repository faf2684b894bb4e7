// Issue 13, item 4: traces as pandas, Polars and pyarrow write them by
// default are read: int64 integer columns, large_utf8 / utf8_view /
// dictionary<utf8_view> op columns, LZ4_FRAME and ZSTD compressed bodies.
import * as A from 'apache-arrow';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFraming } from '../../src/trace/ipc.js';
import { openTrace } from '../../src/trace/merge.js';
import { OP_NAMES } from '../../src/trace/schema.js';
import { writeCompressed, zstdRleFrame } from '../helpers/compressed.js';
import { tmpDir } from '../helpers/cli.js';

const dir = tmpDir();
const OPS = ['attach', 'map', 'dma_read', 'dma_write', 'unmap', 'flush'];

/** A 6-row trace; `op` and the integer types as given. */
function table(op: A.Vector, int: 'int64' | 'uint' = 'int64', overrides: Record<string, A.Vector> = {}): A.Table {
  const n = OPS.length;
  const i64 = (f: (i: number) => number) => A.makeVector(BigInt64Array.from({ length: n }, (_, i) => BigInt(f(i))));
  const u64 = (f: (i: number) => number) => A.makeVector(BigUint64Array.from({ length: n }, (_, i) => BigInt(f(i))));
  const u32 = (f: (i: number) => number) => A.makeVector(Uint32Array.from({ length: n }, (_, i) => f(i)));
  const big = int === 'int64' ? i64 : u64;
  const small = int === 'int64' ? i64 : u32;
  return new A.Table({
    ts: big((i) => 100 + i),
    op,
    device: small(() => 0x300),
    pasid: small(() => 0),
    domain: small(() => 1),
    iova: big(() => 0x10000),
    paddr: big(() => 0x7f000000),
    size: big((i) => (i === 2 || i === 3 ? 64 : 4096)),
    ...overrides,
  });
}

async function rows(file: string): Promise<string[]> {
  const t = await openTrace([file]);
  const out: string[] = [];
  try {
    for await (const b of t.batches()) {
      for (let i = 0; i < b.length; i++)
        out.push(`${b.ts[2 * i]}:${OP_NAMES[b.op[i]]}:${b.device[i]}:${b.domain[i]}:${b.iova[2 * i]}:${b.paddr[2 * i]}:${b.size[2 * i]}`);
    }
  } finally {
    await t.close();
  }
  return out;
}

const EXPECTED = OPS.map((op, i) => `${100 + i}:${op}:768:1:65536:2130706432:${i === 2 || i === 3 ? 64 : 4096}`);

function write(file: string, t: A.Table): string {
  fs.writeFileSync(file, A.tableToIPC(t, file.endsWith('.arrow') ? 'file' : 'stream'));
  return file;
}

async function error(file: string): Promise<string> {
  try {
    await rows(file);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('integer columns as pandas and Polars write them', () => {
  it('int64 everywhere (pandas, Polars) reads as uint64/uint32', async () => {
    for (const ext of ['.arrow', '.arrows']) expect(await rows(write(path.join(dir, `i64${ext}`), table(A.vectorFromArray(OPS))))).toEqual(EXPECTED);
  });

  it('a negative int64 is an error naming column and row', async () => {
    const f = write(
      path.join(dir, 'neg.arrows'),
      table(A.vectorFromArray(OPS), 'int64', { iova: A.makeVector(BigInt64Array.from([0n, 0n, 0n, -4096n, 0n, 0n])) }),
    );
    expect(await error(f)).toBe(`Cannot read trace "${f}": column "iova" has a negative value -4096 at row 3`);
  });

  it('an int64 beyond uint32 in a uint32 column is an error naming the row', async () => {
    const f = write(
      path.join(dir, 'big.arrows'),
      table(A.vectorFromArray(OPS), 'int64', { device: A.makeVector(BigInt64Array.from([0n, 0n, 0n, 0n, 1n << 33n, 0n])) }),
    );
    expect(await error(f)).toBe(`Cannot read trace "${f}": column "device" has the value 8589934592 at row 4, more than a uint32 holds`);
  });

  it('uint64 columns reach the model as lo/hi views of the batch body, not copies', async () => {
    const f = write(path.join(dir, 'u64.arrows'), table(A.vectorFromArray(OPS, new A.Dictionary(new A.Utf8(), new A.Int8())), 'uint'));
    const t = await openTrace([f]);
    for await (const b of t.batches()) {
      expect(b.ts.buffer).toBe(b.iova.buffer);
      expect(b.size.buffer).toBe(b.device.buffer);
    }
    await t.close();
  });
});

describe('op columns in every string layout', () => {
  const layouts: [string, () => A.Vector][] = [
    ['utf8', () => A.vectorFromArray(OPS, new A.Utf8())],
    ['large_utf8 (pandas with pyarrow strings)', () => A.vectorFromArray(OPS, new A.LargeUtf8())],
    ['utf8_view (Polars)', () => A.vectorFromArray(OPS, new A.Utf8View())],
    ['dictionary<int32, utf8> (pyarrow dictionary_encode)', () => A.vectorFromArray(OPS, new A.Dictionary(new A.Utf8(), new A.Int32()))],
    ['dictionary<uint16, utf8_view>', () => A.vectorFromArray(OPS, new A.Dictionary(new A.Utf8View(), new A.Uint16()))],
    ['dictionary<uint8, large_utf8>', () => A.vectorFromArray(OPS, new A.Dictionary(new A.LargeUtf8(), new A.Uint8()))],
  ];
  for (const [name, op] of layouts) {
    it(name, async () => {
      for (const ext of ['.arrow', '.arrows'])
        expect(await rows(write(path.join(dir, `op-${name.replace(/\W+/g, '-')}${ext}`), table(op())))).toEqual(EXPECTED);
    });
  }

  it('an unknown op longer than a view holds inline comes from the data buffer, printable', async () => {
    const ops = [...OPS.slice(0, 5), 'dma_read_with_a_long\nname\u001b[31m'];
    const f = write(path.join(dir, 'long-view.arrows'), table(A.vectorFromArray(ops, new A.Utf8View())));
    expect(await error(f)).toBe(`Cannot read trace "${f}": column "op" has an unknown operation "dma_read_with_a_long\\x0aname\\x1b[31m" at row 5`);
  });
});

/** How many body buffers of the file are stored compressed (not as the -1 "stored as is" form). */
function compressedBuffers(file: string): number {
  const bytes = fs.readFileSync(file);
  const fd = fs.openSync(file, 'r');
  let n = 0;
  try {
    const framing = openFraming(fd, bytes.length, file.endsWith('.arrow'));
    for (const m of framing.messages()) {
      const h = m.message.batch ?? m.message.dictionary!.data;
      for (let b = 0; b < h.buffers.length / 2; b++) {
        if (h.buffers[2 * b + 1] >= 8 && bytes.readBigInt64LE(m.bodyStart + h.buffers[2 * b]) !== -1n) n++;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return n;
}

describe('compressed bodies', () => {
  for (const codec of ['lz4', 'zstd'] as const) {
    for (const ext of ['.arrow', '.arrows']) {
      it(`${codec === 'lz4' ? 'LZ4_FRAME' : 'ZSTD'} (${ext})`, async () => {
        const f = path.join(dir, `c-${codec}${ext}`);
        writeCompressed(f, table(A.vectorFromArray(OPS, new A.Dictionary(new A.Utf8(), new A.Int32()))), codec);
        expect(compressedBuffers(f)).toBeGreaterThan(0);
        expect(await rows(f)).toEqual(EXPECTED);
      });
    }
  }

  it('frames made by the reference lz4 and zstd tools (fixtures)', async () => {
    for (const name of ['lz4-cli-int64-dict-utf8view.arrow', 'zstd-cli-int64-large-utf8.arrows']) {
      const f = path.join('test/trace/fixtures/formats', name);
      expect(compressedBuffers(f)).toBeGreaterThan(5);
      const r = await rows(f);
      expect(r.length).toBe(300);
      expect(r[0]).toBe('0:attach:768:1:1044480:2130702336:4096');
      expect(r[2]).toBe('20:dma_read:768:1:1048576:2130706432:64');
    }
  });

  it('a corrupt frame says which codec could not read it, never "truncated or corrupt"', async () => {
    const f = path.join(dir, 'bad-zstd.arrows');
    writeCompressed(f, table(A.vectorFromArray(OPS)), 'zstd', (d) => {
      const frame = zstdRleFrame(d);
      frame[13] |= 0x06; // the first block's type: reserved
      return frame;
    });
    expect(await error(f)).toMatch(
      new RegExp(
        `^Cannot read trace "${f}": record batch 0 at byte \\d+, column "pasid": a buffer compressed with ZSTD cannot be read: its ZSTD frame is corrupt$`,
      ),
    );
  });
});
