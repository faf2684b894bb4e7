// Invalidation modes (docs/model.md §5): *when* an unmap's invalidations go
// out. The configuration names a mode (config.ts MODES, checked there with
// one message); everything the model decides by mode asks its rules here,
// once per replay, and never compares the name again. A mode's rules are
// checked for completeness by the compiler (Record<InvalidationMode, ...>).
import type { InvalidationMode } from '../config/config.js';

export interface ModeRules {
  /**
   * An unmap's invalidations wait in its domain's flush queue (lazy:
   * `iommu.strict=0`, the DMA flush queue of dma-iommu.c) instead of being
   * synced when its gather ends (strict). A nested parent's stage-2 unmaps
   * are synced whatever the mode (§8).
   */
  readonly deferred: boolean;
  /**
   * Points that differ only in their IOTLB may replay as lanes of one replay
   * (caches/lanes.ts): only when every unmap's IOTLB entries are gone before
   * the next DMA, so that a page translates to the same leaf in every lane.
   */
  readonly lanes: boolean;
}

export const MODE_RULES: Record<InvalidationMode, ModeRules> = {
  strict: { deferred: false, lanes: true },
  lazy: { deferred: true, lanes: false },
};

/** The rules of `mode`; a name the configuration would have refused is an internal error, never a default. */
export function modeRules(mode: InvalidationMode): ModeRules {
  const rules = (MODE_RULES as Partial<Record<string, ModeRules>>)[mode];
  if (rules === undefined) throw new Error(`internal: unknown invalidation mode "${mode}"`);
  return rules;
}
