// The DMA path (docs/model.md §6, §8): runs of DMAs of one device and PASID
// through its attachment's IOTLB, device TLB and page tables, with the walk
// caches and the IOTLB lanes. A paging run takes the loop generated for its
// configuration (specialize.ts) unless this replay takes the generic one;
// the generic loop serves paging and nested runs alike (one per-page loop,
// the translation differing only in its walk) and is the reference the
// generated loop is tested against.
import type { ReplayConfig, TableGeometry } from '../config/config.js';
import type { PageSizeSet } from '../config/pagesizes.js';
import { POW2, alignDown } from '../caches/indexing.js';
import type { Iotlb } from '../caches/iotlb.js';
import type { LanesIotlb } from '../caches/lanes.js';
import type { SetAssocTable } from '../caches/table.js';
import type { Invalidator } from '../invalidation/invalidator.js';
import { D, DEVICE_FIELDS, DOMAIN_FIELDS, type Counters } from '../stats/counters.js';
import { TWO_POW_32, lastPfnOf, pfnOf } from '../trace/batch.js';
import { T_IDENTITY, T_NESTED } from '../trace/domain-codes.js';
import { Op } from '../trace/schema.js';
import type { Attachments } from './attachments.js';
import { NO_DOMAIN } from './domains.js';
import { FAULT_S1, nestedOut, nestedWalk, unionOrders } from './nested.js';
import { levelShift, type PageTablePool } from './pagetable.js';
import type { Rows } from './rows.js';
import { isPlainStack, stackRun, type StackRun } from './stackrun.js';
import { PagingRunContext, hasNarrowRun, laneRun, narrowRun, pagingRun, type LaneRun, type PagingRun, type PagingRunShape } from './specialize.js';
import './jit.js';

// Op codes as module constants: a property load from the imported `Op`
// object per row showed in the DMA run's profile.
const DMA_READ = Op.DmaRead;
const DMA_WRITE = Op.DmaWrite;

/** One-order probe lists for walk-cache lookups, by region order. */
const WALK_ORDERS: Int8Array[] = Array.from({ length: 64 }, (_, o) => Int8Array.from([o]));

export class DmaPath {
  /**
   * The specialized paging runs (model/specialize.ts), by
   * [sizeSet * 4 + devtlb * 2 + walkCaches], made on first use; null when
   * this replay takes the generic loop (another IOTLB than the table, or
   * the `generic` option).
   */
  private readonly runs: (PagingRun | undefined)[] | null;
  /** The narrow runs (specialize.ts hasNarrowRun) by the same key, null where the shape has none. */
  private readonly narrowRuns: (PagingRun | null | undefined)[] = [];
  private runContext = new PagingRunContext();
  /** The instance of the DMA run in progress (for the specialized run's walk-cache callback). */
  private runInstance = 0;
  /** The lanes' passes, by [lane * sizeSets.length + sizeSet], made on first use. */
  private readonly laneRuns: (LaneRun | undefined)[] = [];
  /** The curve's loops (model/stackrun.ts) by size set, made on first use; null when this replay takes the generic loop. */
  private readonly stackRuns: (StackRun | undefined)[] | null;
  /** The curve's loop's context: its own, as runContext holds the set-up of the specialized run. */
  private readonly stackContext = new PagingRunContext();
  /** Nested probe orders by (S1 size set, S2 size set): [k1 * sizeSets.length + k2]. */
  private readonly nestedOrders: (Int8Array | undefined)[] = [];

  constructor(
    private readonly config: ReplayConfig,
    private readonly rows: Rows,
    private readonly a: Attachments,
    private readonly pool: PageTablePool,
    private readonly counters: Counters,
    private readonly inv: Invalidator,
    /** Per instance: its IOTLB. */
    private readonly iotlbs: Iotlb[],
    /** Per instance, walk caches for levels 2..levels (index level - 2); empty when off. */
    private readonly walkCaches: SetAssocTable[][],
    /** Page-size sets: one per instance, then the SVA set. */
    private readonly sizeSets: PageSizeSet[],
    /** Per instance, its IOTLB lanes (caches/lanes.ts), or null without lanes. */
    private readonly lanes: LanesIotlb[] | null,
    /** The lanes' geometries, the configuration's first. */
    private readonly laneGeometries: TableGeometry[],
    specialized: boolean,
    /** Whether runs through the curve's stack profiler take its own loop (model/stackrun.ts), not the generic one. */
    stackLoop = false,
  ) {
    this.runs = specialized ? [] : null;
    this.stackRuns = stackLoop ? [] : null;
    const sx = this.stackContext;
    sx.rows = rows;
    sx.pool = pool;
    sx.counters = counters;
    const cachedWalk: PagingRunContext['cachedWalk'] = config.walkCache
      ? (tag, pfn, order, dom, cd, b) => this.cachedWalk(this.walkCaches[this.runInstance], tag, pfn, order, dom, cd, b)
      : null;
    for (const x of [this.runContext, this.spareContext]) {
      x.rows = rows;
      x.pool = pool;
      x.counters = counters;
      x.cachedWalk = cachedWalk;
    }
  }

