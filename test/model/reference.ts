// A plain reference of docs/model.md, written for obviousness, not speed:
// BigInt byte addresses, arrays of objects, linear scans. It shares no model
// code with src/ (only config resolution and topology), so property tests
// that compare the two check the engine's fast paths and data structures.
import type { ReplayConfig } from '../../src/config/config.js';
import { parseSizeLog2 } from '../../src/config/pagesizes.js';
import { resolveTopology } from '../../src/model/topology.js';
import type { TraceMetadata } from '../../src/trace/schema.js';
import type { Ev } from '../helpers/events.js';

const K4 = 4096n;

interface Leaf {
  base: bigint;
  size: bigint;
  pa: bigint;
}
interface Domain {
  id: number;
  type: 'paging' | 'identity' | 'blocked' | 'sva' | 'nested';
  /** §8: a nested domain's parent (its stage 2); the nested domains over a parent. */
  parent: Domain | null;
  children: Domain[];
  sizes: bigint[] | null; // largest first; null until fixed
  leaves: Map<bigint, Leaf>; // by base
  tables: Set<string>; // "level:firstAddress" of each table page alive
  dids: Map<number, number>; // instance -> DID
  /** §9.1 amd: the global domain ID; smmuv3: the ASID. Taken at first attach, kept. */
  gid: number | undefined;
  /** §9.1 smmuv3: the instance whose bitmap the domain took (its SMMU). */
  home: number | undefined;
  atts: { dev: number; pasid: number }[];
  fqCount: number;
  fqFirst: number;
  /** Lazy mode: the byte ranges [start, end) of the unmaps in the flush queue, one per entry (§5, IOVAs reused before their flush). */
  fq: [bigint, bigint][];
  c: Record<string, number>;
}
interface Entry {
  state: 'valid' | 'inval' | 'empty';
  tag: string;
  base: bigint;
  size: bigint;
  pa: bigint;
  owner: number;
  unmappedAt: number;
}
export class Tlb {
  sets: Entry[][];
  stamp: number[][];
  bits: number[][];
  clock = 0;
  rng: number;
  constructor(
    readonly nSets: number,
    readonly ways: number,
    readonly policy: string,
    seed: number,
  ) {
    this.sets = Array.from({ length: nSets }, () =>
      Array.from({ length: ways }, () => ({ state: 'empty' as const, tag: '', base: 0n, size: 0n, pa: 0n, owner: -1, unmappedAt: -1 })),
    );
    this.stamp = Array.from({ length: nSets }, () => new Array(ways).fill(0));
    this.bits = Array.from({ length: nSets }, () => new Array(ways).fill(0));
    let s = (seed ^ 0x9e3779b9) >>> 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
    this.rng = (s ^ (s >>> 16)) >>> 0 || 1;
  }
  setOf(base: bigint, size: bigint): number {
    return Number((base / size) % BigInt(this.nSets));
  }
  touch(set: number, way: number, fill: boolean): void {
    if (this.policy === 'lru' || (this.policy === 'fifo' && fill)) this.stamp[set][way] = ++this.clock;
    if (this.policy === 'plru') {
      let node = way + this.ways;
      while (node > 1) {
        const parent = Math.floor(node / 2);
        this.bits[set][parent] = node % 2 === 0 ? 1 : 0;
        node = parent;
      }
    }
  }
  victim(set: number): number {
    if (this.policy === 'random') {
      let x = this.rng;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.rng = x >>> 0;
      return this.rng % this.ways;
    }
    if (this.policy === 'plru') {
      let node = 1;
      while (node < this.ways) node = 2 * node + this.bits[set][node];
      return node - this.ways;
    }
    const st = this.stamp[set];
    return st.indexOf(Math.min(...st));
  }
  /** Returns [entry or null, sawInvalidated]. */
  lookup(tag: string, addr: bigint, sizes: bigint[]): [Entry | null, boolean] {
    let ghost = false;
    for (const size of sizes) {
      const base = addr - (addr % size);
      const set = this.setOf(base, size);
      for (let w = 0; w < this.ways; w++) {
        const e = this.sets[set][w];
        if (e.tag !== tag || e.base !== base || e.size !== size) continue;
        if (e.state === 'valid') {
          this.touch(set, w, false);
          return [e, false];
        }
        if (e.state === 'inval') ghost = true;
      }
    }
    return [null, ghost];
  }
  fill(tag: string, leaf: Leaf, owner: number): void {
    const set = this.setOf(leaf.base, leaf.size);
    let way = this.sets[set].findIndex((e) => e.state !== 'valid');
    if (way < 0 && this.policy === 'flush-when-full') {
      // QEMU's VT-d IOTLB: a fill into a full table empties all of it first.
      for (const row of this.sets) for (const e of row) e.state = 'empty';
      way = 0;
    }
    if (way < 0) way = this.victim(set);
    this.sets[set][way] = { state: 'valid', tag, base: leaf.base, size: leaf.size, pa: leaf.pa, owner, unmappedAt: -1 };
    this.touch(set, way, true);
  }
  all(): Entry[] {
    return this.sets.flat();
  }
}

function roundupPow2(n: bigint): bigint {
  let p = 1n;
  while (p < n) p *= 2n;
  return p;
}

/** Linux iommu_pgsize with the count rule, on BigInt bytes. */
function pgsize(sizes: bigint[], iova: bigint, pa: bigint, size: bigint): [bigint, bigint] {
  const merge = iova | pa;
  const fits = sizes.filter((s) => s <= size && (merge === 0n || merge % s === 0n));
  const pg = fits[0];
  const bigger = sizes.filter((s) => s > pg);
  let left = size;
  if (bigger.length) {
    const next = bigger[bigger.length - 1];
    if ((iova ^ pa) % next === 0n) {
      const offset = next - (merge % next);
      if (offset + next <= size) left = offset;
    }
  }
  return [pg, left / pg];
}

function psi(start: bigint, end: bigint): [bigint, number] {
  const pfn = start / K4;
  const pages = end / K4 - pfn;
  const aligned = roundupPow2(pages);
  let mask = aligned.toString(2).length - 1;
  if ((aligned - 1n) & pfn) {
    const endPfn = pfn + pages - 1n;
    const shared = ~(pfn ^ endPfn) & ~(aligned - 1n) & ((1n << 64n) - 1n);
    mask = 52;
    for (let b = 0; b < 64; b++)
      if ((shared >> BigInt(b)) & 1n) {
        mask = b;
        break;
      }
  }
  const span = K4 << BigInt(mask);
  return [start - (start % span), mask];
}

