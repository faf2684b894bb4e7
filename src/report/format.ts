// Number formatting for human reports (never for the JSON summary), and the
// escaping of untrusted text (trace, file, configuration, workload and
// topology names) for each report format: mdText for Markdown, escapeHtml for
// HTML (text.ts's printable for the terminal).
import { visible } from '../text.js';

/**
 * An integer with its digits grouped by threes, as toLocaleString('en-US')
 * writes it ("12,000"). Safe integers are grouped here: the first
 * toLocaleString of a run starts ICU's number formatting, which takes
 * milliseconds of a short command (inspect); anything else (-0, NaN, huge) is
 * left to it.
 */
export function fmtInt(n: number): string {
  const v = Math.round(n);
  if (!Number.isSafeInteger(v) || Object.is(v, -0)) return v.toLocaleString('en-US');
  const digits = String(Math.abs(v)).replace(/\B(?=(\d{3})+$)/g, ',');
  return v < 0 ? `-${digits}` : digits;
}

export function fmtPct(r: number | null, digits = 2): string {
  return r === null ? 'n/a' : `${(r * 100).toFixed(digits)}%`;
}

export function fmtNum(r: number | null, digits = 3): string {
  if (r === null) return 'n/a';
  if (r !== 0 && Math.abs(r) < 10 ** -digits) return r.toExponential(2);
  return r.toFixed(digits);
}

export function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function fmtNs(ns: number): string {
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${Math.round(ns)} ns`;
}

/** A table of already formatted cells, rendered as Markdown or HTML. */
export interface Table {
  header: string[];
  rows: string[][];
  /** Numbers right-aligned (all columns but the first). */
  alignRight?: boolean;
}

/**
 * Untrusted text as Markdown inline text that renders as itself: one line
 * (control characters as \xNN), and every character that can open inline
 * markup (emphasis, code, links and images, raw HTML, entities,
 * strikethrough, a heading's closing #) backslash-escaped, as CommonMark allows for any ASCII
 * punctuation. `|` is left to mdTable, which escapes it in cells (elsewhere it
 * is plain text).
 */
/**
 * Lazy mode's note on maps that reused an IOVA still in the flush queue
 * (report-keys.md `invalidation.reusedBeforeFlush`, model.md §5): the replay
 * report's and the sweep's. `upTo`: the largest of several points.
 */
export function reusedBeforeFlushNote(reused: number, maps: number, upTo = false): string {
  // `maps`: the successful ones (map.ops - map.errors), which are the ones `reused` counts among.
  return (
    `${upTo ? 'Up to ' : ''}${fmtInt(reused)} of ${fmtInt(maps)} successful maps reused an IOVA still waiting in the flush queue, which Linux's lazy mode never does ` +
    `(it frees an IOVA only after the flush): the trace's IOVAs were allocated for another mode or flush queue (strict-mode reuse, ` +
    `or a smaller or shorter queue), so stale hits on those IOVAs ` +
    `(and the hit rate they add) would be misses under Linux.`
  );
}

export function mdText(text: string): string {
  return visible(text).replace(/[\\`*_[\]<>&~#]/g, (c) => `\\${c}`);
}

/** A Markdown table of Markdown cells (untrusted text in them already through mdText); `|` inside cells is escaped. */
export function mdTable(header: string[], rows: string[][], alignRight = true): string {
  const sep = header.map((_, i) => (i === 0 || !alignRight ? '---' : '---:'));
  const cell = (c: string) => c.replace(/\|/g, '\\|');
  return [header.map(cell), sep, ...rows.map((r) => r.map(cell))].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** A Table of plain-text cells as Markdown: every cell through mdText. */
export function tableMd(t: Table): string {
  return mdTable(
    t.header.map(mdText),
    t.rows.map((r) => r.map(mdText)),
    t.alignRight ?? true,
  );
}

/** Text for HTML (content or a quoted attribute): one line, control characters as \xNN, markup characters as entities. */
function esc(s: string): string {
  return visible(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A Table as HTML, in a box that scrolls sideways when the table is wider than the page; cells are plain text. */
export function tableHtml(t: Table): string {
  return `<div class="table-wrap"><table${t.alignRight === false ? ' class="text"' : ''}><thead><tr>${t.header.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${t.rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>`;
}

export { esc as escapeHtml };
