// The command line, parsed by yargs (main.ts answers a lone --version before
// this module loads): each command lives in its own module, loaded when named
// (commands.ts); input errors end here as one line on stderr and exit status 2,
// a lost service (Redis) as one line and exit status 3.
import { InputError, UnavailableError } from '../errors.js';
import { printable } from '../text.js';
import { toolVersion } from '../version.js';
import { startProfileIfAsked, stopProfile } from './profile.js';
import { COMMAND_NAMES, isCommandName, loadCommand, stubCommand } from './commands.js';
import { DOCS_EPILOGUE, joinDashValues, unknownCommandMessage } from './options.js';
import { checkStdioPlaces, markStdio } from './stdio.js';
import { loadYargs } from './yargs-lazy.js';

export async function parseAndRun(argv: string[]): Promise<number> {
  const unknown = unknownCommandMessage(argv, COMMAND_NAMES);
  if (unknown) {
    process.stderr.write(`iommu-replay: ${unknown}\n`);
    return 2;
  }
  // Only the command the line names is loaded; the others are listed by name
  // for --help (a command word is the first argument, options.ts).
  const named = argv.find((a) => !a.startsWith('-'));
  const [yargs, commands] = await Promise.all([
    loadYargs(),
    Promise.all(COMMAND_NAMES.map((c) => (c === named && isCommandName(named) ? loadCommand(c) : stubCommand(c)))),
  ]);
  const parser = yargs(markStdio(joinDashValues(argv)))
    .scriptName('iommu-replay')
    .usage('$0 <command> [options]\n\nTrace-driven IOMMU performance analyzer: replays Arrow traces of DMA and map/unmap through an IOMMU model.')
    .command(commands as never)
    .demandCommand(1, `Name a command: ${COMMAND_NAMES.join(', ')}`)
    .example('$0 replay traces/nic.arrows', 'replay one trace with the default configuration')
    .example('$0 sweep traces/*.arrows --page-sizes 4K 4K+2M --iotlb 32x4 64x4 --out reports/x', 'every trace against 4 configurations: reports/x/report.html')
    .example('$0 COMMAND --help', "a command's options, with their defaults and examples")
    .epilogue(DOCS_EPILOGUE)
    .option('profile', { type: 'string', describe: 'write a V8 CPU profile of the run to this .cpuprofile file (open in Chrome DevTools)', global: true })
    .middleware(checkStdioPlaces as never)
    .middleware(startProfileIfAsked)
    .strict()
    .help()
    .alias('help', 'h')
    .version(toolVersion())
    .alias('version', 'V')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // A value an option's own check refused (options.ts) comes back wrapped by yargs.
      if (err) throw err.name === 'YError' ? new InputError(err.message) : err;
      // A usage error: stop here, before any handler runs.
      throw new InputError(`${msg} (see --help)`);
    });
  skipHelpCache(parser);
  try {
    await parser.parseAsync();
    await stopProfile();
  } catch (err) {
    // A message names files and configuration values as given: printable
    // keeps it one line that cannot drive the terminal (a file name with a
    // newline or an escape sequence).
    if (err instanceof InputError) {
      process.stderr.write(`iommu-replay: ${printable(err.message, Infinity)}\n`);
      return 2;
    }
    if (err instanceof UnavailableError) {
      process.stderr.write(`iommu-replay: ${printable(err.message, Infinity)}\n`);
      return 3;
    }
    throw err;
  }
  return 0;
}

/**
 * Once a command's handler has started, yargs renders the whole help text
 * and keeps it, to print should the handler fail (yargs' command.js,
 * handleValidationAndGetResult, calling usage.cacheHelpMessage). Ours never
 * prints help on a failure (.fail above throws, and the error is one line),
 * so that text was never shown, and laying it out (the width of every line)
 * took more of `inspect` than reading the trace. Without the cache, `--help`
 * still renders its text when asked, unchanged.
 */
export function skipHelpCache(parser: unknown): void {
  const internal = parser as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } };
  const usage = internal.getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}
