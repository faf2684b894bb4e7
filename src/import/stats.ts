// What an import found (the summary `import` prints and stores in the trace's
// metadata, and `inspect` shows): its type and its lines of text. Apart from
// convert.ts so that `inspect` shows them without loading the importer and
// the trace writer (apache-arrow).
import type { AlignStats, QemuCounts } from './qemu.js';

export interface ImportStats {
  files: string[];
  lines: { read: number; parsed: number; skipped: Record<string, number> };
  /** The first unparseable lines, "file:line: text". */
  firstBad: string[];
  /** Events of other tracepoints, by name. */
  otherEvents: Record<string, number>;
  kernelEvents: Record<string, number>;
  attribution: { sameCpuNeighbour: number; earlierMapping: number; vendorDevField: number; defaultDomain: number };
  synthesized: { streaming: number; coherent: number };
  sortedBackwardsTimestamps: number;
  devices: { name: string; requesterId: number; domain: number }[];
  events: number;
  /** Events the kernel's ring buffer dropped ([LOST N EVENTS]); `unknownLosses` counts markers without a number. */
  lost: { events: number; markers: number; unknownLosses: number };
  /** With a QEMU log: QEMU's own counts and how the two sides were aligned. */
  qemu?: QemuCounts & { alignment: AlignStats };
}

/** The attribution line that import prints and inspect shows. */
export function attributionLine(a: ImportStats['attribution']): string {
  return `map/unmap attributed: same-CPU dma event ${a.sameCpuNeighbour}, earlier mapping ${a.earlierMapping}, dev= field ${a.vendorDevField}, default domain ${a.defaultDomain}`;
}

/** "N events were lost ..." for the import summary and inspect, or null. */
export function lostLine(lost: ImportStats['lost'] | undefined): string | null {
  if (!lost || lost.markers === 0) return null;
  const n = lost.unknownLosses ? `at least ${lost.events}` : String(lost.events);
  return `warning: ${n} events were lost (${lost.markers} marker${lost.markers === 1 ? '' : 's'} in the trace): the replay misses them; re-record with a larger buffer_size_kb`;
}

/** The line that import prints and inspect shows for a QEMU log. */
export function qemuLines(q: ImportStats['qemu']): string[] {
  if (!q) return [];
  const inv = Object.entries(q.invalidations).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k} ${v}`).join(', ');
  const a = q.alignment;
  return [
    `QEMU: ${q.translations} translations by ${q.devices.join(', ') || 'no device'}; IOTLB hits ${q.iotlbHits}, updates ${q.iotlbUpdates}, resets ${q.iotlbResets}`,
    `QEMU invalidation descriptors: ${inv || 'none'}`,
    `QEMU alignment: ${a.translations - a.unfit} of ${a.translations} translations inside a live mapping, ${a.unfit} do not fit (${a.unmatched} match no mapping); ${a.anchoredUnmaps} of ${a.guestUnmaps} unmaps anchored to their invalidation; clock drift ${a.driftMs.toFixed(3)} ms`,
  ];
}
