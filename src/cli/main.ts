#!/usr/bin/env node
// The command line: each command lives in its own module; input errors end
// here as one line on stderr and exit status 2.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { InputError, UnavailableError } from '../errors.js';
import { startProfileIfAsked, stopProfile } from './profile.js';
import { compareCommand } from './compare.js';
import { genCommand } from './gen.js';
import { importCommand } from './import.js';
import { inspectCommand } from './inspect.js';
import { replayCommand } from './replay.js';
import { sweepCommand } from './sweep.js';
import { DOCS_EPILOGUE, unknownCommandMessage } from './options.js';
import { checkStdioPlaces, markStdio } from './stdio.js';

/** The commands, as the first word of the command line names them. */
const COMMANDS = [replayCommand, inspectCommand, genCommand, sweepCommand, importCommand, compareCommand, workerCommand];
const COMMAND_NAMES = COMMANDS.map((c) => String(c.command).split(' ')[0]);
import { workerCommand } from './worker.js';

export async function main(argv: string[]): Promise<number> {
  const unknown = unknownCommandMessage(argv, COMMAND_NAMES);
  if (unknown) {
    process.stderr.write(`iommu-replay: ${unknown}\n`);
    return 2;
  }
  const parser = yargs(markStdio(argv))
    .scriptName('iommu-replay')
    .usage('$0 <command> [options]\n\nTrace-driven IOMMU performance analyzer: replays Arrow traces of DMA and map/unmap through an IOMMU model.')
    .command(COMMANDS as never)
    .demandCommand(1, `Name a command: ${COMMAND_NAMES.join(', ')}`)
    .epilogue(DOCS_EPILOGUE)
    .option('profile', { type: 'string', describe: 'write a V8 CPU profile of the run to this .cpuprofile file (open in Chrome DevTools)', global: true })
    .middleware(checkStdioPlaces as never)
    .middleware(startProfileIfAsked)
    .strict()
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // A value an option's own check refused (options.ts) comes back wrapped by yargs.
      if (err) throw err.name === 'YError' ? new InputError(err.message) : err;
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
    if (err instanceof UnavailableError) {
      process.stderr.write(`iommu-replay: ${err.message}\n`);
      return 3;
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
