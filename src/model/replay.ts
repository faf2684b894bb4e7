// The replay: one pass over the trace's batches through the IOMMU model of
// docs/model.md. Devices and domains get dense slot numbers on first sight;
// all state lives in typed arrays; nothing is allocated per DMA event.
import type { ReplayConfig, TableGeometry } from '../config/config.js';
import type { PageSizeSet } from '../config/pagesizes.js';
import { POW2, alignDown, isAligned } from '../caches/indexing.js';
import type { Iotlb } from '../caches/iotlb.js';
import { SetAssocTable, tableOf } from '../caches/table.js';
import { TagSpace } from '../caches/tags.js';
import { Invalidator, type InvalidationTarget } from '../invalidation/invalidator.js';
import { Counters, D, DEVICE_FIELDS, DOMAIN_FIELDS, M, ORDERS } from '../stats/counters.js';
import { TWO_POW_32, lastPfnOf, pfnOf, type EventBatch } from '../trace/batch.js';
import { Op, type TraceMetadata } from '../trace/schema.js';
import { ATTACHMENT_SLOT_BYTES, DidAllocator, DomainDids, NO_DOMAIN, SHARED_DID, T_BLOCKED, T_IDENTITY, T_NESTED, T_PAGING, T_SVA, TYPE_NAMES, deviceSlotBytes, domainSlotBytes } from './domains.js';
import { FAULT_S1, nestedOut, nestedWalk, unionOrders } from './nested.js';
import { PageTablePool, leafLevelOf, type LeafSink } from './pagetable.js';
import { pgsize, pgsizeOut, splitRange } from './pgsize.js';
import { grow } from '../typed.js';
import { SlotIndex } from './slots.js';
import { PagingRunContext, laneRun, pagingRun, type LaneRun, type PagingRun } from './specialize.js';
import { LanesIotlb } from '../caches/lanes.js';
import './jit.js';
import { resolveTopology, sizesOf, type Topology } from './topology.js';
import { DEFAULT_MAX_TABLE_BYTES, mapTableBytes, tableMemoryError } from './tablememory.js';
import { MemoryBudget } from '../config/limits.js';
import { formatBdf } from '../trace/schema.js';

/** Bounds on what a replay may cost, apart from the configuration (they change no counter). */
export interface ReplayLimits {
  /** Memory of the model's state (page tables, slots, TLBs; config/limits.ts MemoryBudget) past which the replay stops; default 1 GiB. */
  maxTableBytes?: number;
  /**
   * Take the generic DMA loop even where a specialized one exists
   * (model/specialize.ts): the reference the specialized loop is tested against.
   */
  generic?: boolean;
}

// Op codes as module constants: a property load from the imported `Op`
// object per row showed in the DMA run's profile.
const DMA_READ = Op.DmaRead;
const DMA_WRITE = Op.DmaWrite;

/** One-order probe lists for walk-cache lookups, by region order. */
const WALK_ORDERS: Int8Array[] = Array.from({ length: 64 }, (_, o) => Int8Array.from([o]));
const PARTIAL_WHOLE = 0;
const PARTIAL_REJECT = 1;
const PARTIAL_SPLIT = 2;

export class Replay implements InvalidationTarget, LeafSink {
  readonly config: ReplayConfig;
  readonly topology: Topology;
  readonly counters = new Counters();
  readonly pool: PageTablePool;
  /**
   * Per instance: its IOTLB (a SetAssocTable unless the Replay was built with
   * another, as curves are). Made with the instance's first device
   * (openInstance): a trace may name thousands of instances and use a few.
   */
  readonly iotlbs: Iotlb[];
  /** Per instance, walk caches for levels 2..levels (index level - 2); empty when off. */
  readonly walkCaches: SetAssocTable[][];
  readonly inv: Invalidator;
  /** Page-size sets: one per instance, then the SVA set. */
  readonly sizeSets: PageSizeSet[];
  private readonly svaSizes: number;
  private readonly nInst: number;
  private readonly didAllocators: DidAllocator[];
  private readonly partialUnmap: number;
  private readonly meta: TraceMetadata;

  // Devices, by dense slot.
  private deviceSlots = new SlotIndex();
  nDevices = 0;
  deviceRid = new Float64Array(16);
  deviceInstance = new Int32Array(16);
  devtlbs: (SetAssocTable | null)[] = [];
  /** Per device: the attachment slot of its requester ID (PASID 0), or -1 before its first attach or detach. */
  private ridAtt = new Int32Array(16).fill(-1);
  /** Per device: its PASIDs' attachment slots, by PASID (small-integer keys, no boxing per lookup). */
  private pasidAtt: (Map<number, number> | null)[] = [];
  /** The last PASID attachment found by a DMA: slots are never freed, so a hit stays true. */
  private lastPasidDev = -1;
  private lastPasid = -1;
  private lastPasidAtt = -1;

  // Attachments, by dense slot: one per (device, PASID) ever attached or
  // detached, kept for the replay's life.
  private nAtts = 0;
  attDevice = new Int32Array(16);
  /** The attached domain slot, or NO_DOMAIN (blocked). */
  private attDomain = new Int32Array(16);
  /** The IOTLB tag of (instance, DID, PASID) while attached to a domain; the device TLB's tag is the slot itself. */
  attTag = new Int32Array(16);
  readonly tags = new TagSpace();

  // Domains, by dense slot.
  private domainSlots = new SlotIndex();
  nDomains = 0;
  domainTraceId = new Float64Array(16);
  domainType = new Uint8Array(16);
  /** Index into sizeSets, or -1 until the bitmap is fixed at first use. */
  domainSizes = new Int16Array(16).fill(-1); // up to MAX_INSTANCES (config/config.ts) + 1 sets: past 127 a byte wrapped
  domainRoot = new Int32Array(16);
  /** Each domain's DID on each instance it is attached on. */
  private readonly dids: DomainDids;
  /** Per domain: the attachment slots attached to it. */
  domainAttachments: number[][] = [];

