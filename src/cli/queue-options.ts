// The options every queued command shares (sweep, curve, worker): where
// Redis is, and its credentials from somewhere other than the command line
// (which `ps` shows to every user of the machine). docs/distributed.md.
import { InputError } from '../errors.js';
import type { QueueConnection } from '../run/queue-connection.js';

export interface QueueArgs {
  queue?: string;
  queuePasswordFile?: string;
  queueCa?: string;
}

/** --queue-password-file and --queue-ca, beside a command's --queue. */
export const QUEUE_PASSWORD_FILE_OPTION = {
  type: 'string',
  describe: "the Redis password: the first line of this file (else the URL's, else $REDIS_PASSWORD)",
} as const;
export const QUEUE_CA_OPTION = { type: 'string', describe: 'rediss:// only: trust server certificates signed by these PEM certificates' } as const;

/** The connection the options name; undefined without --queue. The modules that talk to Redis load only here. */
export async function queueConnectionOf(args: QueueArgs): Promise<QueueConnection | undefined> {
  if (args.queue === undefined) {
    if (args.queuePasswordFile !== undefined || args.queueCa !== undefined) {
      throw new InputError(`Invalid option --${args.queueCa !== undefined ? 'queue-ca' : 'queue-password-file'}: it goes with --queue`);
    }
    return undefined;
  }
  const { queueConnection } = await import('../run/queue-connection.js');
  return queueConnection(args.queue, { passwordFile: args.queuePasswordFile, caFile: args.queueCa });
}
