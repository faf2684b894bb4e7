// The replay configuration (docs/configuration.md): validation with messages that name
// the field (`iotlb.ways: expected a positive integer, got 0`), defaults filled
// in, and the resolved form that goes into every summary.
import fs from 'node:fs';
import { InputError, describeIoError } from '../errors.js';
import { JsonError, parseUntrustedJson } from '../json.js';
import { printable } from '../text.js';
import { formatBdf, parseBdf } from '../trace/schema.js';
import { PAGE_SHIFT, PageSizeSet, formatSizeLog2, parseBitmap, parseSizeLog2, splitPageSizeList } from './pagesizes.js';
import { PRESET_NAMES, findPreset } from './presets.js';
import { TableFormatError, tableFormatFor } from './tableformat.js';

export const POLICIES = ['lru', 'fifo', 'plru', 'random', 'flush-when-full'] as const;
export type PolicyName = (typeof POLICIES)[number];
export const PARTIAL_UNMAP = ['whole-leaf', 'reject', 'split'] as const;
export type PartialUnmap = (typeof PARTIAL_UNMAP)[number];
export const MODES = ['strict', 'lazy'] as const;
export type InvalidationMode = (typeof MODES)[number];
/** Whose rules a replay follows (docs/model.md §9); the CLI's --vendor and the tests read this list. */
export const VENDORS = ['vtd', 'amd', 'smmuv3'] as const;
export type VendorName = (typeof VENDORS)[number];
/**
 * Whether a vendor's rules are all implemented (invalidation/vendors.ts): a
 * vendor that is not is refused by resolveConfig, never replayed with half
 * its rules. One line a vendor, kept apart so that each lands on its own.
 */
const VENDOR_MODELLED: Record<VendorName, boolean> = {
  vtd: true,
  // AMD-Vi: invalidation/amd.ts
  amd: true,
  // Arm SMMUv3: invalidation/smmuv3.ts
  smmuv3: true,
};
/** Whether `vendor`'s rules are all implemented (a vendor that is not is refused by resolveConfig). */
export function isVendorModelled(vendor: VendorName): boolean {
  return VENDOR_MODELLED[vendor];
}
/** SMMUv3's ASID width (SMMU_IDR0.ASID16: 8 or 16 bits; any width 1..16 may be modelled). */
export const MAX_ASID_BITS = 16;

/** Lazy mode's flush queue: its slots and its timeout (Linux IOVA_DEFAULT_FQ_SIZE, IOVA_DEFAULT_FQ_TIMEOUT; model §5). */
export const DEFAULT_FQ_SIZE = 256;
export const DEFAULT_FQ_TIMEOUT_NS = 10_000_000;

export interface TableGeometry {
  entries: number;
  sets: number;
  ways: number;
  policy: PolicyName;
}

export interface Costs {
  iotlbHit: number;
  walkAccess: number;
  pageInvalidation: number;
  domainInvalidation: number;
  devtlbInvalidation: number;
  wait: number;
}

/** A configuration with every default filled in: one point of a sweep. */
export interface ReplayConfig {
  name: string;
  /** The preset the configuration started from, when it named one (config/presets.ts). */
  preset?: string;
  /** Sizes ascending, as "4K", "2M", ... */
  pageSizes: string[];
  svaPageSizes: string[];
  /** Instances given by the configuration; absent: from the trace, else one "iommu0". */
  iommus?: { name: string; pageSizes: string[] }[];
  /** Keyed by BDF ("0000:03:00.0"). */
  devices: Record<string, { iommu?: string; devtlb: boolean }>;
  domainIds: number;
  /** The tables' levels: 4 or 5 (vtd, amd); under smmuv3 the granule's (§9.6: 3 for 64K, 4 for 4K and 16K). */
  pageTable: { levels: 3 | 4 | 5 };
  iotlb: TableGeometry;
  devtlb: TableGeometry;
  /**
   * Paging-structure (walk) caches, one of this geometry per non-leaf level
   * of each instance; absent: none (the default). An extension of config.md.
   */
  walkCache?: TableGeometry;
  partialUnmap: PartialUnmap;
  invalidation: {
    mode: InvalidationMode;
    maxInvalidationMask: number;
    fqSize: number;
    fqTimeoutNs: number;
  };
  costs: Costs;
  seed: number;
  /** Whose rules (docs/model.md §9); presets set it. */
  vendor: VendorName;
  /** AMD-Vi's options (read under vendor "amd", carried whatever the vendor). */
  amd: { npCache: boolean };
  /** SMMUv3's options (read under vendor "smmuv3", carried whatever the vendor). */
  smmu: { rangeInvalidation: boolean; forceSyncErratum: boolean; asidBits: number };
}

