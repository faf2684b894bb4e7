// The paging DMA run (docs/model.md §6), specialized per configuration.
//
// The generic loop (dma.ts DmaPath.genericRun) asks the IOTLB's table for a probe and a fill
// and the pool for a walk; each call decides, per page, what the
// configuration fixed once: the probe orders of the domain's page-size set,
// the table's sets, ways and replacement policy, the page table's levels,
// whether there is a device TLB and walk caches. Here the loop's source is
// written once per such choice, with those facts as constants (the probe
// unrolled over the orders, the LRU stamps and the walk inline), and compiled
// with `new Function`. The source of a choice is compiled once per process
// and shared by every Replay that makes the same choice. The number of sets
// is a constant in the narrow run only: the others read the table's set
// mask (setMask), so that a sweep's IOTLB sizes share their source; and
// their probe takes every set of 4K, 2M and 1G pages (sharedOrders), so
// that a sweep's page-size sets of those sizes share it too.
//
// With IOTLB lanes (caches/lanes.ts) the run also records, per IOTLB lookup,
// the page and the leaf it translated to (or a fault); each lane then takes
// that stream through its own table in a loop of its own (`laneRun`), with
// the same probe and fill.
//
// The generic loop stays the reference: test/model/specialize.test.ts replays
// seeded random traces both ways and compares every counter;
// test/run/lanes.test.ts compares each lane with its own replay.
import type { TableGeometry } from '../config/config.js';
import { INV_POW2, POW2 } from '../caches/indexing.js';
import { policyVariant } from '../caches/replacement.js';
import { DOMAIN_FIELDS, type Counters } from '../stats/counters.js';
import { lastPfnOf, pfnOf } from '../trace/batch.js';
import { EMPTY, INVALIDATED, VALID, isIndexed, tableLayout, type SetAssocTable } from '../caches/table.js';
import { WALK_MEMO_SLOTS, WALK_MEMO_STRIDE, type PageTablePool } from './pagetable.js';
import type { Rows } from './rows.js';
import { grow } from '../typed.js';
import { Op } from '../trace/schema.js';

/** What a table's probe and fill are specialized on. */
export interface TableShape {
  /** Probe orders of the domain's page-size set, largest first. */
  orders: readonly number[];
  sets: number;
  ways: number;
  policy: TableGeometry['policy'];
}

/** What the generated DMA run is specialized on. */
export interface PagingRunShape extends TableShape {
  /** The page table's format (config/tableformat.ts): levels, granule (log2 pfns) and bits a level. */
  levels: number;
  granuleOrder: number;
  bitsPerLevel: number;
  devtlb: boolean;
  walkCaches: boolean;
  /** Record the lookups' pages and leaves for IOTLB lanes. */
  lanes: boolean;
}

/** What the generated walk is specialized on (walkSource; the curve's loop, model/stackrun.ts, takes it too). */
export type WalkShape = Pick<PagingRunShape, 'levels' | 'granuleOrder' | 'bitsPerLevel'>;

/**
 * Everything a run reads or writes, resolved by DmaPath.run once a run. One shape
 * of object for every call, so the generated code's loads stay monomorphic.
 */
export class PagingRunContext {
  /** The batch's columns (the replay's Rows): iova, size, and the device and PASID that end a run. */
  rows!: Rows;
  // What else ends the run (DmaPath.run): the next row that is not a DMA of
  // the run's requester ID and PASID, or is at or past the flush queue's
  // deadline (model time: ts minus the trace's first, baseHi/baseLo).
  ops: Uint8Array = new Uint8Array(0);
  ts: Uint32Array = new Uint32Array(0);
  rid = 0;
  pasid = 0;
  deadline = Infinity;
  baseHi = 0;
  baseLo = 0;
  /**
   * Set by the run: the bytes of its DMAs. A double from the start (-0, as
   * Rows.firstRow): the runs leave a double here, and a field made for small
   * integers changed the context's map at the first (its representation),
   * which deoptimized DmaPath.run, setUp and feedLanes ("wrong map") in a
   * queue job's or sweep's second replay.
   */
  bytes = -0;
  iotlb!: SetAssocTable;
  devtlb: SetAssocTable | null = null;
  pool!: PageTablePool;
  /** The domain's probe orders, largest first (the device TLB's lookup takes them). */
  orders: Int8Array = new Int8Array(0);
  tag = 0;
  att = 0;
  dom = 0;
  root = 0;
  /** The replay's counters; the run's device block starts at counters.device[devBase]. */
  counters!: Counters;
  devBase = 0;
  /** DmaPath.cachedWalk bound to its path, when walk caches are on. */
  cachedWalk: ((tag: number, pfn: number, order: number, dom: number, cd: Float64Array, b: number) => number) | null = null;

  // The lookups of the run, for lanes: page, leaf base (-1: the walk
  // faulted), order and physical page; `sn` of them.
  sPfn = new Float64Array(1024);
  sBase = new Float64Array(1024);
  sOrder = new Uint8Array(1024);
  sPhys = new Float64Array(1024);
  sn = 0;
  /** Set when the leader hit an entry that may not be the page's leaf now (lanes would part). */
  diverged = false;
  /** The narrow run's orders first filled, `nn` of them, for DmaPath.run to note in the table (narrowRunSource). */
  readonly noted = new Int8Array(64);
  nn = 0;
  /** Set by the narrow run: it stopped before a row it cannot take, the run goes on there. */
  wide = false;
  /** Set by the narrow run: it stopped at its call's last row (NARROW_CALL_ROWS), a row of the run, which another call takes on. */
  more = false;
  /** Calls of the narrow run left that take at most NARROW_WARM_ROWS rows (the engine's warm-up: narrowWarmUp). */
  warmCalls = narrowWarmUp.calls;

