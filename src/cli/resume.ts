// What makes a sweep summary reusable by --resume: a key over the trace's
// identity, the point's resolved configuration, and the tool and spec
// versions. A summary is reused only when its stored key is exactly the key
// of the point about to run; anything else runs again.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { ReplayConfig } from '../config/config.js';
import { describeIoError, traceError } from '../errors.js';
import { stableStringify } from '../json.js';
import { SPEC_VERSION, toolVersion } from '../version.js';

/** Bytes hashed at each end of a trace file: its schema at the head, a file's footer (the index of its batches) at the tail. */
const EDGE_BYTES = 1 << 16;

/**
 * A trace file's identity: its size and a SHA-256 of its first and last
 * 64 KiB. Not its path, so that a moved or renamed copy still resumes; a file
 * changed in place changes its size or its edges (an Arrow file's footer
 * lists every batch's offset and length).
 */
export function traceFileIdentity(file: string): { size: number; edgesSha256: string } {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const hash = crypto.createHash('sha256');
    const head = Buffer.alloc(Math.min(EDGE_BYTES, size));
    fs.readSync(fd, head, 0, head.length, 0);
    hash.update(head);
    const tailLength = Math.min(EDGE_BYTES, Math.max(0, size - head.length));
    const tail = Buffer.alloc(tailLength);
    fs.readSync(fd, tail, 0, tailLength, size - tailLength);
    hash.update(tail);
    return { size, edgesSha256: hash.digest('hex') };
  } catch (err) {
    throw traceError(file, describeIoError(err));
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export type TraceIdentity = ReturnType<typeof traceFileIdentity>[];

/** The identity of a trace made of several files (in the order named: it decides the merge's tie-break). */
export function traceIdentity(files: string[]): TraceIdentity {
  return files.map(traceFileIdentity);
}

/** The key of one (trace, point): a SHA-256 over everything that decides its summary. */
export function resumeKey(trace: TraceIdentity, config: ReplayConfig): string {
  const identity = { tool: toolVersion(), spec: SPEC_VERSION, trace, config };
  return crypto.createHash('sha256').update(stableStringify(identity)).digest('hex');
}
