// Plain counters in typed arrays, one block per device slot and per domain
// slot, plus a few globals. Ratios are computed at report time, never here
// (as gem5's statistics compute their formulas at dump time).
import { grow } from '../typed.js';

/** Per-device counter fields. */
export const D = {
  dmaEvents: 0,
  dmaBytes: 1,
  faults: 2,
  passthrough: 3,
  iotlbLookups: 4,
  iotlbHits: 5,
  iotlbStaleHits: 6,
  /** IOTLB misses on a page whose entry an invalidation removed (docs/report-keys.md: miss share caused by invalidation). */
  iotlbInvalidatedMisses: 7,
  devtlbLookups: 8,
  devtlbHits: 9,
  walks: 10,
  walkAccesses: 11,
  /** Walks shortened by a paging-structure cache hit. */
  walkCacheHits: 12,
} as const;
export const DEVICE_FIELDS = 13;

/** Per-domain counter fields. */
export const M = {
  mapOps: 0,
  mapErrors: 1,
  mapBytes: 2,
  unmapOps: 3,
  unmapErrors: 4,
  unmapShort: 5,
  unmapBytes: 6,
  syncs: 7,
  cmdPage: 8,
  cmdDomain: 9,
  cmdDevtlb: 10,
  cmdWait: 11,
  entriesRemoved: 12,
  flushes: 13,
  /** Time from a page's unmap to the invalidation that removed its IOTLB entry, per entry. */
  staleWindowMaxNs: 14,
  staleWindowSumNs: 15,
  staleWindowCount: 16,
  iotlbLookups: 17,
  iotlbHits: 18,
  iotlbStaleHits: 19,
  unmapRequestedBytes: 20,
  /** Lazy mode: maps that reused an IOVA page of an unmap still in the flush queue, and those pages (docs/report-keys.md). */
  mapsReusedBeforeFlush: 21,
  pagesReusedBeforeFlush: 22,
} as const;
export const DOMAIN_FIELDS = 23;

/** Page orders counted per size (order = log2(size) - 12). */
export const ORDERS = 64;

export class Counters {
  device: Float64Array;
  domain: Float64Array;
  /** [domain * ORDERS + order] */
  mapPages: Float64Array;
  unmapPages: Float64Array;
  /** IOTLB lookups and hits by the order of the page that translated them. */
  readonly orderLookups = new Float64Array(ORDERS);
  readonly orderHits = new Float64Array(ORDERS);
  attachOps = 0;
  attachErrors = 0;
  /** 2-D walks of nested attachments and their memory accesses (also in the devices' walks), and their faults by stage (docs/model.md §8). */
  nestedWalks = 0;
  nestedWalkAccesses = 0;
  s1Faults = 0;
  s2Faults = 0;

  constructor(devices = 16, domains = 16) {
    this.device = new Float64Array(devices * DEVICE_FIELDS);
    this.domain = new Float64Array(domains * DOMAIN_FIELDS);
    this.mapPages = new Float64Array(domains * ORDERS);
    this.unmapPages = new Float64Array(domains * ORDERS);
  }

  ensureDevices(n: number): void {
    if (n * DEVICE_FIELDS <= this.device.length) return;
    this.device = grow(this.device, Math.max(n, (this.device.length / DEVICE_FIELDS) * 2) * DEVICE_FIELDS);
  }

  ensureDomains(n: number): void {
    if (n * DOMAIN_FIELDS <= this.domain.length) return;
    const cap = Math.max(n, (this.domain.length / DOMAIN_FIELDS) * 2);
    this.domain = grow(this.domain, cap * DOMAIN_FIELDS);
    this.mapPages = grow(this.mapPages, cap * ORDERS);
    this.unmapPages = grow(this.unmapPages, cap * ORDERS);
  }

  /** An independent copy (caches/lanes.ts starts a lane's counters from its leader's). */
  clone(): Counters {
    const c = new Counters(0, 0);
    c.device = this.device.slice();
    c.domain = this.domain.slice();
    c.mapPages = this.mapPages.slice();
    c.unmapPages = this.unmapPages.slice();
    c.orderLookups.set(this.orderLookups);
    c.orderHits.set(this.orderHits);
    c.attachOps = this.attachOps;
    c.attachErrors = this.attachErrors;
    c.nestedWalks = this.nestedWalks;
    c.nestedWalkAccesses = this.nestedWalkAccesses;
    c.s1Faults = this.s1Faults;
    c.s2Faults = this.s2Faults;
    return c;
  }

  /**
   * What a DMA run counted (docs/model.md §6), added to its device's block at
   * `devBase` and its domain's at `domBase`: the replay's loops, generic,
   * nested and specialized, count in locals and write here once a run.
   */
  addRun(
    devBase: number,
    domBase: number,
    devtlbLookups: number,
    devtlbHits: number,
    lookups: number,
    hits: number,
    stale: number,
    invalidatedMisses: number,
    walks: number,
    walkAccesses: number,
    faults: number,
  ): void {
    const cd = this.device;
    cd[devBase + D.devtlbLookups] += devtlbLookups;
    cd[devBase + D.devtlbHits] += devtlbHits;
    cd[devBase + D.iotlbLookups] += lookups;
    cd[devBase + D.iotlbHits] += hits;
    cd[devBase + D.iotlbStaleHits] += stale;
    cd[devBase + D.iotlbInvalidatedMisses] += invalidatedMisses;
    cd[devBase + D.walks] += walks;
    cd[devBase + D.walkAccesses] += walkAccesses;
    cd[devBase + D.faults] += faults;
    const cm = this.domain;
    cm[domBase + M.iotlbLookups] += lookups;
    cm[domBase + M.iotlbHits] += hits;
    cm[domBase + M.iotlbStaleHits] += stale;
  }

  dev(slot: number, field: number): number {
    return this.device[slot * DEVICE_FIELDS + field];
  }

  dom(slot: number, field: number): number {
    return this.domain[slot * DOMAIN_FIELDS + field];
  }
}
