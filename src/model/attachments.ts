// The model's attachments (docs/model.md §2): devices, domains and the
// (device, PASID) attachments between them, each by dense slot, and the
// attach and detach ops that change them. The invalidation sees this state
// as its InvalidationTarget; the tag an attachment is given is its vendor's
// (invalidation/vendor.ts).
import type { ReplayConfig, TableGeometry } from '../config/config.js';
import type { MemoryBudget } from '../config/limits.js';
import type { PageSizeSet } from '../config/pagesizes.js';
import type { Iotlb } from '../caches/iotlb.js';
import type { SetAssocTable } from '../caches/table.js';
import type { Invalidator } from '../invalidation/invalidator.js';
import type { InvalidationTarget } from '../invalidation/vendor.js';
import type { Counters } from '../stats/counters.js';
import { T_BLOCKED, T_NESTED, T_PAGING, T_SVA, TYPE_NAMES } from '../trace/domain-codes.js';
import { formatBdf, type TraceMetadata } from '../trace/schema.js';
import { grow } from '../typed.js';
import { ATTACHMENT_SLOT_BYTES, NO_DOMAIN, deviceSlotBytes, domainSlotBytes } from './domains.js';
import type { PageTablePool } from './pagetable.js';
import { SlotIndex } from './slots.js';
import type { Topology } from './topology.js';

/** What Attachments makes and charges as slots appear (model/replay.ts gives them). */
export interface AttachmentsOptions {
  /** A TLB of geometry `g` whose random policy is seeded by `seedOffset`, charged to the budget as `what`. */
  makeTable: (g: TableGeometry, seedOffset: number, what: string) => SetAssocTable;
  /** Makes instance `i`'s IOTLB and walk caches: at its first device. */
  openInstance: (i: number) => void;
  budget: MemoryBudget;
  /** Sets of counters a slot has: the replay's, and one per IOTLB lane. */
  counterSets: number;
}

export class Attachments implements InvalidationTarget {
  // Devices, by dense slot.
  private readonly deviceSlots = new SlotIndex();
  nDevices = 0;
  deviceRid = new Float64Array(16);
  deviceInstance = new Int32Array(16);
  devtlbs: (SetAssocTable | null)[] = [];
  /** Per device: the attachment slot of its requester ID (PASID 0), or -1 before its first attach or detach. */
  ridAtt = new Int32Array(16).fill(-1);
  /** Per device: its PASIDs' attachment slots, by PASID (small-integer keys, no boxing per lookup). */
  private pasidAtt: (Map<number, number> | null)[] = [];
  /**
   * Bumped by every attach and detach op: what a DMA run of a (device, PASID)
   * resolves (its attachment, domain, tag, page sizes) stays true while this
   * is unchanged (model/dma.ts caches a run's set-up on it). A domain's root,
   * type and size set, once it is attached, and a device's instance and
   * device TLB never change.
   */
  epoch = 0;
  /** The last PASID attachment found by a DMA: slots are never freed, so a hit stays true. */
  private lastPasidDev = -1;
  private lastPasid = -1;
  private lastPasidAtt = -1;

  // Attachments, by dense slot: one per (device, PASID) ever attached or
  // detached, kept for the replay's life.
  private nAtts = 0;
  attDevice = new Int32Array(16);
  /** The attached domain slot, or NO_DOMAIN (blocked). */
  attDomain = new Int32Array(16);
  /** The IOTLB tag its vendor gave it (invalidation/vendor.ts) while attached to a domain; the device TLB's tag is the slot itself. */
  attTag = new Int32Array(16);

  // Domains, by dense slot.
  private readonly domainSlots = new SlotIndex();
  nDomains = 0;
  domainTraceId = new Float64Array(16);
  domainType = new Uint8Array(16);
  /** Index into sizeSets, or -1 until the bitmap is fixed at first use. */
  domainSizes = new Int16Array(16).fill(-1); // up to MAX_INSTANCES (config/config.ts) + 1 sets: past 127 a byte wrapped
  domainRoot = new Int32Array(16);
  /** Per domain: the attachment slots attached to it. */
  domainAttachments: number[][] = [];

  // Nested translation (§8).
  /** Per nested domain: its parent's slot (docs/model.md §8); -1 for other types. */
  domainParent = new Int32Array(16);
  /**
   * Per domain: 1 when its unmaps are synced whatever the mode: a nested
   * parent (iommufd domains have no flush queue, §8) or an SVA domain (its
   * changes are the process's, invalidated by the mmu notifier at once:
   * docs/model.md §5).
   */
  domainAlwaysStrict = new Uint8Array(16);
  /** Per domain: the nested domains over it (empty unless it is a parent). */
  domainNested: number[][] = [];
  /** Trace ids of the parents named in the metadata. */
  private readonly parentIds: Set<number>;

  /** Set once, right after construction: the invalidator sees this object as its target. */
  private inv!: Invalidator;

