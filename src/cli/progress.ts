// A progress bar on stderr for long runs: only on a terminal, never in CI or
// with --quiet.
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

export function progressBar(total: number, quiet: boolean): Progress {
  if (quiet || !process.stderr.isTTY || process.env.CI) return { update: () => {}, stop: () => {} };
  const started = Date.now();
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: ' {bar} {percentage}% | {done} events | {rate} M events/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, total), 0, { done: '0', rate: '0.0' });
  return {
    update: (done) => {
      const secs = (Date.now() - started) / 1000;
      bar.update(Math.min(done, total), { done: done.toLocaleString('en-US'), rate: secs > 0 ? (done / secs / 1e6).toFixed(1) : '0.0' });
    },
    stop: () => bar.stop(),
  };
}