const C_FIELDS = [
  'mapOps',
  'mapErrors',
  'mapBytes',
  'unmapOps',
  'unmapErrors',
  'unmapShort',
  'unmapBytes',
  'syncs',
  'page',
  'domain',
  'devtlb',
  'wait',
  'entriesRemoved',
  'flushes',
  'winMax',
  'winSum',
  'winCount',
  'reusedMaps',
  'reusedPages',
];

export interface RefResult {
  dma: { events: number; bytes: number; faults: number; passthrough: number };
  iotlb: { lookups: number; hits: number; staleHits: number; invalidatedMisses: number };
  devtlb: { lookups: number; hits: number };
  walks: { count: number; memoryAccesses: number };
  map: { ops: number; errors: number; bytes: number; pages: Record<string, number> };
  unmap: { ops: number; errors: number; short: number; bytes: number; pages: Record<string, number> };
  attach: { ops: number; errors: number };
  invalidation: {
    syncs: number;
    commands: { page: number; domain: number; devtlb: number; wait: number };
    entriesRemoved: number;
    flushes: number;
    staleWindowMaxNs: number;
    staleWindowSumNs: number;
    staleWindowCount: number;
    /** Lazy mode only, as in the summary. */
    reusedBeforeFlush?: { maps: number; pages: number };
  };
  peakTablePages: number;
}

function name(size: bigint): string {
  const l = size.toString(2).length - 1;
  for (const [u, s] of [
    ['T', 40],
    ['G', 30],
    ['M', 20],
    ['K', 10],
  ] as const)
    if (l >= s) return `${2 ** (l - s)}${u}`;
  return `${size}B`;
}

/** §8's summary keys (totals.nested). */
export interface RefNested {
  walks: number;
  memoryAccesses: number;
  s1Faults: number;
  s2Faults: number;
}

export function referenceReplay(events: Ev[], cfg: ReplayConfig, meta: TraceMetadata): RefResult {
  return referenceReplayNested(events, cfg, meta).result;
}

