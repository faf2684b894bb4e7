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

/**
 * Each paging or nested domain's DID on each instance it is attached on, and
 * how many attachments there use it (docs/model.md §2: the DID is allocated at
 * the domain's first attach on an instance, released at its last detach).
 * Only pairs in use are held, in maps: a table of domains by instances grew
 * with every instance a trace names.
 */
export class DomainDids {
  private readonly did = new Map<number, number>();
  private readonly refs = new Map<number, number>();
  constructor(private readonly instances: number, private readonly budget: MemoryBudget | null = null) {}

  /** The DID of `domain` on `instance`, or 0 when it has none there. */
  get(domain: number, instance: number): number {
    return this.did.get(domain * this.instances + instance) ?? 0;
  }

  /** One more attachment of `domain` on `instance`; its first takes a DID from `ids`. False when none is free (ENOSPC): nothing changes. */
  ref(domain: number, instance: number, ids: DidAllocator): boolean {
    const k = domain * this.instances + instance;
    const n = this.refs.get(k) ?? 0;
    if (n === 0) {
      const d = ids.alloc(); // before the old domain's DID is released
      if (d < 0) return false;
      this.budget?.charge(DID_ENTRY_BYTES, 'a domain ID in use');
      this.did.set(k, d);
    }
    this.refs.set(k, n + 1);
    return true;
  }

  /** One attachment fewer; the last gives the DID back to `ids`. */
  unref(domain: number, instance: number, ids: DidAllocator): void {
    const k = domain * this.instances + instance;
    const n = this.refs.get(k)! - 1;
    if (n > 0) {
      this.refs.set(k, n);
      return;
    }
    ids.release(this.did.get(k)!);
    this.did.delete(k);
    this.refs.delete(k);
    this.budget?.release(DID_ENTRY_BYTES);
  }
}

/** A (domain, instance) pair in DomainDids: two map entries. */
const DID_ENTRY_BYTES = 2 * 40;

// What a slot of the replay's state holds, about, for the memory budget
// (config/limits.ts MemoryBudget): its typed-array entries, its counters (in
// each set of counters: the replay's and one per IOTLB lane), its JS arrays
// and map entries. The page tables and TLBs are charged where they are made.

/** A domain slot: type, sizes, root, parent and trace id, its flush queue, two lists, counters (its DIDs: DomainDids). */
export function domainSlotBytes(counterSets: number): number {
  return 19 + 13 + 2 * 40 + 40 + counterSets * (DOMAIN_FIELDS + 2 * ORDERS) * 8;
}

/** A device slot: requester ID, instance, attachment, its PASID map's and device TLB's places, counters. */
export function deviceSlotBytes(counterSets: number): number {
  return 16 + 16 + 40 + counterSets * DEVICE_FIELDS * 8;
}

/** An attachment slot: device, domain and tag, its place in its domain's list and in a PASID map, its IOTLB tag's key. */
export const ATTACHMENT_SLOT_BYTES = 12 + 8 + 40 + 100;
