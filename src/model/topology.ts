// Which IOMMU instances exist and which one each device sits behind
// (docs/model.md §1): the configuration's, else the trace's, else one
// "iommu0"; a device goes where the configuration says, else where the trace
// says (when that instance exists), else behind the first instance.
import { MAX_INSTANCES, type ReplayConfig } from '../config/config.js';
import { PageSizeSet, parseSizeLog2 } from '../config/pagesizes.js';
import { tableFormatFor, type NamedBitmap, type TableFormat } from '../config/tableformat.js';
import { InputError } from '../errors.js';
import { parseBdf, type TraceMetadata } from '../trace/schema.js';

export interface Instance {
  name: string;
  sizes: PageSizeSet;
}

export interface Topology {
  instances: Instance[];
  /** Instance index of a device (by requester ID). */
  instanceOf(rid: number): number;
  hasDevtlb(rid: number): boolean;
  /** Resolved `iommus` for the summary's config. */
  describe(): { name: string; pageSizes: string[] }[];
}

export function sizesOf(names: string[]): PageSizeSet {
  return new PageSizeSet(names.map((n) => parseSizeLog2(n)!));
}

export function resolveTopology(config: ReplayConfig, meta: TraceMetadata): Topology {
  const names = config.iommus?.map((m) => m.name) ?? meta.topology?.iommus.map((m) => m.name) ?? ['iommu0'];
  // The configuration's count is checked with the configuration (config.ts); this is the trace's.
  if (names.length > MAX_INSTANCES)
    throw new InputError(
      `Cannot use the trace's topology: ${names.length.toLocaleString('en-US')} IOMMU instances, over the limit of ${MAX_INSTANCES.toLocaleString('en-US')}`,
    );
  if (new Set(names).size !== names.length) throw new InputError(`Cannot use the trace's topology: instance names repeat (${names.join(', ')})`);
  const configSizes = new Map(config.iommus?.map((m) => [m.name, m.pageSizes]));
  // One PageSizeSet per distinct list: instances mostly share theirs.
  const setOfList = new Map<string, PageSizeSet>();
  const instances: Instance[] = names.map((name) => {
    const list = configSizes.get(name) ?? config.pageSizes;
    const key = list.join('+');
    let sizes = setOfList.get(key);
    if (sizes === undefined) setOfList.set(key, (sizes = sizesOf(list)));
    return { name, sizes };
  });
  const index = new Map(names.map((n, i) => [n, i]));

  const fromTrace = new Map<number, number>();
  for (const m of meta.topology?.iommus ?? []) {
    const i = index.get(m.name);
    if (i === undefined) continue;
    for (const rid of m.devices) if (!fromTrace.has(rid)) fromTrace.set(rid, i);
  }
  const fromConfig = new Map<number, { inst?: number; devtlb: boolean }>();
  for (const [bdf, dev] of Object.entries(config.devices)) {
    let inst: number | undefined;
    if (dev.iommu !== undefined) {
      inst = index.get(dev.iommu);
      if (inst === undefined)
        throw new InputError(`Invalid config: devices.${bdf}.iommu: unknown IOMMU instance "${dev.iommu}" (instances: ${names.join(', ')})`);
    }
    fromConfig.set(parseBdf(bdf)!, { inst, devtlb: dev.devtlb });
  }
  return {
    instances,
    instanceOf: (rid) => fromConfig.get(rid)?.inst ?? fromTrace.get(rid) ?? 0,
    hasDevtlb: (rid) => fromConfig.get(rid)?.devtlb ?? false,
    describe: () => instances.map((m) => ({ name: m.name, pageSizes: m.sizes.names })),
  };
}

/**
 * The page-table format of a replay (docs/model.md §9.2), from the bitmaps
 * its domains can have: each instance's, and the SVA set when the trace has
 * an SVA domain (under smmuv3 an SVA domain's table shares the granule).
 */
export function tableFormatOf(config: ReplayConfig, meta: TraceMetadata, topology: Topology): TableFormat {
  const bitmaps: NamedBitmap[] = topology.instances.map((m) => {
    const i = config.iommus?.findIndex((c) => c.name === m.name && c.pageSizes !== undefined) ?? -1;
    return { field: i >= 0 ? `iommus[${i}].pageSizes` : 'pageSizes', log2s: Array.from(m.sizes.ordersDesc, (o) => o + 12) };
  });
  if ([...meta.domains.values()].includes('sva')) bitmaps.push({ field: 'svaPageSizes', log2s: config.svaPageSizes.map((n) => parseSizeLog2(n)!) });
  return tableFormatFor(config.vendor, config.pageTable.levels, bitmaps);
}
