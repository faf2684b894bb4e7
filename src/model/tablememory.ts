// How much page-table memory a map needs, known before it is made, so that a
// valid but huge trace (one 2 TiB map in 4K pages wants a million table
// pages) stops with one line instead of running for minutes and gigabytes.
// The model's tables are 4 KiB pages of 512 entries (docs/model.md §2-3), or
// under LPAE pages of the granule's size (§9.2, config/tableformat.ts).
import { InputError } from '../errors.js';
import { formatSizeLog2 } from '../config/pagesizes.js';
import { POW2 } from '../caches/indexing.js';
import type { TableFormat } from '../config/tableformat.js';
import { leafLevelOf, levelShift } from './pagetable.js';
import { pgsize, pgsizeOut } from './pgsize.js';

export const TABLE_PAGE_BYTES = 4096;
/** The default of --max-table-memory: 1 GiB of modeled table pages (the replay holds about 1.5 times that). */
export const DEFAULT_MAX_TABLE_BYTES = 2 ** 30;

/** Distinct tables of `level` (a table of level l spans what an entry of level l + 1 does) that pfns [start, end) touch. */
function tablesSpanned(format: TableFormat, start: number, end: number, level: number): number {
  if (end <= start) return 0;
  const span = POW2[levelShift(format, level + 1)];
  return Math.floor((end - 1) / span) - Math.floor(start / span) + 1;
}

/**
 * An upper bound on the table pages (below the root) that mapping pfns
 * [iova, iova + size) -> paddr with `orders` (largest first) can allocate.
 * Leaves come out of `iommu_pgsize()` small, then large, then small again, so
 * the leaves at or below each level lie in a head and a tail of the range;
 * a table of level L is needed only over those.
 */
export function tablePagesForMap(format: TableFormat, orders: Int8Array, iova: number, paddr: number, size: number): number {
  const levels = format.levels;
  // The first and last page covered by a leaf above each level.
  const firstBig = new Float64Array(levels + 1).fill(-1);
  const lastBigEnd = new Float64Array(levels + 1).fill(-1);
  let at = iova;
  let pa = paddr;
  let left = size;
  while (left > 0) {
    const order = pgsize(orders, at, pa, left);
    const count = pgsizeOut.count;
    if (order < 0 || count === 0) break;
    const step = count * POW2[order];
    const leafLevel = leafLevelOf(order, format);
    for (let l = 1; l < leafLevel; l++) {
      if (firstBig[l] < 0) firstBig[l] = at;
      lastBigEnd[l] = at + step;
    }
    at += step;
    pa += step;
    left -= step;
  }
  const end = iova + size;
  let tables = 0;
  // Tables of level l hold entries of level l (l = 1: the 4K entries); the root is level `levels`.
  for (let l = 1; l < levels; l++) {
    tables += firstBig[l] < 0 ? tablesSpanned(format, iova, end, l) : tablesSpanned(format, iova, firstBig[l], l) + tablesSpanned(format, lastBigEnd[l], end, l);
  }
  return tables;
}

export function formatBytes(bytes: number): string {
  for (const [unit, shift] of [['TiB', 40], ['GiB', 30], ['MiB', 20], ['KiB', 10]] as const) {
    if (bytes >= 2 ** shift) return `${(bytes / 2 ** shift).toFixed(1).replace(/\.0$/, '')} ${unit}`;
  }
  return `${bytes} B`;
}

export function tableMemoryError(row: number, domain: number, iovaPfn: number, sizePfn: number, needPages: number, alivePages: number, maxBytes: number, tablePageBytes: number): InputError {
  const sizeText = Number.isInteger(Math.log2(sizePfn)) ? formatSizeLog2(Math.log2(sizePfn) + 12) : formatBytes(sizePfn * 4096);
  return new InputError(
    `Stopped at row ${row}: the map of ${sizeText} at iova 0x${(iovaPfn * 4096).toString(16)} in domain ${domain} needs about ${formatBytes(needPages * tablePageBytes)} of page tables` +
      `${alivePages > 0 ? ` (${formatBytes(alivePages * tablePageBytes)} already in use)` : ''}, over the ${formatBytes(maxBytes)} limit; raise it with --max-table-memory`,
  );
}