export const DEFAULT_PAGE_SIZES = ['4K', '2M', '1G'];
/** Sizes past which a table or DID space would not fit in memory. */
export const MAX_TABLE_ENTRIES = 1 << 24;
export const MAX_DOMAIN_IDS = 1 << 24;
/**
 * IOMMU instances a replay takes, from the configuration or the trace: more
 * than any machine has (a large server has tens), few enough that what each
 * holds (its IOTLB, walk caches, DID space once used) stays small.
 */
export const MAX_INSTANCES = 4096;

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};
const expected = (what: string, input: unknown): string => `expected ${what}, got ${show(input)}`;

/** A configuration's page-size field before parsing: a list of sizes or a bitmap string. */
type RawPageSizes = string[] | string;

/** An `iotlb`, `devtlb` or `walkCache` block as written. */
interface RawTable {
  sets?: number;
  ways?: number | 'full';
  entries?: number;
  policy?: PolicyName;
}

/**
 * A configuration as written, checked field by field but not resolved:
 * what checkConfigShape gives resolveParsed. Only the keys the input had
 * (a key given as undefined stays, as undefined).
 */
interface RawConfig {
  name?: string;
  preset?: string;
  pageSizes?: RawPageSizes;
  svaPageSizes?: RawPageSizes;
  iommus?: { name: string; pageSizes?: RawPageSizes }[];
  devices?: Record<string, { iommu?: string; devtlb?: boolean }>;
  domainIds?: number;
  pageTable?: { levels?: 3 | 4 | 5 };
  iotlb?: RawTable;
  devtlb?: RawTable;
  walkCache?: RawTable;
  partialUnmap?: PartialUnmap;
  invalidation?: { mode?: InvalidationMode; maxInvalidationMask?: number; fqSize?: number; fqTimeoutNs?: number };
  costs?: Partial<Costs>;
  seed?: number;
  vendor?: VendorName;
  amd?: { npCache?: boolean };
  smmu?: { rangeInvalidation?: boolean; forceSyncErratum?: boolean; asidBits?: number };
  sweep?: Record<string, unknown[]>;
}

// The configuration's shape, checked by hand (issue 28: zod 4, which checked
// it until then, cost every replaying process 0.12-0.16 s of CPU to load).
// Each check reports what zod reported, in zod's order, and the tests compare
// both on thousands of values (test/config/shape-reference.test.ts): an
// object's fields in the order below, each field's problems before the next
// field's, the object's first unknown key (for...in order) after all its
// fields; a list's elements in order, then its length. Only the first problem
// is reported, so checking stops there.

type Path = readonly (string | number | symbol)[];

/** The first problem of a configuration's shape: where (`path`, and the unknown key, when that is the problem) and what. */
class ShapeIssue extends Error {
  constructor(
    readonly path: Path,
    message: string,
    readonly unknownKey?: string,
  ) {
    super(message);
  }
}

function fail(path: Path, message: string): never {
  throw new ShapeIssue(path, message);
}

