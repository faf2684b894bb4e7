// The reader thread (trace/read-ahead.ts) must be invisible: the same rows in
// the same batches, the same one-line input errors, the same summaries.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { InputError } from '../../src/errors.js';
import { replayPoints } from '../../src/model/run.js';
import { stableStringify } from '../../src/report/summary.js';
import type { EventBatch } from '../../src/trace/batch.js';
import { openTrace } from '../../src/trace/merge.js';
import { pack, packedBytes } from '../../src/trace/packed.js';
import { openTraceReadAhead } from '../../src/trace/read-ahead.js';
import { writeTrace } from '../../src/trace/writer.js';
import { tmpDir } from '../helpers/cli.js';
import { batchOf, type Ev } from '../helpers/events.js';

const dir = tmpDir();

/** Every row of every batch, with its batch's firstRow, as text. */
async function dump(batches: AsyncGenerator<EventBatch>): Promise<string[]> {
  const out: string[] = [];
  for await (const b of batches) {
    for (let i = 0; i < b.length; i++) {
      out.push(`${b.firstRow}+${i} ${b.ts[2 * i + 1]}:${b.ts[2 * i]} ${b.op[i]} ${b.device[i]} ${b.pasid[i]} ${b.domain[i]} ${b.iova[2 * i + 1]}:${b.iova[2 * i]} ${b.paddr[2 * i + 1]}:${b.paddr[2 * i]} ${b.size[2 * i + 1]}:${b.size[2 * i]}`);
    }
  }
  return out;
}

/** `count` batches of `rows` rows each, ts from `t0` in steps of 2, every column varied. */
function batches(count: number, rows: number, t0: number): EventBatch[] {
  return Array.from({ length: count }, (_, k) =>
    batchOf(Array.from({ length: rows + k }, (_, i): Ev => {
      const n = k * 1000 + i;
      return { ts: t0 + 2 * n, op: (['dma_read', 'map', 'unmap', 'attach'] as const)[n % 4], device: n, pasid: n % 3, domain: n % 5, iova: BigInt(n) << 33n, paddr: 0xffff_ffff_0000_0000n + BigInt(n), size: n };
    })),
  );
}

describe('read-ahead thread', () => {
  it('packs a batch into one buffer and back without changing a row', async () => {
    const [b] = batches(1, 5, 0);
    const packed = pack(b, new ArrayBuffer(packedBytes(b.length)));
    async function* one(x: EventBatch) {
      yield x;
    }
    expect(await dump(one(packed))).toEqual(await dump(one(b)));
  });

  it('gives the batches of openTrace, row for row, through more batches than it runs ahead', async () => {
    const a = path.join(dir, 'ra-a.arrows');
    const b = path.join(dir, 'ra-b.arrow');
    await writeTrace(a, {}, batches(9, 300, 0));
    await writeTrace(b, {}, batches(4, 500, 1));
    for (const files of [[a], [a, b]]) {
      const plain = await openTrace(files);
      const want = await dump(plain.batches());
      await plain.close();
      const ahead = await openTraceReadAhead(files);
      expect(ahead.labels).toEqual(files);
      const got = await dump(ahead.batches());
      await ahead.close();
      expect(got.length).toBe(want.length);
      expect(got).toEqual(want);
    }
  });

  it('an input error in the reader thread arrives as the same one-line InputError', async () => {
    const f = path.join(dir, 'ra-late.arrows');
    const first = batchOf(Array.from({ length: 10 }, (_, i) => ({ ts: i, op: 'flush' as const })));
    await writeTrace(f, {}, [first, batchOf([{ ts: 20, op: 'flush' }, { ts: 19, op: 'flush' }])]);
    const t = await openTraceReadAhead([f]);
    const err = await dump(t.batches()).catch((e: unknown) => e);
    await t.close();
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(`Cannot read trace "${f}": column "ts" goes backwards at row 11 (19 after 20)`);
    const missing = path.join(dir, 'ra-nope.arrows');
    await expect(openTraceReadAhead([missing])).rejects.toThrow(new InputError(`Cannot read trace "${missing}": no such file`));
  });

  it('replays to byte-identical summaries with and without it', async () => {
    const files = ['traces/mixed.arrows', 'traces/sva.arrows'];
    const configs = [resolveConfig({}), resolveConfig({ invalidation: { mode: 'lazy' }, iotlb: { entries: 256, ways: 8 } })];
    const inThread = await replayPoints(files, configs, { readAhead: false });
    const ahead = await replayPoints(files, configs, { readAhead: true });
    expect(ahead.map((s) => stableStringify(s))).toEqual(inThread.map((s) => stableStringify(s)));
  });
});
