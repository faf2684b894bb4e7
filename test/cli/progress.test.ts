// Progress on long commands (issue 13, item 11): events/s and an ETA on a
// terminal, nothing otherwise; a sweep counts traces and points and has no
// "ETA 0s" before it has a rate.
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { etaText, progressBar } from '../../src/cli/progress.js';

function fakeTerminal(): { stream: PassThrough & { isTTY: boolean; columns: number }; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  // Escape codes and carriage returns out: what a user would read, line by line.
  // eslint-disable-next-line no-control-regex
  return { stream, text: () => Buffer.concat(chunks).toString('utf8').replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '').replace(/\r/g, '\n') };
}

describe('the ETA', () => {
  it('is "--" until there is a rate to estimate from, then the time left', () => {
    expect(etaText(0, 1000, 10)).toBe('--');
    expect(etaText(10, 1000, 0.1)).toBe('--');
    expect(etaText(500, 1000, 4)).toBe('4s');
    expect(etaText(100, 1000, 30)).toBe('4m30s');
    expect(etaText(1, 1000, 10)).toBe('2h46m');
    expect(etaText(1200, 1000, 5)).toBe('0s'); // past an estimated total
  });
});

describe('the bar', () => {
  let ci: string | undefined;
  beforeEach(() => {
    ci = process.env.CI;
    delete process.env.CI;
  });
  afterEach(() => {
    if (ci !== undefined) process.env.CI = ci;
  });

  it('on a terminal: starts at "ETA --", shows events, the rate and a sweep\'s traces and points', () => {
    const t = fakeTerminal();
    const bar = progressBar(1000, { stream: t.stream, unit: 'events x points' });
    bar.update(250, 'traces 0/2, points 1/8 done');
    bar.stop();
    const text = t.text();
    expect(text).toContain('0 events x points | 0.0 M/s | ETA --');
    expect(text).not.toContain('ETA 0s');
    expect(text).toMatch(/traces 0\/2, points 1\/8 done \| 250 events x points \| [0-9.]+ M\/s \| ETA /);
  });

  it('nothing when the stream is not a terminal, or with quiet', () => {
    const t = fakeTerminal();
    t.stream.isTTY = false;
    const bar = progressBar(1000, { stream: t.stream });
    bar.update(500);
    bar.stop();
    const q = fakeTerminal();
    progressBar(1000, { stream: q.stream, quiet: true }).update(1);
    expect(t.text() + q.text()).toBe('');
  });
});
