// Runs the built CLI (dist/) as a user would.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

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

/**
 * Runs the built CLI and lists every module it loaded (file: and node: URLs):
 * those imported, in load order, through a module loader hook, then those
 * loaded by require() (which the hook does not see: yargs' dependencies,
 * src/cli/yargs-lazy.ts), as the process exits: which libraries a command
 * line loads, without timing anything.
 */
export function runCliModules(args: string[]): { status: number; stdout: string; stderr: string; modules: string[] } {
  if (!fs.existsSync(CLI)) throw new Error('dist/ is missing: run npm run build');
  const dir = tmpDir();
  const log = path.join(dir, 'modules.txt');
  fs.writeFileSync(
    path.join(dir, 'hooks.mjs'),
    "import fs from 'node:fs';\nexport async function load(url, context, next) {\n  fs.appendFileSync(process.env.MODULE_LOG, url + '\\n');\n  return next(url, context);\n}\n",
  );
  fs.writeFileSync(path.join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
  const required = path.join(dir, 'required.cjs');
  fs.writeFileSync(
    required,
    "const { pathToFileURL } = require('node:url');\nprocess.on('exit', () => {\n  const files = Object.keys(require.cache).filter((f) => f !== __filename);\n  require('node:fs').appendFileSync(process.env.MODULE_LOG, files.map((f) => pathToFileURL(f).href + '\\n').join(''));\n});\n",
  );
  fs.writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['-r', required, '--import', pathToFileURL(path.join(dir, 'register.mjs')).href, CLI, ...args], {
    encoding: 'utf8',
    cwd: process.cwd(),
    input: '',
    env: { ...process.env, MODULE_LOG: log },
  });
  const modules = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, modules };
}

/**
 * Runs the built CLI and gives its peak resident memory (maxRSS, KiB), which
 * the child reports as it exits: for tests that bound what a command costs.
 */
export function runCliMeasured(args: string[]): { status: number; stdout: string; stderr: string; maxRssKiB: number } {
  if (!fs.existsSync(CLI)) throw new Error('dist/ is missing: run npm run build');
  const hook = "import fs from 'node:fs'; process.on('exit', () => fs.writeSync(3, String(process.resourceUsage().maxRSS)));";
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, CLI, ...args], {
    encoding: 'utf8',
    cwd: process.cwd(),
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    maxBuffer: 1 << 26,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, maxRssKiB: Number(r.output[3]) };
}