  growStream(): void {
    const cap = this.sPfn.length * 2;
    this.sPfn = grow(this.sPfn, cap);
    this.sBase = grow(this.sBase, cap);
    this.sOrder = grow(this.sOrder, cap);
    this.sPhys = grow(this.sPhys, cap);
  }
}

/**
 * The run of DMAs from row `start` (a DMA) of rows before `n`: finds its end
 * as it goes (one pass over the rows, not one to find the run and one to
 * replay it), returns the row after it and leaves its bytes in `x.bytes`.
 */
export type PagingRun = (x: PagingRunContext, start: number, n: number) => number;

/**
 * One lane's pass over the run's lookups (x.s*): its own probe, hit and fill,
 * counted into the lane's counters `lc` (the replay's layout). Returns 1 when
 * the lane would have parted from the leader, else 0.
 */
export type LaneRun = (x: PagingRunContext, t: SetAssocTable, lc: Counters) => number;

const compiled = new Map<string, (...args: never[]) => unknown>();

/** What every generated loop's source may name (besides its parameters). */
const BINDINGS: Readonly<Record<string, unknown>> = { POW2, INV_POW2, pfnOf, lastPfnOf };

/**
 * The function `name(params) { body }`, compiled once per process for each
 * source (`new Function`, with BINDINGS and `extra` in scope): the replay's
 * runs here, the curve's in stackrun.ts.
 */
export function compile<F>(name: string, params: string, body: string, extra: Readonly<Record<string, unknown>> = {}): F {
  const key = `${name}(${params})${body}`;
  let fn = compiled.get(key);
  if (fn === undefined) {
    const bindings = { ...BINDINGS, ...extra };
    const names = Object.keys(bindings);
    fn = new Function(...names, `"use strict"; return function ${name}(${params}) {\n${body}\n};`)(
      ...names.map((k) => bindings[k as keyof typeof bindings]),
    ) as (...args: never[]) => unknown;
    compiled.set(key, fn);
  }
  return fn as F;
}

/** The specialized run for `shape`, compiled on first use. */
export function pagingRun(shape: PagingRunShape): PagingRun {
  return compile<PagingRun>('pagingRun', 'x, start, n', pagingRunSource(shape));
}

/** The narrow run for `shape` (hasNarrowRun), compiled on first use. */
export function narrowRun(shape: PagingRunShape): PagingRun {
  return compile<PagingRun>('narrowRun', 'x, start, n', narrowRunSource(shape));
}

/** The lane pass for a lane table of `shape`, compiled on first use. */
export function laneRun(shape: TableShape): LaneRun {
  return compile<LaneRun>('laneRun', 'x, t, lc', laneRunSource(shape));
}

/** Tables of at most this many ways get their probe, first-invalid search and LRU victim unrolled. */
const UNROLL_WAYS = 8;

/**
 * `v >> order` for a pfn `v` (exact below 2^53), as caches/indexing.ts
 * pageNumber; `small` names a boolean (v < 2^32), or is null in the narrow
 * run, where v < NARROW_LIMIT is an int32 and a shift of NARROW_ORDER or more gives 0.
 */
export function pageOf(v: string, order: number, small: string | null): string {
  if (order === 0) return v;
  if (small === null) return order < NARROW_ORDER ? `(${v} >> ${order})` : '0';
  if (order < 32) return `(${small} ? ${v} >>> ${order} : Math.floor(${v} * ${2 ** -order}))`;
  return `Math.floor(${v} * ${2 ** -order})`;
}

/**
 * The walk of page `a` (a < limitPfn; `small`: a < 2^32) from `root`
 * through the pool's `ptr`, setting `order`, `base` and `phys` to the leaf
 * found (order stays -1: a fault): the paging run's and the curve's
 * (stackrun.ts) walk on a miss.
 */
export function leafWalkSource(s: WalkShape): string {
  return `
        let table = root, kk = 0, p = 0;
        ${walkSource(s, 'a', 'small', 'walk')}
        if (p < 0) {
          order = -p - 1;
          base = (small && order < 32 ? a >>> order : Math.floor(a * INV_POW2[order])) * POW2[order];
          phys = pphys[kk];
        }`;
}

/**
 * The narrow run (narrowRunSource) takes rows whose pages are all below
 * NARROW_LIMIT (2^30) as int32 arithmetic: a row's first page below 2^29
 * (iova's high word below NARROW_IOVA_HI) and its size below NARROW_SIZE
 * leave its last page below 2^29 + 2^16, and a leaf base below 2^30 plus its
 * size (order below NARROW_ORDER) stays at or below 2^30.
 */
const NARROW_ORDER = 30;
const NARROW_IOVA_HI = 512;
const NARROW_SIZE = 2 ** 28;
/**
 * Rows a call of the narrow run takes at most after its warm-up (x.more: the
 * run goes on in another call). Calls stay short, so that the compiler's
 * first code is taken by the next call instead of a second compilation
 * entering the loop in progress (on-stack replacement), which costs as much
 * CPU again; 128 rows alone did not keep it away (NARROW_WARM_ROWS).
 */
const NARROW_CALL_ROWS = 128;
/**
 * The first narrowWarmUp.calls calls of a context take at most
 * NARROW_WARM_ROWS rows. While V8 compiles the run (30-40 ms on a background
 * thread) the calls run unoptimized; the call in progress when the code
 * arrives goes on unoptimized, and each tick of its interrupt budget (66 KiB
 * of bytecode, 13 rows of the Dinero trace's run) raises its loops' OSR
 * urgency. With 128 rows a call, that call reached a tick nearly every time and
 * compiled the run a second time to enter the loop in progress (Dinero trace:
 * 35-40 ms of compile CPU, never entered: the next call took the first code).
 * A call of NARROW_WARM_ROWS rows ticks at most once after the code arrives, and the run's
 * loops sit at depth 2 (NARROW_LOOP_DEPTH: urgency 3 to replace), so no call
 * replaces them. 2^15 such calls (2^18 rows at most) outlast the compile on a loaded
 * machine; the counts do not depend on where calls end.
 */
