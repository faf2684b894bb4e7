// Warnings on stderr for results that are valid but probably not what the
// user meant: a configuration under which the trace's DMA faulted or its maps
// failed (a page-size set the trace cannot use replays to a 0% hit rate and
// exit 0; the counts were only in --report). One line per trace and point,
// at most MAX_LINES, then one line for the rest. A correct run prints none.
import { fmtInt } from '../report/format.js';
import { problemText, type ProblemCounts } from '../report/problems.js';
import { operationCounts } from '../stats/summary.js';
import { printable } from '../text.js';

// The counts and their words are the reports' too (the curve report's note): report/problems.ts.
export { problemText, type ProblemCounts };

/** At most this many lines; the rest are counted in one more. */
export const MAX_WARNING_LINES = 5;

/** The counts of a replay summary: its operations (stats/summary.ts operationCounts) and its DMA faults. */
export function summaryProblems(totals: Parameters<typeof operationCounts>[0] & { dma: { faults: number } }): ProblemCounts {
  return { ...operationCounts(totals), faults: totals.dma.faults };
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
    // problemText's causes: faults, failed maps, unmaps and attaches (a point with failed attaches alone is counted here too).
    `warning: ${fmtInt(bad.length - MAX_WARNING_LINES + 1)} more trace x point(s) with DMA faults or failed maps, unmaps or attaches (${where})`,
  ];
}

/** Writes the lines to stderr, each with the tool's name. */
export function printWarnings(lines: string[]): void {
  for (const l of lines) process.stderr.write(`iommu-replay: ${l}\n`);
}
