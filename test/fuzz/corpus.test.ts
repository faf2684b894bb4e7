// A corpus of mutants the fuzz found interesting (one per kind of rejection,
// kept by fuzz/mutate.ts's campaign): each must keep giving exactly its line.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUZZ_MAX_TABLE_BYTES, runOne } from '../../fuzz/mutate.js';

const DIR = 'test/fuzz/corpus';
const expected = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8')) as Record<string, string>;

describe('fuzz corpus: each mutant keeps its one clean line', () => {
  it(`replays with a ${FUZZ_MAX_TABLE_BYTES / 2 ** 20} MiB table limit`, () => expect(Object.keys(expected).length).toBeGreaterThan(10));
  for (const [name, message] of Object.entries(expected)) {
    it(name, async () => {
      const f = path.join(DIR, name);
      const outcome = await runOne(f, true);
      expect(outcome).toEqual({ kind: 'rejected', message: message.startsWith('Stopped') ? message : `Cannot read trace "${f}": ${message}` });
    });
  }
});
