// The entry point (src/cli/main.ts): `--version` alone is answered before
// yargs and the commands load (issue 20), exactly as yargs answers it.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, runCliModules } from '../helpers/cli.js';

const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string };
const DIST = new URL('..', pathToFileURL(CLI)).href; // dist/src/
const fromDependency = (m: string) => m.includes('/node_modules/');

describe('--version', () => {
  it("prints package.json's version, as yargs does when --version comes with more", () => {
    const fast = runCli(['--version']);
    expect(fast).toEqual({ status: 0, stdout: `${pkg.version}\n`, stderr: '' });
    // Through yargs: the same bytes.
    expect(runCli(['--version', 'extra'])).toEqual(fast);
    expect(runCli(['inspect', '--version'])).toEqual(fast);
  });

  it('alone, loads neither yargs nor any other library, only main.js and version.js of the tool', () => {
    const r = runCliModules(['--version']);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    expect(r.modules.filter(fromDependency)).toEqual([]);
    expect(r.modules.filter((m) => m.startsWith('file:')).map((m) => m.slice(DIST.length))).toEqual(['cli/main.js', 'version.js']);
  });

  it('with anything else, goes through yargs (the hook sees it load)', () => {
    const r = runCliModules(['--version', 'extra']);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    expect(r.modules.some((m) => m.includes('/node_modules/yargs/'))).toBe(true);
  });

  it('other options and words are left to yargs', () => {
    expect(runCli(['--version=false']).status).toBe(2);
    expect(runCli(['--help']).stdout).toContain('--version');
  });
});
