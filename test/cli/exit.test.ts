// How a command's process ends (src/cli/main.ts, exitWhenWritten): at once
// when its command is done and what it wrote has left it, without waiting for
// V8's queued background compiles, and never before every output is whole.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, tmpDir } from '../helpers/cli.js';

const NIC = 'traces/nic.arrows';

/** A module for `node --import` that writes `beforeExit` to descriptor 3 when Node reaches that event (a process ended by process.exit does not). */
const BEFORE_EXIT_HOOK = `data:text/javascript,${encodeURIComponent("import fs from 'node:fs'; process.on('beforeExit', () => fs.writeSync(3, 'beforeExit'));")}`;

function runWithHook(hook: string, args: string[]): { status: number; stdout: string; stderr: string; fd3: string } {
  const r = spawnSync(process.execPath, ['--import', hook, CLI, ...args], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe', 'pipe'], input: '' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, fd3: String(r.output[3] ?? '') };
}

/** Runs the CLI with standard output a pipe that is not read for `waitMs` (it fills), then read to its end. */
function runSlowReader(args: string[], waitMs: number): Promise<{ status: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.pause();
    setTimeout(() => {
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stdout.resume();
    }, waitMs);
    child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr: err }));
  });
}

describe('a finished command ends its process at once (main.ts exitWhenWritten)', () => {
  it('a replay ends without reaching beforeExit (no wait for queued compiles); its table is whole', () => {
    const r = runWithHook(BEFORE_EXIT_HOOK, ['replay', NIC]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(runCli(['replay', NIC]).stdout);
    expect(r.stdout).toMatch(/\|\n$/);
    expect(r.fd3).toBe('');
  });

  it('bad input: one line on stderr, exit 2, also without beforeExit', () => {
    const r = runWithHook(BEFORE_EXIT_HOOK, ['replay', 'no-such-trace.arrows']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^iommu-replay: Cannot read trace "no-such-trace\.arrows": [^\n]+\n$/);
    expect(r.fd3).toBe('');
  });

  it('an internal error is still its stack on stderr and exit 70', () => {
    // The table's write fails as no input can make it fail.
    const hook = `data:text/javascript,${encodeURIComponent("process.stdout.write = () => { throw new Error('planted write failure'); };")}`;
    const r = runWithHook(hook, ['replay', NIC]);
    expect(r.status).toBe(70);
    expect(r.stderr).toMatch(/^iommu-replay: internal error: Error: planted write failure\n/);
    expect(r.stderr).toMatch(/\n$/);
  });

  it('a warning on stderr is written whole', () => {
    const r = runWithHook(BEFORE_EXIT_HOOK, ['replay', NIC, '--page-sizes', '2M']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(
      `iommu-replay: warning: ${NIC} with page sizes 2M: 6,567 of 6,567 DMA accesses faulted, 3,251 of 3,251 maps failed, 2,181 of 2,181 unmaps failed (replay --report FILE shows the counts)\n`,
    );
    expect(r.fd3).toBe('');
  });

  it('standard output a pipe its reader leaves full for a while: every byte arrives', async () => {
    const dir = tmpDir();
    try {
      const file = path.join(dir, 't.arrows');
      const args = ['gen', 'nic', '--events', '100000', '--seed', '3'];
      expect(runCli([...args, '-o', file]).status).toBe(0);
      const expected = fs.readFileSync(file);
      expect(expected.length).toBeGreaterThan(1 << 20); // far more than a pipe holds (64 KiB)
      const r = await runSlowReader([...args, '-o', '-'], 500);
      expect(r.stderr).toBe('wrote 100000 events to standard output\n');
      expect(r.status).toBe(0);
      expect(r.stdout.length).toBe(expected.length);
      expect(r.stdout.equals(expected)).toBe(true);
      // The same for a JSON summary on standard output.
      const json = await runSlowReader(['replay', NIC, '--json', '-'], 300);
      expect(json.status).toBe(0);
      expect(json.stdout.toString('utf8')).toBe(runCli(['replay', NIC, '--json', '-']).stdout);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('standard output a file or /dev/null; the JSON and report files whole', () => {
    const dir = tmpDir();
    try {
      const out = path.join(dir, 'stdout.txt');
      const fd = fs.openSync(out, 'w');
      const toFile = spawnSync(process.execPath, [CLI, 'replay', NIC, '--json', '-'], { stdio: ['ignore', fd, 'pipe'] });
      fs.closeSync(fd);
      expect(toFile.status).toBe(0);
      const json = runCli(['replay', NIC, '--json', '-']).stdout;
      expect(fs.readFileSync(out, 'utf8')).toBe(json);
      const devNull = fs.openSync('/dev/null', 'w');
      const toNull = spawnSync(process.execPath, [CLI, 'replay', NIC], { stdio: ['ignore', devNull, 'pipe'] });
      fs.closeSync(devNull);
      expect(toNull.status).toBe(0);
      expect(toNull.stderr.toString()).toBe('');
      const j = path.join(dir, 's.json');
      const md = path.join(dir, 's.md');
      const files = runCli(['replay', NIC, '--json', j, '--report', md]);
      expect(files.status, files.stderr).toBe(0);
      expect(fs.readFileSync(j, 'utf8')).toBe(json);
      expect(fs.readFileSync(md, 'utf8')).toBe(runCli(['replay', NIC, '--report', '-']).stdout);
      expect(fs.readdirSync(dir).sort()).toEqual(['s.json', 's.md', 'stdout.txt']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
