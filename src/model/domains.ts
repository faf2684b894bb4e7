// Attachment states of the model (docs/model.md §2). The domain types'
// codes are trace/domain-codes.ts; IDs and tags are the invalidation
// vendor's (invalidation/vtd.ts: VT-d's DIDs).

/** No attachment, or the blocked domain: every DMA faults. */
export const NO_DOMAIN = -1;