/** The reference with §8's counters beside the core's. */
export function referenceReplayNested(events: Ev[], cfg: ReplayConfig, meta: TraceMetadata): { result: RefResult; nested: RefNested } {
  const nested: RefNested = { walks: 0, memoryAccesses: 0, s1Faults: 0, s2Faults: 0 };
  const parentIds = new Set(meta.parents?.values() ?? []);
  const topo = resolveTopology(cfg, meta);
  const instSizes = topo.instances.map((m) => m.sizes.names.map((n) => 1n << BigInt(parseSizeLog2(n)!)).sort((a, b) => (a > b ? -1 : 1)));
  const svaSizes = cfg.svaPageSizes.map((n) => 1n << BigInt(parseSizeLog2(n)!)).sort((a, b) => (a > b ? -1 : 1));
  const vc = cfg as unknown as VendorFields;
  const vendor = vc.vendor ?? 'vtd';
  const npCache = vendor === 'amd' && (vc.amd?.npCache ?? false);
  /** §9.3 amd npCache: per domain id, the range of the map operation in progress (its rows so far had mapMore). */
  const mapOp = new Map<number, { s: bigint; e: bigint }>();
  const ril = vc.smmu?.rangeInvalidation ?? true;
  const forceSync = vc.smmu?.forceSyncErratum ?? false;
  const asidBits = vc.smmu?.asidBits ?? 16;
  /** §9.1: amd domain IDs and smmuv3 ASIDs, one space for all instances (0 reserved). */
  const gidUsed = new Set<number>([0]);
  const gidLimit = vendor === 'amd' ? cfg.domainIds - 1 : 2 ** asidBits - 1;
  const cfgLevels = cfg.pageTable.levels;
  /** §3 / §9.2: a domain's table geometry: granule bits, bits a level, levels. */
  const geo = (d: Domain): { g: number; b: number; levels: number } => {
    if (vendor !== 'smmuv3') return { g: 12, b: 9, levels: cfgLevels };
    const sz = sizesOf(d);
    const g = log2(sz[sz.length - 1]);
    return { g, b: g - 3, levels: Math.ceil((48 - g) / (g - 3)) };
  };
  /** The level (1 = lowest) at which a leaf of `size` sits. */
  const leafLevel = (d: Domain, size: bigint) => {
    const { g, b } = geo(d);
    return Math.floor((log2(size) - g) / b) + 1;
  };
  // §9.2: io-pgtable-arm takes a 48-bit input address whatever the granule.
  const limit = vendor === 'smmuv3' ? 1n << 48n : 1n << BigInt(12 + 9 * cfgLevels);
  const iotlbs = topo.instances.map((_, i) => new Tlb(cfg.iotlb.sets, cfg.iotlb.ways, cfg.iotlb.policy, cfg.seed * 1000 + i));
  const devs = new Map<number, { slot: number; inst: number; devtlb: Tlb | null; att: Map<number, number> }>();
  const doms = new Map<number, Domain>();
  const didUsed = topo.instances.map(() => new Set<number>([0, 1]));
  const r: RefResult = {
    dma: { events: 0, bytes: 0, faults: 0, passthrough: 0 },
    iotlb: { lookups: 0, hits: 0, staleHits: 0, invalidatedMisses: 0 },
    devtlb: { lookups: 0, hits: 0 },
    walks: { count: 0, memoryAccesses: 0 },
    map: { ops: 0, errors: 0, bytes: 0, pages: {} },
    unmap: { ops: 0, errors: 0, short: 0, bytes: 0, pages: {} },
    attach: { ops: 0, errors: 0 },
    invalidation: {
      syncs: 0,
      commands: { page: 0, domain: 0, devtlb: 0, wait: 0 },
      entriesRemoved: 0,
      flushes: 0,
      staleWindowMaxNs: 0,
      staleWindowSumNs: 0,
      staleWindowCount: 0,
    },
    peakTablePages: 0,
  };
  let tablesAlive = 0;
  const countTables = (delta: number) => {
    tablesAlive += delta;
    r.peakTablePages = Math.max(r.peakTablePages, tablesAlive);
  };
  let now = 0;
  const t0 = events.length ? BigInt(events[0].ts ?? 0) : 0n;

  const dev = (rid: number) => {
    let d = devs.get(rid);
    if (!d) {
      d = {
        slot: devs.size,
        inst: topo.instanceOf(rid),
        devtlb: topo.hasDevtlb(rid) ? new Tlb(cfg.devtlb.sets, cfg.devtlb.ways, cfg.devtlb.policy, cfg.seed * 1000 + 500 + devs.size) : null,
        att: new Map(),
      };
      devs.set(rid, d);
    }
    return d;
  };
  const dom = (id: number): Domain => {
    let d = doms.get(id);
    if (!d) {
      const type = meta.domains.get(id) ?? 'paging';
      d = {
        id,
        type,
        parent: null,
        children: [],
        sizes: type === 'sva' ? svaSizes : null,
        leaves: new Map(),
        tables: new Set(),
        dids: new Map(),
        gid: undefined,
        home: undefined,
        atts: [],
        fqCount: 0,
        fqFirst: 0,
        fq: [],
        c: Object.fromEntries(C_FIELDS.map((f) => [f, 0])),
      };
      if (type === 'paging' || type === 'sva' || type === 'nested') {
        d.tables.add('root');
        countTables(1);
      }
      doms.set(id, d);
      // §8: a nested domain exists over its parent, which is in use from then on.
      if (type === 'nested') {
        d.parent = dom(meta.parents!.get(id)!);
        d.parent.children.push(d);
      }
    }
    return d;
  };
  const sizesOf = (d: Domain) => d.sizes ?? instSizes[0];
  /** §6 (§9.2 under smmuv3): the memory accesses of a one-dimensional walk ending at leaf l of domain d. */
  const accesses = (d: Domain, l: Leaf) => geo(d).levels - (leafLevel(d, l.size) - 1);
  const didOf = (d: Domain, inst: number) => (d.type === 'paging' || d.type === 'nested' ? d.dids.get(inst)! : 1);
  /** §9.1: what an IOTLB entry of d's attachment at pasid behind inst is tagged with. */
  const tagOf = (d: Domain, inst: number, pasid: number) =>
    vendor === 'vtd' ? `${didOf(d, inst)}:${pasid}` : vendor === 'amd' ? `${d.gid}:${pasid}` : `${d.gid}`;
  /**
   * §8's 2-D walk for IOVA a of nested domain d: the combined entry (size
   * min of the two leaves, based at a rounded down, PA = S2 translation of
   * that base) and the walk's accesses, or which stage faulted.
   */
  const walk2d = (d: Domain, a: bigint): { fault: 1 | 2 } | { leaf: Leaf; accesses: number } => {
    const l1 = leafAt(d, a);
    if (!l1) return { fault: 1 };
    const ipa = l1.pa + (a - l1.base);
    const l2 = leafAt(d.parent!, ipa);
    if (!l2) return { fault: 2 };
    const size = l1.size < l2.size ? l1.size : l2.size;
    const base = a - (a % size);
    const ipaBase = l1.pa + (base - l1.base);
    return { leaf: { base, size, pa: l2.pa + (ipaBase - l2.base) }, accesses: (accesses(d, l1) + 1) * (accesses(d.parent!, l2) + 1) - 1 };
  };
  /** What a walk made now for byte a of d gives (§6 step 3; §8 for a nested domain). */
  const translate = (d: Domain, a: bigint): { fault: 1 | 2 } | { leaf: Leaf; accesses: number } => {
    if (d.type === 'nested') return walk2d(d, a);
    const l = leafAt(d, a);
    return l ? { leaf: l, accesses: accesses(d, l) } : { fault: 1 };
  };
  /** The leaf covering byte a: leaves are aligned to their size, so look at each size's base. */
  const leafAt = (d: Domain, a: bigint): Leaf | undefined => {
    for (const size of [...instSizes.flat(), ...svaSizes]) {
      const l = d.leaves.get(a - (a % size));
      if (l && l.size === size) return l;
    }
    return undefined;
  };
  /** The bytes a table page at `level` of d covers (§3; §9.2: granule bits + (g − 3) a level). */
  const tableSpan = (d: Domain, level: number) => {
    const { g, b } = geo(d);
    return 1n << BigInt(g + b * level);
  };
  const tableKey = (d: Domain, level: number, a: bigint) => {
    const span = tableSpan(d, level);
    return `${level}:${a - (a % span)}`;
  };
  const install = (d: Domain, l: Leaf) => {
    d.leaves.set(l.base, l);
    const ll = leafLevel(d, l.size);
    // Empty lower tables inside the new leaf go (VT-d __domain_mapping).
    if (ll >= 2)
      for (const k of [...d.tables]) {
        if (k === 'root') continue;
        const [lv, a] = k.split(':');
        const start = BigInt(a);
        const span = tableSpan(d, Number(lv));
        if (l.base <= start && start + span <= l.base + l.size) {
          d.tables.delete(k);
          countTables(-1);
        }
      }
    for (let level = geo(d).levels - 1; level >= ll; level--) {
      const k = tableKey(d, level, l.base);
      if (!d.tables.has(k)) {
        d.tables.add(k);
        countTables(1);
      }
    }
  };
  const splitInto = (d: Domain, iova: bigint, pa: bigint, size: bigint, doInstall: boolean, pages: Record<string, number> | null, out?: Leaf[]) => {
    const sizes = sizesOf(d);
    while (size > 0n) {
      const [pg, n] = pgsize(sizes, iova, pa, size);
      for (let j = 0n; j < n; j++) {
        if (doInstall) install(d, { base: iova + j * pg, size: pg, pa: pa + j * pg });
        out?.push({ base: iova + j * pg, size: pg, pa: pa + j * pg });
      }
      if (pages) pages[name(pg)] = (pages[name(pg)] ?? 0) + Number(n);
      iova += n * pg;
      pa += n * pg;
      size -= n * pg;
    }
  };
  /** The distinct (instance, tag) pairs of d's attachments (§5; §9.1 for the tag). */
  const tags = (d: Domain) => {
    const seen = new Set<string>();
    const out: { inst: number; pasid: number; tag: string }[] = [];
    for (const a of d.atts) {
      const inst = [...devs.values()].find((x) => x.slot === a.dev)!.inst;
      const tag = tagOf(d, inst, a.pasid);
      const k = `${inst}/${tag}`;
      if (!seen.has(k)) {
        seen.add(k);
        out.push({ inst, pasid: a.pasid, tag });
      }
    }
    return out;
  };
  /** The instances behind which d is attached. */
  const instsOf = (d: Domain) => new Set(tags(d).map((t) => t.inst));
  const devBySlot = (slot: number) => [...devs.values()].find((x) => x.slot === slot)!;
  const removeEntries = (d: Domain, tlb: Tlb, pred: (e: Entry) => boolean, isIotlb: boolean) => {
    let n = 0;
    for (const e of tlb.all()) {
      if (e.state !== 'valid' || !pred(e)) continue;
      e.state = 'inval';
      if (!isIotlb) continue;
      n++;
      if (e.unmappedAt >= 0) {
        const w = now - e.unmappedAt;
        d.c.winMax = Math.max(d.c.winMax, w);
        d.c.winSum += w;
        d.c.winCount++;
      }
    }
    if (isIotlb) d.c.entriesRemoved += n;
  };
  const overlaps = (e: Entry, s: bigint, end: bigint) => e.base < end && e.base + e.size > s;
  /**
   * §8: a parent's stage-2 change, for every nested domain over it: per tag
   * one command (counted as `kind`, in the parent) removing every entry of
   * the tag; per attachment on a device TLB one all-addresses command.
   */
  const nestedCommands = (d: Domain, kind: 'page' | 'domain', insts: Set<number>) => {
    for (const n of d.children) {
      for (const t of tags(n)) {
        const tag = t.tag;
        d.c[kind]++;
        removeEntries(d, iotlbs[t.inst], (e) => e.tag === tag, true);
        insts.add(t.inst);
      }
      for (const a of n.atts) {
        const x = devBySlot(a.dev);
        if (!x.devtlb) continue;
        d.c.devtlb++;
        removeEntries(d, x.devtlb, (e) => e.tag === String(a.pasid), false);
        insts.add(x.inst);
      }
    }
  };
  const domainFlush = (d: Domain) => {
    if (vendor === 'smmuv3') return smmuDomainFlush(d);
    // vtd §5; amd §9.3: one all-addresses INVALIDATE_IOMMU_PAGES per tag and instance, the same shape.
    d.c.flushes++;
    const insts = new Set<number>();
    for (const t of tags(d)) {
      const tag = t.tag;
      d.c.domain++;
      removeEntries(d, iotlbs[t.inst], (e) => e.tag === tag, true);
      insts.add(t.inst);
    }
    for (const a of d.atts) {
      const x = devBySlot(a.dev);
      if (!x.devtlb) continue;
      d.c.devtlb++;
      removeEntries(d, x.devtlb, (e) => e.tag === String(a.pasid), false);
      insts.add(x.inst);
    }
    nestedCommands(d, 'domain', insts);
    d.c.wait += insts.size;
  };
  /**
   * §9.3 smmuv3 domain-wide flush (`arm_smmu_tlb_inv_context()`): per SMMU the
   * domain is attached behind, one TLBI_NH_ASID and one CMD_SYNC; then one
   * ATC_INV (all) per ATS attachment and one CMD_SYNC per SMMU of those.
   */
  /**
   * §9.6: the SMMUs whose TLBs a domain's TLBIs go to: those it is attached
   * behind; a paging domain attached nowhere keeps its SMMU and ASID
   * (arm_smmu_iotlb_sync() and arm_smmu_flush_iotlb_all() do not look at the masters).
   */
  const smmuInsts = (d: Domain) => (d.type === 'paging' && d.atts.length === 0 && d.gid !== undefined ? new Set([d.home!]) : instsOf(d));
  const smmuDomainFlush = (d: Domain) => {
    d.c.flushes++;
    for (const inst of smmuInsts(d)) {
      d.c.domain++;
      d.c.wait++;
      removeEntries(d, iotlbs[inst], (e) => e.tag === tagOf(d, inst, 0), true);
    }
    const atsInsts = new Set<number>();
    for (const a of d.atts) {
      const x = devBySlot(a.dev);
      if (!x.devtlb) continue;
      d.c.devtlb++;
      removeEntries(d, x.devtlb, (e) => e.tag === String(a.pasid), false);
      atsInsts.add(x.inst);
    }
    d.c.wait += atsInsts.size;
  };
  /**
   * §9.3 amd: the commands of one flush of [s, e) (a strict sync, or npCache's
   * flush after a map): per tag and instance one INVALIDATE_IOMMU_PAGES over
   * the cover (npCache: per block), per ATS attachment one
   * INVALIDATE_IOTLB_PAGES over the same, one COMPLETION_WAIT per instance.
   */
  const amdFlushRange = (d: Domain, s: bigint, e: bigint) => {
    // NpCache's split is domain_flush_pages()'s loop; an SVA domain's flushes take the PASID path, which has none
    // (docs/vendors-evidence.md §1.6).
    const blocks = npCache && d.type === 'paging' ? amdBlocks(s, e) : [amdCover(s, e)];
    const insts = new Set<number>();
    for (const t of tags(d)) {
      for (const b of blocks) {
        if (b.all) d.c.domain++;
        else d.c.page++;
        removeEntries(d, iotlbs[t.inst], (x) => x.tag === t.tag && (b.all || overlaps(x, b.start, b.end)), true);
      }
      insts.add(t.inst);
    }
    for (const a of d.atts) {
      const x = devBySlot(a.dev);
      if (!x.devtlb) continue;
      for (const b of blocks) {
        d.c.devtlb++;
        removeEntries(d, x.devtlb, (y) => y.tag === String(a.pasid) && (b.all || overlaps(y, b.start, b.end)), false);
      }
      insts.add(x.inst);
    }
    d.c.wait += insts.size;
  };
  /**
   * §9.3 smmuv3 strict sync of the gathered [s, e) of leaves of size pg: per
   * SMMU the domain is attached behind, the TLBI_NH_VA commands (RIL split,
   * or one per leaf) and their CMD_SYNCs (one, or one per 63 commands under
   * the erratum); then ATC_INV over the power-of-two span per ATS attachment
   * and one CMD_SYNC per SMMU of those.
   */
  const smmuSync = (d: Domain, s: bigint, e: bigint, pg: bigint) => {
    d.c.syncs++;
    if (smmuInsts(d).size === 0) return;
    const sz = sizesOf(d);
    const granule = sz[sz.length - 1];
    smmuRange(d, s, e, ril ? rilCommands((e - s) / granule) : Number((e - s) / pg));
  };
  /** n TLBI_NH_VA over [s, e) and their CMD_SYNCs per SMMU of d, then ATC_INV over the span per ATS attachment and a CMD_SYNC (`arm_smmu_tlb_inv_range_domain()`). */
  const smmuRange = (d: Domain, s: bigint, e: bigint, n: number) => {
    for (const inst of smmuInsts(d)) {
      d.c.page += n;
      d.c.wait += forceSync ? 1 + Math.floor((n - 1) / 63) : 1;
      removeEntries(d, iotlbs[inst], (x) => x.tag === tagOf(d, inst, 0) && overlaps(x, s, e), true);
    }
    const span = atcSpan(s, e);
    const atsInsts = new Set<number>();
    for (const a of d.atts) {
      const x = devBySlot(a.dev);
      if (!x.devtlb) continue;
      d.c.devtlb++;
      removeEntries(d, x.devtlb, (y) => y.tag === String(a.pasid) && overlaps(y, span.start, span.end), false);
      atsInsts.add(x.inst);
    }
    d.c.wait += atsInsts.size;
  };
  /** docs/vendors-evidence.md §4 item 19: io_pgtable_tlb_flush_walk() → arm_smmu_tlb_inv_walk(): [s, e) at the granule, at once. */
  const smmuWalkFlush = (d: Domain, s: bigint, e: bigint) => {
    if (smmuInsts(d).size === 0) return;
    const sz = sizesOf(d);
    const granule = sz[sz.length - 1];
    smmuRange(d, s, e, ril ? rilCommands((e - s) / granule) : Number((e - s) / granule));
  };
  const sync = (d: Domain, s: bigint, e: bigint) => {
    if (vendor === 'amd') {
      d.c.syncs++;
      if (d.atts.length !== 0) amdFlushRange(d, s, e);
      return;
    }
    d.c.syncs++;
    if (d.atts.length === 0 && d.children.length === 0) return;
    const [cs, mask] = psi(s, e);
    const ce = cs + (K4 << BigInt(mask));
    const insts = new Set<number>();
    for (const t of tags(d)) {
      const tag = t.tag;
      if (mask <= cfg.invalidation.maxInvalidationMask) {
        d.c.page++;
        removeEntries(d, iotlbs[t.inst], (x) => x.tag === tag && overlaps(x, cs, ce), true);
      } else {
        d.c.domain++;
        removeEntries(d, iotlbs[t.inst], (x) => x.tag === tag, true);
      }
      insts.add(t.inst);
    }
    for (const a of d.atts) {
      const x = devBySlot(a.dev);
      if (!x.devtlb) continue;
      d.c.devtlb++;
      removeEntries(d, x.devtlb, (y) => y.tag === String(a.pasid) && overlaps(y, cs, ce), false);
      insts.add(x.inst);
    }
    nestedCommands(d, mask <= cfg.invalidation.maxInvalidationMask ? 'page' : 'domain', insts);
    d.c.wait += insts.size;
  };
  const fireTimeouts = () => {
    const due = [...doms.values()].filter((d) => d.fqCount > 0 && now >= d.fqFirst + cfg.invalidation.fqTimeoutNs).sort((a, b) => a.id - b.id);
    for (const d of due) {
      domainFlush(d);
      d.fqCount = 0;
      d.fq = [];
    }
  };
  const removeLeaf = (d: Domain, l: Leaf, countPages: boolean) => {
    d.leaves.delete(l.base);
    if (countPages) {
      r.unmap.pages[name(l.size)] = (r.unmap.pages[name(l.size)] ?? 0) + 1;
      d.c.unmapBytes += Number(l.size);
    }
    if (d.type === 'nested') return; // the stale window is measured on paging and SVA entries only
    // Under smmuv3 a domain's entries outlive its attachments (no TLBI at teardown, the ASID is kept, §9.1): an
    // unmap starts the window of its entries on every SMMU, attached or not.
    const marked = vendor === 'smmuv3' ? (d.gid === undefined ? [] : iotlbs.map((_, inst) => ({ inst, tag: `${d.gid}` }))) : tags(d);
    for (const t of marked) {
      const tag = t.tag;
      for (const e of iotlbs[t.inst].all())
        if (e.state === 'valid' && e.tag === tag && e.base === l.base && e.size === l.size && e.unmappedAt < 0) e.unmappedAt = now;
    }
  };
  const freeTables = (d: Domain, s: bigint, e: bigint) => {
    for (const k of [...d.tables]) {
      if (k === 'root') continue;
      const [lv, a] = k.split(':');
      const level = Number(lv);
      const start = BigInt(a);
      const span = tableSpan(d, level);
      // A table goes when its parent's entry for it lies within [s, e).
      if (s <= start && start + span <= e) {
        d.tables.delete(k);
        countTables(-1);
      }
    }
  };

  /**
   * §9.1 for amd and smmuv3: global IDs (domain IDs, ASIDs) taken at first
   * attach and kept; smmuv3 paging domains stay on one SMMU; each vendor's
   * teardown.
   */
  const vendorSetAttachment = (rid: number, pasid: number, next: Domain | null) => {
    const x = dev(rid);
    const oldId = x.att.get(pasid);
    const old = oldId === undefined ? null : doms.get(oldId)!;
    if (old === next) return;
    if (next) {
      if (next.type === 'sva' && pasid === 0) return void r.attach.errors++;
      if (next.type === 'paging') {
        // §9.1: an SMMUv3 paging domain belongs to the SMMU whose bitmap it took.
        if (vendor === 'smmuv3' && next.home !== undefined && next.home !== x.inst) return void r.attach.errors++;
        if (next.sizes && !next.sizes.every((s) => instSizes[x.inst].includes(s))) return void r.attach.errors++;
      }
      if ((next.type === 'paging' || next.type === 'sva') && next.gid === undefined) {
        let id = -1;
        for (let k = 1; k <= gidLimit; k++)
          if (!gidUsed.has(k)) {
            id = k;
            break;
          }
        if (id < 0) return void r.attach.errors++;
        gidUsed.add(id);
        next.gid = id;
      }
      if (next.type === 'paging' && !next.sizes) {
        next.sizes = instSizes[x.inst];
        next.home = x.inst;
      }
    }
    // The old domain's attachments and instances as they were before this one ends (amd's teardown flushes them all).
    const oldAtts = old ? [...old.atts] : [];
    // (An SVA attachment's teardown is its own (device, PASID)'s, on the device's instance: see below.)
    const oldInsts = old ? (old.type === 'sva' ? new Set([x.inst]) : instsOf(old)) : new Set<number>();
    if (next) {
      x.att.set(pasid, next.id);
      next.atts.push({ dev: x.slot, pasid });
    } else x.att.delete(pasid);
    if (!old) return;
    old.atts.splice(
      old.atts.findIndex((a) => a.dev === x.slot && a.pasid === pasid),
      1,
    );
    if (vendor === 'amd' && (old.type === 'paging' || old.type === 'sva' || old.type === 'identity')) {
      // §9.1 amd (6.1 do_detach()): INVALIDATE_IOMMU_PAGES all addresses on the old ID on every instance of the old
      // domain, INVALIDATE_IOTLB_PAGES all per ATS attachment of it, COMPLETION_WAIT per instance. An identity
      // domain too: Linux gave it an ID the model does not take (§9.5); its command removes nothing.
      old.c.flushes++;
      for (const inst of oldInsts) {
        old.c.domain++;
        // A paging domain's command (GN=0) removes every entry of its ID; an SVA attachment's is the PASID's own
        // (GN=1, as current kernels' dev_flush_pasid_all() and VT-d's (DID 1, pasid) teardown).
        removeEntries(old, iotlbs[inst], (e) => (old.type === 'sva' ? e.tag === `${old.gid}:${pasid}` : e.tag.startsWith(`${old.gid}:`)), true);
      }
      // An SVA attachment's teardown is its own (device, PASID)'s: the departing device's TLB only.
      for (const a of old.type === 'sva' ? [{ dev: x.slot, pasid }] : oldAtts) {
        const y = devBySlot(a.dev);
        if (!y.devtlb) continue;
        old.c.devtlb++;
        removeEntries(old, y.devtlb, (e) => e.tag === String(a.pasid), false);
      }
      old.c.wait += oldInsts.size;
    } else if (vendor === 'smmuv3' && (old.type === 'paging' || old.type === 'sva') && x.devtlb) {
      // smmuv3 (arm_smmu_detach_dev()): no TLBI; ATC_INV all + CMD_SYNC (arm_smmu_disable_ats()), where ATS was on:
      // not behind a bypass STE (arm_smmu_attach_dev() enables ATS only for a translating domain), so an identity
      // attachment's teardown sends nothing.
      old.c.devtlb++;
      if (vendor === 'smmuv3') old.c.wait++;
      removeEntries(old, x.devtlb, (e) => e.tag === String(pasid), false);
    }
  };

  const setAttachment = (rid: number, pasid: number, next: Domain | null) => {
    if (vendor !== 'vtd') return vendorSetAttachment(rid, pasid, next);
    const x = dev(rid);
    const oldId = x.att.get(pasid);
    const old = oldId === undefined ? null : doms.get(oldId)!;
    if (old === next) return;
    if (next) {
      if (next.type === 'sva' && pasid === 0) return void r.attach.errors++;
      if (next.type === 'paging' || next.type === 'nested') {
        // §8: a nested attach checks the parent's bitmap, not its own.
        const checked = next.type === 'nested' ? next.parent! : next;
        if (checked.sizes && !checked.sizes.every((s) => instSizes[x.inst].includes(s))) return void r.attach.errors++;
        if (!next.dids.has(x.inst)) {
          let did = -1;
          for (let k = 2; k < cfg.domainIds; k++)
            if (!didUsed[x.inst].has(k)) {
              did = k;
              break;
            }
          if (did < 0) return void r.attach.errors++;
          didUsed[x.inst].add(did);
          next.dids.set(x.inst, did);
        }
        if (!next.sizes) next.sizes = instSizes[x.inst];
        if (!checked.sizes) checked.sizes = instSizes[x.inst];
      }
    }
    if (next) {
      x.att.set(pasid, next.id);
      next.atts.push({ dev: x.slot, pasid });
    } else x.att.delete(pasid);
    if (old) {
      old.atts.splice(
        old.atts.findIndex((a) => a.dev === x.slot && a.pasid === pasid),
        1,
      );
      // Teardown.
      if (old.type === 'paging' || old.type === 'sva' || old.type === 'nested') {
        const did = didOf(old, x.inst);
        old.c.domain++;
        old.c.flushes++;
        old.c.wait++;
        removeEntries(old, iotlbs[x.inst], (e) => (old.type !== 'sva' ? e.tag.startsWith(`${did}:`) : e.tag === `1:${pasid}`), true);
      }
      if (old.type !== 'blocked' && x.devtlb) {
        old.c.devtlb++;
        removeEntries(old, x.devtlb, (e) => e.tag === String(pasid), false);
      }
      if ((old.type === 'paging' || old.type === 'nested') && !old.atts.some((a) => devBySlot(a.dev).inst === x.inst)) {
        didUsed[x.inst].delete(old.dids.get(x.inst)!);
        old.dids.delete(x.inst);
      }
    }
  };

  for (const ev of events) {
    now = Number(BigInt(ev.ts ?? 0) - t0);
    fireTimeouts();
    const iova = BigInt(ev.iova ?? 0);
    const pa = BigInt(ev.paddr ?? 0);
    const size = BigInt(ev.size ?? 0);
    switch (ev.op) {
      case 'dma_read':
      case 'dma_write': {
        const x = dev(ev.device ?? 0);
        const pasid = ev.pasid ?? 0;
        r.dma.events++;
        r.dma.bytes += Number(size);
        const id = x.att.get(pasid);
        const d = id === undefined ? null : doms.get(id)!;
        if (!d) {
          r.dma.faults++;
          break;
        }
        if (d.type === 'identity') {
          r.dma.passthrough++;
          break;
        }
        // §8: a nested domain probes every size of either stage and walks both.
        const sizes = d.type === 'nested' ? [...new Set([...sizesOf(d), ...sizesOf(d.parent!)])].sort((p, q) => (p > q ? -1 : 1)) : sizesOf(d);
        const tag = tagOf(d, x.inst, pasid);
        const last = iova + (size === 0n ? 1n : size) - 1n;
        let a = iova - (iova % K4);
        while (a <= last) {
          if (x.devtlb) {
            r.devtlb.lookups++;
            const [e] = x.devtlb.lookup(String(pasid), a, sizes);
            if (e) {
              r.devtlb.hits++;
              a = e.base + e.size;
              continue;
            }
          }
          r.iotlb.lookups++;
          const [e, ghost] = iotlbs[x.inst].lookup(tag, a, sizes);
          if (e) {
            r.iotlb.hits++;
            // Stale unless a walk made now for the entry's base gives the same base, size and PA.
            const w = translate(d, e.base);
            if (!('leaf' in w && w.leaf.base === e.base && w.leaf.size === e.size && w.leaf.pa === e.pa)) r.iotlb.staleHits++;
            else if (e.owner === d.id && d.type !== 'nested') e.unmappedAt = -1;
            if (x.devtlb) x.devtlb.fill(String(pasid), { base: e.base, size: e.size, pa: e.pa }, d.id);
            a = e.base + e.size;
            continue;
          }
          if (ghost) r.iotlb.invalidatedMisses++;
          const w = translate(d, a);
          if ('fault' in w) {
            r.dma.faults++;
            if (d.type === 'nested') nested[w.fault === 1 ? 's1Faults' : 's2Faults']++;
            break;
          }
          r.walks.count++;
          r.walks.memoryAccesses += w.accesses;
          if (d.type === 'nested') {
            nested.walks++;
            nested.memoryAccesses += w.accesses;
          }
          iotlbs[x.inst].fill(tag, w.leaf, d.id);
          if (x.devtlb) x.devtlb.fill(String(pasid), w.leaf, d.id);
          a = w.leaf.base + w.leaf.size;
        }
        break;
      }
      case 'map': {
        const d = dom(ev.domain ?? 0);
        d.c.mapOps++;
        // The map operation this row continues (trace-format's map_more): taken now, so a failing map ends it unflushed.
        const op = mapOp.get(d.id);
        mapOp.delete(d.id);
        if (d.type !== 'paging' && d.type !== 'sva' && d.type !== 'nested') {
          d.c.mapErrors++;
          break;
        }
        const g = sizesOf(d)[sizesOf(d).length - 1];
        if (iova % g || pa % g || size % g) {
          d.c.mapErrors++;
          break;
        }
        if (size === 0n) break;
        if (iova + size > limit || [...d.leaves.values()].some((l) => l.base < iova + size && iova < l.base + l.size)) {
          d.c.mapErrors++;
          break;
        }
        d.c.mapBytes += Number(size);
        if (!d.sizes) {
          d.sizes = instSizes[0];
          d.home = 0;
        }
        splitInto(d, iova, pa, size, true, r.map.pages);
        if (cfg.invalidation.mode === 'lazy') {
          // The map's pages that some queued unmap's range holds: every entry scanned, clipped, merged.
          const held = d.fq
            .map(([s, e]) => [s > iova ? s : iova, e < iova + size ? e : iova + size] as const)
            .filter(([s, e]) => s < e)
            .sort((p, q) => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0));
          let pages = 0n;
          let at = 0n;
          for (const [s, e] of held) {
            const from = s > at ? s : at;
            if (e > from) pages += (e - from) / 0x1000n;
            if (e > at) at = e;
          }
          if (pages > 0n) {
            d.c.reusedMaps++;
            d.c.reusedPages += Number(pages);
          }
        }
        // §9.3 amd with npCache (iommu_map() → amd_iommu_iotlb_sync_map() → domain_flush_np_cache()): the mapped range is
        // flushed as a sync is, not counted as one. Paging domains only: an SVA map is a CPU page-table change, which
        // no iommu_map() follows (docs/vendors-evidence.md §1.6: NpCache does not apply to the PASID paths).
        // Once per map operation, after its last map (iommu.c __iommu_map_sg(): iotlb_sync_map(domain, iova, mapped)),
        // over the operation's range.
        if (npCache) {
          const s = op && op.s < iova ? op.s : iova;
          const e = op && op.e > iova + size ? op.e : iova + size;
          if (ev.mapMore) mapOp.set(d.id, { s, e });
          else if (d.type === 'paging' && d.atts.length !== 0) amdFlushRange(d, s, e);
        }
        break;
      }
      case 'unmap': {
        const d = dom(ev.domain ?? 0);
        d.c.unmapOps++;
        if (d.type !== 'paging' && d.type !== 'sva' && d.type !== 'nested') {
          d.c.unmapErrors++;
          break;
        }
        const sizes = sizesOf(d);
        const g = sizes[sizes.length - 1];
        if (iova % g || size % g) {
          d.c.unmapErrors++;
          break;
        }
        if (size === 0n) break;
        const end = iova + size;
        let c = iova;
        /** Where the unmap's range begins: its iova, or the start of the leaf it begins inside (whole-leaf). */
        let from = iova;
        let removedAny = false;
        let gs = 0n,
          ge = 0n,
          glen = 0n;
        // §9.3 smmuv3: the gather's page size (the size of the leaves gathered), 0 when empty.
        let gpg = 0n;
        // §8: a parent's stage 2 is always strict (iommufd has no flush queue); §5: so is an SVA domain (the mmu notifier).
        const strict = cfg.invalidation.mode === 'strict' || parentIds.has(d.id) || d.type === 'sva';
        while (c < end) {
          const [pg, n] = pgsize(sizes, c, c, end - c);
          let ce = c + pg * n;
          const head = leafAt(d, c);
          if (!head) {
            d.c.unmapShort++;
            break;
          }
          const tail = leafAt(d, ce - 1n);
          const headSticks = head.base < c;
          const tailSticks = !!tail && tail.base + tail.size > ce;
          let cs = c;
          /** The leaves (or, split, the parts of leaves) this chunk removes, for smmuv3's per-leaf gather. */
          const gone: Leaf[] = [];
          if (headSticks || tailSticks) {
            if (cfg.partialUnmap === 'reject') {
              d.c.unmapErrors++;
              break;
            }
            if (cfg.partialUnmap === 'whole-leaf') {
              if (headSticks) cs = head.base;
              if (cs < from) from = cs;
              if (tailSticks) ce = tail!.base + tail!.size;
            } else {
              for (const l of headSticks && tailSticks && head === tail ? [head] : [headSticks ? head : null, tailSticks ? tail : null]) {
                if (!l) continue;
                removeLeaf(d, l, false);
                removedAny = true;
                if (l.base < c) splitInto(d, l.base, l.pa, c - l.base, true, null);
                if (l.base + l.size > ce) splitInto(d, ce, l.pa + (ce - l.base), l.base + l.size - ce, true, null);
                const rs = l.base > c ? l.base : c;
                const re = l.base + l.size < ce ? l.base + l.size : ce;
                splitInto(d, rs, l.pa + (rs - l.base), re - rs, false, r.unmap.pages, gone);
                d.c.unmapBytes += Number(re - rs);
              }
            }
          }
          for (const l of [...d.leaves.values()].filter((l) => l.base >= cs && l.base + l.size <= ce)) {
            removeLeaf(d, l, true);
            removedAny = true;
            gone.push(l);
          }
          // docs/vendors-evidence.md §4 item 19 (off unless SMMU_WALK_FLUSH): an entry of the chunk's page size that
          // holds a table is cleared with an immediate walk flush of its span (6.1: its leaves are not gathered).
          const walked: [bigint, bigint][] = [];
          if (vendor === 'smmuv3' && SMMU_WALK_FLUSH && leafLevel(d, pg) >= 2) {
            for (let j = 0n; j < n; j++) if (d.tables.has(`${leafLevel(d, pg) - 1}:${c + j * pg}`)) walked.push([c + j * pg, c + (j + 1n) * pg]);
          }
          // io-pgtable-arm frees a table only where the unmap meets it as an entry of its own level (__arm_lpae_unmap()).
          if (vendor === 'smmuv3' && SMMU_WALK_FLUSH) for (const [ws, we] of walked) freeTables(d, ws, we);
          else freeTables(d, cs, ce);
          for (const [ws, we] of walked) smmuWalkFlush(d, ws, we);
          if (strict && vendor === 'smmuv3') {
            // §9.3 smmuv3 (io-pgtable-arm's io_pgtable_tlb_add_page() → iommu_iotlb_gather_add_page()): each leaf
            // in address order; a leaf of another size, or disjoint (neither overlapping nor touching), syncs first.
            for (const l of gone.sort((p, q) => (p.base < q.base ? -1 : 1))) {
              if (walked.some(([ws, we]) => ws <= l.base && l.base < we)) continue;
              const le = l.base + l.size;
              if (gpg !== 0n && (l.size !== gpg || le < gs || l.base > ge)) {
                smmuSync(d, gs, ge, gpg);
                gpg = 0n;
              }
              if (gpg === 0n) {
                gs = l.base;
                ge = le;
              } else {
                if (l.base < gs) gs = l.base;
                if (le > ge) ge = le;
              }
              gpg = l.size;
            }
          } else if (strict && vendor === 'amd') {
            // §9.3 amd (amd_iommu_iotlb_gather_add_page()): every chunk merges; with npCache a disjoint one syncs first.
            if (glen !== 0n && npCache && (ce < gs || c > ge)) {
              sync(d, gs, ge);
              glen = 0n;
            }
            if (glen === 0n) {
              gs = c;
              ge = ce;
            } else {
              if (c < gs) gs = c;
              if (ce > ge) ge = ce;
            }
            glen = ce - c;
          } else if (strict) {
            const len = ce - c;
            if (glen !== 0n && (glen !== len || ce < gs || c > ge)) {
              sync(d, gs, ge);
              glen = 0n;
            }
            if (glen === 0n) {
              gs = c;
              ge = ce;
            } else {
              if (c < gs) gs = c;
              if (ce > ge) ge = ce;
            }
            glen = len;
          }
          c = ce;
        }
        if (strict) {
          if (glen !== 0n) sync(d, gs, ge);
          if (gpg !== 0n) smmuSync(d, gs, ge, gpg);
        } else if (removedAny) {
          if (d.fqCount >= cfg.invalidation.fqSize) {
            domainFlush(d);
            d.fqCount = 0;
            d.fq = [];
          }
          d.fq.push([from, c]);
          if (d.fqCount++ === 0) d.fqFirst = now;
        }
        break;
      }
      case 'attach': {
        r.attach.ops++;
        const x = dom(ev.domain ?? 0);
        setAttachment(ev.device ?? 0, ev.pasid ?? 0, x.type === 'blocked' ? null : x);
        break;
      }
      case 'detach':
        r.attach.ops++;
        setAttachment(ev.device ?? 0, ev.pasid ?? 0, null);
        break;
      case 'flush':
        domainFlush(dom(ev.domain ?? 0));
        break;
    }
  }
  for (const d of doms.values()) {
    r.map.ops += d.c.mapOps;
    r.map.errors += d.c.mapErrors;
    r.map.bytes += d.c.mapBytes;
    r.unmap.ops += d.c.unmapOps;
    r.unmap.errors += d.c.unmapErrors;
    r.unmap.short += d.c.unmapShort;
    r.unmap.bytes += d.c.unmapBytes;
    const inv = r.invalidation;
    inv.syncs += d.c.syncs;
    inv.commands.page += d.c.page;
    inv.commands.domain += d.c.domain;
    inv.commands.devtlb += d.c.devtlb;
    inv.commands.wait += d.c.wait;
    inv.entriesRemoved += d.c.entriesRemoved;
    inv.flushes += d.c.flushes;
    inv.staleWindowMaxNs = Math.max(inv.staleWindowMaxNs, d.c.winMax);
    inv.staleWindowSumNs += d.c.winSum;
    inv.staleWindowCount += d.c.winCount;
    if (cfg.invalidation.mode === 'lazy') {
      inv.reusedBeforeFlush ??= { maps: 0, pages: 0 };
      inv.reusedBeforeFlush.maps += d.c.reusedMaps;
      inv.reusedBeforeFlush.pages += d.c.reusedPages;
    }
  }
  return { result: r, nested };
}

