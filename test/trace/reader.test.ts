import * as A from 'apache-arrow';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openTrace } from '../../src/trace/merge.js';
import { openTraceFile } from '../../src/trace/reader.js';
import { MessageCursor } from '../../src/trace/ipc.js';
import { writeTrace } from '../../src/trace/writer.js';
import { allocBatch, u64, type EventBatch } from '../../src/trace/batch.js';
import { batchOf, type Ev } from '../helpers/events.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();
const EVENTS: Ev[] = [
  { ts: 5, op: 'attach', device: 0x300, domain: 7 },
  { ts: 6, op: 'map', domain: 7, iova: 0x1000, paddr: 0xabc000, size: 0x2000 },
  { ts: 9, op: 'dma_read', device: 0x300, iova: 0x1010, size: 64 },
  { ts: 9, op: 'dma_write', device: 0x300, pasid: 3, iova: 0xffff_ffff_f000n, size: 1n << 40n },
  { ts: 12, op: 'unmap', domain: 7, iova: 0x1000, size: 0x2000 },
  { ts: 13, op: 'flush', domain: 7 },
  { ts: (2n ** 52n) as unknown as number, op: 'detach', device: 0x300 },
];

async function readAll(files: string[]): Promise<{ rows: Ev[]; batches: number }> {
  const t = await openTrace(files);
  const rows: Ev[] = [];
  let batches = 0;
  const names = ['dma_read', 'dma_write', 'map', 'unmap', 'attach', 'detach', 'flush'] as const;
  for await (const b of t.batches() as AsyncGenerator<EventBatch>) {
    batches++;
    for (let i = 0; i < b.length; i++) {
      const big = (w: Uint32Array) => (BigInt(w[2 * i + 1]) << 32n) | BigInt(w[2 * i]);
      rows.push({
        ts: Number(big(b.ts)),
        op: names[b.op[i]],
        device: b.device[i],
        pasid: b.pasid[i],
        domain: b.domain[i],
        iova: big(b.iova),
        paddr: big(b.paddr),
        size: big(b.size),
      });
    }
  }
  await t.close();
  return { rows, batches };
}

/** Writes a table built with apache-arrow directly (to make bad files). */
function writeTable(file: string, columns: Record<string, A.Vector>, meta?: Record<string, string>): void {
  const t = new A.Table(columns);
  for (const [k, v] of Object.entries(meta ?? {})) t.schema.metadata.set(k, v);
  fs.writeFileSync(file, A.tableToIPC(t, file.endsWith('.arrow') ? 'file' : 'stream'));
}

function goodColumns(n = 3): Record<string, A.Vector> {
  return {
    ts: A.makeVector(BigUint64Array.from({ length: n }, (_, i) => BigInt(i))),
    op: A.vectorFromArray(
      Array.from({ length: n }, () => 'dma_read'),
      new A.Dictionary(new A.Utf8(), new A.Int8()),
    ),
    device: A.makeVector(new Uint32Array(n)),
    pasid: A.makeVector(new Uint32Array(n)),
    domain: A.makeVector(new Uint32Array(n)),
    iova: A.makeVector(new BigUint64Array(n)),
    paddr: A.makeVector(new BigUint64Array(n)),
    size: A.makeVector(new BigUint64Array(n)),
  };
}