  // Trace extent. Model time is ns since the first event, exact below 2^53 ns
  // (104 days) whatever the clock: wall-clock ts exceed 2^53 and would round.
  events = 0;
  private started = false;
  private baseHi = 0;
  private baseLo = 0;
  private lastHi = 0;
  private lastLo = 0;
  private nowNs = 0;

  // The batch being consumed: handlers take a row index and read its columns
  // here, so that no uint32 word above 2^30 is boxed to cross a call.
  private cDevice: Uint32Array = new Uint32Array(0);
  private cPasid: Uint32Array = new Uint32Array(0);
  private cDomain: Uint32Array = new Uint32Array(0);
  private cIova: Uint32Array = new Uint32Array(0);
  private cPaddr: Uint32Array = new Uint32Array(0);
  private cSize: Uint32Array = new Uint32Array(0);

  // The unmap in progress (LeafSink context).
  private curDomain = 0;
  private curRemovedAny = false;
  private splitting = false;

  /** What the model's state may hold (--max-table-memory); the current batch's first row and the row of the op in progress (for its message). */
  readonly budget: MemoryBudget;
  private cFirstRow = 0;
  private opRow = 0;
  /** Bytes of a domain slot and of a device slot (model/domains.ts). */
  private readonly domainBytes: number;
  private readonly deviceBytes: number;

  // Nested translation (§8). Last among the fields: the hot loop's fields
  // above keep their in-object slots.
  /** Per nested domain: its parent's slot (docs/model.md §8); -1 for other types. */
  private domainParent = new Int32Array(16);
  /** Per domain: 1 when some nested domain of the trace names it as its parent (its stage 2 is always strict). */
  domainIsParent = new Uint8Array(16);
  /** Per domain: the nested domains over it (empty unless it is a parent). */
  domainNested: number[][] = [];
  /** Trace ids of the parents named in the metadata. */
  private readonly parentIds: Set<number>;
  /** Nested probe orders by (S1 size set, S2 size set): [k1 * sizeSets.length + k2]. */
  private nestedOrders: (Int8Array | undefined)[] = [];

  /**
   * The specialized paging runs (model/specialize.ts), by
   * [sizeSet * 4 + devtlb * 2 + walkCaches], made on first use; null when
   * this replay takes the generic loop (another IOTLB than the table, or
   * limits.generic).
   */
  private readonly runs: (PagingRun | undefined)[] | null;
  private readonly runContext = new PagingRunContext();
  /** Per instance, its IOTLB lanes (caches/lanes.ts), or null without lanes. */
  readonly lanes: LanesIotlb[] | null;
  /** The lanes' passes, by [lane * sizeSets.length + sizeSet], made on first use. */
  private readonly laneRuns: (LaneRun | undefined)[] = [];
  private readonly laneGeometries: TableGeometry[];

  /**
   * `iotlbOf` builds each instance's IOTLB in place of the configured
   * table (the curve's stack profiler); the choice is made here, once.
   * `lanes` are more IOTLB geometries replayed as lanes of this replay
   * (caches/lanes.ts; strict mode, no walk caches): this replay's own
   * counters are its configuration's, and each lane's are in `lanes`.
   */
  constructor(config: ReplayConfig, meta: TraceMetadata, limits: ReplayLimits = {}, iotlbOf?: (instance: number, pool: PageTablePool) => Iotlb, lanes: TableGeometry[] = []) {
    this.config = config;
    this.budget = new MemoryBudget(limits.maxTableBytes ?? DEFAULT_MAX_TABLE_BYTES);
    this.meta = meta;
    this.parentIds = new Set(meta.parents?.values() ?? []);
    this.topology = resolveTopology(config, meta);
    this.nInst = this.topology.instances.length;
    this.sizeSets = [...this.topology.instances.map((m) => m.sizes), sizesOf(config.svaPageSizes)];
    this.svaSizes = this.nInst;
    this.pool = new PageTablePool(config.pageTable.levels, undefined, this.budget);
    // Each table's random policy has its own seed: IOTLB i, device TLB 500 + slot, walk cache 700 + 8i + level.
    this.laneGeometries = [config.iotlb, ...lanes];
    if (lanes.length > 0 && (iotlbOf || config.walkCache)) throw new Error('internal: IOTLB lanes take the table of the configuration and no walk caches');
    // Instances' tables are made by openInstance, at their first device.
    this.iotlbOf = iotlbOf;
    this.lanes = lanes.length > 0 ? [] : null;
    this.iotlbs = this.lanes ?? [];
    this.walkCaches = [];
    const wc = config.walkCache;
    this.didAllocators = this.topology.instances.map((m) => new DidAllocator(config.domainIds, this.budget, `the domain-ID space of ${m.name}`));
    this.domainBytes = domainSlotBytes(1 + lanes.length);
    this.dids = new DomainDids(this.nInst, this.budget);
    this.deviceBytes = deviceSlotBytes(1 + lanes.length);
    this.partialUnmap = config.partialUnmap === 'reject' ? PARTIAL_REJECT : config.partialUnmap === 'split' ? PARTIAL_SPLIT : PARTIAL_WHOLE;
    this.inv = new Invalidator(this, {
      lazy: config.invalidation.mode === 'lazy',
      maxInvalidationMask: config.invalidation.maxInvalidationMask,
      fqSize: config.invalidation.fqSize,
      fqTimeoutNs: config.invalidation.fqTimeoutNs,
      instances: this.nInst,
    });
    // Lanes are fed by the specialized run only.
    this.runs = iotlbOf || (limits.generic && this.lanes === null) ? null : [];
    const x = this.runContext;
    x.pool = this.pool;
    x.counters = this.counters;
    x.cachedWalk = wc ? (tag, pfn, order, dom, cd, b) => this.cachedWalk(this.walkCaches[this.runInstance], tag, pfn, order, dom, cd, b) : null;
    // From here on a charge past the limit names the row being replayed.
    this.budget.where = () => this.cFirstRow + this.opRow;
  }