const NARROW_WARM_ROWS = 8;
/** The short calls a new PagingRunContext makes (NARROW_WARM_ROWS); tests set fewer to replay long calls too. */
export const narrowWarmUp = { calls: 2 ** 15 };
/**
 * Loops that never loop (their body ends in a break: no back edge is run,
 * none is replaced) around the narrow run's body: its loops' depth, which
 * the OSR urgency must pass for V8 to replace them on the stack.
 */
const NARROW_LOOP_DEPTH = 2;
const NEST_OPEN = 'for (;;) {'.repeat(NARROW_LOOP_DEPTH);
const NEST_CLOSE = 'break; }'.repeat(NARROW_LOOP_DEPTH);

/**
 * Locals for table `t`: its entry arrays, order counts, policy and (in a local
 * for the run) the LRU/FIFO clock. An IndexedTable (caches/table.ts) replaces
 * its arrays as it grows: its locals are taken again after each fill.
 */
function tableLocals(s: TableShape, narrow = false): string {
  const arrays = narrow
    ? 'const tF = t.f64, tI = t.i32, tU = t.u8;'
    : `${isIndexed(s) ? 'let' : 'const'} tState = t.state, tTag = t.tag, tBase = t.base, tOrder = t.order, tPhys = t.phys, tOwner = t.owner, tUnmapped = t.unmappedAt;
  const live = t.orderLive;${isIndexed(s) ? '' : '\n  const tMask = t.setMask;'}`;
  return `
  ${arrays}
  const pol = t.policy, tStamp = pol.stamp, tLru4 = pol.lru4;
  let clock = pol.clock;`;
}

/**
 * The set mask in the probe and fill: the narrow run's constant (its layout's
 * offsets are constants of the table's size anyway), else the table's own
 * `setMask` read once into a local, so that tables differing only in their
 * number of sets (a sweep's IOTLB sizes) share one compiled function: a
 * queue job's 6 functions become 4, its cold compile CPU 0.63-0.65 s 0.48-0.51 s.
 */
function setMask(s: TableShape, narrow: boolean): string {
  return narrow ? String(s.sets - 1) : 'tMask';
}

/** How the generated code reads table `t`'s per-entry arrays and order counts, at an index (a source expression). */
interface TableFields {
  state(i: string): string;
  tag(i: string): string;
  base(i: string): string;
  order(i: string): string;
  phys(i: string): string;
  owner(i: string): string;
  unmapped(i: string): string;
  live(order: string): string;
  seen(order: string): string;
}

/**
 * The table's arrays by name (tableLocals), or in the narrow run through the
 * three views of caches/table.ts tableLayout (`tF`, `tI`, `tU`): V8's
 * compiled loop checks every typed array it reads again in each iteration,
 * three views cost a third of nine arrays.
 */
function tableFields(s: TableShape, narrow: boolean): TableFields {
  if (!narrow)
    return {
      state: (i) => `tState[${i}]`,
      tag: (i) => `tTag[${i}]`,
      base: (i) => `tBase[${i}]`,
      order: (i) => `tOrder[${i}]`,
      phys: (i) => `tPhys[${i}]`,
      owner: (i) => `tOwner[${i}]`,
      unmapped: (i) => `tUnmapped[${i}]`,
      live: (o) => `live[${o}]`,
      seen: (o) => `seen[${o}]`,
    };
  const at = tableLayout(s.sets * s.ways);
  const view = (name: string, offset: number) => (i: string) => (offset === 0 ? `${name}[${i}]` : `${name}[${offset} + ${i}]`);
  return {
    state: view('tU', at.state),
    tag: view('tI', at.tag),
    base: view('tF', at.base),
    order: view('tU', at.order),
    phys: view('tF', at.phys),
    owner: view('tI', at.owner),
    unmapped: view('tF', at.unmappedAt),
    live: view('tI', at.orderLive),
    seen: view('tU', at.orderSeen),
  };
}

/**
 * SetAssocTable.lookup of page `a` (`small`: a < 2^32) for `tag`: sets `k`
 * to the entry hit (-1: none) and `ghost` when a miss found an invalidated
 * entry of the page. One probe per order of the set, skipping orders the
 * table holds none of; the hit refreshes the policy's state.
 */
