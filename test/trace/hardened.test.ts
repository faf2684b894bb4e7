// Issue 19: a reader no file can hang, blow up or confuse. The reproducers of
// the fuzz campaign (fixtures/repro, copied from the issue) each get one
// clean line, in time and memory; hand-made files check the rules one by one.
import * as A from 'apache-arrow';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { replayTrace } from '../../src/run/run.js';
import { openTrace } from '../../src/trace/merge.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();
const REPRO = 'test/trace/fixtures/repro';

async function readAll(file: string): Promise<string> {
  try {
    const t = await openTrace([file]);
    try {
      let rows = 0;
      for await (const b of t.batches()) rows += b.length;
      return `accepted ${rows} rows`;
    } finally {
      await t.close();
    }
  } catch (err) {
    return (err as Error).message;
  }
}

const REPRODUCERS: [string, string][] = [
  ['deep-metadata.arrows', 'metadata "iommu.domains": nests deeper than 32 levels, expected a small JSON document'],
  ['hang-1.arrow', 'a vector in the Schema at byte 15960 says it holds 2113929219 elements, more than its 904-byte metadata can'],
  ['huge-alloc-1.arrow', 'a vector in the Field at byte 16456 says it holds 3538944 elements, more than its 904-byte metadata can'],
  ['huge-alloc-2.arrows', 'a vector in the record batch at byte 5308 says it holds 7143432 elements, more than its 472-byte metadata can'],
  ['internal-message-1.arrow', 'record batch 1 at byte 4144 has 0 field nodes, the schema has 8 fields'],
  ['null-iova-accepted.arrow', 'column "iova" has a null count of 19 but no validity bitmap'],
  ['null-op-accepted.arrow', 'record batch 1 at byte 4144, column "op": a null count of 8126464 for 75 values'],
  ['oom-abort-1.arrow', 'a vector in the record batch at byte 356 says it holds 1023410192 elements, more than its 472-byte metadata can'],
  ['op-with-newline.arrows', 'column "op" has an unknown operation "dma_read\\x0afake second line \\x1b[31mRED\\x1b[0m" at row 2'],
  ['replays-garbage-1.arrow', "the footer's record batch at byte 4144 is an end-of-stream marker"],
  ['stack-trace-1.arrows', 'the Field at byte 776 has its vtable outside its 816-byte metadata'],
  ['stack-trace-2.arrows', 'the Field at byte 776 has its vtable outside its 816-byte metadata'],
];

describe('the reproducers of issue 19: one clean line each, in time and memory', () => {
  for (const [name, message] of REPRODUCERS) {
    it(name, async () => {
      const f = path.join(REPRO, name);
      const rss0 = process.memoryUsage().rss;
      const t0 = performance.now();
      expect(await readAll(f)).toBe(`Cannot read trace "${f}": ${message}`);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(process.memoryUsage().rss - rss0).toBeLessThan(200 * 2 ** 20);
    });
  }

  it('no file handle leaks on the error paths', async () => {
    const open = () => fs.readdirSync('/proc/self/fd').length;
    const before = open();
    for (let k = 0; k < 5; k++) for (const [name] of REPRODUCERS) await readAll(path.join(REPRO, name));
    expect(open()).toBeLessThanOrEqual(before);
  });

  it('the valid trace with a 2 TiB map stops at the page-table memory limit, which a flag raises', async () => {
    const f = path.join(REPRO, 'valid-2TiB-map.arrow');
    expect(await readAll(f)).toBe('accepted 300 rows');
    const config = resolveConfig({ pageSizes: ['4K'] });
    // 2^20 table pages of 4K leaves, at 6 KiB each in the replay (its entries and their physical pages).
    const why =
      /^Stopped at row 1: the map of 2 TiB at iova 0xfffe0000 in domain 1 needs about 6 GiB for the page-table pool to grow \(\d+(\.\d)? KiB already in use\), over the/;
    await expect(replayTrace([f], config)).rejects.toThrow(new RegExp(`${why.source} 384 MiB limit; raise it with --max-table-memory$`));
    await expect(replayTrace([f], config, { maxTableBytes: 2 ** 31 })).rejects.toThrow(
      new RegExp(`${why.source} 2 GiB limit; raise it with --max-table-memory$`),
    );
  });

  it('the CLI: one line, exit 2, for a hang, a garbage replay and the 2 TiB map', () => {
    for (const [name, cmd, text] of [
      ['hang-1.arrow', 'inspect', REPRODUCERS[1][1]],
      ['replays-garbage-1.arrow', 'replay', REPRODUCERS[9][1]],
    ]) {
      const f = path.join(REPRO, name);
      const r = runCli([cmd, f]);
      expect(r.stderr).toBe(`iommu-replay: Cannot read trace "${f}": ${text}\n`);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
    }
    const out = path.join(dir, 'out.json');
    const r = runCli(['replay', path.join(REPRO, 'valid-2TiB-map.arrow'), '--max-table-memory', '512M', '--json', out]);
    expect(r.stderr).toMatch(/^iommu-replay: Stopped at row 1: the map of 2 TiB .* over the 512 MiB limit; raise it with --max-table-memory\n$/);
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
    expect(runCli(['replay', path.join(REPRO, 'valid-2TiB-map.arrow'), '--max-table-memory', 'lots']).stderr).toBe(
      'iommu-replay: Invalid option --max-table-memory: expected a size like 512M, 4G or 1T, got "lots"\n',
    );
  });
});

