// Input errors are caught at the edge (the CLI) and printed as one line with
// exit status 2. Anything else is a bug and keeps its stack trace.
import { shownPath } from './text.js';

export class InputError extends Error {
  override name = 'InputError';
}

/** A file-system error in words: "no such file", "permission denied", ... */
export function describeIoError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return e?.code ?? (e as Error)?.message ?? String(err);
  }
}

/** `Cannot read trace "x.arrow": <what>`, the name escaped (text.ts). */
export function traceError(file: string, what: string): InputError {
  return new InputError(`Cannot read trace "${shownPath(file)}": ${what}`);
}

/**
 * A service the command needs (Redis, for queued sweeps) is unreachable or
 * was lost: one line and exit status 3, no output written.
 */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
}
