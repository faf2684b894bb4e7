// Option parsing shared by the commands: numbers checked against what the
// option expects, with the user's own text in the message ("--events:
// expected a positive integer, got 'abc'", never "got NaN"), and the nearest
// command for a mistyped one.
import type { Options } from 'yargs';
import { InputError } from '../errors.js';
import { printable } from '../text.js';

/** Where the user's documentation is: shown under every --help. */
export const DOCS_EPILOGUE = 'Documentation: docs/README.md in the repository (trace format, model rules, configuration, report keys).';

export interface NumberRule {
  /** What the option expects, in words: "a positive integer". */
  expected: string;
  integer?: boolean;
  min?: number;
  /** Whether `min` itself is allowed (default true). */
  minInclusive?: boolean;
  max?: number;
}

export const POSITIVE_INTEGER: NumberRule = { expected: 'a positive integer', integer: true, min: 1 };
export const SEED: NumberRule = { expected: 'an integer in 0..2^32-1', integer: true, min: 0, max: 0xffffffff };

/** The text the user typed, quoted, as shown in messages (control characters escaped: the message stays one line). */
function shown(raw: unknown): string {
  return `'${printable(String(raw))}'`;
}

/** Parses one option value by `rule`; throws one line naming the option and its text. */
export function parseNumberOption(name: string, raw: unknown, rule: NumberRule): number {
  const fail = (): never => {
    throw new InputError(`Invalid option --${name}: expected ${rule.expected}, got ${shown(raw)}`);
  };
  if (Array.isArray(raw)) throw new InputError(`Invalid option --${name}: given ${raw.length} times, expected once`);
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  // Plain decimal or 0x hex only: Number() would also take "", "1e3" and " ".
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text) && !/^0x[0-9a-f]+$/i.test(text)) fail();
  const v = Number(text);
  if (!Number.isFinite(v)) fail();
  if (rule.integer && !Number.isInteger(v)) fail();
  if (rule.min !== undefined && (rule.minInclusive === false ? v <= rule.min : v < rule.min)) fail();
  if (rule.max !== undefined && v > rule.max) fail();
  return v;
}

/**
 * A yargs option taking one number, checked by `rule` as yargs parses it.
 * No `type: 'number'`: yargs would turn "abc" into NaN before the check, and
 * the message could not show what was typed (text that is not a number
 * reaches the check as typed).
 */
export function numberOption(name: string, rule: NumberRule, spec: { describe: string; default?: number }): Options {
  return {
    requiresArg: true,
    describe: spec.describe,
    ...(spec.default !== undefined ? { default: spec.default } : {}),
    coerce: (raw: unknown) => (raw === undefined ? undefined : parseNumberOption(name, raw, rule)),
  };
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The first word of the command line when it names no command: one line
 * with the nearest command, or the list of commands. Undefined when the word
 * is a command (or an option, or absent).
 */
export function unknownCommandMessage(argv: string[], commands: string[]): string | undefined {
  const word = argv.find((a) => !a.startsWith('-'));
  // Options before the command ("--profile x replay") would take a value: leave those to yargs.
  if (word === undefined || argv.indexOf(word) !== 0 || commands.includes(word) || word === 'help') return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of commands) {
    const d = editDistance(word.toLowerCase(), c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  const typed = printable(word);
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3))) return `Unknown command '${typed}'. Did you mean '${best}'? (see --help)`;
  return `Unknown command '${typed}': expected one of ${commands.join(', ')} (see --help)`;
}

/**
 * `--iotlb -64x4` as `--iotlb=-64x4`: yargs reads a word after an option as
 * its value only when the word does not start with "-" (or is a plain
 * negative number), so "-64x4", "-4K" and "-1G" became the short flags
 * -6 -4 -x ("Unknown arguments: 4, 6, x"). No option of the tool is a dash
 * and a digit, so such a word is the value the user meant, and its own check
 * then names the option and what it expects. Words after `--` are left alone.
 */
export function joinDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return [...out, ...argv.slice(i)];
    const next = argv[i + 1];
    if (/^--[^=]+$/.test(a) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
