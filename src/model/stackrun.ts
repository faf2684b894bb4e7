// The curve's DMA loop (docs/model.md §6): the run of DMAs through the stack
// profiler (caches/stack.ts), which stands for every fully associative LRU
// IOTLB of 1..N entries, specialized per page-size set and page-table format.
//
// DmaPath.genericRun serves every IOTLB through its methods and walks with
// PageTablePool.lookup; the curve's references miss at most sizes, and there
// a lookup is a probe of the profiler's index that finds nothing (the
// bounded profiler has no depth to ask). Here that probe is written out per
// probe order, and the walk is specialize.ts's (the format's constants, as
// the replay's specialized run walks): a probe that finds no key walks and
// fills through StackIotlb.fillAbsent with the bucket the probe read. A
// probe that finds a key hands what it found to StackIotlb.lookupProbed
// (no second probe: a NIC curve's lookups hit 64% of the time), which
// decides what each size sees (hits, the group's gains, splits, stale hits);
// from there the run is genericRun's, but that a gain (a hit from some depth
// up, no stale hit) takes the leaf of size lo's walk from its entry.
//
// Only for the profiler itself (not OPT's recorder, which records in its
// lookup and fill), without device TLBs, walk caches or nesting. The generic
// loop stays the reference (ReplayLimits.generic): test/model/stackrun.test.ts
// compares every curve output both ways on seeded random traces.
import { StackIotlb, slotOfKey } from '../caches/stack.js';
import { DOMAIN_FIELDS } from '../stats/counters.js';
import { compile, leafWalkSource, pageOf, walkCostSource, type PagingRunContext, type WalkShape } from './specialize.js';

/** What the curve's loop is specialized on. */
export interface StackRunShape extends WalkShape {
  /** Probe orders of the domain's page-size set, largest first. */
  orders: readonly number[];
}

/**
 * The DMAs of rows [start, end) through profiler `st` (their events and
 * bytes are counted by the caller); of the context (resolved by DmaPath once
 * a run) it reads the rows, pool, counters, orders, tag, dom, root and devBase.
 */
export type StackRun = (x: PagingRunContext, st: StackIotlb, start: number, end: number) => void;

/** Whether `iotlb` is the profiler itself (a subclass records in its own lookup and fill: it takes the generic loop). */
export function isPlainStack(iotlb: object): iotlb is StackIotlb {
  return iotlb.constructor === StackIotlb;
}

/** The curve's loop for `shape`, compiled once per process. */
export function stackRun(shape: StackRunShape): StackRun {
  return compile<StackRun>('stackRun', 'x, st, start, end', stackRunSource(shape), { slotOfKey });
}

/**
 * The probe of StackIotlb.lookup (its find) for page `a` at each order
 * written out: sets `found` when some order's entry is in the index,
 * `node<order>` to it (-1: none) and `slot<order>` to the bucket it read
 * (-1: the order has no entry, not probed).
 */
function probeSource(s: StackRunShape): string {
  return s.orders
    .map(
      (o) => `
      let slot${o} = -1, node${o} = -1;
      if (live[${o}] !== 0) {
        const pb = ${o === 0 ? 'a' : `${pageOf('a', o, 'small')} * ${2 ** o}`};
        const h = slotOfKey(tag, pb, ${o}, hashShift);
        for (let nd = hash[h]; nd >= 0; nd = next[nd]) {
          if (nBase[nd] === pb && nTag[nd] === tag && nOrder[nd] === ${o}) {
            node${o} = nd;
            found = true;
            break;
          }
        }
        slot${o} = h;
      }`,
    )
    .join('');
}

/** The loop's source for `shape` (exported for the test that reads it). */
export function stackRunSource(s: StackRunShape): string {
  // The fill's slot: the probe's of the leaf's order; a leaf of an order not probed takes fill(), which probes.
  const slotOfLeaf = s.orders.map((o) => `order === ${o} ? slot${o} : `).join('') + '-2';
  return `
  const rows = x.rows, iovas = rows.iova, sizes = rows.size, pool = x.pool;
  const tag = x.tag, dom = x.dom, root = x.root, orders = x.orders;
  const ptr = pool.ptr, pphys = pool.phys, limitPfn = pool.limitPfn;
  const c = x.counters, orderLookups = c.orderLookups, orderHits = c.orderHits;
  const live = st.orderLive, probedNode = st.probedNode, probedSlot = st.probedSlot;
  st.bind(dom, root);
  let lookups = 0, hits = 0, stale = 0, invalidatedMisses = 0, walks = 0, walkAccesses = 0, faults = 0;
  for (let row = start; row < end; row++) {
    const iovaLo = iovas[2 * row];
    const sizeBytes = sizes[2 * row + 1] * 4294967296 + sizes[2 * row];
    const firstPfn = pfnOf(iovaLo, iovas[2 * row + 1]);
    const last = lastPfnOf(iovaLo, firstPfn, sizeBytes);
    let a = firstPfn;
    while (a <= last) {
      lookups++;
      const small = a < 4294967296;
      st.ensureTime(); // as lookup(): a renumbering before the probe
      const hash = st.hash, next = st.next, nBase = st.base, nTag = st.tag, nOrder = st.order, hashShift = st.hashShift;
      let found = false;${probeSource(s)}
      if (found) {
        // What the probe found, for the profiler's lookup: the index is probed once.${s.orders
          .map(
            (o) => `
        probedNode[${o}] = node${o};
        probedSlot[${o}] = slot${o};`,
          )
          .join('')}
        const k = st.lookupProbed(tag, a, orders);
        if (k >= 0) {
          // As DmaPath.genericRun's hit.
          const order = st.order[k];
          const base = st.base[k];
          hits++;
          orderLookups[order]++;
          orderHits[order]++;
          if (st.unmappedAt[k] >= 0 || st.owner[k] !== dom) {
            const o = pool.lookup(root, base);
            if (o === order && pool.foundBase === base && pool.foundPhys === st.phys[k]) {
              if (st.owner[k] === dom) st.unmappedAt[k] = -1;
            } else {
              stale++;
            }
          }
          a = base + POW2[order];
          continue;
        }
        if (st.missWasInvalidated) invalidatedMisses++;
      }
      let order = -1, base = 0, phys = 0;
      const gain = found ? st.gainNode : -1;
      if (gain >= 0) {
        // A hit at the larger sizes, no stale hit: the walk of size lo finds the entry's leaf (StackIotlb.gainNode).
        order = st.order[gain];
        base = st.base[gain];
        phys = st.phys[gain];
      } else if (a < limitPfn) {${leafWalkSource(s)}
      }
      if (order < 0) {
        faults++; // one fault; the rest of the access is dropped
        break;
      }
      walks++;
      walkAccesses += ${walkCostSource(s)};
      orderLookups[order]++;
      const slot = found ? -2 : ${slotOfLeaf};
      if (slot === -2) st.fill(tag, base, order, phys, dom);
      else st.fillAbsent(tag, base, order, phys, dom, slot);
      a = base + POW2[order];
    }
  }
  c.addRun(x.devBase, dom * ${DOMAIN_FIELDS}, 0, 0, lookups, hits, stale, invalidatedMisses, walks, walkAccesses, faults);`;
}
