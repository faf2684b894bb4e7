// Start-up of a command (issue 28): what the command line costs before the
// command's own work.
import nodeAssert from 'node:assert';
import yargs, { type Argv } from 'yargs';
import { describe, expect, it } from 'vitest';
import { skipHelpCache } from '../../src/cli/parse.js';
import { lazyShim, loadYargs } from '../../src/cli/yargs-lazy.js';
import { runCliModules, tmpDir } from '../helpers/cli.js';

type Internal = { getInternalMethods(): { getUsageInstance(): { hasCachedHelpMessage(): boolean } } };

async function run(skip: boolean): Promise<boolean> {
  const parser = yargs(['go']).command(
    'go',
    'a command',
    () => {},
    async () => {},
  );
  if (skip) skipHelpCache(parser);
  await parser.parseAsync();
  return (parser as unknown as Internal).getInternalMethods().getUsageInstance().hasCachedHelpMessage();
}

describe('a command run does not lay out the help text', () => {
  it('yargs keeps the help text of a command it runs unless told not to (the installed yargs still does what parse.ts works around)', async () => {
    expect(await run(false)).toBe(true);
  });

  it('with skipHelpCache it does not', async () => {
    expect(await run(true)).toBe(false);
  });
});

/** The packages (under node_modules) a CLI run has loaded, imported or required. */
function loadedPackages(args: string[]): { stdout: string; packages: string[] } {
  const r = runCliModules(args);
  expect(r.status, r.stderr).toBe(0);
  return { stdout: r.stdout, packages: r.modules.map((f) => /node_modules\/((@[^/]+\/)?[^/]+)\//.exec(f)?.[1]).filter((p): p is string => p !== undefined) };
}

describe('yargs loads its help layout only to show help (yargs-lazy.ts)', () => {
  it('a command run loads neither cliui nor string-width; --help does', () => {
    const run = loadedPackages(['inspect', 'traces/nic.arrows']);
    expect(run.stdout).toContain('rows: 12,000');
    expect(run.packages).not.toContain('cliui');
    expect(run.packages).not.toContain('string-width');
    const help = loadedPackages(['inspect', '--help']);
    expect(help.stdout).toContain('Show what a trace holds');
    expect(help.packages).toContain('cliui');
    expect(help.packages).toContain('string-width');
  });

  it("the shim has every member of yargs' own ESM shim, of the same kind", async () => {
    const own = ((await import(new URL('./lib/platform-shims/esm.mjs', import.meta.resolve('yargs')).href)) as { default: Record<string, unknown> }).default;
    const shape = (o: Record<string, unknown>): Record<string, string> =>
      Object.fromEntries(
        Object.entries(o).flatMap(([k, v]) =>
          v !== null && typeof v === 'object' && k !== 'y18n' && k !== 'Parser'
            ? Object.entries(v as Record<string, unknown>).map(([k2, v2]) => [`${k}.${k2}`, typeof v2])
            : [[k, typeof v]],
        ),
      );
    expect(shape(lazyShim())).toEqual(shape(own));
  });

  it("yargs' invariant checks pass and fail as node:assert's (which loads only to throw)", () => {
    const { assert } = lazyShim() as { assert: Record<'notStrictEqual' | 'strictEqual', (a: unknown, b: unknown, m?: string) => void> };
    expect(() => assert.notStrictEqual(1, 2)).not.toThrow();
    expect(() => assert.strictEqual(NaN, NaN)).not.toThrow();
    expect(() => assert.notStrictEqual(undefined, undefined, 'no file')).toThrow(nodeAssert.AssertionError);
    expect(() => assert.strictEqual(0, -0)).toThrow(nodeAssert.AssertionError);
  });

  it("yargs on the shim parses and lays out help as yargs' own entry does", async () => {
    const build = (y: (argv: string[]) => Argv, argv: string[]) =>
      y(argv)
        .scriptName('t')
        .command('go <files..>', 'a command', (b) =>
          b
            .positional('files', { type: 'string', array: true })
            .option('n', { type: 'number', describe: 'a number with a long description that wraps around the column' }),
        )
        .example('$0 go a b', 'an example')
        .epilogue('the end')
        .strict()
        .help()
        .wrap(80);
    const lazy = await loadYargs();
    expect(lazy).not.toBe(yargs);
    expect(await build(lazy, ['go', 'a', 'b', '-n', '3']).parseAsync()).toEqual(await build(yargs, ['go', 'a', 'b', '-n', '3']).parseAsync());
    expect(await build(lazy, []).getHelp()).toBe(await build(yargs, []).getHelp());
  });
});

describe('cli-progress loads only for a bar that is drawn (progress.ts)', () => {
  it('a replay without a terminal does not load it', () => {
    const run = loadedPackages(['replay', 'traces/nic.arrows']);
    expect(run.stdout).toContain('IOTLB');
    expect(run.packages).not.toContain('cli-progress');
  });
});

describe('a replay loads no built-in module it does not use (each costs milliseconds of every start)', () => {
  it('node:crypto (a sweep point name cut short) and node:stream/promises (standard output) are not loaded by a plain replay', () => {
    const r = runCliModules(['replay', 'traces/nic.arrows', '--page-sizes', '4K+2M', '--json', tmpDir() + '/s.json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.modules).toContain('node:fs');
    expect(r.modules).not.toContain('node:crypto');
    expect(r.modules).not.toContain('node:stream/promises');
  });
});
