// Dense slots for the trace's uint32 ids (requester IDs, domain ids). Ids
// below 2^16, which every PCI requester ID and any sane domain numbering is,
// index an array: a NIC trace alternates devices and domains event by event,
// and a Map lookup per event was 1% of its replay. Others go to a Map.

const DIRECT = 65536;

export class SlotIndex {
  private readonly direct = new Int32Array(DIRECT).fill(-1);
  private readonly other = new Map<number, number>();

  /** The slot of `id`, or -1. */
  get(id: number): number {
    return id < DIRECT ? this.direct[id] : (this.other.get(id) ?? -1);
  }

  set(id: number, slot: number): void {
    if (id < DIRECT) this.direct[id] = slot;
    else this.other.set(id, slot);
  }
}
