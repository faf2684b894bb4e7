// IOTLB tags as small integers. An IOTLB entry is tagged (DID, PASID) on its
// instance (docs/model.md §2, §6); the replay gives each (instance, DID, PASID)
// it attaches a dense id once, at attach time, so that the tables store and
// compare int32 tags. A tag spelt DID * 2^32 + PASID would be a double above
// V8's small-integer range, boxed on every call that passes it.
import { grow } from '../typed.js';

export class TagSpace {
  private readonly ids = new Map<string, number>();
  private readonly groupIds = new Map<string, number>();
  /**
   * Per tag id: the id of its (instance, DID) group, which a domain-selective
   * command on that DID removes whatever the PASID, in one pass of a table.
   */
  group = new Int32Array(16);

  /** The tag id of (instance, DID, PASID), given out on first use and kept for the replay's life. */
  idOf(instance: number, did: number, pasid: number): number {
    const key = `${instance}:${did}:${pasid}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(key, id);
      const groupKey = `${instance}:${did}`;
      let g = this.groupIds.get(groupKey);
      if (g === undefined) {
        g = this.groupIds.size;
        this.groupIds.set(groupKey, g);
      }
      if (id >= this.group.length) this.group = grow(this.group, this.group.length * 2);
      this.group[id] = g;
    }
    return id;
  }
}