  /** Whether paging DMA runs take the specialized loop (model/specialize.ts). */
  get specialized(): boolean {
    return this.runs !== null;
  }

  /** The instance of the DMA run in progress (for the specialized run's walk-cache callback). */
  private runInstance = 0;

  /** The specialized paging run for size set `k` with or without a device TLB. */
  private pagingRunFor(k: number, devtlb: boolean): PagingRun {
    const key = k * 4 + (devtlb ? 2 : 0);
    let fn = this.runs![key];
    if (fn === undefined) {
      const g = this.config.iotlb;
      fn = pagingRun({
        orders: Array.from(this.sizeSets[k].ordersDesc),
        sets: g.sets,
        ways: g.ways,
        policy: g.policy,
        levels: this.pool.levels,
        devtlb,
        walkCaches: this.config.walkCache !== undefined,
        lanes: this.lanes !== null,
      });
      this.runs![key] = fn;
    }
    return fn;
  }

  /** Each lane but the leader takes the run's recorded lookups through its own table. */
  private feedLanes(l: LanesIotlb, k: number, dev: number, dom: number): void {
    const x = this.runContext;
    if (x.diverged) {
      l.diverged = true;
      x.diverged = false;
    }
    if (x.sn === 0) return;
    l.ensure(dev, dom);
    for (let j = 1; j < l.tables.length; j++) {
      const key = j * this.sizeSets.length + k;
      let fn = this.laneRuns[key];
      if (fn === undefined) {
        const g = this.laneGeometries[j];
        fn = laneRun({ orders: Array.from(this.sizeSets[k].ordersDesc), sets: g.sets, ways: g.ways, policy: g.policy });
        this.laneRuns[key] = fn;
      }
      if (fn(x, l.tables[j], l.counts[j]) !== 0) l.diverged = true;
    }
  }

  private readonly iotlbOf: ((instance: number, pool: PageTablePool) => Iotlb) | undefined;

  /** Makes instance `i`'s IOTLB (or lanes) and walk caches, charged to the budget; their seeds are the instance's, whenever it opens. */
  private openInstance(i: number): void {
    const name = this.topology.instances[i].name;
    const config = this.config;
    if (this.lanes !== null) this.lanes[i] = new LanesIotlb(this.laneGeometries, config.seed * 1000 + i, this.budget, `the IOTLB of ${name}`);
    else this.iotlbs[i] = this.iotlbOf ? this.iotlbOf(i, this.pool) : this.makeTable(config.iotlb, i, `the IOTLB of ${name}`);
    const wc = config.walkCache;
    this.walkCaches[i] = wc ? Array.from({ length: config.pageTable.levels - 1 }, (_, l) => this.makeTable(wc, 700 + i * 8 + l, `a walk cache of ${name}`)) : [];
  }

  private makeTable(g: TableGeometry, seedOffset: number, what: string): SetAssocTable {
    return tableOf(g, this.config.seed * 1000 + seedOffset, this.budget, what);
  }

  // ---------------------------------------------------------------- slots

  private deviceSlot(rid: number): number {
    const slot = this.deviceSlots.get(rid);
    return slot >= 0 ? slot : this.newDevice(rid);
  }

  private newDevice(rid: number): number {
    this.budget.charge(this.deviceBytes, () => `device ${formatBdf(rid)} (${(this.nDevices + 1).toLocaleString('en-US')} devices so far)`);
    const slot = this.nDevices++;
    if (slot >= this.deviceRid.length) {
      const cap = this.deviceRid.length * 2;
      this.deviceRid = grow(this.deviceRid, cap);
      this.deviceInstance = grow(this.deviceInstance, cap);
      this.ridAtt = grow(this.ridAtt, cap).fill(-1, slot);
    }
    this.counters.ensureDevices(this.nDevices);
    this.deviceSlots.set(rid, slot);
    this.deviceRid[slot] = rid;
    this.deviceInstance[slot] = this.topology.instanceOf(rid);
    if (this.walkCaches[this.deviceInstance[slot]] === undefined) this.openInstance(this.deviceInstance[slot]);
    this.pasidAtt.push(null);
    this.devtlbs.push(this.topology.hasDevtlb(rid) ? this.makeTable(this.config.devtlb, 500 + slot, `the device TLB of ${formatBdf(rid)}`) : null);
    return slot;
  }

  private domainSlot(id: number): number {
    const slot = this.domainSlots.get(id);
    return slot >= 0 ? slot : this.newDomain(id);
  }

