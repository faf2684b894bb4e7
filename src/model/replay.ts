// The replay: one pass over the trace's batches through the IOMMU model of
// docs/model.md. Devices and domains get dense slot numbers on first sight;
// all state lives in typed arrays; nothing is allocated per DMA event.
//
// The state is split by what owns it: attachments.ts (devices, PASIDs,
// domains, the attachments between them), dma.ts (the DMA path: paging and
// nested runs, walks, walk caches, lanes), mapping.ts (map, unmap, removed
// leaves) and the invalidation (invalidation/: when, and through its vendor
// what, is invalidated). This file keeps the batch loop, model time and the
// dispatch of each op to its owner.
import './jit.js';
import type { ReplayConfig, TableGeometry } from '../config/config.js';
import { MemoryBudget } from '../config/limits.js';
import type { Iotlb } from '../caches/iotlb.js';
import { LanesIotlb } from '../caches/lanes.js';
import { SetAssocTable, tableOf } from '../caches/table.js';
import { InputError } from '../errors.js';
import { Invalidator } from '../invalidation/invalidator.js';
import { Counters } from '../stats/counters.js';
import type { ReplayResult, ResultFacts } from '../stats/summary.js';
import { TWO_POW_32, type EventBatch } from '../trace/batch.js';
import { TYPE_NAMES } from '../trace/domain-codes.js';
import { Op, type TraceMetadata } from '../trace/schema.js';
import { Attachments } from './attachments.js';
import { BATCH_WARM_ROWS, BatchLoop, batchLoopApplies, batchWarmUp } from './batchloop.js';
import { DmaPath } from './dma.js';
import { Mapping } from './mapping.js';
import { PageTablePool } from './pagetable.js';
import { Rows } from './rows.js';
import { DEFAULT_MAX_TABLE_BYTES } from './tablememory.js';
import { resolveTopology, sizesOf, tableFormatOf, type Topology } from './topology.js';

/** Bounds on what a replay may cost, apart from the configuration (they change no counter). */
export interface ReplayLimits {
  /** Memory of the model's state (page tables, slots, TLBs; config/limits.ts MemoryBudget) past which the replay stops; default DEFAULT_MAX_TABLE_BYTES (384 MiB). */
  maxTableBytes?: number;
  /**
   * Take the generic DMA loop even where a specialized one exists
   * (model/specialize.ts): the reference the specialized loop is tested against.
   */
  generic?: boolean;
  /**
   * Take the generic map and unmap paths even where a fast one applies
   * (model/mapping.ts, the invalidator's one-page unmap, and the vendors'
   * one-page syncs): the reference the fast paths are tested against.
   */
  genericMapping?: boolean;
}

/** How a replay is built, beyond its configuration and the trace's metadata. */
export interface ReplayOptions extends ReplayLimits {
  /**
   * Builds each instance's IOTLB in place of the configured table (the
   * curve's stack profiler); the choice is made here, once. Such a replay
   * takes the generic DMA loop.
   */
  iotlbOf?: (instance: number, pool: PageTablePool) => Iotlb;
  /**
   * More IOTLB geometries replayed as lanes of this replay (caches/lanes.ts;
   * strict mode, no walk caches): this replay's own counters are its
   * configuration's, and each lane's are in `lanes`.
   */
  lanes?: TableGeometry[];
}

/**
 * Nested translation (§8) is VT-d's (model §9.3, last paragraph): a trace
 * with nested domains under another vendor is a configuration error.
 */
function refuseNestedUnlessVtd(config: ReplayConfig, meta: TraceMetadata): void {
  if (config.vendor === 'vtd') return;
  for (const [id, type] of meta.domains) {
    if (type === 'nested')
      throw new InputError(
        `Invalid config: vendor: the trace has nested domains (domain ${id}), and nested translation is VT-d's; replay it with "vendor": "vtd", not "${config.vendor}" (docs/model.md §9.3)`,
      );
  }
}

export class Replay implements ReplayResult {
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
  /** Per instance, its IOTLB lanes (caches/lanes.ts), or null without lanes. */
  readonly lanes: LanesIotlb[] | null;
  readonly inv: Invalidator;
  readonly attachments: Attachments;
  private readonly dma: DmaPath;
  private readonly mapping: Mapping;
  /** What the model's state may hold (--max-table-memory). */
  readonly budget: MemoryBudget;
  private readonly iotlbOf: ReplayOptions['iotlbOf'];
  private readonly laneGeometries: TableGeometry[];
  private readonly makeTable: (g: TableGeometry, seedOffset: number, what: string) => SetAssocTable;
  /** The columns of the batch being consumed. */
  private readonly rows = new Rows();
  /** Calls of the batch loop (or rowLoop) left that take at most BATCH_WARM_ROWS rows (batchWarmUp). */
  private warmCalls = 0;
  /** The batch loop of strict VT-d and AMD replays (batchloop.ts), or null: rowLoop. */
  private readonly batchLoop: BatchLoop | null;

