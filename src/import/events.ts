// Payloads of the iommu and dma tracepoints (include/trace/events/iommu.h,
// include/trace/events/dma.h, v5.x to 2026), parsed into kernel events.

export type Dir = 'BIDIRECTIONAL' | 'TO_DEVICE' | 'FROM_DEVICE' | 'NONE' | 'UNKNOWN';

export type KernelEvent =
  | { kind: 'iommu_map'; iova: bigint; paddr: bigint; size: bigint; device?: string }
  | { kind: 'iommu_unmap'; iova: bigint; size: bigint; unmapped: bigint; device?: string }
  | { kind: 'attach'; device: string }
  | { kind: 'group'; device: string; group: number }
  | { kind: 'fault'; device: string; iova: bigint; write: boolean }
  /**
   * A streaming map (dma_map_page/_phys/_resource, dma_map_sg): ranges of
   * [dmaAddr, size]. `phys`: dma_map_sg's and dma_unmap_sg's phys_addrs as
   * printed, the same list for the map and the unmap of one scatterlist.
   */
  | { kind: 'dma_map'; device: string; dir: Dir; ranges: { addr: bigint; size: bigint }[]; sg: boolean; phys?: string }
  | { kind: 'dma_unmap'; device: string; dir: Dir; addr?: bigint; size?: bigint; sg: boolean; phys?: string }
  | { kind: 'dma_alloc'; device: string; addr: bigint; size: bigint }
  | { kind: 'dma_free'; device: string; addr: bigint; size: bigint }
  | { kind: 'ignored' };

const HEX = '(?:0x)?([0-9a-fA-F]+)';
const DEV = '(?:dev=(\\S+)\\s+)?';

// iommu: map/unmap with (v5.17+) or without the "- end" range; a vendor dev= prefix.
const MAP = new RegExp(`^IOMMU:\\s*${DEV}iova=${HEX}(?:\\s*-\\s*${HEX})?\\s+paddr=${HEX}\\s+size=(\\d+)\\s*$`);
const UNMAP = new RegExp(`^IOMMU:\\s*${DEV}iova=${HEX}(?:\\s*-\\s*${HEX})?\\s+size=(\\d+)\\s+unmapped_size=(\\d+)\\s*$`);
const ATTACH = /^IOMMU:\s*device=(\S+)\s*$/;
const GROUP = /^IOMMU:\s*groupID=(\d+)\s+device=(\S+)\s*$/;
const FAULT = new RegExp(`^IOMMU:\\s*\\S*\\s+(\\S+)\\s+iova=${HEX}\\s+flags=${HEX}\\s*$`);

function fields(payload: string): { device: string; kv: Map<string, string> } | null {
  // "<device> key=value key=value ..."; values have no spaces except attrs/flags lists.
  const m = /^(\S+)\s+(.*)$/.exec(payload.trim());
  if (!m || m[1].includes('=')) return null;
  const kv = new Map<string, string>();
  const re = /(\w+)=(\S*)/g;
  let x: RegExpExecArray | null;
  while ((x = re.exec(m[2])) !== null) kv.set(x[1], x[2]);
  return { device: m[1], kv };
}

function hex(v: string | undefined): bigint | undefined {
  if (v === undefined || !/^(0x)?[0-9a-fA-F]+$/.test(v)) return undefined;
  return BigInt(v.startsWith('0x') ? v : `0x${v}`);
}

function dec(v: string | undefined): bigint | undefined {
  return v !== undefined && /^\d+$/.test(v) ? BigInt(v) : undefined;
}

/**
 * Arrays printed by __print_array: "{0x1000,0x2000}" (kernel, libtraceevent
 * >= 1.8.4; sizes are hex too). Older libtraceevent printed decimals without
 * braces, which this cannot tell apart from one value: those need the kernel
 * text or a newer trace-cmd.
 */
function array(v: string | undefined): bigint[] | undefined {
  if (v === undefined) return undefined;
  const m = /^\{([^}]*)\}$/.exec(v);
  if (!m) return undefined;
  if (m[1].trim() === '') return [];
  const out: bigint[] = [];
  for (const part of m[1].split(',')) {
    const n = hex(part.trim());
    if (n === undefined) return undefined;
    out.push(n);
  }
  return out;
}

function dir(v: string | undefined): Dir {
  return v === 'BIDIRECTIONAL' || v === 'TO_DEVICE' || v === 'FROM_DEVICE' || v === 'NONE' ? v : 'UNKNOWN';
}