  constructor(
    private readonly config: ReplayConfig,
    private readonly meta: TraceMetadata,
    private readonly topology: Topology,
    /** Page-size sets: one per instance, then the SVA set. */
    private readonly sizeSets: PageSizeSet[],
    private readonly pool: PageTablePool,
    readonly counters: Counters,
    readonly iotlbs: Iotlb[],
    readonly walkCaches: SetAssocTable[][],
    private readonly opts: AttachmentsOptions,
  ) {
    this.parentIds = new Set(meta.parents?.values() ?? []);
    this.domainBytes = domainSlotBytes(opts.counterSets);
    this.deviceBytes = deviceSlotBytes(opts.counterSets);
  }

  /** Bytes of a domain slot and of a device slot (model/domains.ts), charged to the budget as they appear. */
  private readonly domainBytes: number;
  private readonly deviceBytes: number;

  /** The invalidator that tears attachments down and gives their tags (built over this object). */
  bindInvalidator(inv: Invalidator): void {
    this.inv = inv;
  }

  // ---------------------------------------------------------------- slots

  deviceSlot(rid: number): number {
    const slot = this.deviceSlots.get(rid);
    return slot >= 0 ? slot : this.newDevice(rid);
  }

  private newDevice(rid: number): number {
    this.opts.budget.charge(this.deviceBytes, () => `device ${formatBdf(rid)} (${(this.nDevices + 1).toLocaleString('en-US')} devices so far)`);
    const slot = this.nDevices++;
    if (slot >= this.deviceRid.length) {
      const cap = this.deviceRid.length * 2;
      this.deviceRid = grow(this.deviceRid, cap);
      this.deviceInstance = grow(this.deviceInstance, cap);
      this.ridAtt = grow(this.ridAtt, cap).fill(-1, slot);
    }
    this.counters.ensureDevices(this.nDevices);
    this.deviceSlots.set(rid, slot);
    this.deviceRid[slot] = rid;
    const inst = (this.deviceInstance[slot] = this.topology.instanceOf(rid));
    if (this.walkCaches[inst] === undefined) this.opts.openInstance(inst);
    this.pasidAtt.push(null);
    // Each device TLB's random policy has its own seed: 500 + slot.
    this.devtlbs.push(this.topology.hasDevtlb(rid) ? this.opts.makeTable(this.config.devtlb, 500 + slot, `the device TLB of ${formatBdf(rid)}`) : null);
    return slot;
  }

  domainSlot(id: number): number {
    const slot = this.domainSlots.get(id);
    return slot >= 0 ? slot : this.newDomain(id);
  }

  private newDomain(id: number): number {
    this.opts.budget.charge(this.domainBytes, () => `domain ${id} (${(this.nDomains + 1).toLocaleString('en-US')} domains so far)`);
    const slot = this.nDomains++;
    if (slot >= this.domainTraceId.length) {
      const cap = this.domainTraceId.length * 2;
      this.domainTraceId = grow(this.domainTraceId, cap);
      this.domainType = grow(this.domainType, cap);
      this.domainSizes = grow(this.domainSizes, cap).fill(-1, slot);
      this.domainRoot = grow(this.domainRoot, cap);
      this.domainParent = grow(this.domainParent, cap);
      this.domainAlwaysStrict = grow(this.domainAlwaysStrict, cap);
    }
    this.counters.ensureDomains(this.nDomains);
    this.inv.ensureDomains(this.nDomains);
    this.domainSlots.set(id, slot);
    this.domainTraceId[slot] = id;
    const type = TYPE_NAMES.indexOf(this.meta.domains.get(id) ?? 'paging'); // T_* codes are TYPE_NAMES indexes
    this.domainType[slot] = type;
    // A paging, SVA or nested (S1) domain's root table exists from its first
    // use, as Linux allocates the pgd with the domain.
    if (type === T_PAGING || type === T_SVA || type === T_NESTED) this.domainRoot[slot] = this.pool.newRoot();
    if (type === T_SVA) this.domainSizes[slot] = this.sizeSets.length - 1; // the SVA set, last
    this.domainAlwaysStrict[slot] = this.parentIds.has(id) || type === T_SVA ? 1 : 0;
    this.domainParent[slot] = -1;
    this.domainAttachments.push([]);
    this.domainNested.push([]);
    if (type === T_NESTED) {
      // iommufd allocates a nested domain over an existing parent: the parent
      // is in use from then on (docs/model.md §8). After the pushes above: the
      // parent's slot comes next.
      const parent = this.domainSlot(this.meta.parents!.get(id)!);
      this.domainParent[slot] = parent;
      this.domainNested[parent].push(slot);
    }
    return slot;
  }

  /**
   * The page-size set of a paging or SVA domain. Until it is fixed (first
   * successful attach or map, docs/model.md §2) it is the first instance's,
   * tentatively: a rejected op changes nothing.
   */
  sizesOf(domain: number): PageSizeSet {
    const k = this.domainSizes[domain];
    return this.sizeSets[k < 0 ? 0 : k];
  }

  // ---------------------------------------------------------------- attach (§2)

