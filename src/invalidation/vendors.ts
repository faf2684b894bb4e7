// The vendors behind the seam of vendor.ts, by name. A replay takes VT-d
// today; docs/model.md §9's AMD-Vi and SMMUv3 would be one file each and one
// line here (docs/architecture.md, "Adding a vendor").
import type { InvalidationTarget, Vendor, VendorOptions } from './vendor.js';
import { Vtd } from './vtd.js';

export const VENDOR_NAMES = ['vtd'] as const;
export type VendorName = (typeof VENDOR_NAMES)[number];

export const VENDORS: Record<VendorName, (target: InvalidationTarget, opts: VendorOptions) => Vendor> = {
  vtd: (target, opts) => new Vtd(target, opts),
};
