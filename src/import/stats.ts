// What an import found (the summary `import` prints and stores in the trace's
// metadata, and `inspect` shows): its type and its lines of text. Apart from
// convert.ts so that `inspect` shows them without loading the importer and
// the trace writer (apache-arrow).
import { printable } from '../text.js';
import { QEMU_IOMMUS, type AlignStats, type QemuCounts, type QemuIommu } from './qemu.js';

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
  /** Coherent allocations that lived past the cap of synthesized accesses (convert.ts): theirs are spread over the whole life at a lower rate. Not stored in the trace. */
  synthesizedSpread?: number;
  sortedBackwardsTimestamps: number;
  devices: { name: string; requesterId: number; domain: number }[];
  events: number;
  /** Map operations: runs of iommu:map events of one iommu_map_sg() call (the map_more column), each a single map otherwise. */
  mapOperations: number;
  /** Events the kernel's ring buffer dropped ([LOST N EVENTS]); `unknownLosses` counts markers without a number. */
  lost: { events: number; markers: number; unknownLosses: number };
  /** With a QEMU log: QEMU's own counts and how the two sides were aligned. */
  qemu?: QemuCounts & { alignment: AlignStats };
}

// Synthesized accesses per coherent allocation, at most (convert.ts): each is
// a row held in memory until the write. A longer life gets them spread evenly
// over it, at a lower rate than --coherent-rate (README, "Real traces").
export const MAX_COHERENT_ACCESSES = 10_000;

