// A progress bar on stderr for long runs: only on a terminal, never in CI or
// with --quiet. Callers update it once per batch (never per event): events
// done, events per second and an ETA, with what is being counted.
import type cliProgressModule from 'cli-progress';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fmtInt } from '../report/format.js';

export interface Progress {
  /** `done` events so far; `detail` says where the run is ("points 3/12"). */
  update(done: number, detail?: string): void;
  /** The work is complete: the bar shows 100% (its total was an estimate). */
  finish(detail?: string): void;
  stop(): void;
}

export interface ProgressOptions {
  quiet?: boolean;
  /** What `done` counts: "events", or "events x points" for a sweep. */
  unit?: string;
  /** The stream to draw on (tests); stderr by default. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Seconds as "45s", "3m07s", "1h02m"; "--" while there is nothing to estimate from. */
export function etaText(done: number, total: number, elapsedSec: number): string {
  // Before the first batch, or in the first half second, a rate means nothing:
  // "ETA 0s" at the start would be a lie.
  if (done <= 0 || elapsedSec < 0.5 || total <= 0) return '--';
  const left = Math.max(0, Math.round(((total - Math.min(done, total)) * elapsedSec) / done));
  if (left < 60) return `${left}s`;
  if (left < 3600) return `${Math.floor(left / 60)}m${String(left % 60).padStart(2, '0')}s`;
  return `${Math.floor(left / 3600)}h${String(Math.floor(left / 60) % 60).padStart(2, '0')}m`;
}

/** Bytes per row of a trace file, for estimates only (a trace's row count is known only once read). */
export const BYTES_PER_ROW = 45;

/** About how many rows the trace files hold, from their sizes. */
export function estimateRows(files: string[]): number {
  // Callers open the traces first (a missing one is "Cannot read trace"); an
  // estimate never fails the command: a file it cannot stat counts 0.
  return files.reduce((n, f) => {
    try {
      return n + fs.statSync(f).size / BYTES_PER_ROW;
    } catch {
      return n;
    }
  }, 0);
}

const SILENT: Progress = { update: () => {}, finish: () => {}, stop: () => {} };

/** What one line of the bar shows, before it is fitted to the terminal. */
export interface ProgressLine {
  percent: number;
  detail: string;
  done: string;
  unit: string;
  /** With its unit (formatRate). */
  rate: string;
  eta: string;
}

/**
 * Events per second as the line shows them, with the unit that keeps a
 * digit that moves: a sweep of many points runs at thousands of events x
 * points a second, which 0.0 M/s hid.
 */
export function formatRate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(1)} M/s`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(perSec >= 1e5 ? 0 : 1)} k/s`;
  return perSec > 0 ? `${Math.round(perSec)} /s` : '0.0 M/s';
}

/** Widest bar drawn; narrowest worth drawing. */
const BAR_MAX = 40;
const BAR_MIN = 10;

/**
 * The line fitted to `width` columns: the bar shrinks first, then goes; then
 * the detail, the unit and the count go. The percentage, the rate and the ETA
 * always stay (they are what the line is for). One column is left free: a
 * line that fills the last column wraps on some terminals.
 */
export function fitProgressLine(p: ProgressLine, width: number): string {
  const room = Math.max(1, width - 1);
  const tail = [p.rate, `ETA ${p.eta}`];
  const choices = [
    [`${p.percent}%`, ...(p.detail ? [p.detail] : []), `${p.done} ${p.unit}`, ...tail],
    [`${p.percent}%`, `${p.done} ${p.unit}`, ...tail],
    [`${p.percent}%`, p.done, ...tail],
    [`${p.percent}%`, ...tail],
  ].map((parts) => parts.join(' | '));
  for (const text of choices) {
    const barWidth = Math.min(BAR_MAX, room - text.length - 2);
    if (barWidth >= BAR_MIN) {
      const full = Math.round((p.percent / 100) * barWidth);
      return ` ${'\u2588'.repeat(full)}${'\u2591'.repeat(barWidth - full)} ${text}`;
    }
  }
  for (const text of choices) if (text.length + 1 <= room) return ` ${text}`;
  return choices[choices.length - 1].slice(0, room);
}

/**
 * cli-progress, loaded for the first bar drawn: its twenty modules cost a
 * run about 30 ms of CPU at start-up (issue 28), which a run without a
 * terminal (a script, CI, the bench) never needs. CommonJS, so require()
 * loads it here and now.
 */
function loadCliProgress(): typeof cliProgressModule {
  return createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule;
}

export function progressBar(total: number, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet || !stream.isTTY || process.env.CI) return SILENT;
  const cliProgress = loadCliProgress();
  const started = Date.now();
  const unit = opts.unit ?? 'events';
  let estimate = Math.max(1, total);
  let line: ProgressLine = { percent: 0, detail: '', done: '0', unit, rate: '0.0 M/s', eta: '--' };
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as NodeJS.WritableStream,
      // The whole line is ours, fitted to the terminal's width as it is now
      // (cli-progress would cut a longer line at the edge: the rate and ETA
      // went first).
      format: (_options: unknown, params: { maxWidth: number }) => fitProgressLine(line, (stream as { columns?: number }).columns || params.maxWidth),
      hideCursor: true,
      // Redraw at most 5 times a second, whatever the batch rate.
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(estimate, 0);
  let last = 0;
  const draw = (done: number, detail: string | undefined, eta: string) => {
    const secs = (Date.now() - started) / 1000;
    line = {
      percent: Math.floor((Math.min(done, estimate) / estimate) * 100),
      detail: detail ?? line.detail,
      done: fmtInt(done),
      unit,
      rate: formatRate(secs > 0 ? done / secs : 0),
      eta,
    };
    bar.update(Math.min(done, estimate));
  };
  return {
    update: (done, detail) => {
      last = done;
      // Never 100% before the end: the total is an estimate from file sizes.
      if (done >= estimate) estimate = done + 1;
      draw(done, detail, etaText(done, estimate, (Date.now() - started) / 1000));
    },
    finish: (detail) => {
      // The work is done: what was counted is the total, whatever the estimate said.
      estimate = Math.max(1, last);
      bar.setTotal(estimate);
      draw(last, detail, '0s');
    },
    stop: () => bar.stop(),
  };
}