function probeSource(s: TableShape, narrow = false): string {
  // An indexed table's probe is its own (a hash, not a scan of the ways).
  if (isIndexed(s))
    return `
      const k = t.lookup(tag, a, x.orders);
      const ghost = t.missWasInvalidated;`;
  const W = s.ways;
  const MASK = setMask(s, narrow);
  const f = tableFields(s, narrow);
  // The policy's own statements (caches/replacement.ts POLICY_RULES), once
  // after the probe, not in each way's block: a way's block first hit late in
  // a trace (a sweep's small lane tables: ways 2 and 3) had no type feedback
  // for its copy and deoptimized the compiled run, which then compiled again
  // (a 6-point queue job: pagingRun and laneRun 7 compiles -> 3).
  // The narrow run also keeps the hit's base and order (an int32 and a constant).
  const policy = policyVariant(s.policy, W).source;
  const onHit = () => (narrow ? ' hb = base; ho = ORDER;' : '');
  // The narrow run notes a ghost before the hit's test, on every match: the
  // test after it was first reached when an invalidated entry first
  // matched, late in a lazy trace, with no type feedback, and deoptimized
  // the run (DMA-heavy --mode lazy: five times). A hit's own entry is no ghost.
  const ghostFirst = narrow ? `\n              ghost = st === ${INVALIDATED} || ghost;` : '';
  const ghostAfter = narrow ? '' : `\n              if (st === ${INVALIDATED}) ghost = true;`;
  // The narrow run (up to UNROLL_WAYS ways) compares every way's base, the
  // matches a bit each, and takes the rest of the test in one block for all
  // the ways (the matches lowest way first, as the blocks below do): a way's own
  // block was reached only when its base first matched, and the compiled run
  // deoptimized there (DMA-heavy trace: the 4K probe's fourth way, mid-trace,
  // and V8 compiled the run a second time).
  // The lowest match's way is the number of ways below it, counted with
  // operations run at every match (a chain of tests had late ones too).
  const lowestWay =
    W <= 2
      ? `
            const i = first + ${W === 1 ? '0' : '((mw & -mw) - 1)'};`
      : `
            let v = (mw & -mw) - 1;
            v = v - ((v >> 1) & 0x55);
            v = (v & 0x33) + ((v >> 2) & 0x33);
            const i = first + ((v + (v >> 4)) & 0x0f);`;
  const narrowWays = `
          let mw = ${Array.from({ length: W }, (_, w) => `(${f.base(`first + ${w}`)} === base ? ${1 << w} : 0)`).join(' | ')};
          while (mw !== 0) {${lowestWay}
            mw &= mw - 1;
            if (${f.tag('i')} === tag && ${f.order('i')} === ORDER) {
              const st = ${f.state('i')};${ghostFirst}
              if (st === ${VALID}) { k = i;${onHit()} break probe; }
            }
          }`;
  // Up to UNROLL_WAYS ways, one block per way (no loop to branch back over).
  const ways =
    narrow && W <= UNROLL_WAYS
      ? narrowWays
      : W <= UNROLL_WAYS
        ? Array.from(
            { length: W },
            (_, w) => `
          {
            const i = first + ${w};
            if (${f.base('i')} === base && ${f.tag('i')} === tag && ${f.order('i')} === ORDER) {
              const st = ${f.state('i')};${ghostFirst}
              if (st === ${VALID}) { k = i;${onHit()} break probe; }${ghostAfter}
            }
          }`,
          ).join('')
        : `
          for (let i = first; i < first + ${W}; i++) {
            if (${f.base('i')} !== base || ${f.tag('i')} !== tag || ${f.order('i')} !== ORDER) continue;
            const st = ${f.state('i')};${ghostFirst}
            if (st === ${VALID}) { k = i;${onHit()} break probe; }${ghostAfter}
          }`;
  // Outside the narrow run, a set of 4K, 2M and 1G sizes probes all three
  // (sharedOrders), each skipped unless the run's domain has it (useMask).
  const shared = narrow ? null : sharedOrders(s);
  const probes = (shared ?? s.orders)
    .map(
      (o) => `
        if (${f.live(String(o))} !== 0${shared ? ` && (useMask & ${2 ** o}) !== 0` : ''}) {
          const page = ${pageOf('a', o, narrow ? null : 'small')};
          const base = ${narrow ? (o < NARROW_ORDER ? `page << ${o}` : '0') : `page * ${2 ** o}`};
          const first = (page & ${MASK}) * ${W};${ways.replaceAll('ORDER', String(o))}
        }`,
    )
    .join('');
  const hit = policy.hit('hs', `i - hs * ${W}`);
  const hitOnce =
    narrow || hit
      ? `
      if (k >= 0) {
        const i = k, hs = (k / ${W}) | 0;
        ${hit}
      }`
      : '';
  return `
      let k = -1;${narrow ? '\n      let hb = 0, ho = 0;' : ''}
      let ghost = false;
      probe: {${probes}
      }${hitOnce}`;
}

/**
 * The orders of 4K, 2M and 1G pages (x86's and SMMUv3's 4K granule's sizes),
 * largest first. The paging and lane runs of every set of them share one
 * source: its probe tries each of the three, skipping the orders the run's
 * domain does not have (useMask, from x.orders as the run starts; the table
 * may hold them for another domain). So a sweep over those page-size sets
 * (the bench's 4K / 4K,2M / 4K,2M,1G points) compiles each run once, not
 * once a set. A loop over the domain's orders instead cost 5% more
 * instructions (a 6-point queue job); other sets keep their own orders.
 */
const SHARED_ORDERS: readonly number[] = [18, 9, 0];

function sharedOrders(s: TableShape): readonly number[] | null {
  return isIndexed(s) || !s.orders.every((o) => SHARED_ORDERS.includes(o)) ? null : SHARED_ORDERS;
}

/** The run's orders as bits (useMask), for a probe over sharedOrders. */
function orderLocals(s: TableShape): string {
  return sharedOrders(s) === null
    ? ''
    : `
  const probeOrders = x.orders;
  let useMask = 0;
  for (let oi = 0; oi < probeOrders.length; oi++) useMask |= 1 << probeOrders[oi];`;
}

