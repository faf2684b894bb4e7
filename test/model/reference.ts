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

interface Leaf { base: bigint; size: bigint; pa: bigint }
interface Domain {
  id: number;
  type: 'paging' | 'identity' | 'blocked' | 'sva';
  sizes: bigint[] | null; // largest first; null until fixed
  leaves: Map<bigint, Leaf>; // by base
  tables: Set<string>; // "level:firstAddress" of each table page alive
  dids: Map<number, number>; // instance -> DID
  atts: { dev: number; pasid: number }[];
  fqCount: number;
  fqFirst: number;
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
  constructor(readonly nSets: number, readonly ways: number, readonly policy: string, seed: number) {
    this.sets = Array.from({ length: nSets }, () => Array.from({ length: ways }, () => ({ state: 'empty' as const, tag: '', base: 0n, size: 0n, pa: 0n, owner: -1, unmappedAt: -1 })));
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
    for (let b = 0; b < 64; b++) if ((shared >> BigInt(b)) & 1n) { mask = b; break; }
  }
  const span = K4 << BigInt(mask);
  return [start - (start % span), mask];
}

const C_FIELDS = ['mapOps', 'mapErrors', 'mapBytes', 'unmapOps', 'unmapErrors', 'unmapShort', 'unmapBytes', 'syncs', 'page', 'domain', 'devtlb', 'wait', 'entriesRemoved', 'flushes', 'winMax', 'winSum', 'winCount'];

export interface RefResult {
  dma: { events: number; bytes: number; faults: number; passthrough: number };
  iotlb: { lookups: number; hits: number; staleHits: number; invalidatedMisses: number };
  devtlb: { lookups: number; hits: number };
  walks: { count: number; memoryAccesses: number };
  map: { ops: number; errors: number; bytes: number; pages: Record<string, number> };
  unmap: { ops: number; errors: number; short: number; bytes: number; pages: Record<string, number> };
  attach: { ops: number; errors: number };
  invalidation: { syncs: number; commands: { page: number; domain: number; devtlb: number; wait: number }; entriesRemoved: number; flushes: number; staleWindowMaxNs: number; staleWindowSumNs: number; staleWindowCount: number };
  peakTablePages: number;
}

function name(size: bigint): string {
  const l = size.toString(2).length - 1;
  for (const [u, s] of [['T', 40], ['G', 30], ['M', 20], ['K', 10]] as const) if (l >= s) return `${2 ** (l - s)}${u}`;
  return `${size}B`;
}

