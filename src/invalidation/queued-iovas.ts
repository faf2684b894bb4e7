// Lazy mode's queued IOVAs (docs/model.md §5, "IOVAs reused before their
// flush"): per domain, the pfn ranges of the unmaps waiting in its flush
// queue, and the maps that reuse one of their pages before the flush.
//
// Linux never does that: dma-iommu.c's queue_iova() keeps the IOVA in the
// flush queue and fq_ring_free() returns it to the allocator only after a
// flush that started after it was queued has completed, so a new buffer gets
// another IOVA. A trace recorded (or generated) with strict-mode IOVA reuse
// does it all the time; the model replays its IOVAs as given (§5), so such a
// map is counted here, for the reports to say so.
//
// Per domain, the union of the queued ranges as sorted, disjoint, non-touching
// [start, end) intervals in one Float64Array (pfns are exact in a double): an
// unmap merges its range in (a binary search and one shift of at most the
// queue's entries), a map sums its overlap with them (a binary search), and a
// flush empties it. Any leaf size costs the same: a 1G range is one interval.
import { grow } from '../typed.js';

/** Intervals a domain's array holds at first; it doubles as needed (at most one per queued unmap). */
const FIRST_INTERVALS = 4;

export class QueuedIovas {
  /** Per domain slot: [start0, end0, start1, end1, ...], sorted; empty until the domain's first queued unmap. */
  private ranges: (Float64Array | undefined)[] = [];
  /** Per domain slot: the number of intervals. */
  private count = new Int32Array(16);
  /** What the last overlap() found: the pages of the range that are queued. */
  pages = 0;

  ensureDomains(n: number): void {
    if (n > this.count.length) this.count = grow(this.count, Math.max(n, this.count.length * 2));
  }

  /** The domain's queue was flushed: every IOVA in it is free again (fq_ring_free()). */
  clear(domain: number): void {
    this.count[domain] = 0;
  }

  /** The index of the first interval of `domain` whose end is > pfn (its count if none). */
  private firstEndingAfter(r: Float64Array, n: number, pfn: number): number {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r[2 * mid + 1] > pfn) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** An unmap of pfns [start, end) took a slot in `domain`'s queue: its range is held until the flush. */
  add(domain: number, start: number, end: number): void {
    let r = this.ranges[domain];
    if (r === undefined) r = this.ranges[domain] = new Float64Array(2 * FIRST_INTERVALS);
    const n = this.count[domain];
    // Intervals i..j-1 overlap or touch [start, end): they merge into one.
    const i = this.firstEndingAfter(r, n, start - 1);
    let j = i;
    let s = start;
    let e = end;
    while (j < n && r[2 * j] <= end) {
      if (r[2 * j] < s) s = r[2 * j];
      if (r[2 * j + 1] > e) e = r[2 * j + 1];
      j++;
    }
    const next = n - (j - i) + 1;
    if (2 * next > r.length) r = this.ranges[domain] = grow(r, 2 * Math.max(next, n * 2));
    // Intervals j..n-1 move to i+1.. (a loop: typed arrays' copyWithin is a runtime call, dearer than a few moves here).
    if (j === i) for (let k = 2 * n - 1; k >= 2 * i; k--) r[k + 2] = r[k];
    else if (j > i + 1) for (let k = 2 * j, to = 2 * (i + 1); k < 2 * n; k++, to++) r[to] = r[k];
    r[2 * i] = s;
    r[2 * i + 1] = e;
    this.count[domain] = next;
  }

  /** Whether a page of pfns [start, end) of `domain` is queued; `pages` says how many are. */
  overlap(domain: number, start: number, end: number): boolean {
    const n = this.count[domain];
    let pages = 0;
    if (n !== 0) {
      const r = this.ranges[domain]!;
      for (let k = this.firstEndingAfter(r, n, start); k < n && r[2 * k] < end; k++) {
        pages += Math.min(r[2 * k + 1], end) - Math.max(r[2 * k], start);
      }
    }
    this.pages = pages;
    return pages !== 0;
  }
}