/** A field's check: its value as given (never undefined: an undefined field is absent) to the parsed value. */
type FieldCheck = (value: unknown, path: Path) => unknown;
type Shape = Readonly<Record<string, FieldCheck>>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What zod's default message calls a value that is not an object ("expected object, received array"). */
function zodTypeName(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : Number.isFinite(v) ? 'number' : String(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * A block with exactly these fields, all optional but `required`: its fields
 * in the shape's order, then its first unknown key (an own `__proto__` too).
 */
function strictObject(shape: Shape, value: unknown, path: Path, required?: string): Record<string, unknown> {
  if (!isObject(value)) fail(path, `Invalid input: expected object, received ${zodTypeName(value)}`);
  const out: Record<string, unknown> = {};
  for (const key in shape) {
    const present = key in value;
    const field = value[key];
    // zod's .optional(): an absent or undefined field is not checked; a present one is kept, undefined included.
    if (field === undefined && key !== required) {
      if (present) out[key] = undefined;
      continue;
    }
    out[key] = shape[key](field, [...path, key]);
  }
  for (const key in value) if (!Object.hasOwn(shape, key)) throw new ShapeIssue(path, 'unknown field', key);
  return out;
}

/** zod's isPlainObject, which a record (`devices`, `sweep`) asks of its value. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (!isObject(v)) return false;
  const ctor = v.constructor as unknown;
  if (typeof ctor !== 'function') return true;
  const proto = (ctor as { prototype?: unknown }).prototype;
  return isObject(proto) && Object.prototype.hasOwnProperty.call(proto, 'isPrototypeOf');
}

/** An object of any keys, each value checked by `check`: own enumerable keys in order (an own `__proto__` skipped). */
function record(check: FieldCheck, what: string, value: unknown, path: Path): Record<string, unknown> {
  if (!isPlainObject(value)) fail(path, expected(what, value));
  const out: Record<string, unknown> = {};
  for (const key of Reflect.ownKeys(value)) {
    if (key === '__proto__' || !Object.prototype.propertyIsEnumerable.call(value, key)) continue;
    // zod's record reports a bad key with the record's own message (its error option covers the key too).
    if (typeof key === 'symbol') fail([...path, key], expected(what, key));
    out[key] = check(value[key], [...path, key]);
  }
  return out;
}

// zod's .int() takes safe integers only (|n| < 2^53).
const posInt =
  (what = 'a positive integer', max = Infinity): FieldCheck =>
  (v, path) =>
    Number.isSafeInteger(v) && (v as number) > 0 && (v as number) <= max ? v : fail(path, expected(what, v));
const nonNegInt: FieldCheck = (v, path) => (Number.isSafeInteger(v) && (v as number) >= 0 ? v : fail(path, expected('a non-negative integer', v)));
const nonNegNum: FieldCheck = (v, path) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fail(path, expected('a non-negative number', v)));
const string =
  (what: string): FieldCheck =>
  (v, path) =>
    typeof v === 'string' ? v : fail(path, expected(what, v));
const boolean: FieldCheck = (v, path) => (typeof v === 'boolean' ? v : fail(path, expected('true or false', v)));
const oneOf = (values: readonly string[]): FieldCheck => {
  const what = `one of ${values.map((v) => `"${v}"`).join(', ')}`;
  return (v, path) => (values.includes(v as string) ? v : fail(path, expected(what, v)));
};

const pageSizesField: FieldCheck = (v, path) => {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const sizes: string[] = new Array<string>(v.length);
    let i = 0;
    for (; i < v.length && typeof v[i] === 'string'; i++) sizes[i] = v[i] as string;
    if (i === v.length) return sizes;
  }
  return fail(path, expected('a list of sizes like ["4K", "2M"] or a bitmap like "0x40201000"', v));
};

const waysField: FieldCheck = (v, path) => {
  if (v === 'full' || (Number.isSafeInteger(v) && (v as number) > 0)) return v;
  // zod's union reports the integer check's own message when only a range
  // failed (an integer <= 0 or past 2^53: a non-aborting issue), the
  // union's when no option came that close.
  return fail(path, expected(Number.isInteger(v) ? 'a positive integer' : 'a positive integer or "full"', v));
};

