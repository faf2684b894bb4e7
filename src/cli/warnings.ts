// Warnings on stderr for results that are valid but probably not what the
// user meant: a configuration under which the trace's DMA faulted or its maps
// failed (a page-size set the trace cannot use replays to a 0% hit rate and
// exit 0; the counts were only in --report). One line per trace and point,
// at most MAX_LINES, then one line for the rest. A correct run prints none.
import { fmtInt } from '../report/format.js';
import { printable } from '../text.js';

/** What a warning counts, from a summary's totals or a curve's counters. */
export interface ProblemCounts {
  dmaEvents: number;
  faults: number;
  maps?: number;
  mapErrors?: number;
  unmaps?: number;
  unmapErrors?: number;
  attaches?: number;
  attachErrors?: number;
}

/** At most this many lines; the rest are counted in one more. */
export const MAX_WARNING_LINES = 5;

// Counts go through fmtInt, which writes what toLocaleString('en-US') writes:
// the first toLocaleString of a process starts ICU's number formatting (42 ms
// of a replay that warns).

/** "6,567 of 6,567 DMA accesses faulted, 3,251 of 3,251 maps failed"; undefined when nothing went wrong. */
export function problemText(c: ProblemCounts): string | undefined {
  const parts: string[] = [];
  if (c.faults > 0) parts.push(`${fmtInt(c.faults)} of ${fmtInt(c.dmaEvents)} DMA accesses faulted`);
  if ((c.mapErrors ?? 0) > 0) parts.push(`${fmtInt(c.mapErrors!)} of ${fmtInt(c.maps ?? 0)} maps failed`);
  if ((c.unmapErrors ?? 0) > 0) parts.push(`${fmtInt(c.unmapErrors!)} of ${fmtInt(c.unmaps ?? 0)} unmaps failed`);
  // A failed attach leaves the device where it was (model §2, §9.1: e.g. an
  // SMMUv3 domain attached behind a second SMMU): the DMAs that follow fault
  // or translate through the old domain, and this says why.
  if ((c.attachErrors ?? 0) > 0) parts.push(`${fmtInt(c.attachErrors!)} of ${fmtInt(c.attaches ?? 0)} attaches failed`);
  return parts.length ? parts.join(', ') : undefined;
}

/** The counts of a replay summary. */
export function summaryProblems(totals: {
  dma: { events: number; faults: number };
  map: { ops: number; errors: number };
  unmap: { ops: number; errors: number };
  attach: { ops: number; errors: number };
}): ProblemCounts {
  return {
    dmaEvents: totals.dma.events,
    faults: totals.dma.faults,
    maps: totals.map.ops,
    mapErrors: totals.map.errors,
    unmaps: totals.unmap.ops,
    unmapErrors: totals.unmap.errors,
    attaches: totals.attach.ops,
    attachErrors: totals.attach.errors,
  };
}

/**
 * The warning lines for `items` (what: "nic.arrows with pageSizes=2M"), at
 * most MAX_WARNING_LINES and a closing count; `where` says where the counts
 * are written in full.
 */
export function warningLines(items: { what: string; counts: ProblemCounts }[], where: string): string[] {
  const bad = items.flatMap((i) => {
    const text = problemText(i.counts);
    return text ? [`warning: ${printable(i.what, 200)}: ${text} (${where})`] : [];
  });
  if (bad.length <= MAX_WARNING_LINES) return bad;
  return [
    ...bad.slice(0, MAX_WARNING_LINES - 1),
    `warning: ${fmtInt(bad.length - MAX_WARNING_LINES + 1)} more trace x point(s) with DMA faults or failed maps (${where})`,
  ];
}

/** Writes the lines to stderr, each with the tool's name. */
export function printWarnings(lines: string[]): void {
  for (const l of lines) process.stderr.write(`iommu-replay: ${l}\n`);
}
