// IOTLB lanes: several IOTLB geometries replayed in one pass of the model.
//
// Points of a sweep that differ only in their IOTLB (sets, ways, policy)
// share everything else: page tables, attachments, DIDs, device TLBs and the
// invalidation commands, which in strict mode depend on the unmaps and not on
// what the IOTLB holds (docs/model.md §5). In strict mode every valid IOTLB
// entry caches a leaf that is mapped now: an unmap's entries are removed
// before the next DMA. So whichever IOTLB hits or misses, a page translates to
// the same leaf, and the device TLB sees the same fills. One replay (the
// leader, lane 0) can then drive the other lanes' tables: its DMA run records
// each IOTLB lookup's page and leaf (in its table or by its walk), and after
// the run each lane takes that record through its own table, probing it and,
// on a miss, filling the leaf (model/specialize.ts laneRun). Invalidations
// reach every lane's table through this class. What differs per lane is
// counted here: hits, misses caused by invalidation, walks and their
// accesses, entries removed and stale windows (`counts`).
//
// A lane that would see something else than the leader (a hit on an entry
// that is not the page's leaf now: the leader's own entry stale, or a lane
// hit where the leader's walk faults) marks the lanes diverged; the caller
// then replays those points on their own (run/run.ts).
import type { TableGeometry } from '../config/config.js';
import { Counters, D, DEVICE_FIELDS, DOMAIN_FIELDS, M, ORDERS } from '../stats/counters.js';
import { drainWindow, type Iotlb } from './iotlb.js';
import { SetAssocTable, tableOf } from './table.js';
import type { MemoryBudget } from '../config/limits.js';

/** Device fields a lane replaces in the leader's counters. */
export const LANE_DEVICE_FIELDS = [D.iotlbHits, D.iotlbStaleHits, D.iotlbInvalidatedMisses, D.walks, D.walkAccesses] as const;
/** Domain fields a lane replaces in the leader's counters. */
export const LANE_DOMAIN_FIELDS = [M.iotlbHits, M.iotlbStaleHits, M.entriesRemoved, M.staleWindowMaxNs, M.staleWindowSumNs, M.staleWindowCount] as const;

export class LanesIotlb implements Iotlb {
  /** Lane 0 is the leader: the replay probes and fills it, and reads its entries through the fields below. */
  readonly tables: SetAssocTable[];
  /**
   * Per lane, what it counts of its own, in the replay's layout: only the
   * LANE_*_FIELDS and orderHits are written. counts[0] stays empty: the
   * leader's counts are the replay's.
   */
  readonly counts: Counters[];
  /** Per lane, entries removed and not yet credited to a domain (the next drain does). */
  private readonly pendingRemoved: Float64Array;
  missWasInvalidated = false;
  windowMaxNs = 0;
  windowSumNs = 0;
  windowCount = 0;
  /** Set when a lane would have parted from the leader: its counts are then not exact. */
  diverged = false;

  constructor(geometries: TableGeometry[], seed: number, budget?: MemoryBudget, what = 'an IOTLB') {
    this.tables = geometries.map((g, j) => tableOf(g, seed, budget, j === 0 ? what : `${what} (lane ${j})`));
    this.counts = geometries.map(() => new Counters());
    this.pendingRemoved = new Float64Array(geometries.length);
  }

  // The leader's entries, read through: an IndexedTable (caches/table.ts) replaces its arrays as it grows.
  get base(): Float64Array {
    return this.tables[0].base;
  }
  get order(): Uint8Array {
    return this.tables[0].order;
  }
  get phys(): Float64Array {
    return this.tables[0].phys;
  }
  get owner(): Int32Array {
    return this.tables[0].owner;
  }
  get unmappedAt(): Float64Array {
    return this.tables[0].unmappedAt;
  }

  /** Makes room in every lane's counts for device slot `device` and domain slot `domain`. */
  ensure(device: number, domain: number): void {
    for (const c of this.counts) {
      c.ensureDevices(device + 1);
      c.ensureDomains(domain + 1);
    }
  }

  bind(): void {}

  // The DMA path reaches the lanes through the specialized run's record of
  // lookups (model/specialize.ts), never through these.
  lookup(): number {
    throw new Error('internal: IOTLB lanes are probed by the specialized DMA run');
  }

  fill(): number {
    throw new Error('internal: IOTLB lanes are filled by the specialized DMA run');
  }

  markUnmapped(tag: number, base: number, order: number, nowNs: number): void {
    for (const t of this.tables) t.markUnmapped(tag, base, order, nowNs);
  }

  findExact(tag: number, base: number, order: number): number {
    return this.tables[0].findExact(tag, base, order);
  }

  /** Removes from every lane; returns the leader's count (the invalidator credits it to the replay). */
  removeRange(tag: number, start: number, end: number, nowNs: number): number {
    for (let j = 1; j < this.tables.length; j++) this.pendingRemoved[j] += this.tables[j].removeRange(tag, start, end, nowNs);
    return this.tables[0].removeRange(tag, start, end, nowNs);
  }

  /** removeRange of the one page `pfn`, through each lane's removePage. */
  removePage(tag: number, pfn: number, nowNs: number): number {
    for (let j = 1; j < this.tables.length; j++) this.pendingRemoved[j] += this.tables[j].removePage(tag, pfn, nowNs);
    return this.tables[0].removePage(tag, pfn, nowNs);
  }

  removeTags(tag: number, groups: Int32Array | null, nowNs: number): number {
    for (let j = 1; j < this.tables.length; j++) this.pendingRemoved[j] += this.tables[j].removeTags(tag, groups, nowNs);
    return this.tables[0].removeTags(tag, groups, nowNs);
  }

  /** The invalidator credits the last removals to the domain at `domainBase`: the leader's to the replay, each lane's to its own counts. */
  drain(counters: Float64Array, domainBase: number): void {
    drainWindow(this.tables[0], counters, domainBase);
    const dom = domainBase / DOMAIN_FIELDS;
    for (let j = 1; j < this.tables.length; j++) {
      const c = this.counts[j];
      c.ensureDomains(dom + 1);
      c.domain[domainBase + M.entriesRemoved] += this.pendingRemoved[j];
      this.pendingRemoved[j] = 0;
      drainWindow(this.tables[j], c.domain, domainBase);
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
