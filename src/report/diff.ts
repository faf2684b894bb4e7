// The counters of two summaries side by side (`iommu-replay compare`): every
// number of the summary's counters, as a flat list of dotted paths, and the
// ones that differ with their difference.
import { tablePageBytes, type Summary } from '../stats/summary.js';
import { fmtBytes, mdTable } from './format.js';

/** What identifies a row of each per-thing list, so that rows pair up by meaning, not position. */
const ROW_KEYS: Record<string, string> = { byDevice: 'device', byDomain: 'domain', byPageSize: 'pageSize' };
/** The parts of a summary that hold counters (the configuration and trace description do not). */
const COUNTER_PARTS = ['totals', 'derived', 'byPageSize', 'byDevice', 'byDomain'] as const;

/** Every number (or null ratio) of a summary's counters, by dotted path: "totals.iotlb.hits", "byDevice[0000:03:00.0].iotlb.hits". */
export function flattenCounters(s: Summary): Map<string, number | null> {
  const out = new Map<string, number | null>();
  // `rowKey`: the key naming this object's row (byDomain[3]'s `domain`), which is its id, not a counter;
  // a field of the same name deeper in the row (byDomain[3].invalidation.commands.domain) is one.
  const walk = (v: unknown, at: string, rowKey?: string): void => {
    if (typeof v === 'number' || v === null) out.set(at, v);
    else if (Array.isArray(v)) {
      const key = ROW_KEYS[at];
      v.forEach((row, i) => {
        const keyed = key !== undefined && row !== null && typeof row === 'object';
        walk(row, `${at}[${keyed ? String((row as Record<string, unknown>)[key]) : i}]`, keyed ? key : undefined);
      });
    } else if (typeof v === 'object') {
      for (const k of Object.keys(v as object).sort()) if (k !== rowKey) walk((v as Record<string, unknown>)[k], `${at}.${k}`);
    }
  };
  for (const part of COUNTER_PARTS) walk((s as unknown as Record<string, unknown>)[part], part);
  return out;
}

export interface CounterDiff {
  counter: string;
  a: number | null | undefined;
  b: number | null | undefined;
  /** Counts of things whose size differs between A and B (table pages of 4 KiB against 64 KiB): their bytes, which only compare as bytes. */
  unitBytes?: { a: number; b: number };
}

const TABLE_PAGES = 'totals.pageTable.peakTablePages';
const TABLE_BYTES = 'totals.pageTable.peakTableBytes';

/** Bytes of a summary's table pages (model §9.2), or null when it has no configuration to tell. */
function tablePageBytesOf(s: Summary): number | null {
  return Array.isArray(s.config?.pageSizes) ? tablePageBytes(s.config) : null;
}

/**
 * A summary's counters, with `peakTableBytes` made from its pages and its
 * configuration when the summary predates the key, so that the bytes of two
 * summaries always compare.
 */
function countersOf(s: Summary, pageBytes: number | null): Map<string, number | null> {
  const f = flattenCounters(s);
  const pages = f.get(TABLE_PAGES);
  if (!f.has(TABLE_BYTES) && typeof pages === 'number' && pageBytes !== null) f.set(TABLE_BYTES, pages * pageBytes);
  return f;
}

/**
 * The counters whose values differ (or that one side lacks), in summary
 * order; and how many are equal. Table pages of different sizes (a 16 or 64
 * KiB granule against 4 KiB pages, model §9.2) never compare as pages: the
 * page count is listed with its size and no difference, and
 * `peakTableBytes` carries the comparison.
 */
export function diffCounters(a: Summary, b: Summary): { differ: CounterDiff[]; equal: number } {
  const [pa, pb] = [tablePageBytesOf(a), tablePageBytesOf(b)];
  const fa = countersOf(a, pa);
  const fb = countersOf(b, pb);
  const unequalPages = pa !== null && pb !== null && pa !== pb;
  // Totals first, then derived figures and the per-thing lists (the order of COUNTER_PARTS).
  const names = [...new Set([...fa.keys(), ...fb.keys()])];
  const differ: CounterDiff[] = [];
  let equal = 0;
  for (const counter of names) {
    const va = fa.get(counter);
    const vb = fb.get(counter);
    if (counter === TABLE_PAGES && unequalPages) differ.push({ counter, a: va, b: vb, unitBytes: { a: pa, b: pb } });
    else if (va === vb) equal++;
    else differ.push({ counter, a: va, b: vb });
  }
  return { differ, equal };
}

function show(v: number | null | undefined): string {
  return v === undefined ? '(absent)' : v === null ? 'null' : String(v);
}

/** A Markdown table of differing counters: A, B, B - A and the change relative to A. */
export function diffTable(differ: CounterDiff[]): string {
  return mdTable(
    ['counter', 'A', 'B', 'B - A', 'change'],
    differ.map((d) => {
      if (d.unitBytes)
        return [
          d.counter,
          `${show(d.a)} × ${fmtBytes(d.unitBytes.a)}`,
          `${show(d.b)} × ${fmtBytes(d.unitBytes.b)}`,
          '',
          `pages differ in size: see ${TABLE_BYTES}`,
        ];
      const both = typeof d.a === 'number' && typeof d.b === 'number';
      const delta = both ? (d.b as number) - (d.a as number) : undefined;
      const change = both && d.a !== 0 ? `${((delta! / Math.abs(d.a as number)) * 100).toFixed(2)}%` : '';
      return [d.counter, show(d.a), show(d.b), delta === undefined ? '' : String(delta), change];
    }),
  );
}