describe('trace round trip', () => {
  for (const ext of ['.arrow', '.arrows']) {
    it(`writes then reads the same columns and metadata (${ext})`, async () => {
      const f = path.join(dir, `rt${ext}`);
      const meta = {
        domains: new Map([
          [7, 'paging' as const],
          [9, 'sva' as const],
        ]),
        topology: { iommus: [{ name: 'dmar0', devices: [0x300] }] },
        workload: 'unit',
      };
      await writeTrace(f, meta, [batchOf(EVENTS)]);
      const { rows } = await readAll([f]);
      expect(rows).toEqual(
        EVENTS.map((e) => ({
          ts: Number(e.ts),
          op: e.op,
          device: e.device ?? 0,
          pasid: e.pasid ?? 0,
          domain: e.domain ?? 0,
          iova: BigInt(e.iova ?? 0),
          paddr: BigInt(e.paddr ?? 0),
          size: BigInt(e.size ?? 0),
        })),
      );
      const t = await openTraceFile(f);
      expect(t.meta.domains).toEqual(meta.domains);
      expect(t.meta.topology).toEqual(meta.topology);
      expect(t.meta.workload).toBe('unit');
      expect(t.meta.version).toBe('1');
      await t.close();
    });
  }

  it('reads op as plain utf8 and with int32 dictionary indices', async () => {
    const f = path.join(dir, 'utf8.arrows');
    writeTable(f, { ...goodColumns(2), op: A.vectorFromArray(['map', 'flush'], new A.Utf8()) });
    expect((await readAll([f])).rows.map((r) => r.op)).toEqual(['map', 'flush']);
    const g = path.join(dir, 'dict32.arrow');
    writeTable(g, { ...goodColumns(2), op: A.vectorFromArray(['unmap', 'attach'], new A.Dictionary(new A.Utf8(), new A.Int32())) });
    expect((await readAll([g])).rows.map((r) => r.op)).toEqual(['unmap', 'attach']);
  });

  it('hands out every batch in the shape allocBatch gives (one hidden class for the replay loop, not a spread object)', async () => {
    const f = path.join(dir, 'shape.arrows');
    await writeTrace(f, {}, [batchOf(EVENTS)]);
    const t = await openTraceFile(f);
    const want = Object.keys(allocBatch(1));
    for await (const b of t.batches()) expect(Object.keys(b)).toEqual(want);
    await t.close();
  });

  it('reads only the trace columns of a batch, each where it can be read in place, and the same rows', async () => {
    // Extra columns between the trace's: their buffers are skipped, and every
    // trace column comes out as before (reader.ts, readColumnBuffers).
    const f = path.join(dir, 'extra-between.arrows');
    const n = 1000;
    const cols = goodColumns(n);
    writeTable(f, {
      note: A.vectorFromArray(Array.from({ length: n }, (_, i) => `row ${i}`)),
      ts: cols.ts,
      pad: A.makeVector(new Float64Array(n).fill(1.5)),
      op: cols.op,
      device: A.makeVector(Uint32Array.from({ length: n }, (_, i) => i * 7)),
      pasid: cols.pasid,
      domain: A.makeVector(Uint32Array.from({ length: n }, (_, i) => i + 1)),
      iova: A.makeVector(BigUint64Array.from({ length: n }, (_, i) => BigInt(i) << 33n)),
      paddr: cols.paddr,
      size: A.makeVector(BigUint64Array.from({ length: n }, (_, i) => BigInt(i * 64))),
    });
    const { rows } = await readAll([f]);
    expect(rows.length).toBe(n);
    expect(rows.every((r, i) => r.ts === i && r.device === i * 7 && r.domain === i + 1 && r.iova === BigInt(i) << 33n && r.size === BigInt(i * 64))).toBe(true);
  });

  // columns.ts reads 8-bit indices into a dictionary in code order (what the
  // writer writes) in place, checking four at a time: a bad index must still
  // be refused at its row wherever it falls (before, inside or after the
  // aligned words), and other dictionaries still go through their table.
  describe('op as 8-bit dictionary indices', () => {
    const OPS = ['dma_read', 'dma_write', 'map', 'unmap', 'attach', 'detach', 'flush'];
    const opColumn = (indices: Int8Array | Uint8Array, dictionary: (string | null)[]) => {
      const signed = indices instanceof Int8Array;
      const type = new A.Dictionary(new A.Utf8(), signed ? new A.Int8() : new A.Uint8());
      const dict = A.vectorFromArray(dictionary, new A.Utf8());
      return A.makeVector(A.makeData({ type, length: indices.length, data: indices, dictionary: dict }));
    };
    const write = (name: string, indices: Int8Array | Uint8Array, dictionary: (string | null)[] = OPS) => {
      const f = path.join(dir, name);
      writeTable(f, { ...goodColumns(indices.length), op: opColumn(indices, dictionary) });
      return f;
    };
    const ROWS = 23;
    const ops = (n: number) => Array.from({ length: n }, (_, i) => i % 7);

    it('in code order: every row read as its op', async () => {
      for (const C of [Int8Array, Uint8Array]) {
        const f = write(`ident-${C.name}.arrows`, C.from(ops(ROWS)));
        expect((await readAll([f])).rows.map((r) => r.op)).toEqual(ops(ROWS).map((k) => OPS[k]));
      }
    });

    for (const row of [0, 1, 5, 12, ROWS - 1])
      it(`in code order: an index past the dictionary, or negative, is refused at row ${row}`, async () => {
        for (const [C, bad] of [
          [Int8Array, 7],
          [Int8Array, -3],
          [Uint8Array, 7],
          [Uint8Array, 200],
        ] as const) {
          const indices = C.from(ops(ROWS));
          indices[row] = bad;
          const f = write(`bad-${C.name}-${bad}-${row}.arrows`, indices);
          await expect(readAll([f])).rejects.toThrow(
            `Cannot read trace "${f}": column "op" has dictionary index ${bad} at row ${row}, the dictionary has 7 entries`,
          );
        }
      });

    it('in another order, with a null entry and an unknown op: read through the table, bad rows named', async () => {
      const dictionary = ['flush', 'map', null, 'bogus', 'dma_read'];
      const good = Int8Array.from([4, 1, 0, 4, 1, 0, 0, 4, 1]);
      expect((await readAll([write('perm.arrows', good, dictionary)])).rows.map((r) => r.op)).toEqual(Array.from(good, (k) => dictionary[k]));
      const withNull = Uint8Array.from([4, 1, 0, 4, 1, 2, 0]);
      const f = write('perm-null.arrows', withNull, dictionary);
      await expect(readAll([f])).rejects.toThrow(`Cannot read trace "${f}": column "op" has a null at row 5`);
      const unknown = Int8Array.from([4, 1, 0, 4, 1, 0, 0, 0, 0, 3]);
      const g = write('perm-unknown.arrows', unknown, dictionary);
      await expect(readAll([g])).rejects.toThrow(`Cannot read trace "${g}": column "op" has an unknown operation "bogus" at row 9`);
    });
  });

  it('follows a dictionary replaced between batches (streams only: the file format forbids it)', async () => {
    // Two batches whose op dictionaries differ: the writer puts a second
    // dictionary message between them, which the reader must apply (trace/ipc.ts).
    const dictType = new A.Dictionary(new A.Utf8(), new A.Int8(), 0);
    const batch = (ops: string[], ts0: number) =>
      new A.Table({ ...goodColumns(ops.length), ts: A.makeVector(BigUint64Array.from(ops, (_, i) => BigInt(ts0 + i))), op: A.vectorFromArray(ops, dictType) })
        .batches[0];
    const one = batch(['map', 'unmap', 'map'], 0);
    const two = batch(['flush', 'dma_write'], 3);
    const f = path.join(dir, 'redict.arrows');
    const writer = new A.RecordBatchStreamWriter();
    writer.write(one);
    writer.write(two);
    writer.finish();
    fs.writeFileSync(f, writer.toUint8Array(true));
    expect((await readAll([f])).rows.map((r) => r.op)).toEqual(['map', 'unmap', 'map', 'flush', 'dma_write']);
  });

  it('a batch stays as it was handed out while the next one is read and decoded (body buffers and decoded op codes reused in turn)', async () => {
    // Reader.ts reads the next batch's body while this one is checked, and
    // decodes ops from a dictionary in another order, or from strings, into
    // a space kept with each body buffer: the batch the consumer holds when
    // it asks for the next must not change under it.
    const NAMES = ['dma_read', 'dma_write', 'map', 'unmap', 'attach', 'detach', 'flush'];
    const ROWS = 500;
    const BATCHES = 7;
    const opsOf = (k: number) => Array.from({ length: ROWS }, (_, i) => NAMES[(i + 3 * k) % NAMES.length]);
    const tableOf = (k: number, op: A.Vector) =>
      new A.Table({
        ...goodColumns(ROWS),
        ts: A.makeVector(BigUint64Array.from({ length: ROWS }, (_, i) => BigInt(k * ROWS + i))),
        op,
        domain: A.makeVector(Uint32Array.from({ length: ROWS }, () => k)),
      }).batches[0];
    const writeBatches = (f: string, op: (k: number) => A.Vector) => {
      const writer = new A.RecordBatchStreamWriter();
      for (let k = 0; k < BATCHES; k++) writer.write(tableOf(k, op(k)));
      writer.finish();
      fs.writeFileSync(f, writer.toUint8Array(true));
    };
    const ours = path.join(dir, 'held-ours.arrows');
    await writeTrace(
      ours,
      {},
      Array.from({ length: BATCHES }, (_, k) => batchOf(opsOf(k).map((op, i) => ({ ts: k * ROWS + i, op: op as Ev['op'], domain: k })))),
    );
    // A dictionary in order of first appearance (not code order), sent anew with each batch; and plain strings.
    const reordered = path.join(dir, 'held-dictionary.arrows');
    const dictType = new A.Dictionary(new A.Utf8(), new A.Int32(), 0);
    writeBatches(reordered, (k) => A.vectorFromArray(opsOf(k), dictType));
    const strings = path.join(dir, 'held-strings.arrows');
    const utf8 = new A.Utf8();
    writeBatches(strings, (k) => A.vectorFromArray(opsOf(k), utf8));
    for (const f of [ours, reordered, strings]) {
      const t = await openTrace([f]);
      let held: { b: EventBatch; op: number[]; domain: number[]; ts: number[] } | null = null;
      let batches = 0;
      for await (const b of t.batches()) {
        if (held) {
          expect(Array.from(held.b.op.subarray(0, ROWS)), f).toEqual(held.op);
          expect(Array.from(held.b.domain.subarray(0, ROWS)), f).toEqual(held.domain);
          expect(Array.from(held.b.ts.subarray(0, 2 * ROWS)), f).toEqual(held.ts);
        }
        expect(
          Array.from(b.op.subarray(0, ROWS), (c) => NAMES[c]),
          f,
        ).toEqual(opsOf(batches));
        held = { b, op: Array.from(b.op.subarray(0, ROWS)), domain: Array.from(b.domain.subarray(0, ROWS)), ts: Array.from(b.ts.subarray(0, 2 * ROWS)) };
        batches++;
      }
      await t.close();
      expect(batches, f).toBe(BATCHES);
    }
  });

  it('a bad batch found while it is read ahead reaches the consumer after every row before it', async () => {
    // Reader.ts reads bodies, and the dictionary batches before them, ahead
    // of the batch it hands out: what it finds wrong there is said when the
    // consumer reaches that batch, not earlier (the rows before it are the
    // trace's and are replayed first, as without the read ahead).
    const ROWS = 300;
    const BATCHES = 6;
    const BAD = 4;
    const NAMES = ['dma_read', 'map', 'unmap', 'flush'];
    const dictType = new A.Dictionary(new A.Utf8(), new A.Int32(), 0);
    const writer = new A.RecordBatchStreamWriter();
    for (let k = 0; k < BATCHES; k++)
      writer.write(
        new A.Table({
          ...goodColumns(ROWS),
          ts: A.makeVector(BigUint64Array.from({ length: ROWS }, (_, i) => BigInt(k * ROWS + i))),
          op: A.vectorFromArray(
            Array.from({ length: ROWS }, (_, i) => NAMES[(i + k) % NAMES.length]),
            dictType,
          ),
        }).batches[0],
      );
    writer.finish();
    const bytes = Buffer.from(writer.toUint8Array(true));
    const f = path.join(dir, 'bad-ahead.arrows');
    fs.writeFileSync(f, bytes);
    // The dictionary batch before record batch BAD: its second offset past its data.
    const fd = fs.openSync(f, 'r');
    const cursor = new MessageCursor(fd, bytes.length);
    let batches = 0;
    let badAt = -1;
    for (const m of cursor.stream(cursor.at(0)!.length)) {
      if (m.message.dictionary && batches === BAD) {
        const offsets = m.bodyStart + m.message.dictionary.data.buffers[2];
        bytes.writeInt32LE(0x7fff_ffff, offsets + 4);
        badAt = m.start;
      }
      if (m.message.batch) batches++;
    }
    fs.closeSync(fd);
    expect(badAt).toBeGreaterThan(0);
    fs.writeFileSync(f, bytes);
    const t = await openTrace([f]);
    const seen: number[] = [];
    let error = '';
    try {
      for await (const b of t.batches()) seen.push(b.firstRow + 0, b.length);
    } catch (err) {
      error = (err as Error).message;
    }
    await t.close();
    expect(seen).toEqual(Array.from({ length: 2 * BAD }, (_, i) => (i % 2 === 0 ? (i / 2) * ROWS : ROWS)));
    expect(error).toContain(
      `Cannot read trace "${f}": the dictionary batch at byte ${badAt} (the "op" dictionary): the offsets of row 0 (0..2147483647) are outside`,
    );
  });

  it('reads batches past the size of its read buffers, many in a row', async () => {
    const f = path.join(dir, 'sizes.arrows');
    const sizes = [1, 70000, 3, 130000, 2];
    let ts = 0;
    await writeTrace(
      f,
      {},
      sizes.map((n) => batchOf(Array.from({ length: n }, () => ({ ts: ts++, op: 'flush' as const, domain: ts })))),
    );
    const { rows } = await readAll([f]);
    expect(rows.length).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(rows.every((r, i) => r.ts === i && r.domain === i + 1)).toBe(true);
  });

  it('ignores extra columns and accepts nullable-declared columns', async () => {
    const f = path.join(dir, 'extra.arrows');
    writeTable(f, { ...goodColumns(2), note: A.vectorFromArray(['a', 'b']) });
    expect((await readAll([f])).rows.length).toBe(2);
  });
});