  // Trace extent. Model time is ns since the first event, exact below 2^53 ns
  // (104 days) whatever the clock: wall-clock ts exceed 2^53 and would round.
  events = 0;
  private started = false;
  private baseHi = 0;
  private baseLo = 0;
  private lastHi = 0;
  private lastLo = 0;

  constructor(config: ReplayConfig, meta: TraceMetadata, options: ReplayOptions = {}) {
    const { iotlbOf, lanes = [] } = options;
    this.config = config;
    refuseNestedUnlessVtd(config, meta);
    this.topology = resolveTopology(config, meta);
    const instances = this.topology.instances;
    /** Page-size sets: one per instance, then the SVA set. */
    const sizeSets = [...instances.map((m) => m.sizes), sizesOf(config.svaPageSizes)];
    const budget = (this.budget = new MemoryBudget(options.maxTableBytes ?? DEFAULT_MAX_TABLE_BYTES));
    this.pool = new PageTablePool(tableFormatOf(config, meta, this.topology), undefined, budget);
    // Each table's random policy has its own seed: IOTLB i, device TLB 500 + slot, walk cache 700 + 8i + level.
    const makeTable = (this.makeTable = (g: TableGeometry, seedOffset: number, what: string) => tableOf(g, config.seed * 1000 + seedOffset, budget, what));
    const laneGeometries = (this.laneGeometries = [config.iotlb, ...lanes]);
    if (lanes.length > 0 && (iotlbOf || config.walkCache)) throw new Error('internal: IOTLB lanes take the table of the configuration and no walk caches');
    // Instances' tables are made by openInstance, at their first device.
    this.iotlbOf = iotlbOf;
    this.lanes = lanes.length > 0 ? [] : null;
    this.iotlbs = this.lanes ?? [];
    this.walkCaches = [];
    this.attachments = new Attachments(config, meta, this.topology, sizeSets, this.pool, this.counters, this.iotlbs, this.walkCaches, {
      makeTable,
      openInstance: (i) => this.openInstance(i),
      budget,
      counterSets: 1 + lanes.length,
    });
    this.inv = new Invalidator(this.attachments, {
      mode: config.invalidation.mode,
      maxInvalidationMask: config.invalidation.maxInvalidationMask,
      fqSize: config.invalidation.fqSize,
      fqTimeoutNs: config.invalidation.fqTimeoutNs,
      instances: instances.length,
      domainIds: config.domainIds,
      granuleOrder: this.pool.format.granuleOrder,
      budget,
      instanceNames: instances.map((m) => m.name),
      vendor: config.vendor,
      amd: config.amd,
      smmu: config.smmu,
      generic: options.genericMapping,
    });
    this.attachments.bindInvalidator(this.inv);
    // Lanes are fed by the specialized run only.
    const specialized = !iotlbOf && !(options.generic && this.lanes === null);
    this.dma = new DmaPath(
      config,
      this.rows,
      this.attachments,
      this.pool,
      this.counters,
      this.inv,
      this.iotlbs,
      this.walkCaches,
      sizeSets,
      this.lanes,
      laneGeometries,
      specialized,
      !!iotlbOf && !options.generic,
    );
    this.mapping = new Mapping(
      this.rows,
      this.attachments,
      this.pool,
      this.counters,
      this.iotlbs,
      this.inv,
      config.partialUnmap,
      budget,
      !options.genericMapping,
    );
    this.batchLoop = batchLoopApplies(config, !!options.genericMapping, this.lanes !== null)
      ? new BatchLoop(this.rows, this.attachments, this.pool, this.counters, this.iotlbs, this.walkCaches, this.inv, this.dma, this.mapping, (o, i, now) =>
          this.control(o, i, now),
        )
      : null;
    this.warmCalls = this.batchLoop !== null ? batchWarmUp.calls : 0;
    // From here on a charge past the limit names the row being replayed.
    const rows = this.rows;
    budget.where = () => rows.firstRow + rows.opRow;
  }

  /** Makes instance `i`'s IOTLB (or lanes) and walk caches, charged to the budget; their seeds are the instance's, whenever it opens. */
  private openInstance(i: number): void {
    const name = this.topology.instances[i].name;
    const config = this.config;
    if (this.lanes !== null) this.lanes[i] = new LanesIotlb(this.laneGeometries, config.seed * 1000 + i, this.budget, `the IOTLB of ${name}`);
    else this.iotlbs[i] = this.iotlbOf ? this.iotlbOf(i, this.pool) : this.makeTable(config.iotlb, i, `the IOTLB of ${name}`);
    const wc = config.walkCache;
    this.walkCaches[i] = wc ? Array.from({ length: this.pool.levels - 1 }, (_, l) => this.makeTable(wc, 700 + i * 8 + l, `a walk cache of ${name}`)) : [];
  }