  private newDomain(id: number): number {
    this.budget.charge(this.domainBytes, () => `domain ${id} (${(this.nDomains + 1).toLocaleString('en-US')} domains so far)`);
    const slot = this.nDomains++;
    if (slot >= this.domainTraceId.length) {
      const cap = this.domainTraceId.length * 2;
      this.domainTraceId = grow(this.domainTraceId, cap);
      this.domainType = grow(this.domainType, cap);
      this.domainSizes = grow(this.domainSizes, cap).fill(-1, slot);
      this.domainRoot = grow(this.domainRoot, cap);
      this.domainParent = grow(this.domainParent, cap);
      this.domainIsParent = grow(this.domainIsParent, cap);
    }
    this.counters.ensureDomains(this.nDomains);
    this.inv.ensureDomains(this.nDomains);
    this.domainSlots.set(id, slot);
    this.domainTraceId[slot] = id;
    const type = TYPE_NAMES.indexOf(this.meta.domains.get(id) ?? 'paging'); // T_* codes are TYPE_NAMES indexes
    this.domainType[slot] = type;
    // A paging, SVA or nested (S1) domain's root table exists from its first
    // use, as Linux allocates the pgd with the domain.
    if (type === T_PAGING || type === T_SVA || type === T_NESTED) this.domainRoot[slot] = this.pool.newRoot();
    if (type === T_SVA) this.domainSizes[slot] = this.svaSizes;
    this.domainIsParent[slot] = this.parentIds.has(id) ? 1 : 0;
    this.domainParent[slot] = -1;
    this.domainAttachments.push([]);
    this.domainNested.push([]);
    if (type === T_NESTED) {
      // iommufd allocates a nested domain over an existing parent: the parent
      // is in use from then on (docs/model.md §8). After the pushes above: the
      // parent's slot comes next.
      const parent = this.domainSlot(this.meta.parents!.get(id)!);
      this.domainParent[slot] = parent;
      this.domainNested[parent].push(slot);
    }
    return slot;
  }

  didOf(domain: number, instance: number): number {
    const type = this.domainType[domain];
    return type === T_PAGING || type === T_NESTED ? this.dids.get(domain, instance) : SHARED_DID;
  }

  /**
   * The page-size set of a paging or SVA domain. Until it is fixed (first
   * successful attach or map, docs/model.md §2) it is the first instance's,
   * tentatively: a rejected op changes nothing.
   */
  private sizesOf(domain: number): PageSizeSet {
    const k = this.domainSizes[domain];
    return this.sizeSets[k < 0 ? 0 : k];
  }

  // ---------------------------------------------------------------- the loop

  /** Replays rows [from, to) of `batch` (by default all of it). */
  consume(batch: EventBatch, from = 0, to = batch.length): void {
    const n = to;
    if (from >= n) return;
    const ts = batch.ts;
    const op = batch.op;
    const device = (this.cDevice = batch.device);
    const pasid = (this.cPasid = batch.pasid);
    const domain = (this.cDomain = batch.domain);
    this.cIova = batch.iova;
    this.cPaddr = batch.paddr;
    this.cSize = batch.size;
    this.cFirstRow = batch.firstRow;
    if (!this.started) {
      this.started = true;
      this.baseHi = ts[2 * from + 1];
      this.baseLo = ts[2 * from];
    }
    const baseHi = this.baseHi;
    const baseLo = this.baseLo;
    // Before the loop, not after: V8 compiles the loop on stack replacement
    // during the first batch, before code after the loop has run, and then
    // deoptimized at that code at the end of batch after batch.
    this.events += n - from;
    this.lastHi = ts[2 * n - 1];
    this.lastLo = ts[2 * n - 2];
    for (let i = from; i < n; i++) {
      const now = (ts[2 * i + 1] - baseHi) * TWO_POW_32 + (ts[2 * i] - baseLo);
      if (now >= this.inv.nextDeadline) this.inv.fireTimeouts(now);
      this.nowNs = now;
      switch (op[i]) {
        case Op.DmaRead:
        case Op.DmaWrite:
          i = this.dmaRun(i, n, op, ts) - 1;
          break;
        case Op.Map:
          this.map(i);
          break;
        case Op.Unmap:
          this.unmap(i);
          break;
        case Op.Attach:
          this.opRow = i;
          this.counters.attachOps++;
          this.attach(this.deviceSlot(device[i]), pasid[i], domain[i]);
          break;
        case Op.Detach:
          this.opRow = i;
          this.counters.attachOps++;
          this.setAttachment(this.deviceSlot(device[i]), pasid[i], NO_DOMAIN);
          break;
        case Op.Flush:
          this.opRow = i;
          this.flush(domain[i]);
          break;
      }
    }
  }

  /** ts of the first and last events, exact. */
  get firstTs(): bigint {
    return (BigInt(this.baseHi) << 32n) | BigInt(this.baseLo);
  }
  get lastTs(): bigint {
    return this.started ? (BigInt(this.lastHi) << 32n) | BigInt(this.lastLo) : 0n;
  }

  // ---------------------------------------------------------------- DMA (§6)

