// Input errors are caught at the edge (the CLI) and printed as one line with
// exit status 2. Anything else is a bug and keeps its stack trace.

export class InputError extends Error {
  override name = 'InputError';
}

/** `Cannot read trace "x.arrow": <what>` */
export function traceError(file: string, what: string): InputError {
  return new InputError(`Cannot read trace "${file}": ${what}`);
}
