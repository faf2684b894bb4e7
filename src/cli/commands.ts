// The commands by name. A command's module (and the libraries it needs:
// apache-arrow, zod, vega, bullmq) loads only when the command line names
// it, so `--version`, `--help` and each command start without the others'.
import type { CommandModule } from 'yargs';

/** What `iommu-replay --help` lists; each command module uses its own line. */
export const DESCRIBE = {
  replay: 'Replay a trace (several files merge by ts) through the IOMMU model',
  sweep: 'Replay every trace against every configuration point and compare them',
  curve: 'Hit rate, walks and costs against IOTLB size: every size up to N, exactly, in one pass',
  fit: "Calibrate the model to a machine's measured DMA rates: the IOTLB geometry and costs that reproduce them (or --predict with a fit)",
  compare: 'Show the counters of two summaries (or two sweep folders) side by side, with their differences',
  inspect: 'Show what a trace holds: rows, time span, ops, devices, domains, topology',
  gen: 'Generate a synthetic trace of a workload',
  import:
    'Turn Linux ftrace, trace-cmd report or perf script text of the iommu and dma tracepoints, with or without a QEMU VT-d, SMMUv3 or AMD-Vi log (docs/qemu.md), into a trace',
  worker: 'Take queued sweep jobs from Redis and replay them, until stopped (SIGTERM or SIGINT)',
} as const;

export type CommandName = keyof typeof DESCRIBE;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<any, any>;

const LOAD: Record<CommandName, () => Promise<AnyCommand>> = {
  replay: async () => (await import('./replay.js')).replayCommand,
  sweep: async () => (await import('./sweep.js')).sweepCommand,
  curve: async () => (await import('./curve.js')).curveCommand,
  fit: async () => (await import('./fit.js')).fitCommand,
  compare: async () => (await import('./compare.js')).compareCommand,
  inspect: async () => (await import('./inspect.js')).inspectCommand,
  gen: async () => (await import('./gen.js')).genCommand,
  import: async () => (await import('./import.js')).importCommand,
  worker: async () => (await import('./worker.js')).workerCommand,
};

export const COMMAND_NAMES = Object.keys(DESCRIBE) as CommandName[];

export function isCommandName(word: string | undefined): word is CommandName {
  return word !== undefined && Object.hasOwn(DESCRIBE, word);
}

export function loadCommand(name: CommandName): Promise<AnyCommand> {
  return LOAD[name]();
}

/** A command as the top-level help lists it: its name and line, nothing loaded. */
export function stubCommand(name: CommandName): AnyCommand {
  return { command: name, describe: DESCRIBE[name], handler: () => {} };
}
