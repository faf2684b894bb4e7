// Typos get help (issue 13, item 12): the nearest command, what a number option expects.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { editDistance, parseNumberOption, POSITIVE_INTEGER, SEED, unknownCommandMessage, type NumberRule } from '../../src/cli/options.js';
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
  });

  it('a word far from every command lists them', () => {
    expect(unknownCommandMessage(['frobnicate'], ['replay', 'sweep'])).toBe("Unknown command 'frobnicate': expected one of replay, sweep (see --help)");
    expect(unknownCommandMessage(['swep', 'x'], ['replay', 'sweep'])).toBe("Unknown command 'swep'. Did you mean 'sweep'? (see --help)");
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
  it('--events abc, on the command line', () => {
    const out = path.join(tmpDir(), 'x.arrows');
    expectOneLine(runCli(['gen', 'nic', '-o', out, '--events', 'abc']), "Invalid option --events: expected a positive integer, got 'abc'");
  });

  it('every number option of gen, import and sweep has its rule', () => {
    const rule = (r: NumberRule, raw: string) => () => parseNumberOption('x', raw, r);
    expect(rule(POSITIVE_INTEGER, '1.5')).toThrow("Invalid option --x: expected a positive integer, got '1.5'");
    expect(rule(POSITIVE_INTEGER, 'two')).toThrow("got 'two'");
    expect(rule(SEED, '-1')).toThrow("expected an integer in 0..2^32-1, got '-1'");
    expect(rule(SEED, '4294967296')).toThrow("got '4294967296'");
    expect(rule({ expected: 'a positive number', min: 0, minInclusive: false }, '0')).toThrow("expected a positive number, got '0'");
    expect(parseNumberOption('x', '0.25', { expected: 'a number in 0..1', min: 0, max: 1 })).toBe(0.25);
  });

  it('the parser takes decimals and hex, refuses empty text, exponents of garbage and repeats', () => {
    expect(parseNumberOption('n', '0x10', POSITIVE_INTEGER)).toBe(16);
    expect(parseNumberOption('n', '1e3', POSITIVE_INTEGER)).toBe(1000);
    expect(parseNumberOption('n', 7, POSITIVE_INTEGER)).toBe(7);
    expect(() => parseNumberOption('n', '1\n2', POSITIVE_INTEGER)).toThrow("got '1\\x0a2'"); // one line, whatever was typed
    expect(unknownCommandMessage(['\u001b[31mx'], ['replay'])).toBe("Unknown command '\\x1b[31mx': expected one of replay (see --help)");
    expect(() => parseNumberOption('n', '', POSITIVE_INTEGER)).toThrow("Invalid option --n: expected a positive integer, got ''");
    expect(() => parseNumberOption('n', 'Infinity', POSITIVE_INTEGER)).toThrow("got 'Infinity'");
    expect(() => parseNumberOption('n', ['1', '2'], POSITIVE_INTEGER)).toThrow('Invalid option --n: given 2 times, expected once');
  });
});