  /**
   * A run of DMAs (docs/model.md §6) from row `start`: it and every row after
   * it that is a DMA of the same device and PASID, up to the next flush-queue
   * deadline (DMAs never move it). The translation context (attachment,
   * tables, tag, page sizes) is resolved once a run and the counters are
   * written once a run. Returns the row after the run.
   */
  private dmaRun(start: number, n: number, op: Uint8Array, ts: Uint32Array): number {
    const devices = this.cDevice;
    const pasids = this.cPasid;
    const iovas = this.cIova;
    const sizes = this.cSize;
    const rid = devices[start];
    const pasid = pasids[start];
    const deadline = this.inv.nextDeadline;
    const baseHi = this.baseHi;
    const baseLo = this.baseLo;
    let end = start + 1;
    let bytes = sizes[2 * start + 1] * TWO_POW_32 + sizes[2 * start];
    while (end < n) {
      const o = op[end];
      if ((o !== DMA_READ && o !== DMA_WRITE) || devices[end] !== rid || pasids[end] !== pasid) break;
      if (deadline !== Infinity && (ts[2 * end + 1] - baseHi) * TWO_POW_32 + (ts[2 * end] - baseLo) >= deadline) break;
      bytes += sizes[2 * end + 1] * TWO_POW_32 + sizes[2 * end];
      end++;
    }
    const events = end - start;
    this.opRow = start; // a run's new device, or a device TLB grown by it, is charged at its first row
    const dev = this.deviceSlot(rid);
    const cd = this.counters.device;
    const b = dev * DEVICE_FIELDS;
    cd[b + D.dmaEvents] += events;
    cd[b + D.dmaBytes] += bytes;
    const att = pasid === 0 ? this.ridAtt[dev] : this.dmaPasidAttachment(dev, pasid);
    const dom = att < 0 ? NO_DOMAIN : this.attDomain[att];
    if (dom < 0) {
      cd[b + D.faults] += events;
      return end;
    }
    const type = this.domainType[dom];
    if (type === T_IDENTITY) {
      cd[b + D.passthrough] += events;
      return end;
    }
    if (type === T_NESTED) {
      this.nestedRun(start, end, dev, att, dom);
      return end;
    }
    const inst = this.deviceInstance[dev];
    const iotlb = this.iotlbs[inst];
    const devtlb = this.devtlbs[dev];
    const orders = this.sizeSets[this.domainSizes[dom]].ordersDesc;
    const tag = this.attTag[att];
    const root = this.domainRoot[dom];
    const c = this.counters;
    if (this.runs !== null) {
      const x = this.runContext;
      x.iovas = this.cIova;
      x.sizes = this.cSize;
      const lanes = this.lanes;
      x.iotlb = lanes === null ? (iotlb as SetAssocTable) : lanes[inst].tables[0];
      x.devtlb = devtlb;
      x.orders = orders;
      x.tag = tag;
      x.att = att;
      x.dom = dom;
      x.root = root;
      x.devBase = b;
      this.runInstance = inst;
      x.sn = 0;
      this.pagingRunFor(this.domainSizes[dom], devtlb !== null)(x, start, end);
      if (lanes !== null) this.feedLanes(lanes[inst], this.domainSizes[dom], dev, dom);
      return end;
    }
    iotlb.bind(dom, root);
    const pool = this.pool;
    const orderLookups = c.orderLookups;
    const orderHits = c.orderHits;
    const walkCaches = this.walkCaches[inst];
    // Counted in locals, written once per run.
    let devtlbLookups = 0;
    let devtlbHits = 0;
    let lookups = 0;
    let hits = 0;
    let stale = 0;
    let invalidatedMisses = 0;
    let walks = 0;
    let walkAccesses = 0;
    let faults = 0;
    for (let row = start; row < end; row++) {
      const iovaLo = iovas[2 * row];
      const sizeBytes = sizes[2 * row + 1] * TWO_POW_32 + sizes[2 * row];
      const first = pfnOf(iovaLo, iovas[2 * row + 1]);
      const last = lastPfnOf(iovaLo, first, sizeBytes);
      let a = first;
      while (a <= last) {
        if (devtlb !== null) {
          devtlbLookups++;
          const j = devtlb.lookup(att, a, orders);
          if (j >= 0) {
            devtlbHits++;
            a = devtlb.base[j] + POW2[devtlb.order[j]];
            continue;
          }
        }
        lookups++;
        const k = iotlb.lookup(tag, a, orders);
        if (k >= 0) {
          const order = iotlb.order[k];
          const base = iotlb.base[k];
          hits++;
          orderLookups[order]++;
          orderHits[order]++;
          if (iotlb.unmappedAt[k] >= 0 || iotlb.owner[k] !== dom) {
            // The entry's leaf was unmapped since it was filled (leafRemoved
            // stamps every IOTLB entry of a removed leaf), or another SVA domain
            // on the same PASID filled it: is its page mapped here with the same
            // base, size and paddr (remapped alike), or is this a stale hit?
            const o = pool.lookup(root, base);
            if (o === order && pool.foundBase === base && pool.foundPhys === iotlb.phys[k]) {
              if (iotlb.owner[k] === dom) iotlb.unmappedAt[k] = -1;
            } else {
              stale++;
            }
          }
          if (devtlb !== null) devtlb.fill(att, base, order, iotlb.phys[k], dom);
          a = base + POW2[order];
          continue;
        }
        if (iotlb.missWasInvalidated) invalidatedMisses++;
        const order = pool.lookup(root, a);
        if (order < 0) {
          faults++; // one fault; the rest of the access is dropped
          break;
        }
        const base = pool.foundBase;
        const phys = pool.foundPhys;
        walks++;
        walkAccesses += walkCaches.length === 0 ? pool.walkAccesses(order) : this.cachedWalk(walkCaches, tag, a, order, dom, cd, b);
        orderLookups[order]++;
        iotlb.fill(tag, base, order, phys, dom);
        if (devtlb !== null) devtlb.fill(att, base, order, phys, dom);
        a = base + POW2[order];
      }
    }
    c.addRun(b, dom * DOMAIN_FIELDS, devtlbLookups, devtlbHits, lookups, hits, stale, invalidatedMisses, walks, walkAccesses, faults);
    return end;
  }

