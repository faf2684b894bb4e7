// Number formatting for the human reports (src/report/format.ts).
import { describe, expect, it } from 'vitest';
import { fmtInt } from '../../src/report/format.js';

describe('fmtInt', () => {
  it("writes what toLocaleString('en-US') writes, without starting ICU for safe integers", () => {
    const values = [
      0,
      -0,
      0.4,
      -0.4,
      0.5,
      -0.5,
      1,
      -1,
      7,
      12,
      999,
      1000,
      -1000,
      9999,
      12000,
      100000,
      999999,
      1000000,
      -1234567,
      2 ** 31,
      2 ** 32 - 1,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      2 ** 53,
      2 ** 64,
      1e21,
      -1e21,
      1.5e300,
      NaN,
      Infinity,
      -Infinity,
      1234.5,
      -1234.5,
      2.5,
      -2.5,
    ];
    let x = 1;
    for (let i = 0; i < 60; i++) values.push((x = x * 1.7 + i), -x, Math.floor(x), -Math.floor(x));
    for (const v of values) expect(fmtInt(v), String(v)).toBe(Math.round(v).toLocaleString('en-US'));
    expect(fmtInt(12000)).toBe('12,000');
  });
});
