// The quick slice of the mutation fuzz (fuzz/mutate.ts; `npm run fuzz` runs
// the long campaign): a few hundred mutants of generated files and streams,
// each read and replayed in-process, split into small tests. Every mutant is
// accepted or rejected with one clean line of ours, within the time and
// memory bounds; a sample goes through the CLI too.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_MAX_TABLE_BYTES, MEMORY_BOUND_BYTES, TIME_BOUND_MS, campaign, isCleanLine, mutate, scratchDir, seedTraces } from '../../fuzz/mutate.js';
import { Rng } from '../../src/workloads/rng.js';
import { runCli } from '../helpers/cli.js';

const dir = scratchDir();
let seeds: string[] = [];

beforeAll(async () => {
  seeds = await seedTraces(dir);
});

const SLICES = 8;
const PER_SLICE = 50;

describe('mutation fuzz, quick slice', () => {
  for (let s = 0; s < SLICES; s++) {
    it(`slice ${s}: ${PER_SLICE} mutants of seed ${s % 8}, read and replayed`, async () => {
      const seed = seeds[s % seeds.length];
      const results = await campaign(seed, 100_000 + s * PER_SLICE, PER_SLICE, dir, { replay: true });
      for (const r of results) {
        const where = `${r.seed} mutant ${r.mutant} (${r.kind})`;
        expect(r.outcome.kind, `${where}: ${'message' in r.outcome ? r.outcome.message : ''}`).not.toBe('internal');
        expect(r.ms, where).toBeLessThan(TIME_BOUND_MS * 2.5); // loaded machines: the campaign itself holds 2000 ms
        expect(r.rssGrowth, where).toBeLessThan(MEMORY_BOUND_BYTES);
      }
      // Both outcomes occur: the slice is not all rejections of the first bytes.
      expect(results.some((r) => r.outcome.kind === 'rejected')).toBe(true);
    });
  }

  it('the CLI on a sample of mutants: exit 0, or exit 2 with one clean line', () => {
    const rng = new Rng(99);
    for (const [k, seed] of [seeds[0], seeds[3], seeds[5]].entries()) {
      const f = path.join(dir, `cli-${k}${path.extname(seed)}`);
      fs.writeFileSync(f, mutate(new Uint8Array(fs.readFileSync(seed)), k === 0 ? 'flip-head' : k === 1 ? 'duplicate' : 'flip-tail', rng));
      const r = runCli(['replay', f, '--max-table-memory', String(FUZZ_MAX_TABLE_BYTES)]);
      const lines = r.stderr.trim() === '' ? [] : r.stderr.trim().split('\n');
      // Exit 0 may warn (DMA faults or failed maps under the configuration: src/cli/warnings.ts), in clean lines.
      if (r.status === 0) for (const l of lines) expect(l.startsWith('iommu-replay: warning: ') && isCleanLine(l), l).toBe(true);
      else {
        expect(r.status).toBe(2);
        expect(lines.length).toBe(1);
        expect(isCleanLine(lines[0])).toBe(true);
      }
    }
  });
});