/** A block of these fields (strictObject) as a field's check. */
const block =
  (shape: Shape): FieldCheck =>
  (v, path) =>
    strictObject(shape, v, path);

const table = block({ sets: posInt(), ways: waysField, entries: posInt(), policy: oneOf(POLICIES) });

const iommuShape: Shape = {
  name: (v, path) => (typeof v !== 'string' ? fail(path, expected('a string', v)) : v.length < 1 ? fail(path, expected('a non-empty name', v)) : v),
  pageSizes: pageSizesField,
};

const iommusField: FieldCheck = (v, path) => {
  if (!Array.isArray(v)) fail(path, expected('a list of {"name": ...}', v));
  // zod checks a list's maximum length before its elements, its minimum after.
  if (v.length > MAX_INSTANCES) fail(path, `expected at most ${MAX_INSTANCES} instances, got ${v.length}`);
  // An index loop, not map: a hole is an element too (undefined, not an object).
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < v.length; i++) out.push(strictObject(iommuShape, v[i], [...path, i], 'name'));
  if (out.length < 1) fail(path, expected('at least one instance', out));
  return out;
};

const deviceField = block({ iommu: string('an instance name'), devtlb: boolean });
const sweepValues: FieldCheck = (v, path) => (Array.isArray(v) ? Array.from(v) : fail(path, expected('a list of values', v)));

const configShape: Shape = {
  name: string('a string'),
  preset: oneOf(PRESET_NAMES),
  pageSizes: pageSizesField,
  svaPageSizes: pageSizesField,
  iommus: iommusField,
  devices: (v, path) => record(deviceField, 'an object keyed by device', v, path),
  domainIds: posInt(),
  // 3 is a 64K granule's under smmuv3 (a resolved configuration says it); resolveParsed refuses it under x86.
  pageTable: block({ levels: (v, path) => (v === 3 || v === 4 || v === 5 ? v : fail(path, expected('4 or 5', v))) }),
  iotlb: table,
  devtlb: table,
  walkCache: table,
  partialUnmap: oneOf(PARTIAL_UNMAP),
  invalidation: block({ mode: oneOf(MODES), maxInvalidationMask: nonNegInt, fqSize: posInt(), fqTimeoutNs: nonNegNum }),
  costs: block({
    iotlbHit: nonNegNum,
    walkAccess: nonNegNum,
    pageInvalidation: nonNegNum,
    domainInvalidation: nonNegNum,
    devtlbInvalidation: nonNegNum,
    wait: nonNegNum,
  }),
  seed: nonNegInt,
  vendor: oneOf(VENDORS),
  // A block of another vendor than the one chosen is accepted and ignored
  // (config.md "Vendors": a sweep over vendors shares one file).
  amd: block({ npCache: boolean }),
  smmu: block({
    rangeInvalidation: boolean,
    forceSyncErratum: boolean,
    asidBits: posInt(`an integer in 1..${MAX_ASID_BITS}`, MAX_ASID_BITS),
  }),
  sweep: (v, path) => record(sweepValues, 'an object of field path to values', v, path),
};

/**
 * Checks a configuration's shape (types, ranges, known fields; not what the
 * fields mean together, which resolveParsed checks): the value with only
 * its known fields, or its first problem as `field: message`.
 */
export function checkConfigShape(value: unknown): { ok: true; data: RawConfig } | { ok: false; line: string } {
  try {
    return { ok: true, data: strictObject(configShape, value ?? {}, []) as RawConfig };
  } catch (err) {
    if (!(err instanceof ShapeIssue)) throw err;
    let field = err.path.map(String).join('.');
    if (err.unknownKey !== undefined) {
      const key = printable(err.unknownKey, 40);
      field = field ? `${field}.${key}` : key;
    }
    return { ok: false, line: `${printable(field, 80) || '(top level)'}: ${err.message}` };
  }
}

class ConfigFieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function fieldError(field: string, message: string): never {
  throw new ConfigFieldError(field, message);
}

