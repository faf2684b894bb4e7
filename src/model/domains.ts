// The per-instance domain-ID allocator (docs/model.md §2; VT-d
// `ida_alloc_range(&iommu->domain_ida, IDA_START_DID, ...)`). The domain
// types' codes are trace/domain-codes.ts.

/** DID 1 (FLPT_DEFAULT_DID): identity and SVA domains on every instance. */
export const SHARED_DID = 1;
/** No attachment, or the blocked domain: every DMA faults. */
export const NO_DOMAIN = -1;

/** Lowest free DID >= 2 of one instance; 0 and 1 are reserved. */
export class DidAllocator {
  private readonly used: Uint8Array;
  private lowestFree = 2;
  constructor(readonly size: number) {
    this.used = new Uint8Array(size);
    this.used[0] = 1;
    if (size > 1) this.used[1] = 1;
  }
  /** A DID, or -1 when none is free (ENOSPC). */
  alloc(): number {
    for (let d = this.lowestFree; d < this.size; d++) {
      if (this.used[d] === 0) {
        this.used[d] = 1;
        this.lowestFree = d + 1;
        return d;
      }
    }
    this.lowestFree = this.size;
    return -1;
  }
  release(did: number): void {
    this.used[did] = 0;
    if (did < this.lowestFree) this.lowestFree = did;
  }
}
