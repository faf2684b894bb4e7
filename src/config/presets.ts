// Presets for real IOMMUs (`--preset NAME`, `"preset": NAME`): the page sizes
// each Linux driver advertises in its domain's pgsize_bitmap, and for Arm the
// partial-unmap rule of io-pgtable-arm. A field given in the configuration
// wins over the preset's. Sources in docs/presets.md.
import type { PartialUnmap, VendorName } from './config.js';
import { PAGE_SHIFT } from './pagesizes.js';

export interface Preset {
  name: string;
  describe: string;
  /** log2 page sizes for a page table of `levels` levels. */
  pageSizeLog2s(levels: number): number[];
  partialUnmap?: PartialUnmap;
  /** Whose rules the preset's IOMMU follows (model §9.4); an explicit `vendor` wins. */
  vendor: VendorName;
}

const sizes =
  (...log2s: number[]) =>
  () =>
    log2s;

/** The largest leaf a table of `levels` 9-bit levels over 4 KiB pages can hold is 2^(12 + 9 * levels - 1). */
export function maxLeafLog2(levels: number): number {
  return PAGE_SHIFT + 9 * levels - 1;
}

export const PRESETS: readonly Preset[] = [
  { name: 'intel-vtd', describe: 'Intel VT-d: 4K|2M|1G', pageSizeLog2s: sizes(12, 21, 30), vendor: 'vtd' },
  {
    name: 'amd-v1',
    describe: 'AMD-Vi v1 page table: every power of two from 4K except 512G (up to what the table holds)',
    // AMD_IOMMU_PGSIZES = GENMASK_ULL(51, 12) ^ SZ_512G, cut to the sizes a
    // table of this many levels can hold (its top level's entries).
    pageSizeLog2s: (levels) => {
      const out: number[] = [];
      for (let l = PAGE_SHIFT; l <= Math.min(51, maxLeafLog2(levels)); l++) if (l !== 39) out.push(l);
      return out;
    },
    vendor: 'amd',
  },
  { name: 'amd-v2', describe: 'AMD-Vi v2 (x86-format) page table: 4K|2M|1G', pageSizeLog2s: sizes(12, 21, 30), vendor: 'amd' },
  { name: 'arm-smmu-4k', describe: 'Arm SMMU, 4K granule: 4K|2M|1G', pageSizeLog2s: sizes(12, 21, 30), partialUnmap: 'reject', vendor: 'smmuv3' },
  { name: 'arm-smmu-16k', describe: 'Arm SMMU, 16K granule: 16K|32M', pageSizeLog2s: sizes(14, 25), partialUnmap: 'reject', vendor: 'smmuv3' },
  { name: 'arm-smmu-64k', describe: 'Arm SMMU, 64K granule: 64K|512M', pageSizeLog2s: sizes(16, 29), partialUnmap: 'reject', vendor: 'smmuv3' },
];

export const PRESET_NAMES = PRESETS.map((p) => p.name) as [string, ...string[]];

export function findPreset(name: string): Preset | undefined {
  return PRESETS.find((p) => p.name === name);
}
