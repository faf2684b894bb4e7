// IOTLB lanes: several IOTLB geometries replayed in one pass of the model.
//
// Points of a sweep that differ only in their IOTLB (sets, ways, policy)
// share everything else: page tables, attachments, DIDs, device TLBs and the
// invalidation commands, which in strict mode depend on the unmaps and not on
// what the IOTLB holds (docs/model.md §5). In strict mode every valid IOTLB
// entry caches a leaf that is mapped now: an unmap's entries are removed
// before the next DMA. So whichever IOTLB hits or misses, a page translates to
// the same leaf, and the device TLB sees the same fills. One replay (the
// leader, lane 0) can then drive the other lanes' tables: each lane probes its
// own table at every IOTLB lookup and, on a miss, fills it with the leaf the
// leader found (in its table or by its walk). What differs per lane is
// counted here: hits, misses caused by invalidation, walks and their
// accesses, entries removed and stale windows (`LaneCounts`).
//
// A lane that would see something else than the leader (a hit on an entry
// that is not the page's leaf now: the leader's own entry stale, or a lane
// hit where the leader's walk faults) marks the lanes diverged; the caller
// then replays those points on their own (run/run.ts).
import type { TableGeometry } from '../config/config.js';
import type { PageTablePool } from '../model/pagetable.js';
import { Counters, D, DEVICE_FIELDS, DOMAIN_FIELDS, M, ORDERS } from '../stats/counters.js';
import { grow } from '../typed.js';
import { addWindow, drainWindow, type Iotlb } from './iotlb.js';
import { SetAssocTable, tableOf } from './table.js';

/** What a lane counts of its own; every other counter is the leader's. */
export class LaneCounts {
  /** [device * DEVICE_FIELDS + field]: only the IOTLB-dependent fields are written. */
  device = new Float64Array(16 * DEVICE_FIELDS);
  domain = new Float64Array(16 * DOMAIN_FIELDS);
  readonly orderHits = new Float64Array(ORDERS);
  /** Removed entries not yet credited to a domain (credited at the next drain). */
  pendingRemoved = 0;
}

/** Device fields a lane replaces in the leader's counters. */
export const LANE_DEVICE_FIELDS = [D.iotlbHits, D.iotlbStaleHits, D.iotlbInvalidatedMisses, D.walks, D.walkAccesses] as const;
/** Domain fields a lane replaces in the leader's counters. */
export const LANE_DOMAIN_FIELDS = [M.iotlbHits, M.iotlbStaleHits, M.entriesRemoved, M.staleWindowMaxNs, M.staleWindowSumNs, M.staleWindowCount] as const;

export class LanesIotlb implements Iotlb {
  /** Lane 0 is the leader: the replay reads its entries through the fields below. */
  readonly tables: SetAssocTable[];
  readonly counts: LaneCounts[];
  readonly base: Float64Array;
  readonly order: Uint8Array;
  readonly phys: Float64Array;
  readonly owner: Int32Array;
  readonly unmappedAt: Float64Array;
  missWasInvalidated = false;
  windowMaxNs = 0;
  windowSumNs = 0;
  windowCount = 0;
  /** Set when a lane would have parted from the leader: its counts are then not exact. */
  diverged = false;

  private readonly pool: PageTablePool;
  private dom = 0;
  private dev = 0;
  /** Per lane (1..): the entry its probe of the pending lookup hit, or -1. */
  private readonly laneHit: Int32Array;
  /** A leader miss whose walk has not filled yet (a fill, or the next lookup, settles it). */
  private pending = false;

  constructor(geometries: TableGeometry[], seed: number, pool: PageTablePool) {
    this.tables = geometries.map((g) => tableOf(g, seed));
    this.counts = geometries.map(() => new LaneCounts());
    const lead = this.tables[0];
    this.base = lead.base;
    this.order = lead.order;
    this.phys = lead.phys;
    this.owner = lead.owner;
    this.unmappedAt = lead.unmappedAt;
    this.pool = pool;
    this.laneHit = new Int32Array(geometries.length);
  }

