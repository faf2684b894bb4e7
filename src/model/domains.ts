// Attachment states of the model (docs/model.md §2). The domain types'
// codes are trace/domain-codes.ts; IDs and tags are the invalidation
// vendor's (invalidation/vtd.ts: VT-d's DIDs).
import { DEVICE_FIELDS, DOMAIN_FIELDS, ORDERS } from '../stats/counters.js';

/** No attachment, or the blocked domain: every DMA faults. */
export const NO_DOMAIN = -1;

// What a slot of the replay's state holds, about, for the memory budget
// (config/limits.ts MemoryBudget): its typed-array entries, its counters (in
// each set of counters: the replay's and one per IOTLB lane), its JS arrays
// and map entries. The page tables and TLBs are charged where they are made;
// domain IDs by the vendor (invalidation/vtd.ts DomainDids).

/** A domain slot: type, sizes, root, parent and trace id, its flush queue, two lists, counters. */
export function domainSlotBytes(counterSets: number): number {
  return 19 + 13 + 2 * 40 + 40 + counterSets * (DOMAIN_FIELDS + 2 * ORDERS) * 8;
}

/** A device slot: requester ID, instance, attachment, its PASID map's and device TLB's places, counters. */
export function deviceSlotBytes(counterSets: number): number {
  return 16 + 16 + 40 + counterSets * DEVICE_FIELDS * 8;
}

/** An attachment slot: device, domain and tag, its place in its domain's list and in a PASID map, its IOTLB tag's key. */
export const ATTACHMENT_SLOT_BYTES = 12 + 8 + 40 + 100;
