// What crosses Redis, checked without a Redis: the connection's options and
// credentials (never shown), the jobs a worker accepts and the traces it
// reads, and the results a submitter accepts (run/queue-connection.ts,
// run/queue-job.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { expandSweep } from '../../src/config/sweep.js';
import { stableStringify } from '../../src/json.js';
import { traceIdentity } from '../../src/run/identity.js';
import { describeRedisError, queueConnection, redact, redisOptions, shownUrl } from '../../src/run/queue-connection.js';
import { checkJob, checkJobDepth, checkTracePath, curvesOf, jobId, summariesOf, traceRoots, versionMatches, type JobData } from '../../src/run/queue-job.js';
import { replayPoints } from '../../src/run/run.js';
import { DEFAULT_MAX_TABLE_BYTES } from '../../src/model/tablememory.js';
import { CLI, tmpDir } from '../helpers/cli.js';

const SECRET = 's3cretPW';

describe('queue credentials are never shown', () => {
  it('shownUrl hides the password, of a URL that parses and of one that does not', () => {
    expect(shownUrl(`redis://default:${SECRET}@127.0.0.1:6379/0`)).toBe('redis://default:***@127.0.0.1:6379/0');
    expect(shownUrl(`rediss://:${SECRET}@host:6380`)).toBe('rediss://:***@host:6380');
    expect(shownUrl(`redis://default:${SECRET}@[bad`)).not.toContain(SECRET);
    expect(shownUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it('redact removes the password of the URL and of the file from any message', () => {
    const conn = { url: `redis://u:${SECRET}@h:1`, password: 'filePW' };
    expect(redact(`at ${conn.url}: ${SECRET} and filePW`, conn)).toBe('at redis://u:***@h:1: *** and ***');
  });

  it('the password comes from --queue-password-file (first line), else the URL, else REDIS_PASSWORD', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'pw');
    fs.writeFileSync(file, `${SECRET}\nignored\n`);
    expect(redisOptions(queueConnection('redis://127.0.0.1:1', { passwordFile: file }, {})).password).toBe(SECRET);
    expect(redisOptions(queueConnection('redis://127.0.0.1:1', {}, { REDIS_PASSWORD: 'envPW' })).password).toBe('envPW');
    expect(redisOptions(queueConnection(`redis://u:${SECRET}@127.0.0.1:1`, {}, { REDIS_PASSWORD: 'envPW' }))).toMatchObject({
      username: 'u',
      password: SECRET,
    });
    expect(redisOptions(queueConnection('redis://127.0.0.1:1', {}, {})).password).toBeUndefined();
    expect(() => queueConnection(`redis://u:${SECRET}@127.0.0.1:1`, { passwordFile: file }, {})).toThrow(
      'Invalid --queue "redis://u:***@127.0.0.1:1": it has a password, and --queue-password-file gives another; give one',
    );
    fs.writeFileSync(file, '\n');
    expect(() => queueConnection('redis://127.0.0.1:1', { passwordFile: file }, {})).toThrow(/its first line is empty/);
    expect(() => queueConnection('redis://127.0.0.1:1', { passwordFile: path.join(dir, 'none') }, {})).toThrow(
      /Cannot read --queue-password-file ".*none": no such file/,
    );
  });

  it('--queue-ca goes with rediss:// and gives ioredis tls.ca (TLS itself is not tested against a server)', () => {
    const dir = tmpDir();
    const ca = path.join(dir, 'ca.pem');
    fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const opts = redisOptions(queueConnection('rediss://queue-host:6380/2', { caFile: ca }, {}));
    expect(opts).toMatchObject({ host: 'queue-host', port: 6380, db: 2 });
    expect((opts.tls as { ca: Buffer }).ca.toString()).toContain('BEGIN CERTIFICATE');
    expect(redisOptions(queueConnection('rediss://queue-host:6380', {}, {})).tls).toEqual({ servername: 'queue-host' });
    expect(redisOptions(queueConnection('redis://queue-host:6380', {}, {})).tls).toBeUndefined();
    expect(() => queueConnection('redis://queue-host:6380', { caFile: ca }, {})).toThrow(
      'Invalid option --queue-ca: it is for rediss:// (TLS), and the queue is "redis://queue-host:6380"',
    );
  });

  it('a URL of another form is one line, without its password', () => {
    for (const bad of [`http://u:${SECRET}@h:1`, `redis://u:${SECRET}@h:1/x`, `redis://u:${SECRET}@h:1/0?password=x`]) {
      let message = '';
      try {
        queueConnection(bad, {}, {});
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^Invalid --queue "/);
      expect(message).not.toContain(SECRET);
    }
  });

  it('WRONGPASS and NOAUTH are authentication failures, not a server that is down', () => {
    expect(describeRedisError(new Error('WRONGPASS invalid username-password pair or user is disabled.'))).toEqual({
      text: 'authentication failed (wrong user name or password)',
      auth: true,
    });
    expect(describeRedisError(new Error('NOAUTH Authentication required.'))).toEqual({
      text: 'authentication failed (the server needs a password)',
      auth: true,
    });
    expect(describeRedisError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toEqual({ text: 'ECONNREFUSED', auth: false });
  });

  it('the CLI refuses a bad --queue without printing its password, and --queue-ca without rediss://', () => {
    const r = spawnSync(process.execPath, [CLI, 'worker', '--queue', `http://default:${SECRET}@127.0.0.1:1`], { encoding: 'utf8' });
    expect(r.stderr).toBe('iommu-replay: Invalid --queue "http://default:***@127.0.0.1:1": expected redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss://...\n');
    expect(r.status).toBe(2);
    const c = spawnSync(process.execPath, [CLI, 'sweep', 'traces/nic.arrows', '--queue-ca', 'x.pem', '--out', path.join(tmpDir(), 'o')], { encoding: 'utf8' });
    expect(c.stderr).toBe('iommu-replay: Invalid option --queue-ca: it goes with --queue\n');
    expect(c.status).toBe(2);
  });
});

/** A points job as the submitter builds it (run/queue.ts runSweepQueued). */
function pointsJob(
  trace: string,
  configs = expandSweep({}, { pageSizes: ['4K', '4K,2M'], iotlb: ['32x4', '256xfull'], mode: ['strict', 'lazy'] }, 'test').map((p) => p.config),
): JobData & { kind: 'points' } {
  return { version: '1', kind: 'points', trace: [traceIdentity(trace)], configs: configs.slice(0, 6), maxTableBytes: 1 << 30 };
}

describe('a worker checks every job', () => {
  it("a worker takes a job of its own version, or of it with a '+' tag (a run of its own), and no other", () => {
    expect(versionMatches('0.2.0', '0.2.0')).toBe(true);
    expect(versionMatches('0.2.0+bench', '0.2.0')).toBe(true);
    expect(versionMatches('0.1.0', '0.2.0')).toBe(false);
    expect(versionMatches('0.2.00', '0.2.0')).toBe(false);
    expect(versionMatches('0.2.0-rc1', '0.2.0')).toBe(false);
    expect(versionMatches('x', '0.2.0')).toBe(false);
  });

  const roots = traceRoots([process.cwd()]);

  it("accepts the jobs a submitter makes (resolved configurations resolve to themselves), with the worker's table-memory limit where lower", () => {
    const job = pointsJob('traces/nic.arrows');
    const checked = checkJob(JSON.parse(JSON.stringify(job)), { traceRoots: roots, maxTableBytes: 1 << 20 });
    expect(stableStringify(checked.kind === 'points' && checked.configs)).toBe(stableStringify(job.configs));
    expect(checked.kind === 'points' && checked.maxTableBytes).toBe(1 << 20);
    expect(
      checkJob({ ...job, maxTableBytes: 4096 }, { traceRoots: roots }).kind === 'points' &&
        (checkJob({ ...job, maxTableBytes: 4096 }, { traceRoots: roots }) as { maxTableBytes: number }).maxTableBytes,
    ).toBe(4096);
    expect((checkJob({ ...job, maxTableBytes: undefined }, { traceRoots: roots }) as { maxTableBytes: number }).maxTableBytes).toBe(DEFAULT_MAX_TABLE_BYTES);
    const curve: JobData = {
      version: '1',
      kind: 'curve',
      trace: job.trace,
      curve: { config: resolveConfig({}), maxEntries: 64, maxGroups: 64, policy: 'lru', ways: 0, opt: true },
    };
    expect(checkJob(curve, { traceRoots: roots }).kind).toBe('curve');
  });

  it("bounds a curve job's replays by the worker's table-memory limit as a points job's (the job's own where lower)", () => {
    const trace = pointsJob('traces/nic.arrows').trace;
    const curve = { config: resolveConfig({}), maxEntries: 64, maxGroups: 64, policy: 'lru' as const, ways: 0, opt: false };
    const limitOf = (c: object, maxTableBytes?: number) => {
      const checked = checkJob({ version: '1', kind: 'curve', trace, curve: c }, { traceRoots: roots, maxTableBytes });
      return checked.kind === 'curve' && checked.curve.maxTableBytes;
    };
    expect(limitOf(curve, 1 << 20)).toBe(1 << 20);
    expect(limitOf(curve)).toBe(DEFAULT_MAX_TABLE_BYTES);
    expect(limitOf({ ...curve, maxTableBytes: 4096 }, 1 << 20)).toBe(4096);
    expect(limitOf({ ...curve, maxTableBytes: 1 << 30 }, 1 << 20)).toBe(1 << 20);
    expect(() => limitOf({ ...curve, maxTableBytes: 'banana' })).toThrow(/^Invalid job: curve.maxTableBytes: /);
  });

  // From /work/shared/trust-repro/queue-untrusted-job.mjs (the jobs it places in Redis).
  it('refuses an unvalidated configuration, a null trace, and fields of another shape, naming the field', () => {
    const job = pointsJob('traces/nic.arrows');
    const bad = { ...job.configs[0], iotlb: { entries: 64, sets: 3, ways: 'x', policy: 'nope' }, pageSizes: ['banana'] };
    expect(() => checkJob({ ...job, configs: [bad] }, { traceRoots: roots })).toThrow(
      'Invalid job: Invalid config "configs[0]": iotlb.ways: expected a positive integer or "full", got "x"',
    );
    expect(() =>
      checkJob({ ...job, configs: [{ ...job.configs[0], iotlb: { entries: 48, sets: 3, ways: 16, policy: 'lru' } }] }, { traceRoots: roots }),
    ).toThrow('Invalid job: Invalid config "configs[0]": iotlb.sets: expected a power of two, got 3');
    expect(() => checkJob({ ...job, configs: [{ ...job.configs[0], pageSizes: ['banana'] }] }, { traceRoots: roots })).toThrow(
      /pageSizes: expected a power-of-two size/,
    );
    // Valid, but not what a submitter sends: the worker would fill in defaults nobody asked for.
    expect(() => checkJob({ ...job, configs: [{ iotlb: { sets: 16, ways: 4 } }] }, { traceRoots: roots })).toThrow(
      'Invalid job: config "configs[0]" is not a resolved configuration (defaults missing, or fields that resolve otherwise)',
    );
    expect(() => checkJob({ ...job, trace: null }, { traceRoots: roots })).toThrow(/^Invalid job: trace: /);
    expect(() => checkJob({ ...job, maxTableBytes: 'banana' }, { traceRoots: roots })).toThrow(/^Invalid job: maxTableBytes: /);
    expect(() => checkJob({ ...job, configs: Array(7).fill(job.configs[0]) }, { traceRoots: roots })).toThrow(/^Invalid job: configs: /);
    expect(() => checkJob({ ...job, kind: 'shell' }, { traceRoots: roots })).toThrow(/^Invalid job: kind: /);
    expect(() => checkJob({ ...job, extra: 1 }, { traceRoots: roots })).toThrow(/^Invalid job: /);
    expect(() => checkJob('[]', { traceRoots: roots })).toThrow(/^Invalid job: /);
  });

  it('reads a trace only as a regular file under a trace root; outside, it does not look', () => {
    const root = fs.realpathSync(tmpDir());
    const rootsOf = traceRoots([root]);
    const inside = path.join(root, 'nic.arrows');
    fs.copyFileSync('traces/nic.arrows', inside);
    expect(checkTracePath(inside, rootsOf)).toBe(inside);
    const outside = 'Trace "/etc/shadow" is outside this worker\'s trace folders (worker --trace-root)';
    expect(() => checkTracePath('/etc/shadow', rootsOf)).toThrow(outside);
    // The same answer whether or not the file exists: no existence oracle.
    expect(() => checkTracePath('/etc/no-such-file', rootsOf)).toThrow('Trace "/etc/no-such-file" is outside');
    expect(() => checkTracePath(`${root}/../etc/shadow`, rootsOf)).toThrow(/is outside/);
    expect(() => checkTracePath('-', rootsOf)).toThrow(/is outside/);
    fs.symlinkSync('/etc/passwd', path.join(root, 'link.arrows'));
    expect(() => checkTracePath(path.join(root, 'link.arrows'), rootsOf)).toThrow(/is outside/);
    const fifo = path.join(root, 'fifo.arrows');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(() => checkTracePath(fifo, rootsOf)).toThrow(`Cannot read trace "${fifo}": not a regular file`);
    expect(() => checkTracePath(root, rootsOf)).toThrow(/not a regular file/);
    expect(() => checkTracePath(path.join(root, 'none.arrows'), rootsOf)).toThrow(/: no such file$/);
    // A root given through a symbolic link admits paths written through it, and no more.
    const alias = path.join(fs.realpathSync(tmpDir()), 'alias');
    fs.symlinkSync(root, alias);
    const viaAlias = traceRoots([alias]);
    expect(viaAlias).toEqual([alias, root]);
    expect(checkTracePath(path.join(alias, 'nic.arrows'), viaAlias)).toBe(path.join(alias, 'nic.arrows'));
    expect(() => checkTracePath(path.join(alias, 'link.arrows'), viaAlias)).toThrow(/is outside/);
    expect(() => traceRoots([path.join(root, 'none')])).toThrow(/^Invalid option --trace-root ".*none": no such file$/);
  });
});

describe('a submitter checks every result', () => {
  it('takes the summaries of its own job, and refuses forged, foreign or malformed ones with what is wrong', async () => {
    const job = pointsJob('traces/nic.arrows', [resolveConfig({}), resolveConfig({ iotlb: { sets: 32, ways: 4 } })]);
    const id = jobId(job);
    const texts = (await replayPoints(['traces/nic.arrows'], job.configs)).map((s) => stableStringify(s));
    const good = JSON.parse(JSON.stringify({ job: id, results: texts }));
    expect(summariesOf(good, job, id).map((s) => stableStringify(s))).toEqual(texts);

    // From /work/shared/trust-repro/queue-forged-result-crashes-submitter.sh: `["{}"]` crashed the submitter.
    expect(() => summariesOf(['{}'], job, id)).toThrow('not a result of this version (expected {job, results})');
    expect(() => summariesOf('', job, id)).toThrow('not a result of this version');
    expect(() => summariesOf(null, job, id)).toThrow('not a result of this version');
    expect(() => summariesOf({ job: id, results: [] }, job, id)).toThrow('0 result(s) where the job has 2');
    expect(() => summariesOf({ job: 'f'.repeat(32), results: texts }, job, id)).toThrow('it is the result of another job');
    expect(() => summariesOf({ job: id, results: ['{}', '{}'] }, job, id)).toThrow(/^summary 1: /);
    expect(() => summariesOf({ job: id, results: ['not json', texts[1]] }, job, id)).toThrow(/^not valid JSON/);
    expect(() => summariesOf({ job: id, results: [texts[1], texts[0]] }, job, id)).toThrow("summary 1 is of another configuration than the job's point");
    const otherFiles = JSON.parse(texts[0]);
    otherFiles.trace.files = ['/etc/shadow'];
    expect(() => summariesOf({ job: id, results: [JSON.stringify(otherFiles), texts[1]] }, job, id)).toThrow(
      "summary 1 is of other trace files than the job's",
    );
    const negative = JSON.parse(texts[0]);
    negative.totals.dma.events = -1;
    expect(() => summariesOf({ job: id, results: [JSON.stringify(negative), texts[1]] }, job, id)).toThrow(/^summary 1: totals\.dma\.events: /);
    const fraction = JSON.parse(texts[0]);
    fraction.totals.map.pages['4K'] = 0.5;
    expect(() => summariesOf({ job: id, results: [JSON.stringify(fraction), texts[1]] }, job, id)).toThrow(/^summary 1: totals\.map\.pages\.4K: /);
    // The table bytes and the commands by name go into results.arrow's int64 columns and the reports: counts, checked.
    const bytes = JSON.parse(texts[0]);
    bytes.totals.pageTable.peakTableBytes = 'x';
    expect(() => summariesOf({ job: id, results: [JSON.stringify(bytes), texts[1]] }, job, id)).toThrow(/^summary 1: totals\.pageTable\.peakTableBytes: /);
    const byName = JSON.parse(texts[0]);
    byName.totals.invalidation.commands.byName.PSI = -3;
    expect(() => summariesOf({ job: id, results: [JSON.stringify(byName), texts[1]] }, job, id)).toThrow(
      /^summary 1: totals\.invalidation\.commands\.byName\.PSI: /,
    );
  });

  it('takes the curves of its own job only', () => {
    const config = resolveConfig({});
    const data: JobData & { kind: 'curve' } = {
      version: '1',
      kind: 'curve',
      trace: [traceIdentity('traces/nic.arrows')],
      curve: { config, maxEntries: 2, maxGroups: 64, policy: 'lru', ways: 0, opt: false },
    };
    const id = jobId(data);
    const pt = (entries: number) => ({
      entries,
      sets: 1,
      lookups: 10,
      hits: 5,
      misses: 5,
      staleHits: 0,
      walks: 5,
      walkAccesses: 20,
      faults: 0,
      hitRate: 0.5,
      translationCostNs: 1410,
    });
    const ops = { dmaEvents: 10, maps: 2, mapErrors: 0, unmaps: 1, unmapErrors: 0, attaches: 1, attachErrors: 0 };
    const curve = { policy: 'lru', ways: 0, method: 'stack', points: [pt(1), pt(2)], pageSizesUsed: ['4K', '2M'], groups: 1, passes: 1, approximate: [], ops };
    expect(curvesOf({ job: id, results: [JSON.stringify([curve])] }, data, id)).toEqual([curve]);
    expect(() => curvesOf({ job: id, results: ['[{}]'] }, data, id)).toThrow(/^curve 1: /);
    expect(() => curvesOf({ job: id, results: ['[]'] }, data, id)).toThrow('expected 1 curve(s)');
    expect(() => curvesOf({ job: id, results: [JSON.stringify([{ ...curve, policy: 'fifo' }])] }, data, id)).toThrow(
      "curve 1 is of another policy or geometry than the job's",
    );
    expect(() => curvesOf({ job: id, results: [JSON.stringify([{ ...curve, points: [pt(1), pt(3)] }])] }, data, id)).toThrow(
      'curve 1: sizes not ascending within 1..2',
    );
    expect(() => curvesOf({ job: id, results: [JSON.stringify([{ ...curve, pageSizesUsed: ['4K+2M'] }])] }, data, id)).toThrow(/^curve 1: .*page size/);
    // A lazy curve's maps of IOVAs still in the flush queue come through; a malformed count does not.
    const lazy = { ...curve, reusedBeforeFlush: { maps: 3, pages: 4, successfulMaps: 10 } };
    expect(curvesOf({ job: id, results: [JSON.stringify([lazy])] }, data, id)).toEqual([lazy]);
    expect(() =>
      curvesOf({ job: id, results: [JSON.stringify([{ ...lazy, reusedBeforeFlush: { maps: -1, pages: 4, successfulMaps: 10 } }])] }, data, id),
    ).toThrow(/^curve 1: /);
    // The counts of the curve's warning line (CurveResult.ops) are checked as counts, and required.
    expect(() => curvesOf({ job: id, results: [JSON.stringify([{ ...curve, ops: { ...ops, attachErrors: -1 } }])] }, data, id)).toThrow(/^curve 1: /);
    expect(() => curvesOf({ job: id, results: [JSON.stringify([{ ...curve, ops: undefined }])] }, data, id)).toThrow(/^curve 1: /);
  });
});

describe('a job nested deeper than a job can be', () => {
  it('is refused by name before it is hashed or checked (it overflowed the stack: "Maximum call stack size exceeded")', () => {
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { x: deep };
    expect(() => checkJobDepth({ kind: 'points', configs: [deep] })).toThrow('Invalid job: nests deeper than 32 levels, expected a job');
    expect(() => checkJobDepth({ kind: 'points', configs: [{ a: [1, { b: 2 }] }] })).not.toThrow();
  });
});
