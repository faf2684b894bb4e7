// Page sizes: "4K", "2M", "1G", ... or a pgsize_bitmap ("0x40201000"), where bit
// n set allows pages of 2^n bytes (docs/model.md, preamble). Inside the model a
// size is its *order*: log2(size) - 12, a page-frame-number shift.

export const PAGE_SHIFT = 12;

/**
 * A set of page sizes is written one way in everything the tool writes
 * (labels, results.arrow, reports, file names): "4K+2M+1G". On input, in a
 * configuration string or on the command line, "4K,2M", "4K|2M" and "4K+2M"
 * all mean the same set (docs/configuration.md, "Page sizes").
 */
export const PAGE_SIZE_SEPARATOR = '+';

/** Splits "4K,2M", "4K|2M" or "4K+2M" into its sizes. */
export function splitPageSizeList(text: string): string[] {
  return text
    .split(/[,|+]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Writes a set of size names the one way output spells it: "4K+2M". */
export function formatPageSizeSet(names: readonly string[]): string {
  return names.join(PAGE_SIZE_SEPARATOR);
}

const UNITS: Record<string, number> = { K: 10, M: 20, G: 30, T: 40, P: 50 };

/** Parses "64K", "2M", "1G", "4KiB" to log2(bytes); undefined when not a power of two or malformed. */
export function parseSizeLog2(text: string): number | undefined {
  const m = /^(\d+)\s*([KMGTP])(?:i?B)?$/i.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (!Number.isInteger(n) || n <= 0 || (n & (n - 1)) !== 0) return undefined;
  return Math.log2(n) + UNITS[m[2].toUpperCase()];
}

/** Formats 2^log2 bytes as "4K", "2M", "1G", "512G", "1T". */
export function formatSizeLog2(log2: number): string {
  for (const [unit, shift] of [
    ['P', 50],
    ['T', 40],
    ['G', 30],
    ['M', 20],
    ['K', 10],
  ] as const) {
    if (log2 >= shift) return `${2 ** (log2 - shift)}${unit}`;
  }
  return `${2 ** log2}B`;
}

export function formatOrder(order: number): string {
  return formatSizeLog2(order + PAGE_SHIFT);
}

/** Parses a bitmap string ("0x40201000") to the list of log2 sizes set in it. */
export function parseBitmap(text: string): number[] | undefined {
  if (!/^0x[0-9a-fA-F]+$/.test(text.trim())) return undefined;
  let v = BigInt(text.trim());
  const out: number[] = [];
  for (let bit = 0; v > 0n; bit++, v >>= 1n) if (v & 1n) out.push(bit);
  return out;
}

export function bitmapOfLog2s(log2s: number[]): string {
  let v = 0n;
  for (const l of log2s) v |= 1n << BigInt(l);
  return `0x${v.toString(16)}`;
}

/**
 * Page-size set of a domain or instance, as orders sorted largest first
 * (the IOTLB probe order of docs/model.md §6, step 2).
 */
export class PageSizeSet {
  readonly ordersDesc: Int8Array;
  readonly granuleOrder: number;
  readonly names: string[];

  constructor(log2s: number[]) {
    const uniq = [...new Set(log2s)].sort((a, b) => b - a);
    if (uniq.length === 0) throw new Error('empty page-size set');
    this.ordersDesc = Int8Array.from(uniq.map((l) => l - PAGE_SHIFT));
    this.granuleOrder = this.ordersDesc[this.ordersDesc.length - 1];
    this.names = uniq.map(formatSizeLog2).reverse();
  }

  has(order: number): boolean {
    return this.ordersDesc.includes(order);
  }

  /** True when every size of this set is in `other`. */
  subsetOf(other: PageSizeSet): boolean {
    for (const o of this.ordersDesc) if (!other.has(o)) return false;
    return true;
  }

  get bitmap(): string {
    return bitmapOfLog2s([...this.ordersDesc].map((o) => o + PAGE_SHIFT));
  }
}