/** SetAssocTable.fill of the leaf (base, order, phys) for `tag` and `dom`: the set's first invalid way, else the policy's victim. */
function fillSource(s: TableShape, narrow = false): string {
  if (isIndexed(s))
    return `{
          t.fill(tag, base, order, phys, dom);
          tState = t.state; tTag = t.tag; tBase = t.base; tOrder = t.order; tPhys = t.phys; tOwner = t.owner; tUnmapped = t.unmappedAt;
      }`;
  const W = s.ways;
  const MASK = setMask(s, narrow);
  const f = tableFields(s, narrow);
  const policy = policyVariant(s.policy, W).source;
  // A first entry of an order is noted in the table's seenOrders (SetAssocTable.noteOrder);
  // the narrow run queues it for when it ends, so that its loop makes no call.
  const note = narrow ? `if (${f.seen('order')} === 0) { ${f.seen('order')} = 1; noted[nn++] = order; }` : 't.noteOrder(order);';
  // The narrow run's base is an int32, 0 for an order of 30 or more (base >> order is then 0 too).
  const set = narrow ? 'base >> order' : '(base < 4294967296 && order < 32 ? base >>> order : Math.floor(base * INV_POW2[order]))';
  // The set's first invalid way (W: none). Outside the narrow run every way
  // is read on every fill, last to first: in a chain that stops at the first
  // invalid way, the last way's read was first reached when a set first
  // filled up, in a lane's small table after the lane's run was compiled,
  // and deoptimized it (no type feedback there). When the set is full, as it
  // is once the table has warmed, the chain reads every way too.
  const firstInvalid =
    W > UNROLL_WAYS
      ? `let way = 0;\n          while (way < ${W} && ${f.state('first + way')} === ${VALID}) way++;`
      : narrow
        ? `let way = ${Array.from({ length: W }, (_, w) => `${f.state(`first + ${w}`)} !== ${VALID} ? ${w} : `).join('')}${W};`
        : `let way = ${W};${Array.from({ length: W }, (_, k) => `\n          if (${f.state(`first + ${W - 1 - k}`)} !== ${VALID}) way = ${W - 1 - k};`).join('')}`;
  return `{
          const set = ${set} & ${MASK};
          const first = set * ${W};
          ${firstInvalid}
          if (way === ${W}) ${policy.victim(W, W <= UNROLL_WAYS)}
          const i = first + way;
          // Entries per order: unchanged when a way of the same order is replaced.
          if (${f.state('i')} === ${EMPTY}) {
            if (${f.live('order')}++ === 0) ${note}
          } else if (${f.order('i')} !== order) {
            ${f.live(f.order('i'))}--;
            if (${f.live('order')}++ === 0) ${note}
          }
          ${f.state('i')} = ${VALID};
          ${f.tag('i')} = tag;
          ${f.base('i')} = base;
          ${f.order('i')} = order;
          ${f.phys('i')} = phys;
          ${f.owner('i')} = dom;
          ${f.unmapped('i')} = -1;
          ${policy.fill('set', 'way')}
      }`;
}

/** Appends (a, base, order, phys) to the run's lookups. */
function recordSource(base: string, order: string, phys: string): string {
  return `
      if (sn === sPfn.length) { x.growStream(); sPfn = x.sPfn; sBase = x.sBase; sOrder = x.sOrder; sPhys = x.sPhys; }
      sPfn[sn] = a; sBase[sn] = ${base}; sOrder[sn] = ${order}; sPhys[sn] = ${phys}; sn++;`;
}

/**
 * The page-table walk of PageTablePool.lookup of page `v`, one level a step,
 * from `table` (the domain's root): leaves `p` (< 0: a leaf of order -p-1,
 * 0 or more: none) and `kk`, the entry it ended at, and in `cost` (when
 * named) the entries it read: PageTablePool.walkAccesses of a leaf found
 * (levels − leafLevel + 1). The format's parameters are constants here (x86:
 * 9 bits, 512 entries; LPAE: g − 3 bits). `small` as pageOf.
 */
function walkSource(s: WalkShape, v: string, small: string | null, label: string, cost?: string): string {
  const entries = 2 ** s.bitsPerLevel;
  const mask = entries - 1;
  // The narrow run takes the level-1 table from the pool's walk memo
  // (PageTablePool.resetWalkMemo, in the pool's `ptr`) when it holds the page's prefix under this
  // root, and records it after a walk down to level 1: the same entry read,
  // found without the dependent loads of the levels above. (The entries read
  // are counted by level all the same: the memo is no walk cache of the model.)
  // A walk that ends at level 2 (a 2M leaf under x86: a quarter of the
  // DMA-heavy bench trace's walks, which took all four levels) records that
  // entry's index instead, negative; the next walk reads the entry again,
  // and goes down to level 1 when a table has replaced the leaf since (the
  // entry stays the span's while no table is freed, as the memo's tables).
  const above = s.granuleOrder + s.bitsPerLevel;
  const memo = small === null && s.levels >= 2 && above < NARROW_ORDER;
  const exit = (level: number, recorded = memo && level === 2) => {
    const record = recorded ? ' ptr[ms] = pre; ptr[ms + 1] = root; ptr[ms + 2] = -kk - 1;' : '';
    const counted = cost === undefined ? '' : ` ${cost} = ${s.levels - level + 1};`;
    return counted === '' && record === '' ? `break ${label};` : `{${counted}${record} break ${label}; }`;
  };
  const levels: string[] = [];
  for (let level = s.levels; level >= 1; level--) {
    const shift = s.granuleOrder + s.bitsPerLevel * (level - 1);
    const idx = pageOf(v, shift, small);
    levels.push(`
          kk = table * ${entries} + (${idx} & ${mask});
          p = ptr[kk];
          if (p <= 0) ${exit(level)}${level > 1 ? '\n          table = p;' : ''}`);
  }
  if (!memo)
    return `${label}: {${levels.join('')}
        }`;
  const leaf = levels.pop();
  return `${label}: {
          const pre = ${v} >> ${above}, ms = (pre & ${WALK_MEMO_SLOTS - 1}) * ${WALK_MEMO_STRIDE};
          level1: {
            if (ptr[ms] === pre && ptr[ms + 1] === root) {
              table = ptr[ms + 2];
              if (table > 0) break level1;
              kk = -table - 1;
              p = ptr[kk];
              if (p <= 0) ${exit(2, false)}
              table = p;
              break level1;
            }${levels.join('').replaceAll('\n', '\n  ')}
            ptr[ms] = pre;
            ptr[ms + 1] = root;
            ptr[ms + 2] = table;
          }${leaf}
        }`;
}

