// How the queue's users (sweep, curve, worker) reach Redis, and how they
// talk about it: the URL with its password hidden, the password from a file
// or the environment rather than the command line, TLS with a CA of one's
// own, and an error that says what went wrong (refused, timed out,
// authentication failed) without repeating a credential.
import fs from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { InputError, UnavailableError, describeIoError } from '../errors.js';
import { printable } from '../text.js';

/** What `connect` needs: the URL as given, and the credentials and CA from elsewhere. */
export interface QueueConnection {
  /** redis://[USER[:PASSWORD]@]HOST:PORT[/DB] or rediss://... */
  url: string;
  /** From --queue-password-file or REDIS_PASSWORD: used when the URL carries none. */
  password?: string;
  /** PEM certificates to trust for rediss:// (--queue-ca). */
  ca?: Buffer;
}

const URL_FORM = 'expected redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss://...';
/** A password or CA file is small; anything larger is not one. */
const MAX_SECRET_FILE_BYTES = 1 << 20;

/**
 * The URL as it may be shown: any password replaced by ***. A URL that does
 * not parse is cut at its last '@' the same way, so that a typo does not
 * print the password either.
 */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return printable(u.toString().replace(/\/$/, ''), 200);
  } catch {
    return printable(url.replace(/^([^/]*\/\/[^/@]*?:)[^@]*@/, '$1***@'), 200);
  }
}

/** `text` with every credential of `conn` replaced by ***: for messages that come from ioredis or BullMQ. */
export function redact(text: string, conn: QueueConnection): string {
  let out = text.split(conn.url).join(shownUrl(conn.url));
  for (const secret of [conn.password, urlPassword(conn.url)]) if (secret) out = out.split(secret).join('***');
  return out;
}

function urlPassword(url: string): string | undefined {
  try {
    const p = new URL(url).password;
    return p ? decodeURIComponent(p) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a small secret file (a password, a CA bundle); its content never goes into a message. */
function readSecretFile(flag: string, file: string): Buffer {
  let buf: Buffer;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new InputError(`Cannot read --${flag} "${printable(file, 200)}": not a regular file`);
    if (st.size > MAX_SECRET_FILE_BYTES) throw new InputError(`Cannot read --${flag} "${printable(file, 200)}": larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    buf = fs.readFileSync(file);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`Cannot read --${flag} "${printable(file, 200)}": ${describeIoError(err)}`);
  }
  return buf;
}

/**
 * The connection of a command line: the password from --queue-password-file
 * (its first line), else from the URL, else from REDIS_PASSWORD; --queue-ca
 * only with rediss://. Checks the URL's form (one line, password hidden).
 */
export function queueConnection(url: string, opts: { passwordFile?: string; caFile?: string } = {}, env: NodeJS.ProcessEnv = process.env): QueueConnection {
  const parsed = parseQueueUrl(url);
  const conn: QueueConnection = { url };
  if (opts.passwordFile !== undefined) {
    if (parsed.password) throw new InputError(`Invalid --queue "${shownUrl(url)}": it has a password, and --queue-password-file gives another; give one`);
    const password = readSecretFile('queue-password-file', opts.passwordFile).toString('utf8').split(/\r?\n/)[0];
    if (password === '') throw new InputError(`Invalid --queue-password-file "${printable(opts.passwordFile, 200)}": its first line is empty`);
    conn.password = password;
  } else if (!parsed.password && env.REDIS_PASSWORD) {
    conn.password = env.REDIS_PASSWORD;
  }
  if (opts.caFile !== undefined) {
    if (!parsed.tls) throw new InputError(`Invalid option --queue-ca: it is for rediss:// (TLS), and the queue is "${shownUrl(url)}"`);
    conn.ca = readSecretFile('queue-ca', opts.caFile);
  }
  return conn;
}

interface ParsedUrl {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
}

function parseQueueUrl(url: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`Invalid --queue "${shownUrl(url)}": ${URL_FORM}`);
  }
  if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || !u.hostname || u.search || u.hash)
    throw new InputError(`Invalid --queue "${shownUrl(url)}": ${URL_FORM}`);
  const dbText = u.pathname.length > 1 ? u.pathname.slice(1) : '0';
  const db = /^\d{1,5}$/.test(dbText) ? Number(dbText) : NaN;
  if (!Number.isInteger(db)) throw new InputError(`Invalid --queue "${shownUrl(url)}": the database "${printable(dbText)}" is not a number`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    db,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:',
  };
}

/** The ioredis options of a connection (exported for the tests of option parsing: TLS is not tested against a server). */
export function redisOptions(conn: QueueConnection): RedisOptions {
  const p = parseQueueUrl(conn.url);
  return {
    host: p.host,
    port: p.port,
    db: p.db,
    ...(p.username !== undefined ? { username: p.username } : {}),
    ...(p.password !== undefined || conn.password !== undefined ? { password: p.password ?? conn.password } : {}),
    ...(p.tls ? { tls: conn.ca ? { ca: conn.ca, servername: p.host } : { servername: p.host } } : {}),
    // BullMQ's blocking commands need this; the watchdog (queue.ts), not ioredis, decides when Redis is lost.
    maxRetriesPerRequest: null,
    lazyConnect: true,
    connectTimeout: 5000,
    retryStrategy: (times: number) => Math.min(200 * times, 1000),
  };
}

/**
 * What an ioredis error means, in words that name no credential: Redis
 * answers authentication errors with WRONGPASS / NOAUTH (a password is
 * wrong, or missing), which are not a server that is down.
 */
export function describeRedisError(err: unknown): { text: string; auth: boolean } {
  const e = err as NodeJS.ErrnoException | undefined;
  const message = e?.message ?? String(err);
  if (/^(WRONGPASS|NOAUTH)/.test(message) || /\b(WRONGPASS|NOAUTH)\b/.test(message)) {
    return {
      text: /NOAUTH/.test(message) ? 'authentication failed (the server needs a password)' : 'authentication failed (wrong user name or password)',
      auth: true,
    };
  }
  return { text: printable(e?.code ?? message, 200), auth: false };
}

/**
 * A Redis connection for BullMQ, checked before any job is queued: an
 * unreachable server, or a wrong password, is one line, not a hang (ioredis
 * would retry forever).
 */
export async function connect(conn: QueueConnection, purpose: 'submit' | 'worker'): Promise<Redis> {
  const redis = new Redis(redisOptions(conn));
  let lastError: { text: string; auth: boolean } | undefined;
  redis.on('error', (err: unknown) => {
    lastError = describeRedisError(err);
  });
  try {
    await withTimeout(
      redis.connect().then(() => redis.ping()),
      8000,
      () => lastError?.text ?? 'timed out',
    );
  } catch (err) {
    redis.disconnect();
    const why = lastError ?? describeRedisError(err);
    // A wrong or missing password is the command line's fault, not the server's: exit status 2.
    if (why.auth) throw new InputError(`Cannot log in to Redis at ${shownUrl(conn.url)}: ${why.text}`);
    throw new UnavailableError(
      redact(`Cannot reach Redis at ${shownUrl(conn.url)}: ${why.text}${purpose === 'worker' ? '' : ' (is redis-server running?)'}`, conn),
    );
  }
  return redis;
}

export function withTimeout<T>(p: Promise<T>, ms: number, why: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(why())), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
