// What went wrong in a replay, in the words of the warnings on stderr
// (cli/warnings.ts) and of the reports that those warnings point to (the
// curve report's note over a curve whose trace faulted or failed an
// operation): one wording for both.
import type { OperationCounts } from '../stats/summary.js';
import { fmtInt } from './format.js';

/** What a warning counts: a replay's DMA faults, its DMA events, and those of its operations known (stats/summary.ts operationCounts). */
export type ProblemCounts = Pick<OperationCounts, 'dmaEvents'> & Partial<OperationCounts> & { faults: number };

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
