// The trace format, version 1 (docs/trace-format.md): column names, operation
// codes and metadata keys. Everything that names a column or an op lives here.

/** Operation codes used by the replay; decoded once per batch from `op`. */
export const Op = {
  DmaRead: 0,
  DmaWrite: 1,
  Map: 2,
  Unmap: 3,
  Attach: 4,
  Detach: 5,
  Flush: 6,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/** The `op` strings in code order: OP_NAMES[code] is the string. */
export const OP_NAMES = ['dma_read', 'dma_write', 'map', 'unmap', 'attach', 'detach', 'flush'] as const;
export type OpName = (typeof OP_NAMES)[number];

export const OP_CODE_BY_NAME: ReadonlyMap<string, OpCode> = new Map(OP_NAMES.map((name, code) => [name, code as OpCode]));

/** The value marking an unknown op string in a per-dictionary lookup table. */
export const UNKNOWN_OP = 255;

export type ColumnKind = 'uint64' | 'uint32' | 'op';

/** The required columns in their canonical order, with their Arrow kinds. */
export const COLUMNS: ReadonlyArray<{ name: ColumnName; kind: ColumnKind }> = [
  { name: 'ts', kind: 'uint64' },
  { name: 'op', kind: 'op' },
  { name: 'device', kind: 'uint32' },
  { name: 'pasid', kind: 'uint32' },
  { name: 'domain', kind: 'uint32' },
  { name: 'iova', kind: 'uint64' },
  { name: 'paddr', kind: 'uint64' },
  { name: 'size', kind: 'uint64' },
];
export type ColumnName = 'ts' | 'op' | 'device' | 'pasid' | 'domain' | 'iova' | 'paddr' | 'size';

/**
 * The optional column of map-operation boundaries (docs/trace-format.md): on
 * a `map` row, nonzero when more `map` rows of the same operation (one
 * `iommu_map_sg()` call) follow for its domain; 0, or no such column, ends
 * the operation at that row, so that each map is its own operation.
 */
export const MAP_MORE_COLUMN = 'map_more';

export const META_VERSION = 'iommu.trace.version';
export const META_DOMAINS = 'iommu.domains';
export const META_TOPOLOGY = 'iommu.topology';
export const META_WORKLOAD = 'iommu.workload';
/** Written by `import`: how lines were read and events attributed (not part of the spec's format). */
export const META_IMPORT = 'iommu.import';

/** 'nested' is written as an object with its parent (docs/model.md §8), never as a string. */
export type DomainType = 'paging' | 'identity' | 'blocked' | 'sva' | 'nested';
/** The types that `iommu.domains` may give as a plain string. */
export const DOMAIN_TYPES: readonly DomainType[] = ['paging', 'identity', 'blocked', 'sva'];

/** File-level metadata, parsed. */
export interface TraceMetadata {
  version?: string;
  /** Trace domain id -> type; unlisted ids are paging. */
  domains: Map<number, DomainType>;
  /** Nested domain id -> its parent's (stage 2) id, for every domain typed 'nested' (docs/model.md §8). */
  parents?: Map<number, number>;
  /** IOMMU instances with the devices behind them, in file order. */
  topology?: { iommus: { name: string; devices: number[] }[] };
  workload?: string;
  /** Statistics of `import`, when the trace came from kernel trace text. */
  importStats?: Record<string, unknown>;
}

/** PCI requester ID with segment (`segment<<16 | bus<<8 | dev<<3 | fn`) as `SSSS:BB:DD.F`. */
export function formatBdf(rid: number): string {
  const seg = Math.floor(rid / 65536);
  const bus = (rid >>> 8) & 0xff;
  const dev = (rid >>> 3) & 0x1f;
  const fn = rid & 7;
  const hex = (v: number, w: number) => v.toString(16).padStart(w, '0');
  return `${hex(seg, 4)}:${hex(bus, 2)}:${hex(dev, 2)}.${fn}`;
}

/** Parses `SSSS:BB:DD.F` or `BB:DD.F`; returns undefined when malformed. */
export function parseBdf(text: string): number | undefined {
  const m = /^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/.exec(text.trim());
  if (!m) return undefined;
  const seg = m[1] ? parseInt(m[1], 16) : 0;
  const bus = parseInt(m[2], 16);
  const dev = parseInt(m[3], 16);
  if (dev > 31) return undefined;
  return seg * 65536 + ((bus << 8) | (dev << 3) | parseInt(m[4], 10));
}