  bind(domain: number, _root: number, device: number): void {
    this.settle();
    this.dom = domain;
    this.dev = device;
    for (const c of this.counts) {
      if ((device + 1) * DEVICE_FIELDS > c.device.length) c.device = grow(c.device, Math.max(c.device.length * 2, (device + 1) * DEVICE_FIELDS));
      if ((domain + 1) * DOMAIN_FIELDS > c.domain.length) c.domain = grow(c.domain, Math.max(c.domain.length * 2, (domain + 1) * DOMAIN_FIELDS));
    }
  }

  lookup(tag: number, pfn: number, ordersDesc: Int8Array): number {
    this.settle();
    const tables = this.tables;
    const k = tables[0].lookup(tag, pfn, ordersDesc);
    this.missWasInvalidated = tables[0].missWasInvalidated;
    if (k >= 0) {
      // The leader hit: its entry is the page's leaf unless it may be stale.
      if (this.unmappedAt[k] >= 0 || this.owner[k] !== this.dom) this.diverged = true;
      this.count(0, k, this.order[k]);
      for (let j = 1; j < tables.length; j++) {
        const kj = tables[j].lookup(tag, pfn, ordersDesc);
        if (kj >= 0) this.laneHitOn(j, kj, this.base[k], this.order[k], this.phys[k]);
        else this.laneMiss(j, tag, this.base[k], this.order[k], this.phys[k]);
      }
      return k;
    }
    // The leader missed: probe every lane now (a miss counts whether an
    // invalidation caused it, as the lane's own replay would, walk fault or not).
    for (let j = 1; j < tables.length; j++) {
      const kj = tables[j].lookup(tag, pfn, ordersDesc);
      this.laneHit[j] = kj;
      if (kj < 0 && tables[j].missWasInvalidated) this.counts[j].device[this.dev * DEVICE_FIELDS + D.iotlbInvalidatedMisses]++;
    }
    if (this.missWasInvalidated) this.counts[0].device[this.dev * DEVICE_FIELDS + D.iotlbInvalidatedMisses]++;
    this.pending = true;
    return -1;
  }

  /** The leader's walk found the leaf: the lanes that missed fill it too. */
  fill(tag: number, base: number, order: number, phys: number, owner: number): number {
    const tables = this.tables;
    if (!this.pending) return tables[0].fill(tag, base, order, phys, owner); // not after a probe (never, today)
    this.pending = false;
    this.walked(0, order);
    for (let j = 1; j < tables.length; j++) {
      const kj = this.laneHit[j];
      if (kj >= 0) this.laneHitOn(j, kj, base, order, phys);
      else {
        this.walked(j, order);
        tables[j].fill(tag, base, order, phys, owner);
      }
    }
    return tables[0].fill(tag, base, order, phys, owner);
  }

  /** A leader miss never filled: its walk faulted, so a lane that hit held a leaf no longer mapped. */
  private settle(): void {
    if (!this.pending) return;
    this.pending = false;
    for (let j = 1; j < this.tables.length; j++) if (this.laneHit[j] >= 0) this.diverged = true;
  }

  private laneHitOn(j: number, kj: number, base: number, order: number, phys: number): void {
    const t = this.tables[j];
    if (t.base[kj] !== base || t.order[kj] !== order || t.phys[kj] !== phys || t.owner[kj] !== this.dom || t.unmappedAt[kj] >= 0) this.diverged = true;
    this.count(j, kj, order);
  }

  private laneMiss(j: number, tag: number, base: number, order: number, phys: number): void {
    if (this.tables[j].missWasInvalidated) this.counts[j].device[this.dev * DEVICE_FIELDS + D.iotlbInvalidatedMisses]++;
    this.walked(j, order);
    this.tables[j].fill(tag, base, order, phys, this.dom);
  }

  private count(j: number, _k: number, order: number): void {
    const c = this.counts[j];
    c.device[this.dev * DEVICE_FIELDS + D.iotlbHits]++;
    c.domain[this.dom * DOMAIN_FIELDS + M.iotlbHits]++;
    c.orderHits[order]++;
  }

