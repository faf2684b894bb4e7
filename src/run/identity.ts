// A trace file's identity: what a worker on another machine checks before it
// replays a job, so that a sweep never mixes results of two different files
// that happen to share a path.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { describeIoError, traceError } from '../errors.js';

/** Bytes hashed at each end: the schema and first batches, the footer and last batches. */
const END_BYTES = 1 << 16;

export interface TraceIdentity {
  path: string;
  size: number;
  /** sha256 of the first and of the last 64 KiB, hex. */
  head: string;
  tail: string;
}

export function traceIdentity(file: string): TraceIdentity {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw traceError(file, describeIoError(err));
  }
  try {
    const size = fs.fstatSync(fd).size;
    const hashAt = (pos: number) => {
      const buf = Buffer.alloc(Math.min(END_BYTES, size));
      fs.readSync(fd, buf, 0, buf.length, pos);
      return crypto.createHash('sha256').update(buf).digest('hex');
    };
    return { path: file, size, head: hashAt(0), tail: hashAt(Math.max(0, size - END_BYTES)) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Why two identities differ, in words, or null when they are the same file. */
export function identityMismatch(expected: TraceIdentity, found: TraceIdentity): string | null {
  if (expected.size !== found.size) return `${found.size} bytes where the submitter has ${expected.size}`;
  if (expected.head !== found.head) return "its first 64 KiB differ from the submitter's";
  if (expected.tail !== found.tail) return "its last 64 KiB differ from the submitter's";
  return null;
}
