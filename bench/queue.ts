// For the queued-sweep bench scenarios (and the queue's tests): a fresh
// redis-server on a free loopback port, with no persistence, and N
// `iommu-replay worker` processes, all stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((f) => fs.existsSync(f));
const CLI = path.resolve('dist/src/cli/main.js');

export function hasRedis(): boolean {
  return REDIS !== undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function ready(proc: ChildProcess, pattern: RegExp, stream: 'stdout' | 'stderr'): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    proc[stream]!.on('data', (d: Buffer) => {
      text += d.toString();
      if (pattern.test(text)) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready: ${text}`)));
  });
}

/** A redis-server of its own: no persistence, no eviction (docs/distributed.md), loopback only; `extra` adds to its command line (--requirepass). */
export async function startRedis(extra: string[] = []): Promise<{ proc: ChildProcess; url: string; port: number }> {
  const port = await freePort();
  const proc = spawn(
    REDIS!,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', ...extra],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  await ready(proc, /Ready to accept connections/, 'stdout');
  return { proc, url: `redis://127.0.0.1:${port}/0`, port };
}

export async function startBenchQueue(workers: number): Promise<{ url: string; stop: () => void }> {
  const { proc: redis, url } = await startRedis();
  // The workers read the bench traces only (bench/data may be a link to another checkout's).
  const procs = Array.from({ length: workers }, () =>
    spawn(process.execPath, [CLI, 'worker', '--queue', url, '--trace-root', 'bench/data'], { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
  const stop = () => {
    for (const p of procs) p.kill('SIGKILL');
    redis.kill('SIGKILL');
  };
  try {
    await Promise.all(procs.map((p) => ready(p, /waiting for jobs/, 'stderr')));
  } catch (err) {
    // A worker that did not start (it says why in err): the others and Redis would keep the bench waiting.
    stop();
    throw err;
  }
  return { url, stop };
}