/** The line import prints for --synthesize-dma. */
export function synthesizedLine(s: Pick<ImportStats, 'synthesized' | 'synthesizedSpread'>): string {
  const spread = s.synthesizedSpread
    ? ` (${s.synthesizedSpread} coherent allocation${s.synthesizedSpread === 1 ? '' : 's'} outlived ${MAX_COHERENT_ACCESSES} accesses at --coherent-rate: their ${MAX_COHERENT_ACCESSES} are spread over the whole life, at a lower rate)`
    : '';
  return `synthesized DMA: ${s.synthesized.streaming} streaming, ${s.synthesized.coherent} coherent accesses${spread}`;
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

const QEMU_IOMMU_NAMES: Record<QemuIommu, string> = { vtd: 'VT-d', smmuv3: 'SMMUv3', amd: 'AMD-Vi' };

/** The line that import prints and inspect shows for a QEMU log. */
export function qemuLines(q: ImportStats['qemu']): string[] {
  if (!q) return [];
  const inv = Object.entries(q.invalidations)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${printable(k)} ${v}`)
    .join(', ');
  const a = q.alignment;
  const iommu = q.iommu ?? 'vtd';
  const msi = q.msiTranslations ? ` (${q.msiTranslations} of them MSIs to the ITS doorbell)` : '';
  // SMMUv3 and AMD-Vi imports count the resets of a full table, keeping the key only when
  // there was one (qemu.ts fill()): absent there is 0, said so beside resets that were
  // something else (SMMUv3's boot-time TLBI_NSNH_ALL). VT-d's vtd_iotlb_reset is not split.
  const capacity = q.iotlbCapacityResets ?? (iommu === 'vtd' ? undefined : 0);
  const full = capacity !== undefined ? ` (${capacity} because full)` : '';
  const after = q.invalidationsFromFirstTranslation
    ? Object.entries(q.invalidationsFromFirstTranslation)
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([k, v]) => `${printable(k)} ${v}`)
        .join(', ')
    : null;
  return [
    `QEMU ${QEMU_IOMMU_NAMES[iommu]}: ${q.translations} translations${msi} by ${q.devices.map((d) => printable(d)).join(', ') || 'no device'}; IOTLB hits ${q.iotlbHits}, updates ${q.iotlbUpdates}, resets ${q.iotlbResets}${full}`,
    `QEMU ${iommu === 'vtd' ? 'invalidation descriptors' : 'commands'}: ${inv || 'none'}`,
    ...(after !== null ? [`QEMU commands from its first translation on: ${after || 'none'}`] : []),
    `QEMU alignment: ${a.translations - a.unfit} of ${a.translations} translations inside a live mapping, ${a.unfit} do not fit (${a.unmatched} match no mapping); ${a.anchoredUnmaps} of ${a.guestUnmaps} unmaps anchored to their invalidation; clock drift ${a.driftMs.toFixed(3)} ms`,
  ];
}

/** The parts of ImportStats that an imported trace's "iommu.import" metadata holds (convert.ts writes them). */
export type StoredImportStats = Partial<Pick<ImportStats, 'lines' | 'attribution' | 'synthesized' | 'devices' | 'lost' | 'mapOperations' | 'qemu'>>;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const countsOf = (v: unknown, keys: string[]): boolean => isObject(v) && keys.every((k) => isCount(v[k]));
const countRecord = (v: unknown): boolean => isObject(v) && Object.values(v).every(isCount);

/** Each stored part, with the shape it must have (what import writes). */
const SHAPES: Record<keyof StoredImportStats, { shape: string; ok: (v: unknown) => boolean }> = {
  lines: {
    shape: '{read, parsed, skipped: {reason: count}}',
    ok: (v) => countsOf(v, ['read', 'parsed']) && countRecord((v as Record<string, unknown>).skipped),
  },
  attribution: { shape: 'counts', ok: (v) => countsOf(v, ['sameCpuNeighbour', 'earlierMapping', 'vendorDevField', 'defaultDomain']) },
  synthesized: { shape: 'counts', ok: (v) => countsOf(v, ['streaming', 'coherent']) },
  devices: {
    shape: 'a list of {name, requesterId, domain}',
    ok: (v) => Array.isArray(v) && v.every((d) => isObject(d) && typeof d.name === 'string' && countsOf(d, ['requesterId', 'domain'])),
  },
  mapOperations: { shape: 'a count', ok: isCount },
  lost: {
    shape: '{events, markers, unknownLosses} counts',
    ok: (v) =>
      countsOf(v, ['events', 'markers']) &&
      ((v as Record<string, unknown>).unknownLosses === undefined || isCount((v as Record<string, unknown>).unknownLosses)),
  },
  qemu: {
    shape: "QEMU's counts and alignment",
    ok: (v) => {
      if (!countsOf(v, ['translations', 'iotlbHits', 'iotlbUpdates', 'iotlbResets'])) return false;
      const q = v as Record<string, unknown>;
      const a = q.alignment as Record<string, unknown>;
      const optionalCount = (k: string) => q[k] === undefined || isCount(q[k]);
      return (
        (q.iommu === undefined || (QEMU_IOMMUS as readonly unknown[]).includes(q.iommu)) &&
        optionalCount('iotlbCapacityResets') &&
        optionalCount('msiTranslations') &&
        (q.invalidationsFromFirstTranslation === undefined || countRecord(q.invalidationsFromFirstTranslation)) &&
        countRecord(q.invalidations) &&
        Array.isArray(q.devices) &&
        q.devices.every((d) => typeof d === 'string') &&
        countsOf(a, ['translations', 'unfit', 'unmatched', 'anchoredUnmaps', 'guestUnmaps']) &&
        typeof a.driftMs === 'number' &&
        Number.isFinite(a.driftMs)
      );
    },
  },
};

/**
 * An imported trace's "iommu.import" metadata, each part checked against the
 * shape import writes: what `inspect` shows comes from another program's
 * file, so a part of another shape, or a key import never writes, is left
 * out and named in `ignored` (for a warning), never trusted.
 */
export function storedImportStats(raw: Record<string, unknown>): { stats: StoredImportStats; ignored: string[] } {
  const stats: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const spec = Object.hasOwn(SHAPES, key) ? SHAPES[key as keyof StoredImportStats] : undefined;
    if (!spec) ignored.push(`"${key}" is not a key import writes`);
    else if (!spec.ok(value)) ignored.push(`"${key}" is not ${spec.shape}`);
    else stats[key] = value;
  }
  return { stats: stats as StoredImportStats, ignored };
}
