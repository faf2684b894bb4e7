// The machine-readable summary (docs/report-keys.md): the fixed core keys, with
// additions beside them. Counters come from the replay, through the narrow
// ReplayResult below (the model's Replay is one; a lane's counters on its
// leader's facts are another); every ratio is computed here, `null` when its
// denominator is 0.
import type { ReplayConfig, VendorName } from '../config/config.js';
import { formatOrder } from '../config/pagesizes.js';
import { tablePageBytesOf } from '../config/tableformat.js';
import { D, M, ORDERS, type Counters } from './counters.js';
import { exactNumber } from '../trace/batch.js';
import { formatBdf } from '../trace/schema.js';

export function ratio(num: number, den: number): number | null {
  return den === 0 ? null : num / den;
}

/**
 * A replay's DMA events and its map, unmap and attach operations with their
 * failures: what its warning counts besides the faults (report/problems.ts),
 * and a curve's (run/curve.ts CurveResult.ops), the same at every IOTLB
 * size, since the IOTLB changes no operation.
 */
export interface OperationCounts {
  dmaEvents: number;
  maps: number;
  mapErrors: number;
  unmaps: number;
  unmapErrors: number;
  attaches: number;
  attachErrors: number;
}

/** The OperationCounts of a summary's totals. */
export function operationCounts(t: {
  dma: { events: number };
  map: { ops: number; errors: number };
  unmap: { ops: number; errors: number };
  attach: { ops: number; errors: number };
}): OperationCounts {
  return {
    dmaEvents: t.dma.events,
    maps: t.map.ops,
    mapErrors: t.map.errors,
    unmaps: t.unmap.ops,
    unmapErrors: t.unmap.errors,
    attaches: t.attach.ops,
    attachErrors: t.attach.errors,
  };
}

export interface Summary {
  version: 1;
  config: ReplayConfig;
  /** firstTs, lastTs and spanNs (lastTs - firstTs) are exact: bigint where beyond 2^53 (printed as plain integers). */
  trace: { files: string[]; events: number; firstTs: number | bigint; lastTs: number | bigint; spanNs: number | bigint; workload?: string };
  totals: Totals;
  byDevice: DeviceRow[];
  byDomain: DomainRow[];
  byPageSize: { pageSize: string; lookups: number; hits: number; hitRate: number | null }[];
  derived: Derived;
}

export interface Totals {
  dma: { events: number; bytes: number; faults: number; passthrough: number };
  iotlb: { lookups: number; hits: number; misses: number; staleHits: number; hitRate: number | null; invalidatedMisses: number };
  devtlb: { lookups: number; hits: number; misses: number; hitRate: number | null };
  walks: { count: number; memoryAccesses: number; walkCacheHits: number };
  map: { ops: number; errors: number; bytes: number; pages: Record<string, number> };
  unmap: { ops: number; errors: number; short: number; bytes: number; requestedBytes: number; pages: Record<string, number> };
  attach: { ops: number; errors: number };
  invalidation: {
    syncs: number;
    commands: { page: number; domain: number; devtlb: number; wait: number; byName: Record<string, number> };
    entriesRemoved: number;
    flushes: number;
    staleWindowMaxNs: number;
    staleWindowMeanNs: number | null;
    /**
     * Lazy mode only (absent in strict summaries): successful maps that
     * reused an IOVA page of an unmap still in the flush queue, and those
     * pages. Linux's lazy mode never does (docs/model.md §5).
     */
    reusedBeforeFlush?: { maps: number; pages: number };
  };
  /** Table pages are 4 KiB, or the granule under smmuv3: compare bytes across vendors and granules, never pages (model §9.2). */
  pageTable: { peakTablePages: number; peakTableBytes: number };
  /** 2-D walks of nested attachments, within `walks`; their faults by stage, within `dma.faults` (docs/model.md §8). */
  nested: { walks: number; memoryAccesses: number; s1Faults: number; s2Faults: number };
  costNs: { translation: number; invalidation: number };
}

export interface Derived {
  /** IOTLB misses per KiB of DMA. */
  iotlbMissesPerKiB: number | null;
  invalidationCommandsPerUnmap: number | null;
  invalidationCostNsPerUnmappedByte: number | null;
  /** Share of IOTLB misses on a page whose entry an invalidation had removed. */
  iotlbMissShareFromInvalidation: number | null;
  translationCostNsPerDma: number | null;
}

export interface DeviceRow {
  device: string;
  iommu: string;
  devtlbPresent: boolean;
  dma: Totals['dma'];
  iotlb: Totals['iotlb'];
  devtlb: Totals['devtlb'];
  walks: Totals['walks'];
}

