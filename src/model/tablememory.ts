// How much page-table memory a map needs, known before it is made, so that a
// valid but huge trace (one 2 TiB map in 4K pages wants a million table
// pages) stops with one line instead of running for minutes and gigabytes.
// The model's tables are 4 KiB pages of 512 entries (docs/model.md §2-3), or
// under LPAE pages of the granule's size (§9.2, config/tableformat.ts); the
// replay holds tablePageCostBytes (model/pagetable.ts) for each.
import { formatSizeLog2 } from '../config/pagesizes.js';
import { MemoryLimitError, formatBytes, memoryLimitMessage, parseByteSize, type MemoryBudget } from '../config/limits.js';
import { POW2 } from '../caches/indexing.js';
import type { TableFormat } from '../config/tableformat.js';
import { leafLevelOf, levelShift, type PageTablePool } from './pagetable.js';
import { pgsize, pgsizeOut } from './pgsize.js';

/**
 * The default of --max-table-memory: 384 MiB of model state (page tables,
 * domain, device and attachment state, TLB entries), as the replay holds it,
 * copies made while growing included. A process refused at this limit peaks
 * at about 340 MB (issue 25: a refusal must fit in 500 MB); at the former
 * 1 GiB, with growth copies not charged, it peaked at 1.7 GB.
 */
export const DEFAULT_MAX_TABLE_TEXT = '384M';
export const DEFAULT_MAX_TABLE_BYTES = parseByteSize('max-table-memory', DEFAULT_MAX_TABLE_TEXT);

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
    tables +=
      firstBig[l] < 0 ? tablesSpanned(format, iova, end, l) : tablesSpanned(format, iova, firstBig[l], l) + tablesSpanned(format, lastBigEnd[l], end, l);
  }
  return tables;
}

/**
 * The table pages a map of pfns [iova, iova + size) -> paddr may allocate, at
 * most (0: the pool surely has room). Made for every map, so cheap for a small
 * one: a map of at most 512 pages touches at most two tables of each level.
 */
export function mapTablePages(pool: PageTablePool, orders: Int8Array, iova: number, paddr: number, size: number): number {
  if (size <= 512 && pool.spareTables >= 2 * pool.levels) return 0;
  return tablePagesForMap(pool.format, orders, iova, paddr, size);
}

/** The memory-limit line for a map whose page tables need `needBytes` more than the pool holds. */
export function tableMemoryError(row: number, domain: number, iovaPfn: number, sizePfn: number, needBytes: number, budget: MemoryBudget): MemoryLimitError {
  const sizeText = Number.isInteger(Math.log2(sizePfn)) ? formatSizeLog2(Math.log2(sizePfn) + 12) : formatBytes(sizePfn * 4096);
  const what = `the map of ${sizeText} at iova 0x${(iovaPfn * 4096).toString(16)} in domain ${domain}`;
  // The pool grows by copying into arrays of the new size (PageTablePool.growTo): that is what it needs.
  return new MemoryLimitError(memoryLimitMessage(row, what, needBytes, budget.used, budget.maxBytes, ' for the page-table pool to grow'));
}
