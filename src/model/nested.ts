// Nested (two-stage) translation, docs/model.md §8: the 2-D walk of a guest's
// stage 1 (IOVA -> IPA) over the host's stage 2 (IPA -> PA), as VT-d
// scalable mode does it with PGTT = 011b (drivers/iommu/intel/nested.c). One
// function serves the miss (walk and fill) and the stale check of a hit (the
// walk a hit is compared with), so the two cannot disagree.
import { alignDown } from '../caches/indexing.js';
import type { PageSizeSet } from '../config/pagesizes.js';
import type { PageTablePool } from './pagetable.js';

/** nestedWalk's result when no stage-1 leaf covers the IOVA. */
export const FAULT_S1 = -1;
/** nestedWalk's result when no stage-2 leaf covers the IPA. */
export const FAULT_S2 = -2;

/** Set by a nestedWalk that found both leaves. */
export const nestedOut = { base: 0, phys: 0, accesses: 0 };

/**
 * Walks both stages for IOVA pfn `a`: returns the order of the combined
 * entry, min(S1 leaf, S2 leaf), or FAULT_S1 / FAULT_S2. On success
 * `nestedOut` holds the entry's base (`a` rounded down to that order), its PA
 * (the S2 translation of that base) and the walk's memory accesses,
 * (s1 + 1)(s2 + 1) - 1: each of the s1 stage-1 table pointers and the final
 * IPA need an s2-access stage-2 walk (priced like the final IPA's, as the
 * trace does not say where the guest's tables lie).
 */
export function nestedWalk(pool: PageTablePool, s1Root: number, s2Root: number, a: number): number {
  const o1 = pool.lookup(s1Root, a);
  if (o1 < 0) return FAULT_S1;
  const ipa = pool.foundPhys + (a - pool.foundBase);
  const o2 = pool.lookup(s2Root, ipa);
  if (o2 < 0) return FAULT_S2;
  const order = o1 < o2 ? o1 : o2;
  const base = alignDown(a, order);
  // Leaves are aligned to their size in IOVA and IPA alike (iommu_pgsize), so
  // a and ipa agree below `order`: base's IPA lies in the same S2 leaf.
  const ipaBase = ipa - (a - base);
  nestedOut.base = base;
  nestedOut.phys = pool.foundPhys + (ipaBase - pool.foundBase);
  nestedOut.accesses = (pool.walkAccesses(o1) + 1) * (pool.walkAccesses(o2) + 1) - 1;
  return order;
}

/** Every order of either stage's bitmap, largest first: the IOTLB probe of a nested attachment. */
export function unionOrders(s1: PageSizeSet, s2: PageSizeSet): Int8Array {
  const all = new Set<number>([...s1.ordersDesc, ...s2.ordersDesc]);
  return Int8Array.from([...all].sort((x, y) => y - x));
}