describe('merge of several files', () => {
  it('orders by ts, ties by file order then row', async () => {
    const a = path.join(dir, 'a.arrows');
    const b = path.join(dir, 'b.arrow');
    await writeTrace(a, {}, [
      batchOf([
        { ts: 1, op: 'map', domain: 1 },
        { ts: 3, op: 'map', domain: 2 },
        { ts: 3, op: 'map', domain: 3 },
        { ts: 8, op: 'map', domain: 4 },
      ]),
    ]);
    await writeTrace(b, {}, [
      batchOf([
        { ts: 0, op: 'unmap', domain: 10 },
        { ts: 3, op: 'unmap', domain: 11 },
        { ts: 9, op: 'unmap', domain: 12 },
      ]),
    ]);
    const { rows } = await readAll([a, b]);
    expect(rows.map((r) => `${r.ts}:${r.domain}`)).toEqual(['0:10', '1:1', '3:2', '3:3', '3:11', '8:4', '9:12']);
    const swapped = await readAll([b, a]);
    expect(swapped.rows.map((r) => `${r.ts}:${r.domain}`)).toEqual(['0:10', '1:1', '3:11', '3:2', '3:3', '8:4', '9:12']);
  });

  it('rejects files that disagree on a domain type', async () => {
    const a = path.join(dir, 'ta.arrows');
    const b = path.join(dir, 'tb.arrows');
    await writeTrace(a, { domains: new Map([[3, 'sva']]) }, [batchOf([{ op: 'flush' }])]);
    await writeTrace(b, { domains: new Map([[3, 'identity']]) }, [batchOf([{ op: 'flush' }])]);
    await expect(openTrace([a, b])).rejects.toThrow(`Cannot read trace "${b}": domain 3 is identity here but sva in an earlier file`);
  });
});