  /**
   * The DMAs of rows [start, end) through attachment `att` of nested domain
   * `dom` (docs/model.md §8): §6 with the probe over both stages' sizes, the
   * 2-D walk on a miss, one combined entry of the smaller leaf, and a stale
   * check of every hit against a walk made now. Walk caches do not apply.
   * The run's DMA events and bytes are already counted.
   */
  private nestedRun(start: number, end: number, dev: number, att: number, dom: number): void {
    const iovas = this.cIova;
    const sizes = this.cSize;
    const iotlb = this.iotlbs[this.deviceInstance[dev]];
    const devtlb = this.devtlbs[dev];
    const parent = this.domainParent[dom];
    const orders = this.nestedOrdersOf(dom, parent);
    const tag = this.attTag[att];
    const s1Root = this.domainRoot[dom];
    const s2Root = this.domainRoot[parent];
    const pool = this.pool;
    const c = this.counters;
    const orderLookups = c.orderLookups;
    const orderHits = c.orderHits;
    let devtlbLookups = 0;
    let devtlbHits = 0;
    let lookups = 0;
    let hits = 0;
    let stale = 0;
    let invalidatedMisses = 0;
    let walks = 0;
    let walkAccesses = 0;
    let s1Faults = 0;
    let s2Faults = 0;
    for (let row = start; row < end; row++) {
      const iovaLo = iovas[2 * row];
      const sizeBytes = sizes[2 * row + 1] * TWO_POW_32 + sizes[2 * row];
      const first = pfnOf(iovaLo, iovas[2 * row + 1]);
      const last = lastPfnOf(iovaLo, first, sizeBytes);
      let a = first;
      while (a <= last) {
        if (devtlb !== null) {
          devtlbLookups++;
          const j = devtlb.lookup(att, a, orders);
          if (j >= 0) {
            devtlbHits++;
            a = devtlb.base[j] + POW2[devtlb.order[j]];
            continue;
          }
        }
        lookups++;
        const k = iotlb.lookup(tag, a, orders);
        if (k >= 0) {
          const order = iotlb.order[k];
          const base = iotlb.base[k];
          hits++;
          orderLookups[order]++;
          orderHits[order]++;
          // Stale when a walk made now for the entry's base would fault or give another base, size or PA.
          if (nestedWalk(pool, s1Root, s2Root, base) !== order || nestedOut.base !== base || nestedOut.phys !== iotlb.phys[k]) stale++;
          if (devtlb !== null) devtlb.fill(att, base, order, iotlb.phys[k], dom);
          a = base + POW2[order];
          continue;
        }
        if (iotlb.missWasInvalidated) invalidatedMisses++;
        const order = nestedWalk(pool, s1Root, s2Root, a);
        if (order < 0) {
          if (order === FAULT_S1) s1Faults++;
          else s2Faults++;
          break; // one fault; the rest of the access is dropped
        }
        const base = nestedOut.base;
        walks++;
        walkAccesses += nestedOut.accesses;
        orderLookups[order]++;
        iotlb.fill(tag, base, order, nestedOut.phys, dom);
        if (devtlb !== null) devtlb.fill(att, base, order, nestedOut.phys, dom);
        a = base + POW2[order];
      }
    }
    c.addRun(dev * DEVICE_FIELDS, dom * DOMAIN_FIELDS, devtlbLookups, devtlbHits, lookups, hits, stale, invalidatedMisses, walks, walkAccesses, s1Faults + s2Faults);
    c.nestedWalks += walks;
    c.nestedWalkAccesses += walkAccesses;
    c.s1Faults += s1Faults;
    c.s2Faults += s2Faults;
  }

  /** The IOTLB probe orders of nested domain `dom` over `parent`: every size of either bitmap, largest first. */
  private nestedOrdersOf(dom: number, parent: number): Int8Array {
    const k1 = this.domainSizes[dom];
    const k2 = this.domainSizes[parent];
    const k = k1 * this.sizeSets.length + k2;
    return (this.nestedOrders[k] ??= unionOrders(this.sizeSets[k1], this.sizeSets[k2]));
  }

  /**
   * Memory accesses of a walk with paging-structure caches: a level-L cache
   * entry holds the pointer that a level-L table entry gives for a region of
   * 2^(9(L-1)) pages, so a hit at the deepest level L above the leaf leaves
   * only the reads from level L-1 down to the leaf. Every non-leaf entry read
   * is then cached.
   */
  private cachedWalk(caches: SetAssocTable[], tag: number, pfn: number, order: number, dom: number, cd: Float64Array, b: number): number {
    const leafLevel = leafLevelOf(order);
    const levels = this.pool.levels;
    let accesses = this.pool.walkAccesses(order);
    for (let level = leafLevel + 1; level <= levels; level++) {
      const regionOrder = 9 * (level - 1);
      if (caches[level - 2].lookup(tag, pfn, WALK_ORDERS[regionOrder]) >= 0) {
        accesses = level - leafLevel;
        cd[b + D.walkCacheHits]++;
        break;
      }
    }
    for (let level = leafLevel + 1; level <= levels; level++) {
      const regionOrder = 9 * (level - 1);
      const c = caches[level - 2];
      const regionBase = alignDown(pfn, regionOrder);
      if (c.findExact(tag, regionBase, regionOrder) < 0) c.fill(tag, regionBase, regionOrder, 0, dom);
    }
    return accesses;
  }

  // ---------------------------------------------------------------- map (§3)

  /** The map at row `row` of the batch. */
  private map(row: number): void {
    this.opRow = row;
    const iovaLo = this.cIova[2 * row];
    const iovaHi = this.cIova[2 * row + 1];
    const paddrLo = this.cPaddr[2 * row];
    const paddrHi = this.cPaddr[2 * row + 1];
    const sizeLo = this.cSize[2 * row];
    const sizeHi = this.cSize[2 * row + 1];
    const dom = this.domainSlot(this.cDomain[row]);
    const cm = this.counters.domain;
    const mb = dom * DOMAIN_FIELDS;
    cm[mb + M.mapOps]++;
    const type = this.domainType[dom];
    if (type !== T_PAGING && type !== T_SVA && type !== T_NESTED) {
      cm[mb + M.mapErrors]++; // EINVAL: not a paging domain
      return;
    }
    const sizes = this.sizesOf(dom);
    const granule = sizes.granuleOrder;
    if (((iovaLo | paddrLo | sizeLo) & 0xfff) !== 0) {
      cm[mb + M.mapErrors]++; // EINVAL: below the 4K granule floor
      return;
    }
    let iova = pfnOf(iovaLo, iovaHi);
    let paddr = pfnOf(paddrLo, paddrHi);
    let size = pfnOf(sizeLo, sizeHi);
    if (!isAligned(iova, granule) || !isAligned(paddr, granule) || !isAligned(size, granule)) {
      cm[mb + M.mapErrors]++; // EINVAL: not granule-aligned
      return;
    }
    if (size === 0) return;
    const root = this.domainRoot[dom];
    // Beyond the table's address space (VT-d: the domain's aperture): rejected.
    if (iova + size > this.pool.limitPfn || this.pool.anyLeafIn(root, iova, iova + size)) {
      cm[mb + M.mapErrors]++; // EINVAL (aperture) or EEXIST (overlap): nothing changes
      return;
    }
    // The tables the map may need, checked before any is made (model/tablememory.ts).
    const need = mapTableBytes(this.pool, sizes.ordersDesc, iova, paddr, size);
    if (!this.budget.fits(need)) throw tableMemoryError(this.cFirstRow + row, this.cDomain[row], iova, size, need, this.budget);
    cm[mb + M.mapBytes] += size * 4096;
    if (this.domainSizes[dom] < 0) this.domainSizes[dom] = 0; // mapped before any attach: the first instance's
    splitRange(this.pool, sizes.ordersDesc, iova, paddr, size, root, this.counters.mapPages, dom * ORDERS);
  }

