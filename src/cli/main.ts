#!/usr/bin/env node
// The entry point. `iommu-replay --version` (or `-V`) alone is answered here, before
// yargs and the rest of the command line load (parse.ts): loading them takes
// most of a start-up. Every other line goes to parse.ts, --version with
// anything else too (yargs decides what that means).
//
// No V8 flags are set here (v8.setFlagsFromString), on measurement (issue 28,
// NIC 5M, DMA 10M and the Dinero-equivalent replays, alternating, best and
// median of 6-8): --always-sparkplug, --no-lazy-feedback-allocation, a lower
// --interrupt-budget, --max-lazy, --max-semi-space-size=1 and --maglev changed
// neither CPU nor wall time beyond the noise. The replay's warm-up (about
// 0.1 s CPU for the Dinero-equivalent, 0.25-0.3 s for NIC and DMA, nearly all
// in the first two batches) is the model's own code being compiled and its
// first-batch allocations, not start-up. And GC flags cannot be set at run
// time: --single-threaded-gc set so aborts V8 at its first full GC (Node 20.20,
// "Check failed: concurrent_marking_handle_"); on the command line it was no faster.
import { toolVersion } from '../version.js';

/** Whether the line is `--version` (or `-V`) and nothing else. */
function isVersionOnly(argv: string[]): boolean {
  return argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V');
}

async function main(argv: string[]): Promise<number> {
  if (isVersionOnly(argv)) {
    // As yargs prints it (parse.ts gives it the same toolVersion()): with
    // console.log, which ignores a closed or full standard output as yargs does.
    console.log(toolVersion());
    return 0;
  }
  return (await import('./parse.js')).parseAndRun(argv);
}

// The words after `node main.js` (as yargs' hideBin gives them outside Electron).
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`iommu-replay: internal error: ${(err as Error)?.stack ?? err}\n`);
    process.exitCode = 70;
  },
);