/** Parses a page-size list or bitmap to log2 sizes, checked against the page table. */
function parsePageSizes(field: string, value: string[] | string, levels: number): string[] {
  let log2s: number[];
  if (typeof value === 'string') {
    const fromBitmap = parseBitmap(value);
    if (fromBitmap) log2s = fromBitmap;
    else
      log2s = splitPageSizeList(value).map(
        (s) => parseSizeLog2(s) ?? fieldError(field, `expected a size like "4K" or "2M" or a bitmap like "0x40201000", got ${show(value)}`),
      );
  } else {
    log2s = value.map((s) => parseSizeLog2(s) ?? fieldError(field, `expected a power-of-two size like "4K" or "2M", got ${show(s)}`));
  }
  if (log2s.length === 0) fieldError(field, 'expected at least one page size, got none');
  for (const l of log2s) {
    if (l < PAGE_SHIFT) fieldError(field, `${formatSizeLog2(l)} is smaller than the 4K page-table granule`);
    // A leaf must fit in the address space of the table (docs/model.md §6: levels - floor(order/9) >= 1).
    if (l - PAGE_SHIFT >= 9 * levels) fieldError(field, `${formatSizeLog2(l)} is larger than a ${levels}-level page table can map`);
  }
  return new PageSizeSet(log2s).names;
}

function isPow2(n: number): boolean {
  return n > 0 && Number.isInteger(n) && (n & (n - 1)) === 0;
}

function resolveTable(field: string, raw: RawTable | undefined, defaults: TableGeometry): TableGeometry {
  const policy = raw?.policy ?? defaults.policy;
  let sets: number;
  let ways: number;
  if (raw === undefined || (raw.sets === undefined && raw.ways === undefined && raw.entries === undefined)) {
    sets = defaults.sets;
    ways = defaults.ways;
  } else if (raw.ways === 'full') {
    const entries = raw.entries ?? (raw.sets === undefined ? defaults.sets * defaults.ways : undefined);
    if (entries === undefined) fieldError(`${field}.ways`, '"full" needs "entries" (one set of that many ways), not "sets"');
    if (raw.sets !== undefined && raw.sets !== 1) fieldError(`${field}.sets`, `expected 1 with "ways": "full", got ${raw.sets}`);
    sets = 1;
    ways = entries;
  } else if (raw.entries !== undefined) {
    ways = raw.ways ?? defaults.ways;
    if (raw.entries % ways !== 0) fieldError(`${field}.entries`, `expected a multiple of ways (${ways}), got ${raw.entries}`);
    sets = raw.entries / ways;
    if (raw.sets !== undefined && raw.sets !== sets) fieldError(`${field}.sets`, `expected entries / ways = ${sets}, got ${raw.sets}`);
  } else {
    sets = raw.sets ?? defaults.sets;
    ways = (raw.ways as number | undefined) ?? defaults.ways;
  }
  if (!isPow2(sets)) fieldError(`${field}.sets`, `expected a power of two, got ${sets}${raw?.entries !== undefined ? ` (entries / ways)` : ''}`);
  if (sets * ways > MAX_TABLE_ENTRIES) fieldError(`${field}.entries`, `expected at most ${MAX_TABLE_ENTRIES} entries, got ${sets * ways}`);
  if (policy === 'plru' && !isPow2(ways)) fieldError(`${field}.ways`, `expected a power of two for the "plru" policy, got ${ways}`);
  return { entries: sets * ways, sets, ways, policy };
}

/** Validates a parsed JSON value and fills in defaults. Throws InputError naming `source`. */
export function resolveConfig(value: unknown, source = 'config'): ReplayConfig {
  const parsed = checkConfigShape(value);
  if (!parsed.ok) throw new InputError(`Invalid config "${source}": ${parsed.line}`);
  try {
    return resolveParsed(parsed.data);
  } catch (err) {
    if (err instanceof ConfigFieldError) throw new InputError(`Invalid config "${source}": ${err.field}: ${err.message}`);
    throw err;
  }
}

