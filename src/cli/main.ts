#!/usr/bin/env node
// The command line: each command lives in its own module; input errors end
// here as one line on stderr and exit status 2.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { InputError } from '../errors.js';
import { startProfileIfAsked, stopProfile } from './profile.js';
import { genCommand } from './gen.js';
import { importCommand } from './import.js';
import { inspectCommand } from './inspect.js';
import { replayCommand } from './replay.js';
import { sweepCommand } from './sweep.js';
import { curveCommand } from './curve.js';

export async function main(argv: string[]): Promise<number> {
  const parser = yargs(argv)
    .scriptName('iommu-replay')
    .usage('$0 <command> [options]\n\nTrace-driven IOMMU performance analyzer: replays Arrow traces of DMA and map/unmap through an IOMMU model.')
    .command(replayCommand)
    .command(inspectCommand)
    .command(genCommand)
    .command(sweepCommand)
    .command(importCommand)
    .command(curveCommand)
    .demandCommand(1, 'Name a command: replay, sweep, curve, inspect, gen, import')
    .option('profile', { type: 'string', describe: 'write a V8 CPU profile of the run to this .cpuprofile file (open in Chrome DevTools)', global: true })
    .middleware(startProfileIfAsked)
    .strict()
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      // A usage error: stop here, before any handler runs.
      throw new InputError(`${msg} (see --help)`);
    });
  try {
    await parser.parseAsync();
    await stopProfile();
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`iommu-replay: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  return 0;
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`iommu-replay: internal error: ${(err as Error)?.stack ?? err}\n`);
    process.exitCode = 70;
  },
);
