// Page-table formats (docs/model.md §9.2), chosen once per configuration:
// VT-d's and AMD's tables resolve 9 bits a level over 4 KiB table pages;
// SMMUv3's are io-pgtable-arm's LPAE tables, whose granule (the smallest size
// of the domain's bitmap: 4K, 16K or 64K) sets the bits a level resolves
// (g − 3), the table page's size (the granule) and the levels for a 48-bit
// input (`arm_lpae_alloc_pgtable()`). The replay's pool, the generated DMA
// loop, the walk cost and the table-memory estimate all take their
// arithmetic from the format.
import { InputError } from '../errors.js';
import { PAGE_SHIFT, formatPageSizeSet, formatSizeLog2, parseSizeLog2 } from './pagesizes.js';

export interface TableFormat {
  /** 'x86': 9 bits a level over 4 KiB table pages (vtd, amd); 'lpae': io-pgtable-arm's (smmuv3). */
  readonly kind: 'x86' | 'lpae';
  readonly levels: number;
  /** log2 of the granule in 4 KiB pages: 0 (4K), 2 (16K) or 4 (64K); 0 for x86. */
  readonly granuleOrder: number;
  /** Bits of the address a level resolves: 9, or g − 3 under LPAE (9, 11, 13). */
  readonly bitsPerLevel: number;
  /** Entries of a table page: 2^bitsPerLevel. */
  readonly entries: number;
  /** Bytes of a table page: 4 KiB, or the granule under LPAE. */
  readonly tablePageBytes: number;
  /** log2 of the pfns the table's input address space holds (pfns at or above 2^this are outside). */
  readonly limitOrder: number;
}

/** VT-d's (and AMD v1's) tables of `levels` levels. */
export function x86Format(levels: number): TableFormat {
  return { kind: 'x86', levels, granuleOrder: 0, bitsPerLevel: 9, entries: 512, tablePageBytes: 4096, limitOrder: 9 * levels };
}

/** io-pgtable-arm's input address size for a stage-1 domain without VAX (`arm_smmu_domain_finalise()`: ias 48). */
export const LPAE_IAS = 48;

/** The leaf sizes (log2 bytes) of each LPAE granule (`arm_lpae_restrict_pgsizes()`; 64K's 4T needs OAS > 48, which the model does not have). */
export const LPAE_LEAVES: Readonly<Record<number, readonly number[]>> = { 12: [12, 21, 30], 14: [14, 25], 16: [16, 29] };

/** io-pgtable-arm's tables with a granule of 2^granuleLog2 bytes (12, 14 or 16). */
export function lpaeFormat(granuleLog2: number): TableFormat {
  const bits = granuleLog2 - 3; // 8-byte descriptors
  const levels = Math.ceil((LPAE_IAS - granuleLog2) / bits); // DIV_ROUND_UP(va_bits, bits_per_level)
  return {
    kind: 'lpae',
    levels,
    granuleOrder: granuleLog2 - PAGE_SHIFT,
    bitsPerLevel: bits,
    entries: 2 ** bits,
    tablePageBytes: 2 ** granuleLog2,
    limitOrder: LPAE_IAS - PAGE_SHIFT,
  };
}

/** A bitmap that no LPAE format takes: names its field, so that the configuration's line can say where. */
export class TableFormatError extends InputError {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`Invalid config: ${field}: ${reason}`);
  }
}

/** A bitmap the format is chosen from: the field it comes from (for the error line) and its sizes (log2 bytes). */
export interface NamedBitmap {
  field: string;
  log2s: readonly number[];
}

/**
 * The format of a configuration's tables: x86 of `levels` levels, or under
 * smmuv3 LPAE with the granule every bitmap shares. Under smmuv3 a bitmap
 * whose smallest size is not 4K, 16K or 64K, that holds a size which is not
 * a leaf of its granule, or whose granule differs from the others' (the
 * format is one per configuration) is a configuration error naming it.
 */
export function tableFormatFor(vendor: string, levels: number, bitmaps: readonly NamedBitmap[]): TableFormat {
  if (vendor !== 'smmuv3') return x86Format(levels);
  let granule = -1;
  let granuleField = '';
  for (const { field, log2s } of bitmaps) {
    const g = Math.min(...log2s);
    const leaves = LPAE_LEAVES[g];
    const sizes = formatPageSizeSet(log2s.map(formatSizeLog2));
    if (leaves === undefined)
      throw new TableFormatError(field, `under smmuv3 the smallest page size (the granule) must be 4K, 16K or 64K, not ${formatSizeLog2(g)} (${sizes})`);
    const bad = log2s.find((l) => !leaves.includes(l));
    if (bad !== undefined)
      throw new TableFormatError(
        field,
        `${formatSizeLog2(bad)} is not a leaf of io-pgtable-arm's ${formatSizeLog2(g)} granule (its leaves: ${formatPageSizeSet(leaves.map(formatSizeLog2))})`,
      );
    if (granule < 0) {
      granule = g;
      granuleField = field;
    } else if (g !== granule) {
      throw new TableFormatError(
        field,
        `its granule ${formatSizeLog2(g)} differs from ${granuleField}'s ${formatSizeLog2(granule)}; under smmuv3 a configuration has one page-table granule${field === 'svaPageSizes' ? " (give svaPageSizes the same granule: the SVA domains' tables are LPAE tables too)" : ''}`,
      );
    }
  }
  return lpaeFormat(granule < 0 ? PAGE_SHIFT : granule);
}

/**
 * Bytes of one table page of a resolved configuration: 4 KiB, or under
 * smmuv3 the granule (the smallest of its instances' sizes, which all share
 * it). `pageSizes` are size names ("64K", "512M").
 */
export function tablePageBytesOf(vendor: string, pageSizes: readonly string[]): number {
  if (vendor !== 'smmuv3') return 4096;
  return 2 ** Math.min(...pageSizes.map((n) => parseSizeLog2(n)!));
}

/** The levels of a resolved configuration's tables: `pageTable.levels`, or under smmuv3 the granule's. */
export function tableLevelsOf(vendor: string, levels: number, pageSizes: readonly string[]): number {
  if (vendor !== 'smmuv3') return levels;
  return lpaeFormat(Math.log2(tablePageBytesOf(vendor, pageSizes))).levels;
}