  /** Whether paging DMA runs take the specialized loop (model/specialize.ts). */
  get specialized(): boolean {
    return this.dma.specialized;
  }

  /** Whether the rows take the batch loop of strict VT-d and AMD replays (batchloop.ts). */
  get batched(): boolean {
    return this.batchLoop !== null;
  }

  get nDevices(): number {
    return this.attachments.nDevices;
  }

  get nDomains(): number {
    return this.attachments.nDomains;
  }

  // ---------------------------------------------------------------- the loop

  /** Replays rows [from, to) of `batch` (by default all of it). */
  consume(batch: EventBatch, from = 0, to = batch.length): void {
    const n = to;
    if (from >= n) return;
    const ts = batch.ts;
    const op = batch.op;
    const rows = this.rows;
    rows.device = batch.device;
    rows.pasid = batch.pasid;
    rows.domain = batch.domain;
    rows.iova = batch.iova;
    rows.paddr = batch.paddr;
    rows.size = batch.size;
    rows.mapMore = batch.mapMore;
    rows.firstRow = batch.firstRow;
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
    // Row numbers as small integers: a batch's length may come as a heap
    // number (the reader's counts do), and the loops compiled while the
    // warm-up calls below passed small integers were thrown away ("not a
    // Smi") at the first call given it. One call site for the short calls
    // and the long ones: a call site first reached late deoptimized consume
    // ("insufficient type feedback for call").
    const end = n | 0;
    let at = from | 0;
    const bl = this.batchLoop;
    while (at < end) {
      let stop = end;
      if (this.warmCalls > 0) {
        // The first calls are short (BATCH_WARM_ROWS): see batchWarmUp.
        this.warmCalls--;
        stop = Math.min(at + BATCH_WARM_ROWS, end);
      }
      if (bl !== null) bl.run(at, stop, ts, op, baseHi, baseLo);
      else this.rowLoop(at, stop, ts, op, baseHi, baseLo, this.inv, this.dma, this.mapping);
      at = stop;
    }
  }

  /** An attach, detach or flush at row `i`, at model time `now`. */
  private control(o: number, i: number, now: number): void {
    const rows = this.rows;
    const a = this.attachments;
    rows.opRow = i;
    switch (o) {
      case Op.Attach:
        this.counters.attachOps++;
        a.attach(a.deviceSlot(rows.device[i]), rows.pasid[i], rows.domain[i], now);
        break;
      case Op.Detach:
        this.counters.attachOps++;
        a.detach(a.deviceSlot(rows.device[i]), rows.pasid[i], now);
        break;
      case Op.Flush:
        // The domain-wide flush of §5, whatever the domain's type.
        this.inv.flushDomain(a.domainSlot(rows.domain[i]), now);
        break;
    }
  }

  /**
   * consume's loop, a method of its own with no code before the loop (what it
   * reads comes in its parameters): V8
   * gives a function its type feedback from its first call's loop on, so
   * the code before a loop in the first call has none, and the compiled
   * consume deoptimized there at the second batch (`from >= n`: no feedback
   * for compare) and was compiled again.
   */
  private rowLoop(
    from: number,
    n: number,
    ts: Uint32Array,
    op: Uint8Array,
    baseHi: number,
    baseLo: number,
    inv: Invalidator,
    dma: DmaPath,
    mapping: Mapping,
  ): void {
    for (let i = from; i < n; i++) {
      const now = (ts[2 * i + 1] - baseHi) * TWO_POW_32 + (ts[2 * i] - baseLo);
      if (now >= inv.nextDeadline) inv.fireTimeouts(now);
      switch (op[i]) {
        case Op.DmaRead:
        case Op.DmaWrite:
          i = dma.run(i, n, op, ts, baseHi, baseLo) - 1;
          break;
        case Op.Map:
          mapping.map(i, now);
          break;
        case Op.Unmap:
          mapping.unmap(i, now);
          break;
        case Op.Attach:
        case Op.Detach:
        case Op.Flush:
          this.control(op[i], i, now);
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

  // ---------------------------------------------------------------- results

  /** The facts that name the counters' rows (stats/summary.ts ReplayResult). */
  facts(): ResultFacts {
    const instances = this.topology.instances;
    const a = this.attachments;
    return {
      iommus: this.topology.describe(),
      shownOrders: instances.flatMap((m) => Array.from(m.sizes.ordersDesc)),
      peakTablePages: this.pool.peak,
      devices: a.deviceRids().map((rid, slot) => ({ rid, iommu: instances[a.deviceInstance[slot]].name, devtlb: a.devtlbs[slot] !== null })),
      domains: Array.from({ length: a.nDomains }, (_, slot) => ({ id: a.domainTraceId[slot], type: TYPE_NAMES[a.domainType[slot]], parent: a.parentId(slot) })),
    };
  }
}
