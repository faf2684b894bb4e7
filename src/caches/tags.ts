// IOTLB tags as small integers. An IOTLB entry is tagged (DID, PASID) on its
// instance (spec/model.md §2, §6); the replay gives each (instance, DID, PASID)
// it attaches a dense id once, at attach time, so that the tables store and
// compare int32 tags. A tag spelt DID * 2^32 + PASID would be a double above
// V8's small-integer range, boxed on every call that passes it.

export class TagSpace {
  private readonly ids = new Map<string, number>();
  /** Per (instance, DID): every tag id given out for it, in order. */
  private readonly byDid = new Map<string, number[]>();
  private readonly didKey: string[] = [];

  /** The tag id of (instance, DID, PASID), given out on first use and kept for the replay's life. */
  idOf(instance: number, did: number, pasid: number): number {
    const key = `${instance}:${did}:${pasid}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.didKey.length;
      this.ids.set(key, id);
      const dk = `${instance}:${did}`;
      this.didKey.push(dk);
      const list = this.byDid.get(dk);
      if (list === undefined) this.byDid.set(dk, [id]);
      else list.push(id);
    }
    return id;
  }

  /**
   * Every tag with the same (instance, DID) as `tag`, whatever its PASID: what
   * a domain-selective command on that DID covers.
   */
  sameDid(tag: number): readonly number[] {
    return this.byDid.get(this.didKey[tag])!;
  }
}