/**
 * PageTablePool.walkAccesses of a leaf of `order` with the format's
 * constants: levels − leafLevel + 1 (a leaf's order is at least the granule's:
 * truncating the quotient is flooring it).
 */
export function walkCostSource(s: WalkShape): string {
  return `${s.levels} - (((order - ${s.granuleOrder}) / ${s.bitsPerLevel}) | 0)`;
}

/** Locals for the run's end (DmaPath.runEnd): the rows' ops, devices and PASIDs, the run's and the deadline. */
const RUN_END_LOCALS = `
  const ops = x.ops, devices = rows.device, pasids = rows.pasid, ts = x.ts, rid = x.rid, pasid = x.pasid;
  const deadline = x.deadline, timed = deadline !== Infinity, baseHi = x.baseHi, baseLo = x.baseLo;`;

/** Whether row \`r\` ends the run: not a DMA of the run's requester ID and PASID, or at or past the deadline (as DmaPath.runEnd). */
function runEnds(r: string): string {
  return `(o = ops[${r}], o !== ${Op.DmaRead} && o !== ${Op.DmaWrite}) || devices[${r}] !== rid || pasids[${r}] !== pasid || (timed && (ts[2 * (${r}) + 1] - baseHi) * 4294967296 + (ts[2 * (${r})] - baseLo) >= deadline)`;
}

/** The run goes on while the next row is a DMA of the same requester ID and PASID before the deadline (as DmaPath.runEnd). */
const RUN_END = `
    if (++row >= n) break;
    let o = 0;
    if (${runEnds('row')}) break;`;

/** The DMA run's source for `shape` (exported for the test that reads it). */
export function pagingRunSource(s: PagingRunShape): string {
  const devtlbProbe = s.devtlb
    ? `
        devtlbLookups++;
        const j = devtlb.lookup(att, a, orders);
        if (j >= 0) {
          devtlbHits++;
          a = devtlb.base[j] + POW2[devtlb.order[j]];
          continue;
        }`
    : '';
  return `
  const rows = x.rows, iovas = rows.iova, sizes = rows.size, t = x.iotlb, devtlb = x.devtlb, pool = x.pool;
  const tag = x.tag, att = x.att, dom = x.dom, root = x.root;${tableLocals(s)}${orderLocals(s)}
  const ptr = pool.ptr, pphys = pool.phys, limitPfn = pool.limitPfn;
  const orders = x.orders;
  const c = x.counters, orderLookups = c.orderLookups, orderHits = c.orderHits;
  const cd = c.device, b = x.devBase, cachedWalk = x.cachedWalk;
  ${s.lanes ? 'let sPfn = x.sPfn, sBase = x.sBase, sOrder = x.sOrder, sPhys = x.sPhys, sn = x.sn;' : ''}${RUN_END_LOCALS}
  let devtlbLookups = 0, devtlbHits = 0, lookups = 0, hits = 0, stale = 0, invalidatedMisses = 0, walks = 0, walkAccesses = 0, faults = 0;
  let bytes = 0, row = start;
  for (;;) {
    const iovaLo = iovas[2 * row];
    const sizeBytes = sizes[2 * row + 1] * 4294967296 + sizes[2 * row];
    bytes += sizeBytes;
    const firstPfn = pfnOf(iovaLo, iovas[2 * row + 1]);
    const last = lastPfnOf(iovaLo, firstPfn, sizeBytes);
    let a = firstPfn;
    while (a <= last) {${devtlbProbe}
      lookups++;
      const small = a < 4294967296;${probeSource(s)}
      if (k >= 0) {
        const order = tOrder[k];
        const base = tBase[k];
        hits++;
        orderLookups[order]++;
        orderHits[order]++;${s.lanes ? recordSource('base', 'order', 'tPhys[k]') : ''}
        if (tUnmapped[k] >= 0 || tOwner[k] !== dom) {
          // As DmaPath.genericRun: remapped alike, or a stale hit.${s.lanes ? "\n          x.diverged = true; // the lanes would need the page's leaf now" : ''}
          const o = pool.lookup(root, base);
          if (o === order && pool.foundBase === base && pool.foundPhys === tPhys[k]) {
            if (tOwner[k] === dom) tUnmapped[k] = -1;
          } else {
            stale++;
          }
        }
        ${s.devtlb ? 'devtlb.fill(att, base, order, tPhys[k], dom);' : ''}
        a = base + POW2[order];
        continue;
      }
      if (ghost) invalidatedMisses++;
      let order = -1, base = 0, phys = 0;
      if (a < limitPfn) {${leafWalkSource(s)}
      }
      if (order < 0) {${s.lanes ? recordSource('-1', '0', '0') : ''}
        faults++; // one fault; the rest of the access is dropped
        break;
      }${s.lanes ? recordSource('base', 'order', 'phys') : ''}
      walks++;
      walkAccesses += ${s.walkCaches ? 'cachedWalk(tag, a, order, dom, cd, b)' : walkCostSource(s)};
      orderLookups[order]++;
      ${fillSource(s)}
      ${s.devtlb ? 'devtlb.fill(att, base, order, phys, dom);' : ''}
      a = base + POW2[order];
    }${RUN_END}
  }
  pol.clock = clock;${s.lanes ? '\n  x.sn = sn;' : ''}
  x.bytes = bytes;
  c.addRun(b, dom * ${DOMAIN_FIELDS}, devtlbLookups, devtlbHits, lookups, hits, stale, invalidatedMisses, walks, walkAccesses, faults);
  return row;`;
}

