// The submitter wakes on the queue's events (src/run/queue.ts queueEvents):
// a job's completion is seen when BullMQ records it, not at the next poll,
// and nothing is asked of Redis in between. Against a real Redis.
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasRedis, startRedis } from '../../bench/queue.js';
import { queueEvents } from '../../src/run/queue.js';

/** Longer than any test may run: a wait that ends came from an event, not from its timer. */
const NEVER_MS = 3_600_000;

describe.skipIf(!hasRedis())('the submitter wakes on queue events', () => {
  let server: { proc: ChildProcess; url: string };
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: null });
    await redis.connect();
  });
  afterAll(() => {
    redis?.disconnect();
    server?.proc.kill('SIGKILL');
  });

  it('an event added to the stream ends a wait; the events before it started do not', async () => {
    const key = 'bull:test-wake:events';
    // Events of earlier runs are in the stream already.
    await redis.xadd(key, '*', 'event', 'completed', 'jobId', 'old');
    const events = queueEvents(redis, key);
    try {
      await events.ready;
      // The earlier event does not count.
      expect(await events.wait(10)).toBe('timeout');
      const woke = events.wait(NEVER_MS);
      await redis.xadd(key, '*', 'event', 'completed', 'jobId', 'new');
      expect(await woke).toBe('event');
      // An event that comes between two waits ends the next one at once (or as it is read).
      await redis.xadd(key, '*', 'event', 'progress', 'jobId', 'new');
      expect(await events.wait(NEVER_MS)).toBe('event');
    } finally {
      events.stop();
    }
  });
});