export interface DomainRow {
  domain: number;
  type: string;
  /** A nested domain's parent (docs/model.md §8). */
  parent?: number;
  map: Totals['map'];
  unmap: Totals['unmap'];
  invalidation: Totals['invalidation'];
  iotlb: { lookups: number; hits: number; staleHits: number; hitRate: number | null };
}

type Get = (field: number) => number;

function dmaOf(g: Get): Totals['dma'] {
  return { events: g(D.dmaEvents), bytes: g(D.dmaBytes), faults: g(D.faults), passthrough: g(D.passthrough) };
}
function iotlbOf(g: Get): Totals['iotlb'] {
  const lookups = g(D.iotlbLookups);
  const hits = g(D.iotlbHits);
  return {
    lookups,
    hits,
    misses: lookups - hits,
    staleHits: g(D.iotlbStaleHits),
    hitRate: ratio(hits, lookups),
    invalidatedMisses: g(D.iotlbInvalidatedMisses),
  };
}
function devtlbOf(g: Get): Totals['devtlb'] {
  const lookups = g(D.devtlbLookups);
  const hits = g(D.devtlbHits);
  return { lookups, hits, misses: lookups - hits, hitRate: ratio(hits, lookups) };
}
function walksOf(g: Get): Totals['walks'] {
  return { count: g(D.walks), memoryAccesses: g(D.walkAccesses), walkCacheHits: g(D.walkCacheHits) };
}
function pagesOf(counts: (order: number) => number, shown: Set<number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (let o = 0; o < ORDERS; o++) {
    const n = counts(o);
    if (n !== 0 || shown.has(o)) out[formatOrder(o)] = n;
  }
  return out;
}
type Kinds = { page: number; domain: number; devtlb: number; wait: number };

/**
 * The commands by the vendor's own names (report-keys.md
 * `invalidation.commands.byName`, model §9.3): a relabelling of §5's four
 * kinds, so made here rather than counted. AMD's page-range and
 * all-addresses forms are one command, INVALIDATE_IOMMU_PAGES (its S bit
 * and an all-ones address make the second; INVALIDATE_IOMMU_ALL is another
 * command, which Linux sends only at init and resume: docs/model.md §9).
 */
export const COMMAND_NAMES: Record<VendorName, (k: Kinds) => Record<string, number>> = {
  vtd: (k) => ({ PSI: k.page, DSI: k.domain, DEVTLB: k.devtlb, WAIT: k.wait }),
  amd: (k) => ({ INVALIDATE_IOMMU_PAGES: k.page + k.domain, INVALIDATE_IOTLB_PAGES: k.devtlb, COMPLETION_WAIT: k.wait }),
  smmuv3: (k) => ({ TLBI_NH_VA: k.page, TLBI_NH_ASID: k.domain, ATC_INV: k.devtlb, CMD_SYNC: k.wait }),
};

/**
 * `byName`'s entries in the vendor's command order (COMMAND_NAMES's), however
 * the object came: a summary read back from its (key-sorted) JSON has them
 * alphabetical, and the reports must not depend on it (report-keys.md: the
 * reports are byte-identical whether the summaries were computed or resumed).
 * Names the vendor does not have (none today) follow, sorted.
 */
export function commandsByNameInOrder(vendor: string, byName: Record<string, number>): [string, number][] {
  const names = vendor in COMMAND_NAMES ? Object.keys(COMMAND_NAMES[vendor as VendorName]({ page: 0, domain: 0, devtlb: 0, wait: 0 })) : [];
  const rest = Object.keys(byName)
    .filter((n) => !names.includes(n))
    .sort();
  return [...names.filter((n) => n in byName), ...rest].map((n) => [n, byName[n]]);
}

function invalidationOf(g: Get, vendor: VendorName, lazy: boolean): Totals['invalidation'] {
  const count = g(M.staleWindowCount);
  const kinds = { page: g(M.cmdPage), domain: g(M.cmdDomain), devtlb: g(M.cmdDevtlb), wait: g(M.cmdWait) };
  return {
    syncs: g(M.syncs),
    commands: { ...kinds, byName: COMMAND_NAMES[vendor](kinds) },
    entriesRemoved: g(M.entriesRemoved),
    flushes: g(M.flushes),
    staleWindowMaxNs: g(M.staleWindowMaxNs),
    staleWindowMeanNs: ratio(g(M.staleWindowSumNs), count),
    ...(lazy ? { reusedBeforeFlush: { maps: g(M.mapsReusedBeforeFlush), pages: g(M.pagesReusedBeforeFlush) } } : {}),
  };
}

