// The queue worker's thread warm-up (run/queue-processor.ts warm): a replay
// of a small generated trace as the worker starts. Its effect is speed,
// measured by the bench (nic:queue); here, that it leaves nothing behind and
// that a worker starts without it where it cannot write its trace.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { warm, warmUp } from '../../src/run/queue-processor.js';

const tmpdir = process.env.TMPDIR;

afterEach(() => {
  if (tmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = tmpdir;
});

describe('a queue worker thread warms up as it starts', () => {
  it('replays its warm-up trace in a folder of its own and removes it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-replay-warm-test-'));
    process.env.TMPDIR = dir;
    expect(await warmUp()).toBe(60_000);
    expect(await warm()).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([]);
    fs.rmSync(dir, { recursive: true });
  }, 120_000);

  it('where the temporary folder cannot be written, the thread starts without the warm-up', async () => {
    process.env.TMPDIR = path.join(os.tmpdir(), 'iommu-replay-no-such-folder', 'below');
    expect(await warmUp()).toBe(0);
    expect(await warm()).toBe(true);
  }, 120_000);
});
