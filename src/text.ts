// Untrusted text: anything echoed back from a trace or configuration goes
// through here, so that a message stays one line and cannot drive the
// terminal (control characters and escape sequences are shown as \xNN).

/** At most `max` characters of `text`, control characters escaped. */
export function printable(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  // eslint-disable-next-line no-control-regex
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
