import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allocBatch, setU64 } from '../../src/trace/batch.js';
import { Op } from '../../src/trace/schema.js';
import { writeTrace } from '../../src/trace/writer.js';
import { anyByteAtLeast } from '../../src/trace/columns.js';

/** The plain reference: one byte at a time. */
function naive(bytes: Uint8Array, limit: number): boolean {
  for (const b of bytes) if (b >= limit) return true;
  return false;
}

describe('anyByteAtLeast reads whole words and masks the bytes outside its view', () => {
  it('agrees with a byte-at-a-time scan at every offset, length and limit (seeded)', () => {
    let seed = 12345;
    const rand = (k: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % k;
    };
    // Buffer lengths not a multiple of 4 too, so a view can end inside the buffer's last word.
    for (const bufLen of [1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 64]) {
      for (let trial = 0; trial < 200; trial++) {
        const buf = new Uint8Array(bufLen);
        // Mostly small values, with bytes at or above the limit placed both inside and outside the view.
        const limit = 1 + rand(128);
        for (let i = 0; i < bufLen; i++) buf[i] = rand(4) === 0 ? rand(256) : rand(limit);
        const from = rand(bufLen + 1);
        const to = from + rand(bufLen - from + 1);
        const view = buf.subarray(from, to);
        expect(anyByteAtLeast(view, limit), `buffer ${bufLen} [${from}, ${to}) limit ${limit}`).toBe(naive(view, limit));
      }
    }
  });

  it('finds one byte at the limit at each position, and none just below it', () => {
    const buf = new Uint8Array(40);
    for (const limit of [1, 2, 64, 127, 128]) {
      for (let from = 0; from < 5; from++) {
        for (let to = from; to <= 40; to += 7) {
          const view = buf.subarray(from, to);
          for (let i = 0; i < view.length; i++) {
            buf.fill(limit - 1);
            view[i] = limit;
            expect(anyByteAtLeast(view, limit)).toBe(true);
            view[i] = limit - 1;
            expect(anyByteAtLeast(view, limit)).toBe(false);
          }
        }
      }
    }
  });
});

/** Writes a trace of three batches of 1000 single-page reads into a fresh directory; returns its path. */
async function threeBatches(dir: string): Promise<string> {
  const file = path.join(dir, 'three.arrows');
  const batches = [0, 1, 2].map((b) => {
    const x = allocBatch(1000);
    for (let i = 0; i < 1000; i++) {
      setU64(x.ts, i, b * 1000 + i);
      x.op[i] = Op.DmaRead;
      setU64(x.iova, i, 4096 * i);
      setU64(x.size, i, 64);
    }
    x.length = 1000;
    return x;
  });
  await writeTrace(file, {}, batches);
  return file;
}

/** Runs `body` (an ES module's text, after `t` is the opened trace) in a fresh node with `flags`. */
function withTrace(file: string, flags: string[], body: string) {
  const url = JSON.stringify(pathToFileURL(path.resolve('dist/src/trace/reader.js')).href);
  const script = `
    const { openTraceFile } = await import(${url});
    const t = await openTraceFile(${JSON.stringify(file)});
    ${body}
    await t.close();`;
  return spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8' });
}

describe("the reader's batches", () => {
  it('share one map from the first batch on (firstRow a double from the start: no "wrong map" deoptimization in consume at the second batch)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-map-'));
    try {
      const r = withTrace(
        await threeBatches(dir),
        ['--allow-natives-syntax'],
        `let first = null;
        const out = [];
        for await (const b of t.batches()) {
          if (first === null) first = b;
          else out.push(b.firstRow + ' ' + %HaveSameMap(first, b));
        }
        console.log(out.join('\\n'));`,
      );
      expect(r.stderr).toBe('');
      expect(r.stdout.trim().split('\n')).toEqual(['1000 true', '2000 true']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('keep their columns\' field types (no "code dependencies" deoptimization of consume at the second batch)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-map-'));
    try {
      // An object literal's fields lost their typed-array class at the literal's second run (its boilerplate).
      const r = withTrace(await threeBatches(dir), ['--trace-generalization'], 'for await (const b of t.batches()) void b;');
      expect(r.status).toBe(0);
      const lost = r.stdout.split('\n').filter((l) => /\b(ts|op|device|iova):h\{Class\([^)]*\);const\}->h\{Any/.test(l));
      expect(lost).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