  // ---------------------------------------------------------------- unmap (§4)

  /** The unmap at row `row` of the batch. */
  private unmap(row: number): void {
    this.opRow = row;
    const iovaLo = this.cIova[2 * row];
    const iovaHi = this.cIova[2 * row + 1];
    const sizeLo = this.cSize[2 * row];
    const sizeHi = this.cSize[2 * row + 1];
    const dom = this.domainSlot(this.cDomain[row]);
    const cm = this.counters.domain;
    const mb = dom * DOMAIN_FIELDS;
    cm[mb + M.unmapOps]++;
    const type = this.domainType[dom];
    if (type !== T_PAGING && type !== T_SVA && type !== T_NESTED) {
      cm[mb + M.unmapErrors]++;
      return;
    }
    const sizes = this.sizesOf(dom);
    const granule = sizes.granuleOrder;
    if (((iovaLo | sizeLo) & 0xfff) !== 0) {
      cm[mb + M.unmapErrors]++;
      return;
    }
    const iova = pfnOf(iovaLo, iovaHi);
    const size = pfnOf(sizeLo, sizeHi);
    if (!isAligned(iova, granule) || !isAligned(size, granule)) {
      cm[mb + M.unmapErrors]++;
      return;
    }
    cm[mb + M.unmapRequestedBytes] += size * 4096;
    if (size === 0) return;
    const orders = sizes.ordersDesc;
    const root = this.domainRoot[dom];
    const pool = this.pool;
    const end = iova + size;
    const now = this.nowNs;
    this.curDomain = dom;
    this.curRemovedAny = false;
    this.inv.beginUnmap();
    let c = iova;
    while (c < end) {
      const order = pgsize(orders, c, c, end - c);
      let chunkEnd = c + pgsizeOut.count * POW2[order];
      const headOrder = pool.lookup(root, c);
      if (headOrder < 0) {
        cm[mb + M.unmapShort]++; // a hole: stop, keep what earlier chunks removed
        break;
      }
      const headBase = pool.foundBase;
      const headPhys = pool.foundPhys;
      // The leaf at the chunk's last page: the head leaf itself when it reaches that far.
      const headCovers = headBase + POW2[headOrder] >= chunkEnd;
      const tailOrder = headCovers ? headOrder : pool.lookup(root, chunkEnd - 1);
      const tailBase = headCovers ? headBase : pool.foundBase;
      const tailPhys = headCovers ? headPhys : pool.foundPhys;
      const headSticks = headBase < c;
      const tailSticks = tailOrder >= 0 && tailBase + POW2[tailOrder] > chunkEnd;
      let clearStart = c;
      if (headSticks || tailSticks) {
        if (this.partialUnmap === PARTIAL_REJECT) {
          cm[mb + M.unmapErrors]++; // Arm v6.13+: partial large IOPTE, nothing of this chunk goes
          break;
        }
        if (this.partialUnmap === PARTIAL_WHOLE) {
          if (headSticks) clearStart = headBase;
          if (tailSticks) chunkEnd = tailBase + POW2[tailOrder];
        } else {
          if (headSticks) this.splitLeaf(dom, root, orders, headBase, headOrder, headPhys, c, chunkEnd);
          if (tailSticks && !(headSticks && tailBase === headBase)) this.splitLeaf(dom, root, orders, tailBase, tailOrder, tailPhys, c, chunkEnd);
        }
      }
      if (clearStart === headBase && headBase + POW2[headOrder] === chunkEnd) pool.clearLeaf(root, headBase, headOrder, this);
      else pool.clear(root, clearStart, chunkEnd, this);
      this.inv.addChunk(dom, c, chunkEnd - c, now);
      c = chunkEnd;
    }
    this.inv.endUnmap(dom, this.curRemovedAny, now);
  }

  /**
   * Arm before v6.13 (`arm_lpae_split_blk_unmap`): the leaf is replaced by
   * smaller allowed pages and only its part inside [s, e) is removed.
   */
  private splitLeaf(dom: number, root: number, orders: Int8Array, base: number, order: number, phys: number, s: number, e: number): void {
    const leafEnd = base + POW2[order];
    this.splitting = true; // the leaf goes, but only part of it counts as unmapped
    this.pool.clear(root, base, leafEnd, this);
    this.splitting = false;
    if (base < s) splitRange(this.pool, orders, base, phys, s - base, root, null, 0);
    if (leafEnd > e) splitRange(this.pool, orders, e, phys + (e - base), leafEnd - e, root, null, 0);
    const rs = Math.max(s, base);
    const re = Math.min(e, leafEnd);
    splitRange(this.pool, orders, rs, phys + (rs - base), re - rs, 0, this.counters.unmapPages, dom * ORDERS);
    this.counters.domain[dom * DOMAIN_FIELDS + M.unmapBytes] += (re - rs) * 4096;
  }

