// What --page-sizes, --iotlb and --mode mean when not given: the default
// configuration's values (config/config.ts), as --help shows them. Taken
// from resolveConfig itself, so that the help cannot drift from the model.
import { VENDORS, resolveConfig } from '../config/config.js';
import { formatPageSizeSet } from '../config/pagesizes.js';
import { parseByteSize } from '../config/limits.js';
import { DEFAULT_MAX_TABLE_TEXT } from '../model/tablememory.js';

const base = resolveConfig({});

/** "4K+2M+1G", "64x4", "strict": the defaults in the spelling the options take. */
export const SHORT_FORM_DEFAULTS = {
  pageSizes: formatPageSizeSet(base.pageSizes as string[]),
  iotlb: `${base.iotlb.entries}x${base.iotlb.ways}`,
  mode: base.invalidation.mode,
  vendor: base.vendor,
} as const;

/** For an option's defaultDescription: the configuration's value, else this default. */
export function configDefault(value: string): string {
  return `the configuration's, else ${value}`;
}

/** --vendor's defaultDescription: a preset sets the vendor (config/presets.ts), so it comes before the default. */
export const VENDOR_DEFAULT = `the configuration's or its preset's, else ${SHORT_FORM_DEFAULTS.vendor}`;

/** sweep's and curve's --mode: several modes, one point (or curve) each. */
export const MODES_OPTION = {
  type: 'string',
  array: true,
  defaultDescription: configDefault(SHORT_FORM_DEFAULTS.mode),
  describe: 'invalidation modes: strict lazy',
} as const;

/** sweep's and curve's --vendor: several vendors, one `each` ("point", "curve") each. */
export function vendorsOption(each: string) {
  return {
    type: 'string',
    array: true,
    defaultDescription: VENDOR_DEFAULT,
    describe: `whose IOMMU rules, one ${each} each: ${VENDORS.join(' ')} (docs/model.md §9)`,
  } as const;
}

/** --max-table-memory with the replay's default (model/tablememory.ts) shown, described as `describe`. */
export function maxTableMemoryOptionDescribed(describe: string) {
  return { type: 'string', defaultDescription: DEFAULT_MAX_TABLE_TEXT, describe } as const;
}

/** replay's, sweep's and fit's --max-table-memory: what `whose` model may hold (the same text but for whose). */
export function maxTableMemoryOption(whose: string) {
  return maxTableMemoryOptionDescribed(`stop when ${whose} (page tables, domains, devices, TLBs) would hold more than this`);
}

/** --max-table-memory in bytes; undefined when not given (the replay's default). */
export function maxTableBytesOf(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseByteSize('max-table-memory', text);
}