/**
 * docs/vendors-evidence.md §4 item 19, io-pgtable-arm's walk flush when an
 * unmap clears a table entry: not in §9 nor in the rules the engine was
 * given, so off; kept to tell which rule a disagreement comes from.
 */
export let SMMU_WALK_FLUSH = true;
export function setSmmuWalkFlush(on: boolean): void {
  SMMU_WALK_FLUSH = on;
}

/** §9 configuration fields (config.md "Vendors"), read loosely so the reference does not depend on the engine's types. */
interface VendorFields {
  vendor?: string;
  amd?: { npCache?: boolean };
  smmu?: { rangeInvalidation?: boolean; forceSyncErratum?: boolean; asidBits?: number };
}

function log2(x: bigint): number {
  return x.toString(2).length - 1;
}

/** §9.3 amd `build_inv_address()`: one 4 KiB page, else the naturally aligned block of 2^(b+1) bytes, or all addresses when b > 51. */
export function amdCover(s: bigint, e: bigint): { start: bigint; end: bigint; all: boolean } {
  if ((e - 1n) / K4 === s / K4) return { start: s - (s % K4), end: s - (s % K4) + K4, all: false };
  const b = log2(s ^ (e - 1n));
  if (b > 51) return { start: 0n, end: 1n << 64n, all: true };
  const size = 1n << BigInt(b + 1);
  return { start: s - (s % size), end: s - (s % size) + size, all: false };
}