/** The translation cost of docs/model.md §7: IOTLB hits and walk memory accesses, priced. */
export function translationCostNs(hits: number, walkAccesses: number, costs: ReplayConfig['costs']): number {
  return hits * costs.iotlbHit + walkAccesses * costs.walkAccess;
}

/** What the summary is made of: a replay's counters and the few facts that name their rows. */
export interface ReplayResult {
  readonly counters: Counters;
  readonly config: ReplayConfig;
  readonly events: number;
  /** ts of the first and last events, exact. */
  readonly firstTs: bigint;
  readonly lastTs: bigint;
  facts(): ResultFacts;
}

/** The rows of a result, by the slots its counters are indexed by. */
export interface ResultFacts {
  /** The instances as resolved (the summary's `config.iommus`). */
  iommus: { name: string; pageSizes: string[] }[];
  /** Page orders some instance allows: their sizes are shown even at 0. */
  shownOrders: number[];
  peakTablePages: number;
  /** By device slot. */
  devices: { rid: number; iommu: string; devtlb: boolean }[];
  /** By domain slot: trace id, type name (trace-format.md) and a nested domain's parent id. */
  domains: { id: number; type: string; parent?: number }[];
}

export function buildSummary(replay: ReplayResult, files: string[], workload?: string): Summary {
  const c = replay.counters;
  const cfg = replay.config;
  const costs = cfg.costs;
  const facts = replay.facts();
  const nDevices = facts.devices.length;
  const nDomains = facts.domains.length;
  // Sizes shown even at 0: every size some instance allows.
  const shown = new Set<number>(facts.shownOrders);

  const sumDev = (f: number) => {
    let s = 0;
    for (let d = 0; d < nDevices; d++) s += c.dev(d, f);
    return s;
  };
  const sumDom = (f: number) => {
    let s = 0;
    for (let d = 0; d < nDomains; d++) s += c.dom(d, f);
    return s;
  };
  const sumPages = (arr: Float64Array) => (o: number) => {
    let s = 0;
    for (let d = 0; d < nDomains; d++) s += arr[d * ORDERS + o];
    return s;
  };
  const maxDom = (f: number) => {
    let m = 0;
    for (let d = 0; d < nDomains; d++) m = Math.max(m, c.dom(d, f));
    return m;
  };

  // The flush queue's keys are lazy mode's (invalidation/modes.ts `deferred` is lazy's alone; that layer is above this one).
  const lazy = cfg.invalidation.mode === 'lazy';
  const inv = invalidationOf((f) => (f === M.staleWindowMaxNs ? maxDom(f) : sumDom(f)), cfg.vendor, lazy);
  const iotlb = iotlbOf(sumDev);
  const walks = walksOf(sumDev);
  const totals: Totals = {
    dma: dmaOf(sumDev),
    iotlb,
    devtlb: devtlbOf(sumDev),
    walks,
    map: { ops: sumDom(M.mapOps), errors: sumDom(M.mapErrors), bytes: sumDom(M.mapBytes), pages: pagesOf(sumPages(c.mapPages), shown) },
    unmap: {
      ops: sumDom(M.unmapOps),
      errors: sumDom(M.unmapErrors),
      short: sumDom(M.unmapShort),
      bytes: sumDom(M.unmapBytes),
      requestedBytes: sumDom(M.unmapRequestedBytes),
      pages: pagesOf(sumPages(c.unmapPages), shown),
    },
    attach: { ops: c.attachOps, errors: c.attachErrors },
    invalidation: inv,
    pageTable: { peakTablePages: facts.peakTablePages, peakTableBytes: facts.peakTablePages * tablePageBytes({ ...cfg, iommus: facts.iommus }) },
    nested: { walks: c.nestedWalks, memoryAccesses: c.nestedWalkAccesses, s1Faults: c.s1Faults, s2Faults: c.s2Faults },
    costNs: {
      translation: translationCostNs(iotlb.hits, walks.memoryAccesses, costs),
      invalidation: invalidationCost(inv.commands, cfg),
    },
  };

  const byDevice: DeviceRow[] = [];
  const rids = facts.devices.map((d) => d.rid);
  const order = rids.map((_, i) => i).sort((a, b) => rids[a] - rids[b]);
  for (const slot of order) {
    const g: Get = (f) => c.dev(slot, f);
    byDevice.push({
      device: formatBdf(rids[slot]),
      iommu: facts.devices[slot].iommu,
      devtlbPresent: facts.devices[slot].devtlb,
      dma: dmaOf(g),
      iotlb: iotlbOf(g),
      devtlb: devtlbOf(g),
      walks: walksOf(g),
    });
  }

  const byDomain: DomainRow[] = [];
  const ids = facts.domains.map((d) => d.id);
  const domOrder = ids.map((_, i) => i).sort((a, b) => ids[a] - ids[b]);
  for (const slot of domOrder) {
    const g: Get = (f) => c.dom(slot, f);
    const lookups = g(M.iotlbLookups);
    byDomain.push({
      domain: ids[slot],
      type: facts.domains[slot].type,
      parent: facts.domains[slot].parent,
      map: { ops: g(M.mapOps), errors: g(M.mapErrors), bytes: g(M.mapBytes), pages: pagesOf((o) => c.mapPages[slot * ORDERS + o], new Set()) },
      unmap: {
        ops: g(M.unmapOps),
        errors: g(M.unmapErrors),
        short: g(M.unmapShort),
        bytes: g(M.unmapBytes),
        requestedBytes: g(M.unmapRequestedBytes),
        pages: pagesOf((o) => c.unmapPages[slot * ORDERS + o], new Set()),
      },
      invalidation: invalidationOf(g, cfg.vendor, lazy),
      iotlb: { lookups, hits: g(M.iotlbHits), staleHits: g(M.iotlbStaleHits), hitRate: ratio(g(M.iotlbHits), lookups) },
    });
  }

  const byPageSize: Summary['byPageSize'] = [];
  for (let o = 0; o < ORDERS; o++) {
    if (c.orderLookups[o] === 0 && !shown.has(o)) continue;
    byPageSize.push({ pageSize: formatOrder(o), lookups: c.orderLookups[o], hits: c.orderHits[o], hitRate: ratio(c.orderHits[o], c.orderLookups[o]) });
  }

  const commands = commandCount(inv.commands);
  const derived: Derived = {
    iotlbMissesPerKiB: ratio(iotlb.misses, totals.dma.bytes / 1024),
    invalidationCommandsPerUnmap: ratio(commands, totals.unmap.ops),
    invalidationCostNsPerUnmappedByte: ratio(totals.costNs.invalidation, totals.unmap.bytes),
    iotlbMissShareFromInvalidation: ratio(iotlb.invalidatedMisses, iotlb.misses),
    translationCostNsPerDma: ratio(totals.costNs.translation, totals.dma.events - totals.dma.faults - totals.dma.passthrough),
  };

  return {
    version: 1,
    config: { ...cfg, iommus: facts.iommus },
    trace: {
      files,
      events: replay.events,
      firstTs: exactNumber(replay.firstTs),
      lastTs: exactNumber(replay.lastTs),
      spanNs: exactNumber(replay.lastTs - replay.firstTs), // exact like the two it is the difference of (report-keys.md)
      ...(workload !== undefined ? { workload } : {}),
    },
    totals,
    byDevice,
    byDomain,
    byPageSize,
    derived,
  };
}

