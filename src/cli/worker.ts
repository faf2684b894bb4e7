// `iommu-replay worker --queue redis://HOST:PORT[/DB] [--concurrency N]`
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { InputError } from '../errors.js';

interface Args {
  queue: string;
  concurrency: number;
  lockMs: number;
  quiet?: boolean;
}

export const workerCommand: CommandModule<object, Args> = {
  command: 'worker',
  describe: DESCRIBE.worker,
  builder: (y) =>
    y
      .option('queue', { type: 'string', demandOption: true, describe: 'the queue: redis://HOST:PORT[/DB]' })
      .option('concurrency', { type: 'number', default: 1, describe: 'jobs at once (each a thread; one per core is right)' })
      .option('lock-ms', { type: 'number', default: 30_000, hidden: true, describe: 'job lock duration: a killed worker\'s job is taken over after about this long' })
      .option('quiet', { type: 'boolean', describe: 'no log lines' }) as never,
  handler: async (args) => {
    if (!Number.isInteger(args.concurrency) || args.concurrency < 1) throw new InputError(`Invalid option --concurrency: expected a positive integer, got ${args.concurrency}`);
    if (!Number.isInteger(args.lockMs) || args.lockMs < 1000) throw new InputError(`Invalid option --lock-ms: expected an integer of at least 1000, got ${args.lockMs}`);
    const { startWorker } = await import('../run/queue.js');
    const log = args.quiet ? undefined : (line: string) => process.stderr.write(`iommu-replay worker: ${line}\n`);
    const worker = await startWorker({ url: args.queue, concurrency: args.concurrency, lockMs: args.lockMs, log });
    log?.(`waiting for jobs on ${args.queue} (concurrency ${args.concurrency})`);
    const stop = () => void worker.close();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    await worker.closed;
  },
};