/** §9.3 amd with npCache (`domain_flush_pages()`'s loop): naturally aligned power-of-two blocks, largest first; address 0 is aligned to anything. */
export function amdBlocks(s: bigint, e: bigint): { start: bigint; end: bigint; all: boolean }[] {
  const out: { start: bigint; end: bigint; all: boolean }[] = [];
  let a = s;
  while (a < e) {
    let size = 1n << BigInt(log2(e - a));
    while (a !== 0n && a % size !== 0n) size /= 2n;
    out.push(amdCover(a, a + size));
    a += size;
  }
  return out;
}

/** §9.3 smmuv3 with RIL (`__arm_smmu_tlb_inv_range()`): the number of TLBI_NH_VA commands for n granules. */
export function rilCommands(n: bigint): number {
  let count = 0;
  while (n > 0n) {
    let scale = 0n;
    while (((n >> scale) & 1n) === 0n) scale++;
    const num = (n >> scale) & 31n;
    n -= num << scale;
    count++;
  }
  return count;
}

/** §9.3 smmuv3 `arm_smmu_atc_inv_to_cmd()`: the power-of-two span of 4 KiB pages around [s, e). */
export function atcSpan(s: bigint, e: bigint): { start: bigint; end: bigint } {
  const ps = s / K4;
  const pe = (e - 1n) / K4;
  const x = ps ^ pe;
  const l = x === 0n ? 0n : BigInt(log2(x) + 1);
  const start = ps - (ps % (1n << l));
  return { start: start * K4, end: (start + (1n << l)) * K4 };
}
