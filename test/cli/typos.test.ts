// Typos get help (issue 13, item 12): the nearest command, what a number option expects.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { editDistance, parseNumberOption, POSITIVE_INTEGER, unknownCommandMessage } from '../../src/cli/options.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');

function expectOneLine(r: { status: number; stdout: string; stderr: string }, text: string): void {
  expect(r.stderr).toBe(`iommu-replay: ${text}\n`);
  expect(r.status).toBe(2);
  expect(r.stdout).toBe('');
}

describe('a mistyped command names the nearest one', () => {
  it('replya suggests replay, in one line, exit 2', () => {
    expectOneLine(runCli(['replya', NIC]), "Unknown command 'replya'. Did you mean 'replay'? (see --help)");
    expectOneLine(runCli(['swep', NIC]), "Unknown command 'swep'. Did you mean 'sweep'? (see --help)");
  });

  it('a word far from every command lists them', () => {
    expectOneLine(runCli(['frobnicate']), "Unknown command 'frobnicate': expected one of replay, inspect, gen, sweep, import, compare (see --help)");
  });

  it('commands, options and help pass through', () => {
    const cmds = ['replay', 'sweep'];
    expect(unknownCommandMessage(['replay', 'x'], cmds)).toBeUndefined();
    expect(unknownCommandMessage(['--help'], cmds)).toBeUndefined();
    expect(unknownCommandMessage([], cmds)).toBeUndefined();
    expect(editDistance('replya', 'replay')).toBe(2);
  });
});

describe('number options say what they expect and echo what was typed', () => {
  it('--events abc', () => {
    const out = path.join(tmpDir(), 'x.arrows');
    expectOneLine(runCli(['gen', 'nic', '-o', out, '--events', 'abc']), "Invalid option --events: expected a positive integer, got 'abc'");
    expectOneLine(runCli(['gen', 'nic', '-o', out, '--events', '1.5']), "Invalid option --events: expected a positive integer, got '1.5'");
    expectOneLine(runCli(['gen', 'nic', '-o', out, '--devices', '65']), "Invalid option --devices: expected an integer in 1..64, got '65'");
    expectOneLine(runCli(['gen', 'nic', '-o', out, '--rate', '0']), "Invalid option --rate: expected a positive number, got '0'");
  });

  it('--jobs and --coherent-rate too', () => {
    expectOneLine(runCli(['sweep', NIC, '--jobs', 'two', '--out', tmpDir()]), "Invalid option --jobs: expected a positive integer, got 'two'");
    expectOneLine(runCli(['import', 'traces/kernel-nic.trace', '-o', path.join(tmpDir(), 'k.arrows'), '--coherent-rate', 'fast']), "Invalid option --coherent-rate: expected a non-negative number, got 'fast'");
  });

  it('the parser takes decimals and hex, refuses empty text, exponents of garbage and repeats', () => {
    expect(parseNumberOption('n', '0x10', POSITIVE_INTEGER)).toBe(16);
    expect(parseNumberOption('n', '1e3', POSITIVE_INTEGER)).toBe(1000);
    expect(parseNumberOption('n', 7, POSITIVE_INTEGER)).toBe(7);
    expect(() => parseNumberOption('n', '', POSITIVE_INTEGER)).toThrow("Invalid option --n: expected a positive integer, got ''");
    expect(() => parseNumberOption('n', 'Infinity', POSITIVE_INTEGER)).toThrow("got 'Infinity'");
    expect(() => parseNumberOption('n', ['1', '2'], POSITIVE_INTEGER)).toThrow('Invalid option --n: given 2 times, expected once');
  });
});
