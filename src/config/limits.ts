// Limits on what one run may cost, given on the command line
// (`--max-table-memory`, `--max-points`): they bound a valid but huge input
// and change no counter, so they are not part of the configuration.
import { InputError } from '../errors.js';

/** The default of --max-points: a sweep of more points is almost surely a typo. */
export const DEFAULT_MAX_POINTS = 10_000;

const UNITS: Record<string, number> = { '': 0, K: 10, M: 20, G: 30, T: 40 };

/** Parses "1G", "512M", "4GiB", "1.5T" or a byte count to bytes. */
export function parseByteSize(flag: string, text: unknown): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(String(text).trim());
  const bytes = m ? Number(m[1]) * 2 ** UNITS[m[2].toUpperCase()] : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0 || bytes > 2 ** 50)
    throw new InputError(`Invalid option --${flag}: expected a size like 512M, 4G or 1T, got ${JSON.stringify(String(text)).slice(0, 40)}`);
  return Math.floor(bytes);
}
