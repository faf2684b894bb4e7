// A progress bar on stderr for long runs: only on a terminal, never in CI or
// with --quiet. Callers update it once per batch (never per event): events
// done, events per second and an ETA, with what is being counted.
import cliProgress from 'cli-progress';
import fs from 'node:fs';

export interface Progress {
  /** `done` events so far; `detail` says where the run is ("points 3/12"). */
  update(done: number, detail?: string): void;
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
  return files.reduce((n, f) => n + fs.statSync(f).size / BYTES_PER_ROW, 0);
}

const SILENT: Progress = { update: () => {}, stop: () => {} };

export function progressBar(total: number, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet || !stream.isTTY || process.env.CI) return SILENT;
  const started = Date.now();
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as NodeJS.WritableStream,
      format: ' {bar} {percentage}% | {detail}{done} {unit} | {rate} M/s | ETA {etaText}',
      hideCursor: true,
      // Redraw at most 5 times a second, whatever the batch rate.
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const unit = opts.unit ?? 'events';
  bar.start(Math.max(1, total), 0, { done: '0', rate: '0.0', etaText: '--', unit, detail: '' });
  return {
    update: (done, detail) => {
      const secs = (Date.now() - started) / 1000;
      bar.update(Math.min(done, total), {
        done: done.toLocaleString('en-US'),
        rate: secs > 0 ? (done / secs / 1e6).toFixed(1) : '0.0',
        etaText: etaText(done, total, secs),
        unit,
        detail: detail ? `${detail} | ` : '',
      });
    },
    stop: () => bar.stop(),
  };
}
