// `iommu-replay worker --queue redis://HOST:PORT[/DB] [--concurrency N] [--trace-root DIR]... [--max-table-memory SIZE]`
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { InputError } from '../errors.js';
import { maxTableBytesOf, maxTableMemoryOptionDescribed } from './defaults.js';
import { QUEUE_CA_OPTION, QUEUE_PASSWORD_FILE_OPTION, queueConnectionOf, type QueueArgs } from './queue-options.js';

interface Args extends QueueArgs {
  queue: string;
  concurrency: number;
  lockMs: number;
  traceRoot?: string[];
  maxTableMemory?: string;
  quiet?: boolean;
}

export const workerCommand: CommandModule<object, Args> = {
  command: 'worker',
  describe: DESCRIBE.worker,
  builder: (y) =>
    y
      .option('queue', {
        type: 'string',
        demandOption: true,
        describe: 'the queue: redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss://... (docs/distributed.md)',
      })
      .option('queue-password-file', QUEUE_PASSWORD_FILE_OPTION)
      .option('queue-ca', QUEUE_CA_OPTION)
      .option('concurrency', { type: 'number', default: 1, describe: 'jobs at once (each a thread; one per core is right)' })
      .option('trace-root', { type: 'string', array: true, describe: 'read traces only under this folder (repeatable; default: the current directory)' })
      .option('max-table-memory', maxTableMemoryOptionDescribed('the most page-table memory of one replay, whatever a job asks'))
      .option('lock-ms', {
        type: 'number',
        default: 30_000,
        hidden: true,
        describe: "job lock duration: a killed worker's job is taken over after about this long",
      })
      .option('quiet', { type: 'boolean', describe: 'no log lines' })
      .example('$0 worker --queue redis://10.0.0.5:6379 --trace-root /data/traces', 'take jobs from the queue; read traces only under /data/traces')
      .example('REDIS_PASSWORD=... $0 worker --queue redis://queue:6379/1 --concurrency 2', 'the password from the environment, two jobs at once') as never,
  handler: async (args) => {
    if (!Number.isInteger(args.concurrency) || args.concurrency < 1)
      throw new InputError(`Invalid option --concurrency: expected a positive integer, got ${args.concurrency}`);
    if (!Number.isInteger(args.lockMs) || args.lockMs < 1000)
      throw new InputError(`Invalid option --lock-ms: expected an integer of at least 1000, got ${args.lockMs}`);
    const maxTableBytes = maxTableBytesOf(args.maxTableMemory);
    const conn = (await queueConnectionOf(args))!;
    const { traceRoots } = await import('../run/queue-job.js');
    const roots = traceRoots(args.traceRoot ?? []);
    const { startWorker } = await import('../run/queue.js');
    const { shownUrl } = await import('../run/queue-connection.js');
    const log = args.quiet ? undefined : (line: string) => process.stderr.write(`iommu-replay worker: ${line}\n`);
    // The first signal lets running jobs finish (at once when Redis is gone); a second stops at once.
    // Taken from before the start: each thread's warm-up writes a trace in a temporary
    // folder of its own and removes it (run/queue-processor.ts warmUp), which a signal's
    // default action, death, would leave behind. A first signal during the start stops
    // the worker once it has started (a second there: at once, as without handlers).
    let signals = 0;
    let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
    const stop = (signal: NodeJS.Signals) => {
      if (signals++ === 0) log?.('stopping: running jobs finish first (at once when Redis is gone; a second signal stops at once)');
      else if (worker === undefined) {
        unlisten();
        process.kill(process.pid, signal);
        return;
      }
      void worker?.close();
    };
    const unlisten = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    try {
      worker = await startWorker({ ...conn, concurrency: args.concurrency, lockMs: args.lockMs, limits: { traceRoots: roots, maxTableBytes }, log });
    } catch (err) {
      unlisten();
      throw err;
    }
    if (signals === 0) log?.(`waiting for jobs on ${shownUrl(conn.url)} (concurrency ${args.concurrency}; traces under ${roots.join(', ')})`);
    else void worker.close();
    await worker.closed;
    unlisten();
    // Whatever BullMQ or ioredis leave behind (a reconnection timer, a job's thread) does not keep a stopped worker alive.
    setTimeout(() => process.exit(), 1000).unref();
  },
};
