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

it('a task that fails once a thread has run it: the other thread, still loading, finishes loading before the pool aborts its task (piscina terminated it mid-load; Node 20 aborted the process in 1 sweep run of 35-90 on a loaded machine)', async () => {
  const marker = path.join(tmpDir(), 'loaded');
  process.env.SLOW_LOAD_MARKER = marker;
  const each = async (item: number, run: PoolRun) => {
    await run(item);
    throw new Error('a bad trace'); // as a sweep task whose thread answered with an input error
  };
  await expect(runOnPool(path.resolve('test/run/fixtures/slow-second-load-thread.mjs'), 2, [0, 1], each)).rejects.toThrow('a bad trace');
  expect(fs.readFileSync(marker, 'utf8')).toBe('loaded\nloaded\n');
}, 30_000);