function resolveParsed(raw: RawConfig): ReplayConfig {
  // A preset fills what the configuration leaves out (config/presets.ts).
  const preset = raw.preset === undefined ? undefined : findPreset(raw.preset);
  // An explicit vendor wins over the preset's (model §9.4).
  const vendor = raw.vendor ?? preset?.vendor ?? 'vtd';
  if (vendor !== 'smmuv3' && raw.pageTable?.levels === 3) fieldError('pageTable.levels', expected('4 or 5', 3));
  // The x86 depth the sizes are checked against (under smmuv3 the LPAE format below checks them and sets the levels).
  const levels = vendor === 'smmuv3' ? 4 : (raw.pageTable?.levels ?? 4);
  const presetSizes = preset?.pageSizeLog2s(levels).map(formatSizeLog2);
  const pageSizes = parsePageSizes('pageSizes', raw.pageSizes ?? presetSizes ?? DEFAULT_PAGE_SIZES, levels);
  const svaPageSizes = parsePageSizes('svaPageSizes', raw.svaPageSizes ?? DEFAULT_PAGE_SIZES, levels);
  let iommus: ReplayConfig['iommus'];
  if (raw.iommus) {
    const seen = new Set<string>();
    iommus = raw.iommus.map((m, i) => {
      if (seen.has(m.name)) fieldError(`iommus[${i}].name`, `duplicate instance name ${show(m.name)}`);
      seen.add(m.name);
      return { name: m.name, pageSizes: m.pageSizes ? parsePageSizes(`iommus[${i}].pageSizes`, m.pageSizes, levels) : pageSizes };
    });
  }
  const devices: ReplayConfig['devices'] = {};
  for (const [key, dev] of Object.entries(raw.devices ?? {})) {
    const rid = parseDeviceKey(key);
    if (rid === undefined) fieldError(`devices.${printable(key, 40)}`, `expected a device like "0000:03:00.0" or a requester ID number, got ${show(key)}`);
    if (dev.iommu !== undefined && iommus && !iommus.some((m) => m.name === dev.iommu))
      fieldError(`devices.${key}.iommu`, `unknown IOMMU instance ${show(dev.iommu)} (instances: ${iommus.map((m) => m.name).join(', ')})`);
    const bdf = formatBdf(rid);
    if (devices[bdf]) fieldError(`devices.${key}`, `names device ${bdf} a second time`);
    devices[bdf] = { ...(dev.iommu !== undefined ? { iommu: dev.iommu } : {}), devtlb: dev.devtlb ?? false };
  }
  const domainIds = raw.domainIds ?? 65536;
  if (domainIds < 2) fieldError('domainIds', `expected at least 2 (DIDs 0 and 1 are reserved), got ${domainIds}`);
  if (domainIds > MAX_DOMAIN_IDS) fieldError('domainIds', `expected at most ${MAX_DOMAIN_IDS}, got ${domainIds}`);
  const inv = raw.invalidation ?? {};
  const maxInvalidationMask = inv.maxInvalidationMask ?? 9;
  if (maxInvalidationMask > 63) fieldError('invalidation.maxInvalidationMask', `expected at most 63, got ${maxInvalidationMask}`);
  const c = raw.costs ?? {};
  if (!VENDOR_MODELLED[vendor]) fieldError('vendor', `vendor ${vendor} is not modelled yet`);
  let tableLevels: 3 | 4 | 5 = levels;
  if (vendor === 'smmuv3') {
    // io-pgtable-arm's tables (model §9.2): the levels follow the granule, and
    // every instance's bitmap must be an LPAE granule's leaves, one granule for
    // all (svaPageSizes is checked by the replay when the trace has an SVA domain).
    const bitmaps = (iommus ?? [{ name: '', pageSizes }]).map((m, i) => ({
      field: iommus && raw.iommus?.[i].pageSizes ? `iommus[${i}].pageSizes` : 'pageSizes',
      log2s: m.pageSizes.map((n) => parseSizeLog2(n)!),
    }));
    try {
      // The resolved configuration says the levels the model walks (§9.6: the
      // format's), so that a summary's config tells them and resolves again.
      tableLevels = tableFormatFor(vendor, levels, bitmaps).levels as 3 | 4;
    } catch (err) {
      if (err instanceof TableFormatError) fieldError(err.field, err.reason);
      throw err;
    }
    // Given, the levels must be the granule's (a resolved configuration's are).
    if (raw.pageTable?.levels !== undefined && raw.pageTable.levels !== tableLevels)
      fieldError('pageTable.levels', "does not apply under smmuv3: io-pgtable-arm's levels follow the granule (48-bit input)");
  }
  return {
    name: raw.name ?? 'baseline',
    ...(preset ? { preset: preset.name } : {}),
    pageSizes,
    svaPageSizes,
    ...(iommus ? { iommus } : {}),
    devices,
    domainIds,
    pageTable: { levels: tableLevels },
    iotlb: resolveTable('iotlb', raw.iotlb, { entries: 64, sets: 16, ways: 4, policy: 'lru' }),
    devtlb: resolveTable('devtlb', raw.devtlb, { entries: 32, sets: 1, ways: 32, policy: 'lru' }),
    ...(raw.walkCache ? { walkCache: resolveTable('walkCache', raw.walkCache, { entries: 16, sets: 4, ways: 4, policy: 'lru' }) } : {}),
    partialUnmap: raw.partialUnmap ?? preset?.partialUnmap ?? 'whole-leaf',
    invalidation: {
      mode: inv.mode ?? 'strict',
      maxInvalidationMask,
      fqSize: inv.fqSize ?? DEFAULT_FQ_SIZE,
      fqTimeoutNs: inv.fqTimeoutNs ?? DEFAULT_FQ_TIMEOUT_NS,
    },
    costs: {
      iotlbHit: c.iotlbHit ?? 2,
      walkAccess: c.walkAccess ?? 70,
      pageInvalidation: c.pageInvalidation ?? 400,
      domainInvalidation: c.domainInvalidation ?? 400,
      devtlbInvalidation: c.devtlbInvalidation ?? 1000,
      wait: c.wait ?? 1000,
    },
    seed: raw.seed ?? 1,
    vendor,
    amd: { npCache: raw.amd?.npCache ?? false },
    smmu: {
      rangeInvalidation: raw.smmu?.rangeInvalidation ?? true,
      forceSyncErratum: raw.smmu?.forceSyncErratum ?? false,
      asidBits: raw.smmu?.asidBits ?? MAX_ASID_BITS,
    },
  };
}

export function parseDeviceKey(key: string): number | undefined {
  if (/^\d+$/.test(key)) {
    const n = Number(key);
    return n <= 0xffffffff ? n : undefined;
  }
  if (/^0x[0-9a-f]+$/i.test(key)) {
    const n = parseInt(key, 16);
    return n <= 0xffffffff ? n : undefined;
  }
  return parseBdf(key);
}

/** A configuration is a small file; anything larger is not one. */
const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Reads and parses a JSON config file; the raw object (sweep included).
 * Untrusted: its size, nesting depth and keys are checked (json.ts).
 */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw new InputError(`Cannot read config "${file}": is a directory, not a file`);
    if (st.size > MAX_CONFIG_BYTES) throw new InputError(`Invalid config "${file}": ${st.size} bytes, more than a configuration (at most ${MAX_CONFIG_BYTES})`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`Cannot read config "${file}": ${describeIoError(err)}`);
  }
  let value: unknown;
  try {
    value = parseUntrustedJson(text);
  } catch (err) {
    if (err instanceof JsonError) throw new InputError(`Invalid config "${file}": ${err.message}`);
    throw err;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError(`Invalid config "${file}": (top level): expected a JSON object`);
  return value as Record<string, unknown>;
}
