// replay opens its trace once: the replay's own open checks every file
// before the first batch (and before any progress bar is drawn), so a second
// open just to check it first is work for nothing (a walk over the whole
// file's framing).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, tmpDir } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');

/** Runs the built CLI with fs.openSync counted for `file`: the count, and the run's status and stderr. */
function countOpens(args: string[], file: string): { opens: number; status: number; stderr: string } {
  const dir = tmpDir();
  const log = path.join(dir, 'opens.txt');
  const preload = path.join(dir, 'count-opens.cjs');
  fs.writeFileSync(
    preload,
    "const fs = require('node:fs');\nconst open = fs.openSync;\nlet n = 0;\nfs.openSync = (p, ...rest) => {\n  if (String(p) === process.env.COUNTED_FILE) n++;\n  return open(p, ...rest);\n};\nprocess.on('exit', () => fs.writeFileSync(process.env.OPEN_LOG, String(n)));\n",
  );
  const r = spawnSync(process.execPath, ['-r', preload, CLI, ...args], {
    encoding: 'utf8',
    input: '',
    env: { ...process.env, COUNTED_FILE: file, OPEN_LOG: log },
  });
  const opens = Number(fs.readFileSync(log, 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  return { opens, status: r.status ?? -1, stderr: r.stderr };
}

describe('replay', () => {
  it('opens the trace once', () => {
    const r = countOpens(['replay', NIC, '--json', '-'], NIC);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.opens).toBe(1);
  });

  it('still fails on a bad trace with its one line', () => {
    const d = tmpDir();
    const bad = path.join(d, 'bad.arrows');
    fs.writeFileSync(bad, 'not arrow at all');
    const r = countOpens(['replay', bad], bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`iommu-replay: Cannot read trace "${bad}": not an Arrow IPC file or stream\n`);
  });
});