const DMA_MAP_SINGLE = new Set(['dma_map_page', 'dma_map_phys', 'dma_map_resource']);
const DMA_UNMAP_SINGLE = new Set(['dma_unmap_page', 'dma_unmap_phys', 'dma_unmap_resource']);
const DMA_ALLOC = new Set(['dma_alloc', 'dma_alloc_pages', 'dma_alloc_sgt']);
const DMA_FREE = new Set(['dma_free', 'dma_free_pages', 'dma_free_sgt']);
const IGNORED = new Set([
  'dma_sync_single_for_cpu',
  'dma_sync_single_for_device',
  'dma_sync_sg_for_cpu',
  'dma_sync_sg_for_device',
  'dma_map_sg_err',
  'dma_alloc_sgt_err',
  'remove_device_from_group',
  'detach_device_from_domain',
]);

/** The events this importer knows; anything else is counted as skipped. */
export function isKnownEvent(event: string): boolean {
  return (
    ['map', 'unmap', 'attach_device_to_domain', 'add_device_to_group', 'io_page_fault', 'dma_map_sg', 'dma_unmap_sg'].includes(event) ||
    DMA_MAP_SINGLE.has(event) ||
    DMA_UNMAP_SINGLE.has(event) ||
    DMA_ALLOC.has(event) ||
    DMA_FREE.has(event) ||
    IGNORED.has(event)
  );
}

/** Parses a known event's payload; null when it does not fit the format. */
export function parseEvent(event: string, payload: string): KernelEvent | null {
  if (event === 'map') {
    const m = MAP.exec(payload);
    return m ? { kind: 'iommu_map', device: m[1], iova: BigInt(`0x${m[2]}`), paddr: BigInt(`0x${m[4]}`), size: BigInt(m[5]) } : null;
  }
  if (event === 'unmap') {
    const m = UNMAP.exec(payload);
    return m ? { kind: 'iommu_unmap', device: m[1], iova: BigInt(`0x${m[2]}`), size: BigInt(m[4]), unmapped: BigInt(m[5]) } : null;
  }
  if (event === 'attach_device_to_domain') {
    const m = ATTACH.exec(payload);
    return m ? { kind: 'attach', device: m[1] } : null;
  }
  if (event === 'add_device_to_group') {
    const m = GROUP.exec(payload);
    return m ? { kind: 'group', group: Number(m[1]), device: m[2] } : null;
  }
  if (event === 'io_page_fault') {
    const m = FAULT.exec(payload);
    return m ? { kind: 'fault', device: m[1], iova: BigInt(`0x${m[2]}`), write: (BigInt(`0x${m[3]}`) & 1n) === 1n } : null;
  }
  if (IGNORED.has(event)) return { kind: 'ignored' };
  const f = fields(payload);
  if (!f) return null;
  const { device, kv } = f;
  if (DMA_MAP_SINGLE.has(event)) {
    const addr = hex(kv.get('dma_addr'));
    const size = dec(kv.get('size'));
    if (addr === undefined || size === undefined) return null;
    return { kind: 'dma_map', device, dir: dir(kv.get('dir')), ranges: [{ addr, size }], sg: false };
  }
  if (DMA_UNMAP_SINGLE.has(event)) {
    const addr = hex(kv.get('dma_addr'));
    const size = dec(kv.get('size'));
    if (addr === undefined || size === undefined) return null;
    return { kind: 'dma_unmap', device, dir: dir(kv.get('dir')), addr, size, sg: false };
  }
  if (event === 'dma_map_sg') {
    const addrs = array(kv.get('dma_addrs'));
    const sizes = array(kv.get('sizes'));
    if (!addrs || !sizes || addrs.length !== sizes.length) return null;
    const phys = kv.get('phys_addrs');
    return {
      kind: 'dma_map',
      device,
      dir: dir(kv.get('dir')),
      ranges: addrs.map((addr, i) => ({ addr, size: sizes[i] })),
      sg: true,
      ...(phys && array(phys) ? { phys } : {}),
    };
  }
  if (event === 'dma_unmap_sg') {
    const phys = kv.get('phys_addrs');
    if (phys === undefined) return null;
    return { kind: 'dma_unmap', device, dir: dir(kv.get('dir')), sg: true, ...(phys && array(phys) ? { phys } : {}) };
  }
  if (DMA_ALLOC.has(event) || DMA_FREE.has(event)) {
    const addr = hex(kv.get('dma_addr'));
    const size = dec(kv.get('size'));
    if (addr === undefined || size === undefined) return null;
    return { kind: DMA_ALLOC.has(event) ? 'dma_alloc' : 'dma_free', device, addr, size };
  }
  return null;
}
