// yargs without its help layout until help is shown (issue 28, start-up).
// yargs' own ESM entry (yargs/index.mjs) builds yargs on its platform shim,
// lib/platform-shims/esm.mjs, which imports cliui and string-width up front:
// string-width builds an Intl.Segmenter and its Unicode property patterns as
// it loads. Only the help text uses them (yargs' usage.js lays out columns
// with cliui, measuring with stringWidth), and a run that prints no help
// never calls them; loading them took a sixth of `inspect`'s whole process.
// This builds yargs with the same factory on a copy of that shim whose
// cliui and stringWidth load their module on first call (require() of an ES
// module, synchronous in Node 20.19, package.json "engines"). Every other
// member is yargs' own, so parsing, messages and help are yargs' unchanged;
// test/cli/start.test.ts checks the copy against the installed shim.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import type { Argv } from 'yargs';

/** yargs' default export: a parser over the given words. */
export type YargsFactory = (argv: string[]) => Argv;

/** yargs' shim files, found from its entry: its package "exports" name neither, so they are addressed by URL. */
function yargsFile(relative: string): string {
  return new URL(relative, import.meta.resolve('yargs')).href;
}

/** yargs' own shim, as lib/platform-shims/esm.mjs builds it, with cliui and string-width loaded when first called. */
export function lazyShim(): Record<string, unknown> {
  // Resolved from yargs' own file, as its shim's imports are: yargs' versions of its dependencies.
  const shimFile = fileURLToPath(yargsFile('./lib/platform-shims/esm.mjs'));
  const require = createRequire(shimFile);
  // An ES module's default export; CommonJS' module.exports (y18n, escalade, get-caller-file), or an
  // ES module's 'module.exports' export (cliui, yargs-parser), is the function itself.
  const load = <T>(name: string): T => {
    const mod = require(name) as T | { default: T };
    return (typeof mod === 'function' ? mod : (mod as { default: T }).default) as T;
  };
  let cliui: ((opts: unknown) => unknown) | undefined;
  let stringWidth: ((s: string) => number) | undefined;
  const y18n = load<(opts: { directory: string; updateFiles: boolean }) => unknown>('y18n');
  const mainFilename = shimFile.substring(0, shimFile.lastIndexOf('node_modules'));
  type Check = (actual: unknown, expected: unknown, message?: string) => void;
  const nodeAssert = () => require('node:assert') as { notStrictEqual: Check; strictEqual: Check };
  return {
    // yargs checks its own invariants on every run; node:assert (milliseconds to load) only to throw
    // its error when one fails. Object.is, as assert.strictEqual compares.
    assert: {
      notStrictEqual: (actual: unknown, expected: unknown, message?: string) => {
        if (Object.is(actual, expected)) nodeAssert().notStrictEqual(actual, expected, message);
      },
      strictEqual: (actual: unknown, expected: unknown, message?: string) => {
        if (!Object.is(actual, expected)) nodeAssert().strictEqual(actual, expected, message);
      },
    },
    cliui: (opts: unknown) => (cliui ??= load<(opts: unknown) => unknown>('cliui'))(opts),
    // escalade and get-caller-file serve package.json look-ups and commandDir(), which parse.ts does not use.
    findUp: (dir: string, fn: unknown) => load<(d: string, f: unknown) => unknown>('escalade/sync')(dir, fn),
    getEnv: (key: string) => process.env[key],
    inspect,
    // yargs' utils/process-argv.js getProcessArgvBin.
    getProcessArgvBin: () => process.argv[process.versions.electron && !(process as { defaultApp?: boolean }).defaultApp ? 0 : 1],
    mainFilename: mainFilename || process.cwd(),
    Parser: load('yargs-parser'),
    path: { basename: path.basename, dirname: path.dirname, extname: path.extname, relative: path.relative, resolve: path.resolve, join: path.join },
    process: {
      argv: () => process.argv,
      cwd: process.cwd,
      emitWarning: (warning: string, type: string) => process.emitWarning(warning, type),
      execPath: () => process.execPath,
      exit: (code: number) => {
        process.exit(code);
      },
      nextTick: process.nextTick,
      stdColumns: typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null,
    },
    readFileSync,
    readdirSync,
    require,
    getCallerFile: () => {
      const callerFile = load<(position: number) => string>('get-caller-file')(3);
      return callerFile.match(/^file:\/\//) ? fileURLToPath(callerFile) : callerFile;
    },
    stringWidth: (s: string) => (stringWidth ??= load<(s: string) => number>('string-width'))(s),
    y18n: y18n({ directory: path.resolve(shimFile, '../../../locales'), updateFiles: false }),
  };
}

/**
 * yargs as its ESM entry makes it, on lazyShim(). yargs' own entry where
 * require() cannot load an ES module (node --no-experimental-require-module)
 * or yargs' files are not where yargs 18 keeps them.
 */
export async function loadYargs(): Promise<YargsFactory> {
  if ((process.features as { require_module?: boolean }).require_module === true) {
    try {
      const { YargsFactory } = (await import(yargsFile('./build/lib/yargs-factory.js'))) as { YargsFactory: (shim: unknown) => YargsFactory };
      return YargsFactory(lazyShim());
    } catch {
      // yargs' own entry below.
    }
  }
  return (await import('yargs')).default;
}