/** IOTLB and device-TLB invalidation commands (waits are not commands of their own). */
/**
 * Bytes of one page-table page of a (summary's) configuration: 4 KiB, or
 * under smmuv3 the granule, which every instance shares (model §9.2). A
 * summary written before vendors existed has no vendor: VT-d's.
 */
export function tablePageBytes(config: { vendor?: string; pageSizes: readonly string[]; iommus?: { pageSizes: readonly string[] }[] }): number {
  return tablePageBytesOf(config.vendor ?? 'vtd', config.iommus?.[0]?.pageSizes ?? config.pageSizes);
}

/** `pageTable.peakTableBytes`, from a summary that may predate the key (a summary kept by --resume or given to compare). */
export function peakTableBytes(s: Summary): number {
  return s.totals.pageTable.peakTableBytes ?? s.totals.pageTable.peakTablePages * tablePageBytes(s.config);
}

export function commandCount(cmd: { page: number; domain: number; devtlb: number }): number {
  return cmd.page + cmd.domain + cmd.devtlb;
}

export function invalidationCost(cmd: { page: number; domain: number; devtlb: number; wait: number }, cfg: ReplayConfig): number {
  const k = cfg.costs;
  return cmd.page * k.pageInvalidation + cmd.domain * k.domainInvalidation + cmd.devtlb * k.devtlbInvalidation + cmd.wait * k.wait;
}

/**
 * A summary read back from its JSON text: `trace.firstTs`, `trace.lastTs` and `trace.spanNs`
 * come back exact (bigint beyond 2^53, as buildSummary made them), so that
 * writing it again gives the same bytes.
 */
export function parseSummary(text: string): Summary {
  const s = JSON.parse(text) as Summary;
  for (const key of ['firstTs', 'lastTs', 'spanNs'] as const) {
    const raw = new RegExp(`"${key}": (\\d+)`).exec(text)?.[1];
    if (raw !== undefined && !Number.isSafeInteger(Number(raw))) s.trace[key] = BigInt(raw);
  }
  return s;
}