  /** An attach op: domain `domainId` (trace id) at (device slot, pasid). */
  attach(dev: number, pasid: number, domainId: number, nowNs: number): void {
    const dom = this.domainSlot(domainId);
    this.setAttachment(dev, pasid, this.domainType[dom] === T_BLOCKED ? NO_DOMAIN : dom, nowNs);
  }

  /** A detach op: (device slot, pasid) to the blocked state. */
  detach(dev: number, pasid: number, nowNs: number): void {
    this.setAttachment(dev, pasid, NO_DOMAIN, nowNs);
  }

  /** The attachment slot of (dev, pasid), or -1 when it was never attached or detached. */
  private attachmentSlot(dev: number, pasid: number): number {
    return pasid === 0 ? this.ridAtt[dev] : (this.pasidAtt[dev]?.get(pasid) ?? -1);
  }

  /** The attachment a DMA of (dev, pasid) goes through, or -1 (its requester ID's, or its PASID's through dmaPasidAttachment). */
  dmaAttachment(dev: number, pasid: number): number {
    return pasid === 0 ? this.ridAtt[dev] : this.dmaPasidAttachment(dev, pasid);
  }

  /** attachmentSlot for a DMA with a PASID, through a one-entry cache. */
  dmaPasidAttachment(dev: number, pasid: number): number {
    if (dev === this.lastPasidDev && pasid === this.lastPasid) return this.lastPasidAtt;
    const att = this.attachmentSlot(dev, pasid);
    if (att >= 0) {
      this.lastPasidDev = dev;
      this.lastPasid = pasid;
      this.lastPasidAtt = att;
    }
    return att;
  }

  private newAttachment(dev: number, pasid: number): number {
    this.opts.budget.charge(
      ATTACHMENT_SLOT_BYTES,
      () => `the attachment of device ${formatBdf(this.deviceRid[dev])} PASID ${pasid} (${(this.nAtts + 1).toLocaleString('en-US')} so far)`,
    );
    const att = this.nAtts++;
    if (att >= this.attDevice.length) {
      const cap = this.attDevice.length * 2;
      this.attDevice = grow(this.attDevice, cap);
      this.attDomain = grow(this.attDomain, cap);
      this.attTag = grow(this.attTag, cap);
    }
    this.attDevice[att] = dev;
    this.attDomain[att] = NO_DOMAIN;
    if (pasid === 0) this.ridAtt[dev] = att;
    else (this.pasidAtt[dev] ??= new Map()).set(pasid, att);
    return att;
  }

  /** Attaches `next` (a domain slot, or NO_DOMAIN for the blocked domain) at (dev, pasid). */
  private setAttachment(dev: number, pasid: number, next: number, nowNs: number): void {
    this.epoch++;
    let att = this.attachmentSlot(dev, pasid);
    const old = att < 0 ? NO_DOMAIN : this.attDomain[att];
    if (old === next) return; // already attached there: nothing changes
    const inst = this.deviceInstance[dev];
    const vendor = this.inv.vendor;
    let tag = 0;
    if (next >= 0) {
      const type = this.domainType[next];
      if (type === T_SVA && pasid === 0) {
        this.counters.attachErrors++; // EINVAL: SVA needs a PASID
        return;
      }
      const paging = type === T_PAGING || type === T_NESTED;
      // A nested attach checks its parent's bitmap, not its own (Linux
      // intel_nested_attach_dev -> paging_domain_compatible(s2_domain), §8).
      const checked = type === T_NESTED ? this.domainParent[next] : next;
      if (paging && this.domainSizes[checked] >= 0 && !this.sizeSets[this.domainSizes[checked]].subsetOf(this.sizeSets[inst])) {
        this.counters.attachErrors++; // EINVAL: this instance lacks one of the domain's sizes
        return;
      }
      tag = vendor.attachTag(next, type, inst, pasid); // before the old domain's ID is released
      if (tag < 0) {
        this.counters.attachErrors++; // ENOSPC
        return;
      }
      if (paging) {
        if (this.domainSizes[next] < 0) this.domainSizes[next] = inst; // fixed at its first attach
        if (this.domainSizes[checked] < 0) this.domainSizes[checked] = inst; // a nested attach is a use of the parent
      }
    }
    if (att < 0) att = this.newAttachment(dev, pasid);
    const oldTag = this.attTag[att];
    this.attDomain[att] = next;
    if (next >= 0) {
      this.attTag[att] = tag;
      this.domainAttachments[next].push(att);
    }
    if (old >= 0) {
      const list = this.domainAttachments[old];
      list.splice(list.indexOf(att), 1);
      this.inv.teardown(old, att, oldTag, nowNs);
      vendor.detached(old, this.domainType[old], inst);
    }
  }

  // ---------------------------------------------------------------- results

  /** The trace id of a nested domain's parent, or undefined for other types. */
  parentId(domain: number): number | undefined {
    const p = this.domainParent[domain];
    return p < 0 ? undefined : this.domainTraceId[p];
  }

  /** Requester ID of each device slot. */
  deviceRids(): number[] {
    return Array.from(this.deviceRid.subarray(0, this.nDevices));
  }
}