export function referenceReplay(events: Ev[], cfg: ReplayConfig, meta: TraceMetadata): RefResult {
  const topo = resolveTopology(cfg, meta);
  const instSizes = topo.instances.map((m) => m.sizes.names.map((n) => 1n << BigInt(parseSizeLog2(n)!)).sort((a, b) => (a > b ? -1 : 1)));
  const svaSizes = cfg.svaPageSizes.map((n) => 1n << BigInt(parseSizeLog2(n)!)).sort((a, b) => (a > b ? -1 : 1));
  const levels = cfg.pageTable.levels;
  const limit = 1n << BigInt(12 + 9 * levels);
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
    invalidation: { syncs: 0, commands: { page: 0, domain: 0, devtlb: 0, wait: 0 }, entriesRemoved: 0, flushes: 0, staleWindowMaxNs: 0, staleWindowSumNs: 0, staleWindowCount: 0 },
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
      d = { slot: devs.size, inst: topo.instanceOf(rid), devtlb: topo.hasDevtlb(rid) ? new Tlb(cfg.devtlb.sets, cfg.devtlb.ways, cfg.devtlb.policy, cfg.seed * 1000 + 500 + devs.size) : null, att: new Map() };
      devs.set(rid, d);
    }
    return d;
  };
  const dom = (id: number): Domain => {
    let d = doms.get(id);
    if (!d) {
      const type = meta.domains.get(id) ?? 'paging';
      d = { id, type, sizes: type === 'sva' ? svaSizes : null, leaves: new Map(), tables: new Set(), dids: new Map(), atts: [], fqCount: 0, fqFirst: 0, c: Object.fromEntries(C_FIELDS.map((f) => [f, 0])) };
      if (type === 'paging' || type === 'sva') {
        d.tables.add(`${levels}:0`);
        countTables(1);
      }
      doms.set(id, d);
    }
    return d;
  };
  const sizesOf = (d: Domain) => d.sizes ?? instSizes[0];
  const didOf = (d: Domain, inst: number) => (d.type === 'paging' ? d.dids.get(inst)! : 1);
  /** The leaf covering byte a: leaves are aligned to their size, so look at each size's base. */
  const leafAt = (d: Domain, a: bigint): Leaf | undefined => {
    for (const size of [...instSizes.flat(), ...svaSizes]) {
      const l = d.leaves.get(a - (a % size));
      if (l && l.size === size) return l;
    }
    return undefined;
  };
  const tableKey = (level: number, a: bigint) => {
    const span = 1n << BigInt(12 + 9 * level);
    return `${level}:${a - (a % span)}`;
  };
  const install = (d: Domain, l: Leaf) => {
    d.leaves.set(l.base, l);
    // Empty lower tables inside the new leaf go (VT-d __domain_mapping).
    if (l.size >= 1n << 21n) for (const k of [...d.tables]) {
      const [lv, a] = k.split(':');
      const start = BigInt(a);
      const span = 1n << BigInt(12 + 9 * Number(lv));
      if (Number(lv) < levels && l.base <= start && start + span <= l.base + l.size) {
        d.tables.delete(k);
        countTables(-1);
      }
    }
    const leafLevel = Math.floor((l.size.toString(2).length - 1 - 12) / 9) + 1;
    for (let level = levels - 1; level >= leafLevel; level--) {
      const k = tableKey(level, l.base);
      if (!d.tables.has(k)) {
        d.tables.add(k);
        countTables(1);
      }
    }
  };
  const splitInto = (d: Domain, iova: bigint, pa: bigint, size: bigint, doInstall: boolean, pages: Record<string, number> | null) => {
    const sizes = sizesOf(d);
    while (size > 0n) {
      const [pg, n] = pgsize(sizes, iova, pa, size);
      for (let j = 0n; j < n; j++) {
        if (doInstall) install(d, { base: iova + j * pg, size: pg, pa: pa + j * pg });
      }
      if (pages) pages[name(pg)] = (pages[name(pg)] ?? 0) + Number(n);
      iova += n * pg;
      pa += n * pg;
      size -= n * pg;
    }
  };
  const tags = (d: Domain) => {
    const seen = new Set<string>();
    const out: { inst: number; pasid: number }[] = [];
    for (const a of d.atts) {
      const inst = [...devs.values()].find((x) => x.slot === a.dev)!.inst;
      const k = `${inst}:${a.pasid}`;
      if (!seen.has(k)) {
        seen.add(k);
        out.push({ inst, pasid: a.pasid });
      }
    }
    return out;
  };
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
  const domainFlush = (d: Domain) => {
    d.c.flushes++;
    const insts = new Set<number>();
    for (const t of tags(d)) {
      const tag = `${didOf(d, t.inst)}:${t.pasid}`;
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
    d.c.wait += insts.size;
  };
  const sync = (d: Domain, s: bigint, e: bigint) => {
    d.c.syncs++;
    if (d.atts.length === 0) return;
    const [cs, mask] = psi(s, e);
    const ce = cs + (K4 << BigInt(mask));
    const insts = new Set<number>();
    for (const t of tags(d)) {
      const tag = `${didOf(d, t.inst)}:${t.pasid}`;
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
    d.c.wait += insts.size;
  };
  const fireTimeouts = () => {
    const due = [...doms.values()].filter((d) => d.fqCount > 0 && now >= d.fqFirst + cfg.invalidation.fqTimeoutNs).sort((a, b) => a.id - b.id);
    for (const d of due) {
      domainFlush(d);
      d.fqCount = 0;
    }
  };
  const removeLeaf = (d: Domain, l: Leaf, countPages: boolean) => {
    d.leaves.delete(l.base);
    if (countPages) {
      r.unmap.pages[name(l.size)] = (r.unmap.pages[name(l.size)] ?? 0) + 1;
      d.c.unmapBytes += Number(l.size);
    }
    for (const t of tags(d)) {
      const tag = `${didOf(d, t.inst)}:${t.pasid}`;
      for (const e of iotlbs[t.inst].all()) if (e.state === 'valid' && e.tag === tag && e.base === l.base && e.size === l.size && e.unmappedAt < 0) e.unmappedAt = now;
    }
  };
  const freeTables = (d: Domain, s: bigint, e: bigint) => {
    for (const k of [...d.tables]) {
      const [lv, a] = k.split(':');
      const level = Number(lv);
      if (level === levels) continue; // the root
      const start = BigInt(a);
      const span = 1n << BigInt(12 + 9 * level);
      // A table goes when its parent's entry for it lies within [s, e).
      if (s <= start && start + span <= e) {
        d.tables.delete(k);
        countTables(-1);
      }
    }
  };

  const setAttachment = (rid: number, pasid: number, next: Domain | null) => {
    const x = dev(rid);
    const oldId = x.att.get(pasid);
    const old = oldId === undefined ? null : doms.get(oldId)!;
    if (old === next) return;
    if (next) {
      if (next.type === 'sva' && pasid === 0) return void r.attach.errors++;
      if (next.type === 'paging') {
        if (next.sizes && !next.sizes.every((s) => instSizes[x.inst].includes(s))) return void r.attach.errors++;
        if (!next.dids.has(x.inst)) {
          let did = -1;
          for (let k = 2; k < cfg.domainIds; k++) if (!didUsed[x.inst].has(k)) { did = k; break; }
          if (did < 0) return void r.attach.errors++;
          didUsed[x.inst].add(did);
          next.dids.set(x.inst, did);
        }
        if (!next.sizes) next.sizes = instSizes[x.inst];
      }
    }
    if (next) {
      x.att.set(pasid, next.id);
      next.atts.push({ dev: x.slot, pasid });
    } else x.att.delete(pasid);
    if (old) {
      old.atts.splice(old.atts.findIndex((a) => a.dev === x.slot && a.pasid === pasid), 1);
      // Teardown.
      if (old.type === 'paging' || old.type === 'sva') {
        const did = didOf(old, x.inst);
        old.c.domain++;
        old.c.flushes++;
        old.c.wait++;
        removeEntries(old, iotlbs[x.inst], (e) => (old.type === 'paging' ? e.tag.startsWith(`${did}:`) : e.tag === `1:${pasid}`), true);
      }
      if ((old.type === 'paging' || old.type === 'sva' || old.type === 'identity') && x.devtlb) {
        old.c.devtlb++;
        removeEntries(old, x.devtlb, (e) => e.tag === String(pasid), false);
      }
      if (old.type === 'paging' && !old.atts.some((a) => devBySlot(a.dev).inst === x.inst)) {
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
        if (!d) { r.dma.faults++; break; }
        if (d.type === 'identity') { r.dma.passthrough++; break; }
        const sizes = sizesOf(d);
        const tag = `${didOf(d, x.inst)}:${pasid}`;
        const last = iova + (size === 0n ? 1n : size) - 1n;
        let a = iova - (iova % K4);
        while (a <= last) {
          if (x.devtlb) {
            r.devtlb.lookups++;
            const [e] = x.devtlb.lookup(String(pasid), a, sizes);
            if (e) { r.devtlb.hits++; a = e.base + e.size; continue; }
          }
          r.iotlb.lookups++;
          const [e, ghost] = iotlbs[x.inst].lookup(tag, a, sizes);
          if (e) {
            r.iotlb.hits++;
            const l = leafAt(d, e.base);
            if (!(l && l.base === e.base && l.size === e.size && l.pa === e.pa)) r.iotlb.staleHits++;
            else if (e.owner === d.id) e.unmappedAt = -1;
            if (x.devtlb) x.devtlb.fill(String(pasid), { base: e.base, size: e.size, pa: e.pa }, d.id);
            a = e.base + e.size;
            continue;
          }
          if (ghost) r.iotlb.invalidatedMisses++;
          const l = leafAt(d, a);
          if (!l) { r.dma.faults++; break; }
          r.walks.count++;
          r.walks.memoryAccesses += levels - Math.floor((l.size.toString(2).length - 1 - 12) / 9);
          iotlbs[x.inst].fill(tag, l, d.id);
          if (x.devtlb) x.devtlb.fill(String(pasid), l, d.id);
          a = l.base + l.size;
        }
        break;
      }
      case 'map': {
        const d = dom(ev.domain ?? 0);
        d.c.mapOps++;
        if (d.type !== 'paging' && d.type !== 'sva') { d.c.mapErrors++; break; }
        const g = sizesOf(d)[sizesOf(d).length - 1];
        if (iova % g || pa % g || size % g) { d.c.mapErrors++; break; }
        if (size === 0n) break;
        if (iova + size > limit || [...d.leaves.values()].some((l) => l.base < iova + size && iova < l.base + l.size)) { d.c.mapErrors++; break; }
        d.c.mapBytes += Number(size);
        if (!d.sizes) d.sizes = instSizes[0];
        splitInto(d, iova, pa, size, true, r.map.pages);
        break;
      }
      case 'unmap': {
        const d = dom(ev.domain ?? 0);
        d.c.unmapOps++;
        if (d.type !== 'paging' && d.type !== 'sva') { d.c.unmapErrors++; break; }
        const sizes = sizesOf(d);
        const g = sizes[sizes.length - 1];
        if (iova % g || size % g) { d.c.unmapErrors++; break; }
        if (size === 0n) break;
        const end = iova + size;
        let c = iova;
        let removedAny = false;
        let gs = 0n, ge = 0n, glen = 0n;
        const strict = cfg.invalidation.mode === 'strict';
        while (c < end) {
          const [pg, n] = pgsize(sizes, c, c, end - c);
          let ce = c + pg * n;
          const head = leafAt(d, c);
          if (!head) { d.c.unmapShort++; break; }
          const tail = leafAt(d, ce - 1n);
          const headSticks = head.base < c;
          const tailSticks = !!tail && tail.base + tail.size > ce;
          let cs = c;
          if (headSticks || tailSticks) {
            if (cfg.partialUnmap === 'reject') { d.c.unmapErrors++; break; }
            if (cfg.partialUnmap === 'whole-leaf') {
              if (headSticks) cs = head.base;
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
                splitInto(d, rs, l.pa + (rs - l.base), re - rs, false, r.unmap.pages);
                d.c.unmapBytes += Number(re - rs);
              }
            }
          }
          for (const l of [...d.leaves.values()].filter((l) => l.base >= cs && l.base + l.size <= ce)) {
            removeLeaf(d, l, true);
            removedAny = true;
          }
          freeTables(d, cs, ce);
          if (strict) {
            const len = ce - c;
            if (glen !== 0n && (glen !== len || ce < gs || c > ge)) { sync(d, gs, ge); glen = 0n; }
            if (glen === 0n) { gs = c; ge = ce; } else { if (c < gs) gs = c; if (ce > ge) ge = ce; }
            glen = len;
          }
          c = ce;
        }
        if (strict) {
          if (glen !== 0n) sync(d, gs, ge);
        } else if (removedAny) {
          if (d.fqCount >= cfg.invalidation.fqSize) { domainFlush(d); d.fqCount = 0; }
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
    r.map.ops += d.c.mapOps; r.map.errors += d.c.mapErrors; r.map.bytes += d.c.mapBytes;
    r.unmap.ops += d.c.unmapOps; r.unmap.errors += d.c.unmapErrors; r.unmap.short += d.c.unmapShort; r.unmap.bytes += d.c.unmapBytes;
    const inv = r.invalidation;
    inv.syncs += d.c.syncs; inv.commands.page += d.c.page; inv.commands.domain += d.c.domain; inv.commands.devtlb += d.c.devtlb; inv.commands.wait += d.c.wait;
    inv.entriesRemoved += d.c.entriesRemoved; inv.flushes += d.c.flushes;
    inv.staleWindowMaxNs = Math.max(inv.staleWindowMaxNs, d.c.winMax); inv.staleWindowSumNs += d.c.winSum; inv.staleWindowCount += d.c.winCount;
  }
  return r;
}
