// Number formatting for human reports (never for the JSON summary).

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
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

/** A Markdown table; cells are already strings. */
export function mdTable(header: string[], rows: string[][], alignRight = true): string {
  const sep = header.map((_, i) => (i === 0 || !alignRight ? '---' : '---:'));
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}
