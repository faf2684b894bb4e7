// The vendors behind the seam of vendor.ts, by name (docs/model.md §9): one
// file each and one line here (docs/architecture.md, "Adding a vendor"). The
// names are the configuration's (config.ts VENDORS); a vendor whose rules are
// not all implemented yet is refused there, so its line here is never reached.
import type { VendorName } from '../config/config.js';
import type { InvalidationTarget, Vendor, VendorOptions } from './vendor.js';
import { Amd } from './amd.js';
import { Smmuv3 } from './smmuv3.js';
import { Vtd } from './vtd.js';

export type { VendorName } from '../config/config.js';

export const VENDORS: Record<VendorName, (target: InvalidationTarget, opts: VendorOptions) => Vendor> = {
  vtd: (target, opts) => new Vtd(target, opts),
  // AMD-Vi
  amd: (target, opts) => new Amd(target, opts),
  // Arm SMMUv3
  smmuv3: (target, opts) => new Smmuv3(target, opts),
};
