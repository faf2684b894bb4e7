// Progress on long commands (issue 13, item 11): events/s and an ETA on a
// terminal, nothing otherwise; a sweep counts traces and points and has no
// "ETA 0s" before it has a rate.
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { etaText, fitProgressLine, formatRate, progressBar } from '../../src/cli/progress.js';

function fakeTerminal(columns = 160): { stream: PassThrough & { isTTY: boolean; columns: number }; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  // Escape codes and carriage returns out: what a user would read, line by line.
  return {
    stream,
    text: () =>
      Buffer.concat(chunks)
        .toString('utf8')
        .replace(/\x1b\[1G/g, '\n')
        .replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '')
        .replace(/\r/g, '\n'),
  };
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
    expect(text).toMatch(/traces 0\/2, points 1\/8 done \| 250 events x points \| [0-9.]+ [kM]?\/s \| ETA /);
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

describe('the line fits the terminal (CLI item 4)', () => {
  let ci: string | undefined;
  beforeEach(() => {
    ci = process.env.CI;
    delete process.env.CI;
  });
  afterEach(() => {
    if (ci !== undefined) process.env.CI = ci;
  });

  const line = { percent: 42, detail: 'traces 1/3, points 17/72 done', done: '123,456,789', unit: 'events x points', rate: '12.3 M/s', eta: '3m07s' };

  it('at any width, keeps the percentage, the rate and the ETA, and never reaches the last column', () => {
    for (const width of [200, 120, 100, 80, 60, 50, 40]) {
      const text = fitProgressLine(line, width);
      expect(text.length, `width ${width}`).toBeLessThan(width);
      expect(text, `width ${width}`).toContain('42%');
      expect(text, `width ${width}`).toContain('12.3 M/s');
      expect(text, `width ${width}`).toContain('ETA 3m07s');
    }
    // Wide: everything, with a bar; narrower: the bar shrinks, then the detail goes.
    expect(fitProgressLine(line, 200)).toContain('traces 1/3, points 17/72 done | 123,456,789 events x points');
    expect(fitProgressLine(line, 80)).not.toContain('traces 1/3');
    expect(fitProgressLine(line, 80)).toContain('123,456,789 events x points');
  });

  it('on an 80-column terminal a sweep line still shows its rate and ETA', () => {
    const t = fakeTerminal(80);
    const bar = progressBar(1000, { stream: t.stream, unit: 'events x points' });
    bar.update(250, 'traces 0/2, points 1/8 done');
    bar.stop();
    const lines = t
      .text()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(l.length).toBeLessThan(80);
      expect(l).toMatch(/\/s \| ETA /);
    }
  });

  it('finish() ends at 100% even when the total was an estimate too large or too small', () => {
    for (const estimate of [10_000, 10]) {
      const t = fakeTerminal();
      const bar = progressBar(estimate, { stream: t.stream });
      bar.update(500);
      bar.finish();
      bar.stop();
      const lines = t
        .text()
        .split('\n')
        .filter((l) => l.trim() !== '');
      expect(lines[lines.length - 1]).toMatch(/ 100% \| 500 events \| [0-9.]+ [kM]?\/s \| ETA 0s/);
      // Never 100% before the end.
      expect(lines.slice(0, -1).join('\n')).not.toContain(' 100% ');
    }
  });
});

describe('formatRate', () => {
  it('keeps a moving digit at every speed (a slow sweep read 0.0 M/s)', () => {
    expect(formatRate(12_345_678)).toBe('12.3 M/s');
    expect(formatRate(480_000)).toBe('480 k/s');
    expect(formatRate(48_000)).toBe('48.0 k/s');
    expect(formatRate(950)).toBe('950 /s');
    expect(formatRate(0)).toBe('0.0 M/s');
  });
});
