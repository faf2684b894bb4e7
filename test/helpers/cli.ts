// Runs the built CLI (dist/) as a user would.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CLI = path.resolve('dist/src/cli/main.js');

export function runCli(args: string[], opts: { cwd?: string; input?: Uint8Array | string } = {}): { status: number; stdout: string; stderr: string } {
  if (!fs.existsSync(CLI)) throw new Error('dist/ is missing: run npm run build');
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: opts.cwd ?? process.cwd(), input: opts.input ?? '' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Like runCli, with standard output as bytes (an Arrow stream). */
export function runCliBytes(args: string[], opts: { input?: Uint8Array } = {}): { status: number; stdout: Buffer; stderr: string } {
  if (!fs.existsSync(CLI)) throw new Error('dist/ is missing: run npm run build');
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: process.cwd(), input: opts.input ?? '', maxBuffer: 1 << 28 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-replay-'));
}
