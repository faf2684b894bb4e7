// Limits on what one run may cost, given on the command line
// (`--max-table-memory`, `--max-points`): they bound a valid but huge input
// and change no counter, so they are not part of the configuration.
import { InputError } from '../errors.js';

/** The default of --max-points: a sweep of more points is almost surely a typo. */
export const DEFAULT_MAX_POINTS = 10_000;

const UNITS: Record<string, number> = { '': 0, K: 10, M: 20, G: 30, T: 40 };

/** "1G", "512M", "4GiB", "1.5T" or a byte count in bytes (whole bytes, rounded down); undefined when malformed, 0 or above 1P. */
export function byteSizeOf(text: unknown): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(String(text).trim());
  const bytes = m ? Math.floor(Number(m[1]) * 2 ** UNITS[m[2].toUpperCase()]) : NaN;
  return Number.isFinite(bytes) && bytes > 0 && bytes <= 2 ** 50 ? bytes : undefined;
}

/** Parses "1G", "512M", "4GiB", "1.5T" or a byte count to bytes. */
export function parseByteSize(flag: string, text: unknown): number {
  const bytes = byteSizeOf(text);
  if (bytes === undefined)
    throw new InputError(`Invalid option --${flag}: expected a size like 512M, 4G or 1T, got ${JSON.stringify(String(text)).slice(0, 40)}`);
  return bytes;
}

/** "1.5 GiB", "6 KiB", "300 B". */
export function formatBytes(bytes: number): string {
  for (const [unit, shift] of [
    ['TiB', 40],
    ['GiB', 30],
    ['MiB', 20],
    ['KiB', 10],
  ] as const) {
    if (bytes >= 2 ** shift) return `${(bytes / 2 ** shift).toFixed(1).replace(/\.0$/, '')} ${unit}`;
  }
  return `${bytes} B`;
}

/** The line a replay stops with past --max-table-memory (one format for every kind of state). */
export function memoryLimitMessage(row: number | undefined, what: string, needBytes: number, usedBytes: number, maxBytes: number, of = ''): string {
  return (
    `Stopped ${row === undefined ? 'before the first row' : `at row ${row}`}: ${what} needs about ${formatBytes(needBytes)}${of}` +
    `${usedBytes > 0 ? ` (${formatBytes(usedBytes)} already in use)` : ''}, over the ${formatBytes(maxBytes)} limit; raise it with --max-table-memory`
  );
}

/** Model state past the memory limit: one line, exit 2, as any input error. */
export class MemoryLimitError extends InputError {}

/**
 * The memory a replay's model state holds, counted where it is allocated
 * (a page-table page, a domain, device or attachment slot, a TLB's entries),
 * never per DMA event, against --max-table-memory. A charge that would pass
 * the limit throws the memory-limit line; `where` names the row being
 * replayed (set by the replay; unset while it is being built).
 */
export class MemoryBudget {
  used = 0;
  where: (() => number) | undefined = undefined;
  constructor(readonly maxBytes: number) {}

  /** Whether `bytes` more stay within the limit. */
  fits(bytes: number): boolean {
    return this.used + bytes <= this.maxBytes;
  }

  /** Bytes left below the limit. */
  get room(): number {
    return Math.max(0, this.maxBytes - this.used);
  }

  /**
   * Counts `bytes` held by `what` ("domain 7", "the page-table pool"; a
   * function when the name costs something to build), or stops the replay
   * when they would pass the limit.
   */
  charge(bytes: number, what: string | (() => string)): void {
    if (this.used + bytes > this.maxBytes) throw this.error(typeof what === 'string' ? what : what(), bytes);
    this.used += bytes;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }

  /**
   * Grows state held in arrays: `copy` makes arrays of `newBytes` and copies
   * the old ones (`oldBytes`) into them, so both are held at once. The new
   * ones are charged in full before, the old ones released after: the budget
   * bounds that peak too (a refusal at the former 1 GiB default once peaked
   * at 1.7 GB with only the increase charged).
   */
  regrow<T>(newBytes: number, oldBytes: number, what: string | (() => string), copy: () => T): T {
    this.charge(newBytes, what);
    const grown = copy();
    this.release(oldBytes);
    return grown;
  }

  /** The memory-limit line for `what`, which needs `bytes` more. */
  error(what: string, bytes: number): MemoryLimitError {
    return new MemoryLimitError(memoryLimitMessage(this.where?.(), what, bytes, this.used, this.maxBytes));
  }
}

/** A budget that never stops (tests, benches, tools that bound nothing). */
export function unlimitedBudget(): MemoryBudget {
  return new MemoryBudget(Infinity);
}