  private walked(j: number, order: number): void {
    const c = this.counts[j].device;
    const b = this.dev * DEVICE_FIELDS;
    c[b + D.walks]++;
    c[b + D.walkAccesses] += this.pool.walkAccesses(order);
  }

  markUnmapped(tag: number, base: number, order: number, nowNs: number): void {
    for (const t of this.tables) t.markUnmapped(tag, base, order, nowNs);
  }

  findExact(tag: number, base: number, order: number): number {
    return this.tables[0].findExact(tag, base, order);
  }

  removeRange(tag: number, start: number, end: number, nowNs: number): number {
    for (let j = 1; j < this.tables.length; j++) this.counts[j].pendingRemoved += this.tables[j].removeRange(tag, start, end, nowNs);
    const n = this.tables[0].removeRange(tag, start, end, nowNs);
    this.counts[0].pendingRemoved += n;
    return n;
  }

  removeTags(tag: number, groups: Int32Array | null, nowNs: number): number {
    for (let j = 1; j < this.tables.length; j++) this.counts[j].pendingRemoved += this.tables[j].removeTags(tag, groups, nowNs);
    const n = this.tables[0].removeTags(tag, groups, nowNs);
    this.counts[0].pendingRemoved += n;
    return n;
  }

  /** The invalidator credits the last removals to `domain`: each lane's to its own counts. */
  drain(counters: Float64Array, domainBase: number): void {
    const dom = domainBase / DOMAIN_FIELDS;
    for (let j = 0; j < this.tables.length; j++) {
      const c = this.counts[j];
      if ((dom + 1) * DOMAIN_FIELDS > c.domain.length) c.domain = grow(c.domain, Math.max(c.domain.length * 2, (dom + 1) * DOMAIN_FIELDS));
      c.domain[domainBase + M.entriesRemoved] += c.pendingRemoved;
      c.pendingRemoved = 0;
      // The leader's windows go to the replay's counters too (the same numbers, lane 0's own copy first).
      if (j === 0 && this.tables[0].windowCount !== 0) addWindow(this.tables[0], c.domain, domainBase);
      drainWindow(this.tables[j], j === 0 ? counters : c.domain, domainBase);
    }
  }

  takeWindow(): void {
    this.tables[0].takeWindow();
  }
}

/**
 * The counters of lane `j` of a replay whose instances' IOTLBs are `lanes`:
 * the leader's, with the IOTLB-dependent fields replaced by the lane's own
 * (summed over instances; the stale window's maximum is the largest).
 */
export function laneCounters(leader: Counters, lanes: LanesIotlb[], j: number, nDevices: number, nDomains: number): Counters {
  const c = leader.clone();
  for (let d = 0; d < nDevices; d++) {
    for (const f of LANE_DEVICE_FIELDS) {
      const i = d * DEVICE_FIELDS + f;
      let v = 0;
      for (const l of lanes) v += l.counts[j].device[i] ?? 0;
      c.device[i] = v;
    }
  }
  for (let m = 0; m < nDomains; m++) {
    for (const f of LANE_DOMAIN_FIELDS) {
      const i = m * DOMAIN_FIELDS + f;
      let v = 0;
      for (const l of lanes) {
        const x = l.counts[j].domain[i] ?? 0;
        v = f === M.staleWindowMaxNs ? Math.max(v, x) : v + x;
      }
      c.domain[i] = v;
    }
  }
  c.orderHits.fill(0);
  for (const l of lanes) for (let o = 0; o < ORDERS; o++) c.orderHits[o] += l.counts[j].orderHits[o];
  return c;
}

/** Whether lane 0's own counts give the leader's counters: a check of the lanes' bookkeeping, made after every lane run. */
export function leaderAgrees(leader: Counters, lanes: LanesIotlb[], nDevices: number, nDomains: number): boolean {
  const c = laneCounters(leader, lanes, 0, nDevices, nDomains);
  const same = (x: Float64Array, y: Float64Array, n: number) => {
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) return false;
    return true;
  };
  return same(c.device, leader.device, nDevices * DEVICE_FIELDS) && same(c.domain, leader.domain, nDomains * DOMAIN_FIELDS) && same(c.orderHits, leader.orderHits, ORDERS);
}
