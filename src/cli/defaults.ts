// What --page-sizes, --iotlb and --mode mean when not given: the default
// configuration's values (config/config.ts), as --help shows them. Taken
// from resolveConfig itself, so that the help cannot drift from the model.
import { resolveConfig } from '../config/config.js';
import { formatPageSizeSet } from '../config/pagesizes.js';

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
