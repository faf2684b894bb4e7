// gen window mirrors pcie-bench's microbenchmark (issue 29): one buffer mapped once, transfers in its first bytes.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { u64 } from '../../src/trace/batch.js';
import { openTrace } from '../../src/trace/merge.js';
import { Op } from '../../src/trace/schema.js';
import { DEFAULT_OPTIONS, generate } from '../../src/workloads/index.js';
import { parseWindowDescription, window } from '../../src/workloads/window.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();

async function rowsOf(file: string): Promise<{ op: number; iova: number; size: number }[]> {
  const t = await openTrace([file]);
  const out: { op: number; iova: number; size: number }[] = [];
  for await (const b of t.batches()) for (let i = 0; i < b.length; i++) out.push({ op: b.op[i], iova: u64(b.iova, i), size: u64(b.size, i) });
  await t.close();
  return out;
}

describe('gen window', () => {
  it('maps a 64 MiB buffer once by default and keeps the transfers in its first --window bytes', async () => {
    const file = path.join(dir, 'w.arrows');
    await generate(window, file, { ...DEFAULT_OPTIONS, events: 2000, fragmentation: 0, windowBytes: 256 << 10 });
    const rows = await rowsOf(file);
    const maps = rows.filter((r) => r.op === Op.Map);
    expect(maps).toHaveLength(1);
    expect(maps[0].size).toBe(64 << 20);
    const dmas = rows.filter((r) => r.op === Op.DmaRead);
    expect(dmas.length).toBeGreaterThan(1000);
    for (const d of dmas) {
      expect(d.size).toBe(64);
      expect(d.iova - maps[0].iova).toBeLessThan(256 << 10);
      expect((d.iova - maps[0].iova) % 64).toBe(0);
    }
  });

  it('--pattern sequential --write --transfer 128 walks the window in order, wrapping', async () => {
    const file = path.join(dir, 'seq.arrows');
    const r = runCli([
      'gen',
      'window',
      '--window',
      '1K',
      '--buffer',
      '4K',
      '--transfer',
      '128',
      '--pattern',
      'sequential',
      '--write',
      '--events',
      '40',
      '-o',
      file,
    ]);
    expect(r.status).toBe(0);
    const rows = await rowsOf(file);
    const base = rows.find((x) => x.op === Op.Map)!.iova;
    const offsets = rows.filter((x) => x.op === Op.DmaWrite).map((x) => x.iova - base);
    expect(offsets.slice(0, 10)).toEqual([0, 128, 256, 384, 512, 640, 768, 896, 0, 128]);
  });

  it('refuses a window larger than the buffer, and an unknown pattern, in one line', () => {
    const a = runCli(['gen', 'window', '--window', '4M', '--buffer', '1M', '-o', path.join(dir, 'x.arrows')]);
    expect(a.status).toBe(2);
    expect(a.stderr).toBe('iommu-replay: Invalid window options: the window (4194304 bytes) is larger than the buffer (1048576 bytes)\n');
    const b = runCli(['gen', 'window', '--pattern', 'zigzag', '-o', path.join(dir, 'x.arrows')]);
    expect(b.status).toBe(2);
    expect(b.stderr).toBe('iommu-replay: Invalid option --pattern: expected one of random, sequential, got zigzag\n');
    expect(fs.existsSync(path.join(dir, 'x.arrows'))).toBe(false);
  });

  it("fit's descriptions: window:1.5M:64:seq:wr:buffer=8M, window:4M:64:warm", () => {
    expect(parseWindowDescription('window:1.5M:64:seq:wr:buffer=8M')).toEqual({
      shape: { windowBytes: 1.5 * 2 ** 20, bufferBytes: 8 << 20, transferBytes: 64, pattern: 'sequential', write: true },
      warm: false,
    });
    expect(parseWindowDescription('window:4M:64:warm').warm).toBe(true);
    expect(() => parseWindowDescription('window:4M')).toThrow(/expected window:WINDOW:TRANSFER/);
    expect(() => parseWindowDescription('window:4M:64:zig')).toThrow(/unknown option "zig"/);
  });
});
