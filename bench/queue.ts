// For the queued-sweep bench scenarios (and the queue's tests): a fresh
// redis-server on a free loopback port, with no persistence, and N
// `iommu-replay worker` processes, all stopped by pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
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

/** Clock ticks a second, the unit of /proc's CPU times. */
let ticksPerSecond: number | undefined;

/** CPU seconds (user + system) of each thread of process `pid` so far, by thread id: Linux's /proc; empty where there is none. */
function threadCpuS(pid: number): Map<string, number> {
  const cpu = new Map<string, number>();
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return cpu;
  }
  ticksPerSecond ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // After the command name (in parentheses, which may hold spaces): state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu.set(tid, (Number(fields[11]) + Number(fields[12])) / ticksPerSecond);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return cpu;
}

/**
 * The workers' CPU between two readings: `totalS` over every thread of every
 * worker (the job's thread, V8's compile and GC threads, libuv's), and
 * `jobThreadsS`, each worker's busiest thread (with --concurrency 1, the
 * thread that ran its jobs).
 */
export interface WorkerCpu {
  totalS: number;
  jobThreadsS: number[];
}

export async function startBenchQueue(workers: number): Promise<{ url: string; stop: () => void; cpu: () => () => WorkerCpu }> {
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
  /** Starts a reading: the function it returns gives the workers' CPU since. */
  const cpu = () => {
    const before = procs.map((p) => threadCpuS(p.pid!));
    return () => {
      const jobThreadsS: number[] = [];
      let totalS = 0;
      procs.forEach((p, i) => {
        let busiest = 0;
        for (const [tid, s] of threadCpuS(p.pid!)) {
          const d = s - (before[i].get(tid) ?? 0);
          totalS += d;
          busiest = Math.max(busiest, d);
        }
        jobThreadsS.push(busiest);
      });
      return { totalS, jobThreadsS };
    };
  };
  return { url, stop, cpu };
}