/** The offset of the `index`-th field node (length, null count) of the record batch with `rows` rows, found by its bytes. */
function nodeOffset(bytes: Buffer, rows: number, fields: number, index: number): number {
  for (let at = 0; at + 16 * fields <= bytes.length; at += 8) {
    let ok = true;
    for (let k = 0; k < fields && ok; k++) ok = bytes.readBigInt64LE(at + 16 * k) === BigInt(rows) && bytes.readBigInt64LE(at + 16 * k + 8) <= BigInt(rows);
    if (ok) return at + 16 * index;
  }
  throw new Error('no field nodes found');
}

function columns(n: number, size?: A.Vector): Record<string, A.Vector> {
  return {
    ts: A.makeVector(BigUint64Array.from({ length: n }, (_, i) => BigInt(i))),
    op: A.vectorFromArray(
      Array.from({ length: n }, () => 'flush'),
      new A.Dictionary(new A.Utf8(), new A.Int8()),
    ),
    device: A.makeVector(new Uint32Array(n)),
    pasid: A.makeVector(new Uint32Array(n)),
    domain: A.makeVector(new Uint32Array(n)),
    iova: A.makeVector(new BigUint64Array(n)),
    paddr: A.makeVector(new BigUint64Array(n)),
    size: size ?? A.makeVector(new BigUint64Array(n)),
  };
}

describe('validity, null counts and lengths are checked against each other', () => {
  it('a null in the bitmap is an error even when the null count says 0 (the bitmap is honoured)', async () => {
    const bytes = Buffer.from(A.tableToIPC(new A.Table(columns(3, A.vectorFromArray([1n, null, 3n], new A.Uint64()))), 'stream'));
    bytes.writeBigInt64LE(0n, nodeOffset(bytes, 3, 8, 7) + 8);
    const f = path.join(dir, 'null-count-0.arrows');
    fs.writeFileSync(f, bytes);
    expect(await readAll(f)).toBe(`Cannot read trace "${f}": column "size" has a null at row 1`);
  });

  it('a null count with a bitmap that marks no row null is an error', async () => {
    const bytes = Buffer.from(A.tableToIPC(new A.Table(columns(3, A.vectorFromArray([1n, null, 3n], new A.Uint64()))), 'stream'));
    const body = bytes.length - 8 - 8; // the size column's values end the body; its bitmap byte is before them
    expect(body).toBeGreaterThan(0);
    // Set every validity bit of "size": find its one bitmap byte (0b101) just before its 24 value bytes.
    const bitmapAt = bytes.lastIndexOf(Buffer.from([0b101]), bytes.length - 8 - 24);
    bytes[bitmapAt] = 0xff;
    const f = path.join(dir, 'null-count-1.arrows');
    fs.writeFileSync(f, bytes);
    expect(await readAll(f)).toBe(`Cannot read trace "${f}": column "size" has a null count of 1 but its validity bitmap marks no row null`);
  });

  it('a column whose length differs from its batch is an error, before any row', async () => {
    const bytes = Buffer.from(A.tableToIPC(new A.Table(columns(3)), 'stream'));
    bytes.writeBigInt64LE(2n, nodeOffset(bytes, 3, 8, 5));
    const f = path.join(dir, 'short-iova.arrows');
    fs.writeFileSync(f, bytes);
    expect(await readAll(f)).toMatch(new RegExp(`^Cannot read trace "${f}": record batch 0 at byte \\d+, column "iova": 2 values, the batch has 3 rows$`));
  });

  it('a batch whose rows its buffers cannot hold is rejected before anything is allocated', async () => {
    const bytes = Buffer.from(A.tableToIPC(new A.Table(columns(3)), 'stream'));
    const at = nodeOffset(bytes, 3, 8, 0);
    for (let k = 0; k < 8; k++) bytes.writeBigInt64LE(1n << 40n, at + 16 * k);
    const f = path.join(dir, 'huge-rows.arrows');
    fs.writeFileSync(f, bytes);
    expect(await readAll(f)).toMatch(
      new RegExp(`^Cannot read trace "${f}": record batch 0 at byte \\d+, column "ts": 1099511627776 values, the batch has 3 rows$`),
    );
  });
});

describe('what is not an Arrow trace says what it is', () => {
  it('kernel trace text points to import', async () => {
    const f = path.resolve('traces/kernel-nic.trace');
    expect(await readAll(f)).toBe(
      `Cannot read trace "${f}": is kernel trace text (ftrace, trace-cmd report or perf script), not an Arrow trace: convert it with "iommu-replay import FILE -o TRACE.arrows"`,
    );
  });

  it('a trace-cmd .dat and a Parquet file', async () => {
    const dat = path.join(dir, 'x.dat');
    fs.writeFileSync(dat, Buffer.concat([Buffer.from('\x17\x08\x44tracing6', 'latin1'), Buffer.alloc(64)]));
    expect(await readAll(dat)).toMatch(/is a trace-cmd \.dat recording, not an Arrow trace: run "trace-cmd report" on it/);
    const pq = path.join(dir, 'x.parquet');
    fs.writeFileSync(pq, Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64)]));
    expect(await readAll(pq)).toMatch(/is a Parquet file, not an Arrow IPC file or stream/);
  });
});
