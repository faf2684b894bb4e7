// The human report of one replay (Markdown), and the short stdout table.
// Names from the trace and the configuration (files, workload, instances,
// devices, the configuration's name) go in through mdText.
import { formatPageSizeSet } from '../config/pagesizes.js';
import { tableLevelsOf } from '../config/tableformat.js';
import { commandCount, commandsByNameInOrder, peakTableBytes, type Summary } from '../stats/summary.js';
import { fmtBytes, fmtInt, fmtNs, fmtNum, fmtPct, mdTable, mdText, reusedBeforeFlushNote } from './format.js';

/** ", AMD-Vi rules" for a vendor other than VT-d (the default, unnamed as before vendors existed). */
function vendorText(c: { vendor?: string; amd?: { npCache: boolean } }): string {
  if (c.vendor === undefined || c.vendor === 'vtd') return '';
  return c.vendor === 'amd' ? `, AMD-Vi rules${c.amd?.npCache ? ' with NpCache' : ''}` : `, ${c.vendor === 'smmuv3' ? 'Arm SMMUv3' : c.vendor} rules`;
}

/**
 * "64x4 (16 sets of 4 ways, lru)": the geometry as --iotlb and the sweep's
 * labels write it, ENTRIESxWAYS (`full` for one set of more than one way,
 * findings.ts iotlbLabel), then its sets. The report wrote SETSxWAYS ("16x4
 * (64 entries)"), which --iotlb reads as 16 entries.
 */
function iotlbText(g: { entries: number; sets: number; ways: number; policy: string }): string {
  const ways = g.sets === 1 && g.ways > 1 ? 'full' : `${g.ways}`;
  return `${g.entries}x${ways} (${g.sets} set${g.sets === 1 ? '' : 's'} of ${g.ways} way${g.ways === 1 ? '' : 's'}, ${g.policy})`;
}

/** The replay report's title (its Markdown heading, its HTML page's): the configuration's name. */
export function replayTitle(s: Summary): string {
  return `iommu-replay: ${s.config.name}`;
}

export function replayMarkdown(s: Summary): string {
  const t = s.totals;
  const c = s.config;
  const out: string[] = [];
  out.push(`# ${mdText(replayTitle(s))}`);
  out.push('');
  out.push(
    `Trace: ${s.trace.files.map(mdText).join(', ')}${s.trace.workload ? ` (${mdText(s.trace.workload)})` : ''}, ${fmtInt(s.trace.events)} events over ${fmtNs(Number(s.trace.spanNs))}.`,
  );
  out.push('');
  out.push(
    `Configuration: page sizes ${formatPageSizeSet(c.pageSizes)}, IOTLB ${iotlbText(c.iotlb)}${c.walkCache ? `, walk cache ${iotlbText(c.walkCache)} per non-leaf level` : ''}, ` +
      `${tableLevelsOf(c.vendor, c.pageTable.levels, c.iommus?.[0]?.pageSizes ?? c.pageSizes)}-level tables, ${c.invalidation.mode} invalidation${vendorText(c)}, partial unmap ${c.partialUnmap}; instances ${(c.iommus ?? []).map((m) => `${mdText(m.name)} (${formatPageSizeSet(m.pageSizes)})`).join(', ')}.`,
  );
  out.push('');
  out.push('## Translation');
  out.push('');
  out.push(summaryTable(s));
  for (const note of summaryNotes(s)) out.push('', `> ${note}`);
  out.push('');
  out.push('## By page size');
  out.push('');
  out.push(
    mdTable(
      ['page size', 'IOTLB lookups', 'hits', 'hit rate', 'pages mapped', 'pages unmapped'],
      s.byPageSize.map((p) => [
        p.pageSize,
        fmtInt(p.lookups),
        fmtInt(p.hits),
        fmtPct(p.hitRate),
        fmtInt(t.map.pages[p.pageSize] ?? 0),
        fmtInt(t.unmap.pages[p.pageSize] ?? 0),
      ]),
    ),
  );
  out.push('');
  out.push('## Invalidation');
  out.push('');
  out.push(
    mdTable(
      ['metric', 'value'],
      [
        ['syncs', fmtInt(t.invalidation.syncs)],
        ['page-selective commands', fmtInt(t.invalidation.commands.page)],
        ['domain-selective commands', fmtInt(t.invalidation.commands.domain)],
        ['device-TLB commands', fmtInt(t.invalidation.commands.devtlb)],
        ['wait descriptors', fmtInt(t.invalidation.commands.wait)],
        // Another vendor's commands by their own names (VT-d's are the four rows above).
        ...(c.vendor === 'vtd' ? [] : commandsByNameInOrder(c.vendor, t.invalidation.commands.byName ?? {}).map(([name, n]) => [`\`${name}\``, fmtInt(n)])),
        ['domain-wide flushes', fmtInt(t.invalidation.flushes)],
        ['IOTLB entries removed', fmtInt(t.invalidation.entriesRemoved)],
        ['commands per unmap', fmtNum(s.derived.invalidationCommandsPerUnmap)],
        [
          'cost per unmapped byte',
          s.derived.invalidationCostNsPerUnmappedByte === null ? 'n/a' : `${fmtNum(s.derived.invalidationCostNsPerUnmappedByte, 4)} ns`,
        ],
        ['IOTLB misses caused by invalidation', fmtPct(s.derived.iotlbMissShareFromInvalidation)],
        ['stale hits', fmtInt(t.iotlb.staleHits)],
        [
          'stale window (max / mean)',
          `${fmtNs(t.invalidation.staleWindowMaxNs)} / ${t.invalidation.staleWindowMeanNs === null ? 'n/a' : fmtNs(t.invalidation.staleWindowMeanNs)}`,
        ],
      ],
    ),
  );
  out.push('');
  out.push('## Map and unmap');
  out.push('');
  out.push(
    mdTable(
      ['op', 'ops', 'errors', 'short', 'bytes'],
      [
        ['map', fmtInt(t.map.ops), fmtInt(t.map.errors), '', fmtBytes(t.map.bytes)],
        ['unmap', fmtInt(t.unmap.ops), fmtInt(t.unmap.errors), fmtInt(t.unmap.short), fmtBytes(t.unmap.bytes)],
        ['attach/detach', fmtInt(t.attach.ops), fmtInt(t.attach.errors), '', ''],
      ],
    ),
  );
  out.push('');
  // 4 KiB pages, or the granule's under smmuv3 (model §9.2).
  out.push(`Peak page-table pages: ${fmtInt(t.pageTable.peakTablePages)} (${fmtBytes(peakTableBytes(s))}).`);
  out.push('');
  const n = t.nested;
  if (n.walks + n.s1Faults + n.s2Faults > 0) {
    out.push(
      `Nested translation: ${fmtInt(n.walks)} 2-D walks with ${fmtInt(n.memoryAccesses)} memory accesses; faults ${fmtInt(n.s1Faults)} in stage 1, ${fmtInt(n.s2Faults)} in stage 2.`,
    );
    out.push('');
  }
  out.push('## By device');
  out.push('');
  out.push(
    mdTable(
      ['device', 'iommu', 'DMA events', 'faults', 'passthrough', 'IOTLB lookups', 'hit rate', 'devTLB hit rate', 'walks'],
      s.byDevice.map((d) => [
        mdText(d.device),
        mdText(d.iommu),
        fmtInt(d.dma.events),
        fmtInt(d.dma.faults),
        fmtInt(d.dma.passthrough),
        fmtInt(d.iotlb.lookups),
        fmtPct(d.iotlb.hitRate),
        d.devtlbPresent ? fmtPct(d.devtlb.hitRate) : '-',
        fmtInt(d.walks.count),
      ]),
    ),
  );
  out.push('');
  out.push('## By domain');
  out.push('');
  out.push(
    mdTable(
      ['domain', 'type', 'maps', 'unmaps', 'IOTLB hit rate', 'stale hits', 'commands', 'flushes'],
      s.byDomain.map((d) => [
        String(d.domain),
        mdText(d.type),
        fmtInt(d.map.ops),
        fmtInt(d.unmap.ops),
        fmtPct(d.iotlb.hitRate),
        fmtInt(d.iotlb.staleHits),
        fmtInt(commandCount(d.invalidation.commands)),
        fmtInt(d.invalidation.flushes),
      ]),
    ),
  );
  out.push('');
  return out.join('\n');
}

