import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { runOnPool, type PoolRun } from '../../src/run/pool.js';
import { tmpDir } from '../helpers/cli.js';

it('a pool whose first task fails at once lets a thread still loading its module finish loading before it goes (Node 20 aborted the process: FATAL ERROR in v8::Module::IsGraphAsync)', async () => {
  const marker = path.join(tmpDir(), 'loaded');
  process.env.SLOW_LOAD_MARKER = marker;
  const each = async (item: number, run: PoolRun) => {
    if (item === 0) throw new Error('a bad trace');
    return run(item);
  };
  await expect(runOnPool(path.resolve('test/run/fixtures/slow-load-thread.mjs'), 2, [0, 1], each)).rejects.toThrow('a bad trace');
  expect(fs.readFileSync(marker, 'utf8')).toBe('loaded\n');
}, 30_000);