describe('bad input gives one line naming file, column and row, exit 2', () => {
  const cases: [string, (f: string) => void | Promise<void>, string][] = [
    [
      'missing column',
      (f) => {
        const c = goodColumns();
        delete c.iova;
        writeTable(f, c);
      },
      'column "iova" is missing',
    ],
    [
      'wrong type',
      (f) => writeTable(f, { ...goodColumns(), iova: A.makeVector(new Float64Array(3)) }),
      'column "iova" is float64, expected uint64 (or another integer type)',
    ],
    [
      'wrong type of op',
      (f) => writeTable(f, { ...goodColumns(), op: A.makeVector(new Int32Array(3)) }),
      'column "op" is int32, expected utf8, large_utf8, utf8_view or a dictionary of one of them',
    ],
    ['null', (f) => writeTable(f, { ...goodColumns(), size: A.vectorFromArray([1n, null, 3n], new A.Uint64()) }), 'column "size" has a null at row 1'],
    [
      'unknown op',
      (f) => writeTable(f, { ...goodColumns(), op: A.vectorFromArray(['map', 'dma_rd', 'map'], new A.Dictionary(new A.Utf8(), new A.Int8())) }),
      'column "op" has an unknown operation "dma_rd" at row 1',
    ],
    [
      'ts going backwards',
      (f) => writeTable(f, { ...goodColumns(), ts: A.makeVector(BigUint64Array.from([5n, 9n, 7n])) }),
      'column "ts" goes backwards at row 2 (7 after 9)',
    ],
    ['not Arrow', (f) => fs.writeFileSync(f, 'ts,op,device\n1,map,0\n'), 'not an Arrow IPC file or stream'],
    ['empty file', (f) => fs.writeFileSync(f, ''), 'the file is empty'],
    [
      'bad metadata',
      (f) => writeTable(f, goodColumns(), { 'iommu.domains': '{"4": "weird"}' }),
      'metadata "iommu.domains" gives domain 4 type "weird", expected one of paging, identity, blocked, sva',
    ],
  ];
  for (const [name, make, message] of cases) {
    it(name, async () => {
      const f = path.join(dir, `bad-${name.replace(/\W+/g, '-')}.arrows`);
      await make(f);
      const r = runCli(['inspect', f]);
      expect(r.stderr).toBe(`iommu-replay: Cannot read trace "${f}": ${message}\n`);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
    });
  }

  it('a truncated stream', async () => {
    const good = path.join(dir, 'whole.arrows');
    await writeTrace(good, {}, [batchOf(EVENTS)]);
    const bytes = fs.readFileSync(good);
    const f = path.join(dir, 'cut.arrows');
    fs.writeFileSync(f, bytes.subarray(0, bytes.length - 200));
    const r = runCli(['replay', f]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^iommu-replay: Cannot read trace "${f}": [^\\n]*byte \\d+[^\\n]*\\n$`));
  });

  it('a corrupt message after good batches is found before any row is read', async () => {
    const good = path.join(dir, 'two.arrows');
    const first = batchOf(Array.from({ length: 10 }, (_, i) => ({ ts: i, op: 'flush' as const })));
    await writeTrace(good, {}, [first, batchOf([{ ts: 20, op: 'flush' }])]);
    const bytes = fs.readFileSync(good);
    // The last message before the end-of-stream marker is the second batch: break its length.
    const fd = fs.openSync(good, 'r');
    const cursor = new MessageCursor(fd, bytes.length);
    let last = 0;
    for (const m of cursor.stream(cursor.at(0)!.length)) last = m.start;
    fs.closeSync(fd);
    bytes.writeInt32LE(0x7ffffff0, last + 4);
    const f = path.join(dir, 'broken.arrows');
    fs.writeFileSync(f, bytes);
    const r = runCli(['inspect', f]);
    expect(r.stderr).toBe(
      `iommu-replay: Cannot read trace "${f}": the message at byte ${last} says its metadata is 2147483632 bytes, but ${bytes.length - last - 8} remain\n`,
    );
    expect(r.status).toBe(2);
  });

  // Byte patches of two 4-row, 2-batch fixtures that the reader once took for
  // shorter valid traces, or looped on forever (trace/ipc.ts checks them all).
  const patches: [string, number, number[], string][] = [
    ['small.arrow', 304, [0xff], "the footer's record batch at byte 272 is 735 bytes long, the footer says 576"],
    ['small.arrow', 12, [0x00], "the footer's dictionary batch at byte 8 is an end-of-stream marker"],
    ['small.arrows', 588, [0xff], '1077 byte(s) after the end-of-stream marker at byte 927'],
    ['small.arrows', 870, [0x00], 'unexpected none message at byte 856'],
    ['small.arrows', 880, [0x20, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 'a message at byte 856 says its body is -480 bytes'],
    ['small.arrows', 616, [0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 'a message at byte 592 says its body is -184 bytes'],
  ];
  for (const [name, offset, bytes, why] of patches) {
    it(`a corrupt ${name} (bytes at ${offset}) is an error, not fewer rows or a hang`, () => {
      const data = fs.readFileSync(path.join('test/trace/fixtures', name));
      data.set(bytes, offset);
      const f = path.join(dir, `patched-${offset}-${name}`);
      fs.writeFileSync(f, data);
      const r = runCli(['inspect', f]);
      expect(r.stderr).toBe(`iommu-replay: Cannot read trace "${f}": ${why}\n`);
      expect(r.status).toBe(2);
    });
  }

  it('a truncated file (no footer)', async () => {
    const good = path.join(dir, 'whole.arrow');
    await writeTrace(good, {}, [batchOf(EVENTS)]);
    const f = path.join(dir, 'cut.arrow');
    fs.writeFileSync(f, fs.readFileSync(good).subarray(0, 300));
    const r = runCli(['inspect', f]);
    expect(r.stderr).toBe(`iommu-replay: Cannot read trace "${f}": the file does not end with "ARROW1" (truncated: no Arrow file footer)\n`);
    expect(r.status).toBe(2);
  });

  it('an unreadable path', () => {
    const f = path.join(dir, 'nope.arrows');
    expect(runCli(['inspect', f]).stderr).toBe(`iommu-replay: Cannot read trace "${f}": no such file\n`);
    expect(runCli(['inspect', dir]).stderr).toBe(`iommu-replay: Cannot read trace "${dir}": is a directory, not a file\n`);
  });

  it('counts rows across batches in messages', async () => {
    const f = path.join(dir, 'late.arrows');
    const first = batchOf(Array.from({ length: 10 }, (_, i) => ({ ts: i, op: 'flush' as const })));
    const second = batchOf([
      { ts: 20, op: 'flush' },
      { ts: 19, op: 'flush' },
    ]);
    await writeTrace(f, {}, [first, second]);
    const r = runCli(['inspect', f]);
    expect(r.stderr).toBe(`iommu-replay: Cannot read trace "${f}": column "ts" goes backwards at row 11 (19 after 20)\n`);
  });

  it('writes no output file when the trace is bad', async () => {
    const f = path.join(dir, 'bad-out.arrows');
    fs.writeFileSync(f, 'nope');
    const out = path.join(dir, 'out.json');
    expect(runCli(['replay', f, '--json', out]).status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('bounded memory', () => {
  it('streams a large trace batch by batch without holding it', async () => {
    const f = path.join(dir, 'large.arrows');
    const rowsPerBatch = 65536;
    const nBatches = 60; // ~3.9M rows, ~180 MB on disk
    const b = batchOf([{ op: 'dma_read' }]);
    const big = {
      ...b,
      length: rowsPerBatch,
      ts: new Uint32Array(2 * rowsPerBatch),
      op: new Uint8Array(rowsPerBatch),
      device: new Uint32Array(rowsPerBatch),
      pasid: new Uint32Array(rowsPerBatch),
      domain: new Uint32Array(rowsPerBatch),
      iova: new Uint32Array(2 * rowsPerBatch),
      paddr: new Uint32Array(2 * rowsPerBatch),
      size: new Uint32Array(2 * rowsPerBatch),
    };
    const gen = function* () {
      for (let k = 0; k < nBatches; k++) {
        for (let i = 0; i < rowsPerBatch; i++) big.ts[2 * i] = k * rowsPerBatch + i;
        yield big;
      }
    };
    await writeTrace(f, {}, gen());
    const t = await openTrace([f]);
    let rows = 0;
    let peakGrowth = 0;
    const base = process.memoryUsage().rss;
    let last = -1;
    for await (const batch of t.batches() as AsyncGenerator<EventBatch>) {
      rows += batch.length;
      expect(u64(batch.ts, 0)).toBeGreaterThan(last);
      last = u64(batch.ts, batch.length - 1);
      peakGrowth = Math.max(peakGrowth, process.memoryUsage().rss - base);
    }
    await t.close();
    fs.rmSync(f);
    expect(rows).toBe(rowsPerBatch * nBatches);
    // The file is ~180 MB; holding it would grow RSS by that much.
    expect(peakGrowth).toBeLessThan(80 * 1024 * 1024);
  });
});