/**
 * Whether runs of `shape` start in the narrow run (narrowRunSource): the
 * shapes whose loop can make no call (no device TLB, walk caches or lanes,
 * a scanned table, a policy written out inline).
 */
export function hasNarrowRun(s: PagingRunShape): boolean {
  return !s.devtlb && !s.walkCaches && !s.lanes && !isIndexed(s) && (s.policy === 'lru' || s.policy === 'fifo');
}

/**
 * The paging run of `shape` (hasNarrowRun) over rows whose pages fit in an
 * int32 (NARROW_ORDER): the same probe, walk and fill as pagingRunSource,
 * on int32 pages, and a loop without calls, so that no page number is a
 * double (boxed across the loop in on-stack-replaced code). A hit that may
 * be stale is checked by the miss's walk (inline); a first entry of an order
 * is noted by DmaPath.run after the call. It stops before a row it cannot
 * take (x.wide set): pagingRunSource goes on from there. The bytes are
 * counted in int32 parts (bytesG units of 2^30).
 *
 * What V8 (Node 20) makes of a loop shaped what it costs: its compiled code
 * knows nothing at a loop's head (a loop's stack check forgets what was
 * checked), so every typed array the loop reads is checked again in each
 * iteration (map, length, data pointer: four loads, two branches), once per
 * path that reaches it. So the run reads few arrays: the table through three
 * views (tableFields), the walk memo in the pool's \`ptr\`, the run's checks
 * in a scan before the loop, hits counted by order in locals and added to
 * the counters' arrays once a call. And a miss's fill takes the smallest
 * order of the set (nearly every leaf's) as a constant on a predicted branch,
 * not from the walk's entry: the fill's set and loads then wait for no
 * load of the walk. Code the loop reaches only late (a first hit of an
 * order, a slice's end) has no type feedback and deoptimizes the run there
 * (a second compilation): every operation is made on a path taken early,
 * and rare branches only move values.
 */