  /** LeafSink: a leaf of the current unmap's domain is gone. */
  leafRemoved(basePfn: number, order: number): void {
    const dom = this.curDomain;
    this.curRemovedAny = true;
    if (!this.splitting) {
      // unmap.bytes is what was really removed: whole leaves (report.md).
      this.counters.unmapPages[dom * ORDERS + order]++;
      this.counters.domain[dom * DOMAIN_FIELDS + M.unmapBytes] += POW2[order] * 4096;
    }
    // Mark its IOTLB entries with the unmap time: the stale window starts now.
    // Not for S1 leaves: combined entries are smaller than their S1 leaf or
    // lie in another S2 leaf, so the window is measured on paging and SVA
    // entries only (docs/nested.md).
    if (this.domainType[dom] === T_NESTED) return;
    const atts = this.domainAttachments[dom];
    for (let k = 0; k < atts.length; k++) {
      this.iotlbs[this.deviceInstance[this.attDevice[atts[k]]]].markUnmapped(this.attTag[atts[k]], basePfn, order, this.nowNs);
    }
  }

  // ---------------------------------------------------------------- attach (§2)

  private attach(dev: number, pasid: number, domainId: number): void {
    const dom = this.domainSlot(domainId);
    this.setAttachment(dev, pasid, this.domainType[dom] === T_BLOCKED ? NO_DOMAIN : dom);
  }

  /** The attachment slot of (dev, pasid), or -1 when it was never attached or detached. */
  private attachmentSlot(dev: number, pasid: number): number {
    return pasid === 0 ? this.ridAtt[dev] : (this.pasidAtt[dev]?.get(pasid) ?? -1);
  }

  /** attachmentSlot for a DMA with a PASID, through a one-entry cache. */
  private dmaPasidAttachment(dev: number, pasid: number): number {
    if (dev === this.lastPasidDev && pasid === this.lastPasid) return this.lastPasidAtt;
    const att = this.attachmentSlot(dev, pasid);
    if (att >= 0) {
      this.lastPasidDev = dev;
      this.lastPasid = pasid;
      this.lastPasidAtt = att;
    }
    return att;
  }

  private newAttachment(dev: number, pasid: number): number {
    this.budget.charge(ATTACHMENT_SLOT_BYTES, () => `the attachment of device ${formatBdf(this.deviceRid[dev])} PASID ${pasid} (${(this.nAtts + 1).toLocaleString('en-US')} so far)`);
    const att = this.nAtts++;
    if (att >= this.attDevice.length) {
      const cap = this.attDevice.length * 2;
      this.attDevice = grow(this.attDevice, cap);
      this.attDomain = grow(this.attDomain, cap);
      this.attTag = grow(this.attTag, cap);
    }
    this.attDevice[att] = dev;
    this.attDomain[att] = NO_DOMAIN;
    if (pasid === 0) this.ridAtt[dev] = att;
    else (this.pasidAtt[dev] ??= new Map()).set(pasid, att);
    return att;
  }

  /** Attaches `next` (a domain slot, or NO_DOMAIN for the blocked domain) at (dev, pasid). */
  private setAttachment(dev: number, pasid: number, next: number): void {
    let att = this.attachmentSlot(dev, pasid);
    const old = att < 0 ? NO_DOMAIN : this.attDomain[att];
    if (old === next) return; // already attached there: nothing changes
    const inst = this.deviceInstance[dev];
    if (next >= 0) {
      const type = this.domainType[next];
      if (type === T_SVA && pasid === 0) {
        this.counters.attachErrors++; // EINVAL: SVA needs a PASID
        return;
      }
      if (type === T_PAGING || type === T_NESTED) {
        // A nested attach checks its parent's bitmap, not its own (Linux
        // intel_nested_attach_dev -> paging_domain_compatible(s2_domain), §8).
        const checked = type === T_NESTED ? this.domainParent[next] : next;
        if (this.domainSizes[checked] >= 0 && !this.sizeSets[this.domainSizes[checked]].subsetOf(this.sizeSets[inst])) {
          this.counters.attachErrors++; // EINVAL: this instance lacks one of the domain's sizes
          return;
        }
        if (!this.dids.ref(next, inst, this.didAllocators[inst])) {
          this.counters.attachErrors++; // ENOSPC
          return;
        }
        if (this.domainSizes[next] < 0) this.domainSizes[next] = inst; // fixed at its first attach
        if (this.domainSizes[checked] < 0) this.domainSizes[checked] = inst; // a nested attach is a use of the parent
      }
    }
    if (att < 0) att = this.newAttachment(dev, pasid);
    const oldTag = this.attTag[att];
    this.attDomain[att] = next;
    if (next >= 0) {
      this.attTag[att] = this.tags.idOf(inst, this.didOf(next, inst), pasid);
      this.domainAttachments[next].push(att);
    }
    if (old >= 0) {
      const list = this.domainAttachments[old];
      list.splice(list.indexOf(att), 1);
      this.inv.teardown(old, att, oldTag, this.nowNs);
      const oldType = this.domainType[old];
      if (oldType === T_PAGING || oldType === T_NESTED) {
        this.dids.unref(old, inst, this.didAllocators[inst]);
      }
    }
  }

  // ---------------------------------------------------------------- flush op

  /** A `flush` op: the domain-wide flush of §5, whatever the domain's type. */
  private flush(domainId: number): void {
    this.inv.flushDomain(this.domainSlot(domainId), this.nowNs);
  }

  // ---------------------------------------------------------------- results

  /** The trace id of a nested domain's parent, or undefined for other types. */
  parentId(domain: number): number | undefined {
    const p = this.domainParent[domain];
    return p < 0 ? undefined : this.domainTraceId[p];
  }

  /** Requester ID of each device slot. */
  deviceRids(): number[] {
    return Array.from(this.deviceRid.subarray(0, this.nDevices));
  }
}

