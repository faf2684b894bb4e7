// A summary too large for one JavaScript string (a valid trace of a million
// devices: a row each) is one line, not V8's RangeError with a stack trace.
import { describe, expect, it } from 'vitest';
import { summaryJson } from '../../src/cli/replay.js';
import { InputError } from '../../src/errors.js';
import type { Summary } from '../../src/stats/summary.js';

describe('replay --json of a summary too large for a string', () => {
  it('says so in one line naming the devices and domains', () => {
    // A row whose text cannot be made stands for the million rows that overflow the string.
    const row = Object.defineProperty({}, 'device', {
      enumerable: true,
      get() {
        throw new RangeError('Invalid string length');
      },
    });
    const summary = { byDevice: Array(1_000_000).fill(row), byDomain: [{}] } as unknown as Summary;
    expect(() => summaryJson(summary)).toThrow(InputError);
    expect(() => summaryJson(summary)).toThrow(/^Cannot write the summary as JSON: with 1,000,000 devices and 1 domains it is larger than/);
  });

  it('other errors are not hidden', () => {
    const bad = Object.defineProperty({}, 'x', {
      enumerable: true,
      get() {
        throw new TypeError('boom');
      },
    });
    expect(() => summaryJson({ byDevice: [bad], byDomain: [] } as unknown as Summary)).toThrow(TypeError);
  });
});
