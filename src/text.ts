// Untrusted text: anything echoed back from a trace or configuration goes
// through here, so that a message stays one line and cannot drive the
// terminal (control characters and escape sequences are shown as \xNN).
// This is the terminal's escaping; report/format.ts builds Markdown's
// (mdText) and HTML's (escapeHtml) on `visible`.

/** `text` with control characters (C0, DEL, C1, line and paragraph separators) shown as \xNN: one line, nothing a terminal acts on. */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** At most `max` characters of `text`, control characters escaped. */
export function printable(text: string, max = 60): string {
  return visible(text.length > max ? `${text.slice(0, max)}...` : text);
}
