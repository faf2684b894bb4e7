#!/usr/bin/env node
// The entry point. `iommu-replay --version` (or `-V`) alone is answered here, before
// yargs and the rest of the command line load (parse.ts): loading them takes
// most of a start-up. Every other line goes to parse.ts, --version with
// anything else too (yargs decides what that means).
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