/**
 * What the summary table's numbers need said beside them: no DMA (so no hit
 * rates), and in lazy mode the maps that reused an IOVA still in the flush
 * queue (their stale hits are not what Linux's lazy mode would see). The
 * report and the replay's stdout both print them under the table.
 */
export function summaryNotes(s: Summary): string[] {
  const t = s.totals;
  const notes: string[] = [];
  if (t.dma.events === 0)
    notes.push('The trace has no DMA events, so there are no hit rates: replay a trace with device accesses (or import with `--synthesize-dma`).');
  const reused = t.invalidation.reusedBeforeFlush?.maps ?? 0; // lazy mode only
  if (reused > 0) notes.push(reusedBeforeFlushNote(reused, t.map.ops - t.map.errors));
  return notes;
}

/**
 * The short table a replay prints on stdout (and the report's first).
 * `staleHits`: in lazy mode, a row of the stale hits too (stdout, which has
 * no other table: lazy mode's hit rate counts stale hits as hits, and the
 * hit rate alone would hide how many were stale; the report has them in its
 * invalidation table).
 */
export function summaryTable(s: Summary, staleHits = false): string {
  const t = s.totals;
  const lazy = staleHits && s.config.invalidation.mode === 'lazy';
  return mdTable(
    ['metric', 'value'],
    [
      ['DMA events', fmtInt(t.dma.events)],
      ['DMA bytes', fmtBytes(t.dma.bytes)],
      ['faults / passthrough', `${fmtInt(t.dma.faults)} / ${fmtInt(t.dma.passthrough)}`],
      ['IOTLB lookups', fmtInt(t.iotlb.lookups)],
      ['IOTLB hit rate', fmtPct(t.iotlb.hitRate)],
      ...(lazy ? [['IOTLB stale hits (lazy mode)', fmtInt(t.iotlb.staleHits)]] : []),
      ['IOTLB misses per KiB of DMA', fmtNum(s.derived.iotlbMissesPerKiB)],
      ['device-TLB hit rate', fmtPct(t.devtlb.hitRate)],
      ['page walks (memory accesses)', `${fmtInt(t.walks.count)} (${fmtInt(t.walks.memoryAccesses)})`],
      // The walks a walk cache shortened (model §6, "Walk caches"): only when there is one.
      ...(s.config.walkCache ? [['walk-cache hits', fmtInt(t.walks.walkCacheHits)]] : []),
      ['invalidation commands', fmtInt(commandCount(t.invalidation.commands))],
      ['translation cost', fmtNs(t.costNs.translation)],
      ['invalidation cost', fmtNs(t.costNs.invalidation)],
      // Pages are 4 KiB or a 16/64 KiB granule (model §9.2): the bytes are what compares.
      ['peak page-table pages', `${fmtInt(t.pageTable.peakTablePages)} (${fmtBytes(peakTableBytes(s))})`],
    ],
  );
}
