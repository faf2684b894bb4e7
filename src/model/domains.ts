// Domain types and the per-instance domain-ID allocator (docs/model.md §2;
// VT-d `ida_alloc_range(&iommu->domain_ida, IDA_START_DID, ...)`).
import type { MemoryBudget } from '../config/limits.js';
import { DEVICE_FIELDS, DOMAIN_FIELDS, ORDERS } from '../stats/counters.js';

export const T_PAGING = 0;
export const T_IDENTITY = 1;
export const T_BLOCKED = 2;
export const T_SVA = 3;
/** A guest's stage 1 over a paging parent's stage 2 (docs/model.md §8). */
export const T_NESTED = 4;
export const TYPE_NAMES = ['paging', 'identity', 'blocked', 'sva', 'nested'] as const;

/** DID 1 (FLPT_DEFAULT_DID): identity and SVA domains on every instance. */
export const SHARED_DID = 1;
/** No attachment, or the blocked domain: every DMA faults. */
export const NO_DOMAIN = -1;

/**
 * Lowest free DID >= 2 of one instance; 0 and 1 are reserved. Its map of
 * DIDs (a byte each, `domainIds` of them) is made at the instance's first
 * allocation and charged to the budget: a trace may name thousands of
 * instances and use a few.
 */
export class DidAllocator {
  private used: Uint8Array | null = null;
  private lowestFree = 2;
  /** `what` names the instance in the memory-limit line ("the domain-ID space of dmar0"). */
  constructor(readonly size: number, private readonly budget: MemoryBudget | null = null, private readonly what = 'the domain-ID space of an instance') {}
  /** A DID, or -1 when none is free (ENOSPC). */
  alloc(): number {
    if (this.used === null) {
      this.budget?.charge(this.size, this.what);
      this.used = new Uint8Array(this.size);
      this.used[0] = 1;
      if (this.size > 1) this.used[1] = 1;
    }
    const used = this.used;
    for (let d = this.lowestFree; d < this.size; d++) {
      if (used[d] === 0) {
        used[d] = 1;
        this.lowestFree = d + 1;
        return d;
      }
    }
    this.lowestFree = this.size;
    return -1;
  }
  release(did: number): void {
    this.used![did] = 0;
    if (did < this.lowestFree) this.lowestFree = did;
  }
}

// What a slot of the replay's state holds, about, for the memory budget
// (config/limits.ts MemoryBudget): its typed-array entries, its counters (in
// each set of counters: the replay's and one per IOTLB lane), its JS arrays
// and map entries. The page tables and TLBs are charged where they are made.

/** A domain slot: type, sizes, root, parent and trace id, its DID and DID count on each instance, its flush queue, two lists, counters. */
export function domainSlotBytes(instances: number, counterSets: number): number {
  return 19 + 8 * instances + 13 + 2 * 40 + 40 + counterSets * (DOMAIN_FIELDS + 2 * ORDERS) * 8;
}

/** A device slot: requester ID, instance, attachment, its PASID map's and device TLB's places, counters. */
export function deviceSlotBytes(counterSets: number): number {
  return 16 + 16 + 40 + counterSets * DEVICE_FIELDS * 8;
}

/** An attachment slot: device, domain and tag, its place in its domain's list and in a PASID map, its IOTLB tag's key. */
export const ATTACHMENT_SLOT_BYTES = 12 + 8 + 40 + 100;
