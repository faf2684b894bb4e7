// Untrusted text: anything echoed back from a trace, a configuration or a
// file name goes through here, so that a message stays one line and cannot
// drive the terminal: control characters (C0 including ESC, CR and LF, DEL,
// C1), line and paragraph separators and the bidirectional controls that
// reorder what is shown are written as \xNN or \uNNNN. This is the
// terminal's escaping; report/format.ts builds Markdown's (mdText) and
// HTML's (escapeHtml) on `visible`.

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** `text` with every character that could drive a terminal or reorder a line shown as \xNN or \uNNNN. */
export function visible(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** At most `max` characters of `text`, every character that could drive a terminal escaped. */
export function printable(text: string, max = 60): string {
  return visible(text.length > max ? `${text.slice(0, max)}...` : text);
}

/** A file name as messages show it: whole (up to 400 characters), escaped like any untrusted text. */
export function shownPath(file: string): string {
  return printable(file, 400);
}