  /** Whether paging DMA runs take the specialized loop (model/specialize.ts). */
  get specialized(): boolean {
    return this.runs !== null;
  }

  /** The specialized paging run for size set `k` with or without a device TLB (and its narrow run, made with it). */
  private pagingRunFor(k: number, devtlb: boolean): PagingRun {
    const key = k * 4 + (devtlb ? 2 : 0);
    return this.runs![key] ?? this.makePagingRun(key, k, devtlb);
  }

  /** Makes the runs of pagingRunFor's `key`, the first time it is asked: out of line, so that the run's set-up stays small. */
  private makePagingRun(key: number, k: number, devtlb: boolean): PagingRun {
    const g = this.config.iotlb;
    const shape: PagingRunShape = {
      orders: Array.from(this.sizeSets[k].ordersDesc),
      sets: g.sets,
      ways: g.ways,
      policy: g.policy,
      levels: this.pool.levels,
      granuleOrder: this.pool.format.granuleOrder,
      bitsPerLevel: this.pool.format.bitsPerLevel,
      devtlb,
      walkCaches: this.config.walkCache !== undefined,
      lanes: this.lanes !== null,
    };
    const fn = pagingRun(shape);
    this.runs![key] = fn;
    this.narrowRuns[key] = hasNarrowRun(shape) ? narrowRun(shape) : null;
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

  /**
   * A run of DMAs (docs/model.md §6) from row `start`: it and every row after
   * it that is a DMA of the same device and PASID, up to the next flush-queue
   * deadline (DMAs never move it; `baseHi`/`baseLo` are the trace's first ts,
   * model time's zero). The translation context (attachment, tables, tag,
   * page sizes) is resolved when the run's device or PASID is not the last
   * run's or an attachment changed since (setUp), and the counters are
   * written once a run. Returns the row after the run.
   */
  run(start: number, n: number, op: Uint8Array, ts: Uint32Array, baseHi: number, baseLo: number): number {
    const r = this.rows;
    r.opRow = start; // a run's new device, or a device TLB grown by it, is charged at its first row
    let x = this.runContext;
    // The set-up of the last specialized run holds while its device, PASID
    // and every attachment are the same; the one before it is kept too, for
    // devices taking turns (a NIC's two ports).
    const rid = r.device[start];
    const pasid = r.pasid[start];
    const epoch = this.a.epoch;
    if (rid !== x.rid || pasid !== x.pasid || epoch !== this.setUpEpoch) {
      this.swapSetUp();
      x = this.runContext;
      if (rid !== x.rid || pasid !== x.pasid || epoch !== this.setUpEpoch) {
        if (!this.setUp(start)) return this.unspecializedRun(start, n, op, ts, baseHi, baseLo);
      }
    }
    // The specialized loop finds the run's end as it replays it (one pass over the rows).
    x.ops = op;
    x.ts = ts;
    x.deadline = this.inv.nextDeadline;
    x.baseHi = baseHi;
    x.baseLo = baseLo;
    x.sn = 0;
    const narrow = this.setUpNarrow;
    let end: number;
    let bytes = 0;
    if (narrow !== null) {
      // The narrow run takes the rows it can; the run goes on from the first it cannot.
      end = start;
      do {
        end = narrow(x, end, n);
        bytes += x.bytes;
        for (let j = 0; j < x.nn; j++) x.iotlb.noteOrder(x.noted[j]);
      } while (x.more);
      if (x.wide) {
        end = this.setUpRun(x, end, n);
        bytes += x.bytes;
      }
    } else {
      end = this.setUpRun(x, start, n);
      bytes = x.bytes;
    }
    const cd = this.counters.device;
    const b = x.devBase;
    cd[b + D.dmaEvents] += end - start;
    cd[b + D.dmaBytes] += bytes;
    if (this.lanes !== null) this.feedLanes(this.lanes[this.runInstance], this.setUpSizes, this.setUpDev, x.dom);
    return end;
  }

  // The set-up of the specialized run of (x.rid, x.pasid), made by setUp at
  // Attachments.epoch setUpEpoch (-1: none): the context's fields from rid
  // to devBase, the instance (runInstance), the device and size set slots
  // and the run's loops.
  private setUpEpoch = -1;
  private setUpSizes = 0;
  private setUpDev = 0;
  private setUpRun: PagingRun = () => 0;
  private setUpNarrow: PagingRun | null = null;

  // The set-up before the last, as the fields above (swapSetUp): its own
  // context, so that taking it back is an exchange of references.
  private spareContext = new PagingRunContext();
  private spareEpoch = -1;
  private spareInstance = 0;
  private spareSizes = 0;
  private spareDev = 0;
  private spareRun: PagingRun = () => 0;
  private spareNarrow: PagingRun | null = null;

  /** Exchanges the last set-up and the one before it (run: setUp then overwrites the older). */
  private swapSetUp(): void {
    const x = this.runContext;
    this.runContext = this.spareContext;
    this.spareContext = x;
    const epoch = this.setUpEpoch;
    this.setUpEpoch = this.spareEpoch;
    this.spareEpoch = epoch;
    const inst = this.runInstance;
    this.runInstance = this.spareInstance;
    this.spareInstance = inst;
    const k = this.setUpSizes;
    this.setUpSizes = this.spareSizes;
    this.spareSizes = k;
    const dev = this.setUpDev;
    this.setUpDev = this.spareDev;
    this.spareDev = dev;
    const fn = this.setUpRun;
    this.setUpRun = this.spareRun;
    this.spareRun = fn;
    const narrow = this.setUpNarrow;
    this.setUpNarrow = this.spareNarrow;
    this.spareNarrow = narrow;
  }

  /**
   * Resolves the run at row `start` (docs/model.md §6: its attachment,
   * domain, tables, tag and page sizes) into the context and returns true
   * when it takes the specialized loop; else false, with no set-up kept.
   */
  private setUp(start: number): boolean {
    const r = this.rows;
    const x = this.runContext;
    const rid = r.device[start];
    const pasid = r.pasid[start];
    const a = this.a;
    this.setUpEpoch = -1;
    x.rid = -1; // no set-up kept unless made below
    if (this.runs === null) return false;
    const dev = a.deviceSlot(rid);
    const att = a.dmaAttachment(dev, pasid);
    const dom = att < 0 ? NO_DOMAIN : a.attDomain[att];
    const type = dom < 0 ? -1 : a.domainType[dom];
    if (dom < 0 || type === T_IDENTITY || type === T_NESTED) return false;
    const inst = a.deviceInstance[dev];
    const devtlb = a.devtlbs[dev];
    const k = a.domainSizes[dom];
    const lanes = this.lanes;
    x.rid = rid;
    x.pasid = pasid;
    x.iotlb = lanes === null ? (this.iotlbs[inst] as SetAssocTable) : lanes[inst].tables[0];
    x.devtlb = devtlb;
    x.orders = this.sizeSets[k].ordersDesc;
    x.tag = a.attTag[att];
    x.att = att;
    x.dom = dom;
    x.root = a.domainRoot[dom];
    x.devBase = dev * DEVICE_FIELDS;
    this.runInstance = inst;
    this.setUpSizes = k;
    this.setUpDev = dev;
    this.setUpRun = this.pagingRunFor(k, devtlb !== null);
    this.setUpNarrow = this.narrowRuns[k * 4 + (devtlb !== null ? 2 : 0)]!;
    this.setUpEpoch = a.epoch;
    return true;
  }

  /** A run that does not take the specialized loop: a fault, passthrough, nested, or this replay's generic loop. */
  private unspecializedRun(start: number, n: number, op: Uint8Array, ts: Uint32Array, baseHi: number, baseLo: number): number {
    const r = this.rows;
    const a = this.a;
    const pasid = r.pasid[start];
    const dev = a.deviceSlot(r.device[start]);
    const cd = this.counters.device;
    const b = dev * DEVICE_FIELDS;
    const att = a.dmaAttachment(dev, pasid);
    const dom = att < 0 ? NO_DOMAIN : a.attDomain[att];
    const type = dom < 0 ? -1 : a.domainType[dom];
    const end = this.runEnd(start, n, op, ts, baseHi, baseLo);
    const events = end - start;
    cd[b + D.dmaEvents] += events;
    cd[b + D.dmaBytes] += this.runBytes;
    if (dom < 0) {
      cd[b + D.faults] += events;
      return end;
    }
    if (type === T_IDENTITY) {
      cd[b + D.passthrough] += events;
      return end;
    }
    if (type === T_NESTED || !this.stackRunOf(start, end, dev, att, dom)) this.genericRun(start, end, dev, att, dom, type === T_NESTED);
    return end;
  }

  /**
   * The paging DMAs of rows [start, end) through the curve's loop
   * (model/stackrun.ts) when their IOTLB is the stack profiler, with no
   * device TLB or walk caches: true when it took them.
   */
  private stackRunOf(start: number, end: number, dev: number, att: number, dom: number): boolean {
    const a = this.a;
    const inst = a.deviceInstance[dev];
    const iotlb = this.iotlbs[inst];
    if (this.stackRuns === null || a.devtlbs[dev] !== null || this.walkCaches[inst].length > 0 || !isPlainStack(iotlb)) return false;
    const k = a.domainSizes[dom];
    let fn = this.stackRuns[k];
    if (fn === undefined) {
      const f = this.pool.format;
      fn = stackRun({ orders: Array.from(this.sizeSets[k].ordersDesc), levels: this.pool.levels, granuleOrder: f.granuleOrder, bitsPerLevel: f.bitsPerLevel });
      this.stackRuns[k] = fn;
    }
    const x = this.stackContext;
    x.orders = this.sizeSets[k].ordersDesc;
    x.tag = a.attTag[att];
    x.dom = dom;
    x.root = a.domainRoot[dom];
    x.devBase = dev * DEVICE_FIELDS;
    fn(x, iotlb, start, end);
    return true;
  }

  /** Set by runEnd: the bytes of the run's DMAs. */
  private runBytes = 0;

  /**
   * The row after the run of DMAs that starts at `start`: every row after it
   * that is a DMA of the same device and PASID, up to the next flush-queue
   * deadline (as the specialized loop ends it, specialize.ts). Sets runBytes.
   */
  private runEnd(start: number, n: number, op: Uint8Array, ts: Uint32Array, baseHi: number, baseLo: number): number {
    const r = this.rows;
    const devices = r.device;
    const pasids = r.pasid;
    const sizes = r.size;
    const rid = devices[start];
    const pasid = pasids[start];
    const deadline = this.inv.nextDeadline;
    let end = start + 1;
    let bytes = sizes[2 * start + 1] * TWO_POW_32 + sizes[2 * start];
    while (end < n) {
      const o = op[end];
      if ((o !== DMA_READ && o !== DMA_WRITE) || devices[end] !== rid || pasids[end] !== pasid) break;
      if (deadline !== Infinity && (ts[2 * end + 1] - baseHi) * TWO_POW_32 + (ts[2 * end] - baseLo) >= deadline) break;
      bytes += sizes[2 * end + 1] * TWO_POW_32 + sizes[2 * end];
      end++;
    }
    this.runBytes = bytes;
    return end;
  }

  /**
   * The generic loop: the DMAs of rows [start, end) through attachment `att`
   * of domain `dom`, page by page (§6): the device TLB, then the IOTLB; a hit
   * on an entry that may be stale is checked against a walk made now; a miss
   * walks and fills. Paging (and SVA) domains walk their table, with the walk
   * caches when on; a nested domain (§8) probes over both stages' sizes and
   * walks both stages (walk caches do not apply), filling one combined entry
   * of the smaller leaf, and every hit is checked. The run's DMA events and
   * bytes are already counted.
   */
  private genericRun(start: number, end: number, dev: number, att: number, dom: number, nested: boolean): void {
    const a = this.a;
    const r = this.rows;
    const iovas = r.iova;
    const sizes = r.size;
    const inst = a.deviceInstance[dev];
    const iotlb = this.iotlbs[inst];
    const devtlb = a.devtlbs[dev];
    const parent = nested ? a.domainParent[dom] : -1;
    const orders = nested ? this.nestedOrdersOf(dom, parent) : this.sizeSets[a.domainSizes[dom]].ordersDesc;
    const tag = a.attTag[att];
    const root = a.domainRoot[dom];
    const s2Root = nested ? a.domainRoot[parent] : 0;
    const pool = this.pool;
    const c = this.counters;
    const cd = c.device;
    const b = dev * DEVICE_FIELDS;
    const orderLookups = c.orderLookups;
    const orderHits = c.orderHits;
    const walkCaches = this.walkCaches[inst];
    if (!nested) iotlb.bind(dom, root);
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
    let s1Faults = 0;
    for (let row = start; row < end; row++) {
      const iovaLo = iovas[2 * row];
      const sizeBytes = sizes[2 * row + 1] * TWO_POW_32 + sizes[2 * row];
      const first = pfnOf(iovaLo, iovas[2 * row + 1]);
      const last = lastPfnOf(iovaLo, first, sizeBytes);
      let p = first;
      while (p <= last) {
        if (devtlb !== null) {
          devtlbLookups++;
          const j = devtlb.lookup(att, p, orders);
          if (j >= 0) {
            devtlbHits++;
            p = devtlb.base[j] + POW2[devtlb.order[j]];
            continue;
          }
        }
        lookups++;
        const k = iotlb.lookup(tag, p, orders);
        if (k >= 0) {
          const order = iotlb.order[k];
          const base = iotlb.base[k];
          hits++;
          orderLookups[order]++;
          orderHits[order]++;
          if (nested) {
            // Stale when a walk made now for the entry's base would fault or give another base, size or PA.
            if (nestedWalk(pool, root, s2Root, base) !== order || nestedOut.base !== base || nestedOut.phys !== iotlb.phys[k]) stale++;
          } else if (iotlb.unmappedAt[k] >= 0 || iotlb.owner[k] !== dom) {
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
          p = base + POW2[order];
          continue;
        }
        if (iotlb.missWasInvalidated) invalidatedMisses++;
        let order: number;
        let base: number;
        let phys: number;
        if (nested) {
          order = nestedWalk(pool, root, s2Root, p);
          if (order < 0) {
            if (order === FAULT_S1) s1Faults++;
            faults++;
            break; // one fault; the rest of the access is dropped
          }
          base = nestedOut.base;
          phys = nestedOut.phys;
          walks++;
          walkAccesses += nestedOut.accesses;
        } else {
          order = pool.lookup(root, p);
          if (order < 0) {
            faults++; // one fault; the rest of the access is dropped
            break;
          }
          base = pool.foundBase;
          phys = pool.foundPhys;
          walks++;
          walkAccesses += walkCaches.length === 0 ? pool.walkAccesses(order) : this.cachedWalk(walkCaches, tag, p, order, dom, cd, b);
        }
        orderLookups[order]++;
        iotlb.fill(tag, base, order, phys, dom);
        if (devtlb !== null) devtlb.fill(att, base, order, phys, dom);
        p = base + POW2[order];
      }
    }
    c.addRun(b, dom * DOMAIN_FIELDS, devtlbLookups, devtlbHits, lookups, hits, stale, invalidatedMisses, walks, walkAccesses, faults);
    if (nested) {
      c.nestedWalks += walks;
      c.nestedWalkAccesses += walkAccesses;
      c.s1Faults += s1Faults;
      c.s2Faults += faults - s1Faults;
    }
  }

  /** The IOTLB probe orders of nested domain `dom` over `parent`: every size of either bitmap, largest first. */
  private nestedOrdersOf(dom: number, parent: number): Int8Array {
    const a = this.a;
    const k1 = a.domainSizes[dom];
    const k2 = a.domainSizes[parent];
    const k = k1 * this.sizeSets.length + k2;
    return (this.nestedOrders[k] ??= unionOrders(this.sizeSets[k1], this.sizeSets[k2]));
  }

  /**
   * Memory accesses of a walk with paging-structure caches: a level-L cache
   * entry holds the pointer that a level-L table entry gives for a region of
   * 2^(9(L-1)) pages (under LPAE, of the level's span: §9.2), so a hit at the deepest level L above the leaf leaves
   * only the reads from level L-1 down to the leaf. Every non-leaf entry read
   * is then cached.
   */
  private cachedWalk(caches: SetAssocTable[], tag: number, pfn: number, order: number, dom: number, cd: Float64Array, b: number): number {
    const pool = this.pool;
    const leafLevel = pool.leafLevel(order);
    const levels = pool.levels;
    let accesses = this.pool.walkAccesses(order);
    for (let level = leafLevel + 1; level <= levels; level++) {
      const regionOrder = levelShift(pool.format, level);
      if (caches[level - 2].lookup(tag, pfn, WALK_ORDERS[regionOrder]) >= 0) {
        accesses = level - leafLevel;
        cd[b + D.walkCacheHits]++;
        break;
      }
    }
    for (let level = leafLevel + 1; level <= levels; level++) {
      const regionOrder = levelShift(pool.format, level);
      const c = caches[level - 2];
      const regionBase = alignDown(pfn, regionOrder);
      if (c.findExact(tag, regionBase, regionOrder) < 0) c.fill(tag, regionBase, regionOrder, 0, dom);
    }
    return accesses;
  }
}
