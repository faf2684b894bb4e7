// The counters the plain reference model computes, taken from the engine's
// summary and from the reference's result in one comparable shape, for the
// seeded property tests (test/model/property.test.ts, nested-property.test.ts).
import type { Summary } from '../../src/stats/summary.js';
import type { RefNested, RefResult } from '../model/reference.js';

function nonZero(pages: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(pages)
      .filter(([, v]) => v !== 0)
      .sort(),
  );
}

/** §5's four command counters, without the vendor's names (report.md `byName`), which are compared on their own. */
function kinds(c: { page: number; domain: number; devtlb: number; wait: number }) {
  return { page: c.page, domain: c.domain, devtlb: c.devtlb, wait: c.wait };
}

/** The engine's side; `nested` adds totals.nested (model §8). */
export function engineCounters(s: Summary, withNested = false) {
  const t = s.totals;
  return {
    dma: t.dma,
    iotlb: { lookups: t.iotlb.lookups, hits: t.iotlb.hits, staleHits: t.iotlb.staleHits, invalidatedMisses: t.iotlb.invalidatedMisses },
    devtlb: { lookups: t.devtlb.lookups, hits: t.devtlb.hits },
    walks: { count: t.walks.count, memoryAccesses: t.walks.memoryAccesses },
    map: { ...t.map, pages: nonZero(t.map.pages) },
    unmap: { ops: t.unmap.ops, errors: t.unmap.errors, short: t.unmap.short, bytes: t.unmap.bytes, pages: nonZero(t.unmap.pages) },
    attach: t.attach,
    invalidation: {
      syncs: t.invalidation.syncs,
      commands: kinds(t.invalidation.commands),
      entriesRemoved: t.invalidation.entriesRemoved,
      flushes: t.invalidation.flushes,
      staleWindowMaxNs: t.invalidation.staleWindowMaxNs,
      reusedBeforeFlush: t.invalidation.reusedBeforeFlush,
    },
    peakTablePages: t.pageTable.peakTablePages,
    ...(withNested ? { nested: t.nested } : {}),
  };
}

/** The reference's side, in the same shape. */
export function referenceCounters(r: RefResult, nested?: RefNested) {
  return {
    ...r,
    map: { ...r.map, pages: nonZero(r.map.pages) },
    unmap: { ...r.unmap, pages: nonZero(r.unmap.pages) },
    invalidation: {
      syncs: r.invalidation.syncs,
      commands: kinds(r.invalidation.commands),
      entriesRemoved: r.invalidation.entriesRemoved,
      flushes: r.invalidation.flushes,
      staleWindowMaxNs: r.invalidation.staleWindowMaxNs,
      reusedBeforeFlush: r.invalidation.reusedBeforeFlush,
    },
    ...(nested ? { nested } : {}),
  };
}