export function narrowRunSource(s: PagingRunShape): string {
  const f = tableFields(s, true);
  // The order the fill speculates on: the set's smallest (a granule's, in every page-size set but one of huge pages only).
  const g = s.orders[s.orders.length - 1];
  // Hits counted by order in locals, on every hit (code reached only by a first hit of an order would have no type feedback).
  const byLocals = s.orders.length <= 4;
  const hitLocals = byLocals ? `\n  let ${s.orders.map((o) => `hitsAt${o} = 0, walksAt${o} = 0`).join(', ')};` : '';
  const hitByOrder = byLocals
    ? s.orders.map((o) => `\n        hitsAt${o} += ho === ${o} ? 1 : 0;`).join('')
    : '\n        orderLookups[ho]++;\n        orderHits[ho]++;';
  const hitCounts = byLocals ? s.orders.map((o) => `\n  orderLookups[${o}] += hitsAt${o} + walksAt${o};\n  orderHits[${o}] += hitsAt${o};`).join('') : '';
  // Walks by order likewise; a leaf of an order not in the set (none is made) would go to the array.
  const walkByOrder = byLocals
    ? `${s.orders.map((o) => `\n      walksAt${o} += order === ${o} ? 1 : 0;`).join('')}\n      if (${s.orders.map((o) => `order !== ${o}`).join(' && ')}) orderLookups[order]++;`
    : '\n      orderLookups[order]++;';
  return `
  start = start | 0;
  n = n | 0;
  const rows = x.rows, iovas = rows.iova, sizes = rows.size, t = x.iotlb, pool = x.pool;
  const tag = x.tag, dom = x.dom, root = x.root;${tableLocals(s, true)}
  const noted = x.noted;
  const ptr = pool.ptr, pphys = pool.phys, limitPfn = pool.limitPfn;
  if (pool.walkMemoFreed !== pool.freedTables) pool.resetWalkMemo();
  const c = x.counters, orderLookups = c.orderLookups, orderHits = c.orderHits;
  let stop = start + ${NARROW_CALL_ROWS};
  if (x.warmCalls > 0) {
    x.warmCalls--;
    stop = start + ${NARROW_WARM_ROWS};
  }
  // The rows of the run this call takes, [start, end): its end found first,
  // as RUN_END finds it row by row (its rows, at most \`stop\`; more: the run
  // goes on at \`stop\`), four rows an iteration (each iteration checks the
  // arrays it reads once), so that the replay's loop below reads two arrays
  // of the batch, not five, and keeps fewer values live. One loop whose
  // exits only set \`skip\`: code first reached late (a tail loop at a
  // slice's end, an addition in an exit) has no type feedback and
  // deoptimized the run mid-trace.
  let e = start + 1;
  ${NEST_OPEN}${RUN_END_LOCALS}
    const nLast = n - 1; // not in a branch: first reached at a slice's end, it had no type feedback
    const lim = stop < nLast ? stop : nLast;
    let o = 0, skip = 0;
    for (; e <= lim; e += 4) {
      if (${runEnds('e')}) break;
      if (e + 1 > lim || ${runEnds('e + 1')}) { skip = 1; break; }
      if (e + 2 > lim || ${runEnds('e + 2')}) { skip = 2; break; }
      if (e + 3 > lim || ${runEnds('e + 3')}) { skip = 3; break; }
    }
    e += skip;
  ${NEST_CLOSE}
  const end = e > stop ? stop : e;
  let hits = 0, stale = 0, invalidatedMisses = 0, walks = 0, walkAccesses = 0, faults = 0, nn = 0;${hitLocals}
  let bytes = 0, bytesG = 0, row = start, wide = false;
  ${NEST_OPEN}
  for (; row < end; row++) {
    const hi = iovas[2 * row + 1], lo = iovas[2 * row], sizeLo = sizes[2 * row];
    if (hi >= ${NARROW_IOVA_HI} || sizeLo >= ${NARROW_SIZE} || sizes[2 * row + 1] !== 0) {
      wide = true;
      break;
    }
    bytes += sizeLo;
    if (bytes >= 1073741824) {
      bytes -= 1073741824;
      bytesG++;
    }
    // pfnOf and lastPfnOf in int32.
    let a = (hi << 20) | (lo >>> 12);
    const last = a + (((lo & 4095) + (sizeLo === 0 ? 1 : sizeLo) - 1) >> 12);
    while (a <= last) {${probeSource(s, true)}
      // The page walked: a miss's, or the base of a hit that may be stale
      // (one walk in the source for both, the loop's code stays smaller).
      let w = a;
      if (k >= 0) {
        hits++;${hitByOrder}
        if (${f.unmapped('k')} < 0 && ${f.owner('k')} === dom) {
          if (ho >= ${NARROW_ORDER}) break; // the next page is past the row's last
          a = hb + (1 << ho);
          continue;
        }
        w = hb;
      } else {
        // Rare counts are added on every miss (0 or 1), not in a branch of
        // their own: an operation first reached late in a trace has no type
        // feedback, and the compiled loop deoptimizes there and is compiled
        // again (a trace's first fault did, after millions of rows).
        invalidatedMisses += ghost ? 1 : 0;
      }
      let table = root, kk = 0, p = 0, cost = 0;
      if (w < limitPfn) {
        ${walkSource(s, 'w', null, 'walk', 'cost')}
      }
      if (k >= 0) {
        // As DmaPath.genericRun: remapped alike (PageTablePool.lookup of hb finds the same leaf), or a stale hit.
        if (p < 0 && -p - 1 === ho && pphys[kk] === ${f.phys('k')}) {
          if (${f.owner('k')} === dom) ${f.unmapped('k')} = -1;
        } else {
          stale++;
        }
        if (ho >= ${NARROW_ORDER}) break;
        a = hb + (1 << ho);
        continue;
      }
      faults += p >= 0 ? 1 : 0; // one fault; the rest of the access is dropped
      if (p >= 0) break;
      // The leaf's order and base: the speculated order's unless the entry says otherwise
      // (moves on a branch the CPU predicts, so that the fill's set and loads wait for no
      // load of the walk; everything is computed on every miss, so that no operation first
      // runs late, without type feedback, and deoptimizes the run).
      const leafOrder = -p - 1;
      const leafBase = leafOrder < ${NARROW_ORDER} ? (a >> leafOrder) << leafOrder : 0;
      let order = ${g}, base = ${g === 0 ? 'a' : g < NARROW_ORDER ? `(a >> ${g}) << ${g}` : '0'};
      if (leafOrder !== ${g}) {
        order = leafOrder;
        base = leafBase;
      }${walkByOrder}
      walks++;
      const phys = pphys[kk];
      walkAccesses += cost;
      ${fillSource(s, true)}
      if (order >= ${NARROW_ORDER}) break; // the next page is past the row's last
      a = base + (1 << order);
    }
  }
  ${NEST_CLOSE}
  pol.clock = clock;${hitCounts}
  // Every lookup is a hit, a walk or a fault.
  const lookups = hits + walks + faults;
  x.nn = nn;
  x.more = !wide && e > stop;
  x.bytes = bytesG * 1073741824 + bytes;
  x.wide = wide;
  c.addRun(x.devBase, dom * ${DOMAIN_FIELDS}, 0, 0, lookups, hits, stale, invalidatedMisses, walks, walkAccesses, faults);
  return row;`;
}

/**
 * A lane's pass over the run's lookups: what its own replay would do at each
 * (docs/model.md §6 with the lane's table), given that the page's leaf is
 * the leader's. A lane hit on another leaf than the leader's, or on a page
 * whose walk faulted, means the lane would have parted.
 */
export function laneRunSource(s: TableShape): string {
  return `
  const tag = x.tag, dom = x.dom, n = x.sn, pool = x.pool, orderHits = lc.orderHits;
  const sPfn = x.sPfn, sBase = x.sBase, sOrder = x.sOrder, sPhys = x.sPhys;${tableLocals(s)}${orderLocals(s)}
  let hits = 0, invalidatedMisses = 0, walks = 0, walkAccesses = 0, parted = 0;
  for (let e = 0; e < n; e++) {
    const a = sPfn[e];
    const small = a < 4294967296;${probeSource(s)}
    const base = sBase[e], order = sOrder[e], phys = sPhys[e];
    if (k >= 0) {
      if (base < 0 || tBase[k] !== base || tOrder[k] !== order || tPhys[k] !== phys || tOwner[k] !== dom || tUnmapped[k] >= 0) parted = 1;
      hits++;
      orderHits[tOrder[k]]++;
      continue;
    }
    if (ghost) invalidatedMisses++;
    if (base < 0) continue; // the walk faulted
    walks++;
    walkAccesses += pool.walkAccesses(order);
    ${fillSource(s)}
  }
  pol.clock = clock;
  // The lane's own counts (caches/lanes.ts LANE_*_FIELDS): the rest is the leader's.
  lc.addRun(x.devBase, dom * ${DOMAIN_FIELDS}, 0, 0, 0, hits, 0, invalidatedMisses, walks, walkAccesses, 0);
  return parted;`;
}
