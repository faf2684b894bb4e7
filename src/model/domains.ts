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

// Each domain and device also becomes a row of each summary (one per set of
// counters), built after the replay: as objects, then as JSON for --json. A
// trace of many domains or devices costs that more than its slots (measured
// on Node 20: about 7 KB a domain and 3.9 KB a device, JSON included; 100,000
// identity domains once took 790 MB with a budget use of 130 MiB), so the
// rows are charged with the slot, and the limit bounds the whole run.

/** What a domain's row costs a summary, its JSON included, about. */
const DOMAIN_ROW_BYTES = 7 * 1024;
/** What a device's row costs a summary, its JSON included, about. */
const DEVICE_ROW_BYTES = 5 * 1024;

/** A domain slot: type, sizes, root, parent and trace id, its flush queue, two lists, counters and summary rows. */
export function domainSlotBytes(counterSets: number): number {
  return 19 + 13 + 2 * 40 + 40 + counterSets * ((DOMAIN_FIELDS + 2 * ORDERS) * 8 + DOMAIN_ROW_BYTES);
}

/** A device slot: requester ID, instance, attachment, its PASID map's and device TLB's places, counters and summary rows. */
export function deviceSlotBytes(counterSets: number): number {
  return 16 + 16 + 40 + counterSets * (DEVICE_FIELDS * 8 + DEVICE_ROW_BYTES);
}

/** An attachment slot: device, domain and tag, its place in its domain's list and in a PASID map, its IOTLB tag's key. */
export const ATTACHMENT_SLOT_BYTES = 12 + 8 + 40 + 100;
