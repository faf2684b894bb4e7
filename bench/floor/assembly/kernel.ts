// AssemblyScript (not TypeScript: compiled by asc, excluded from tsc) twin of
// bench/floor/kernel.ts: the same floor work on native u64 in WASM linear
// memory laid out by hand (raw load/store, no managed objects, so the stub
// runtime suffices and no array bounds checks exist to remove).
//
// Memory, all from heap.alloc at init: the batch's columns (op u8, iova, size,
// paddr u64 per row, copied in by the host), the IOTLB (key, phys, stamp: u64
// per way, index set * 4 + way; key = page << 2 | k with k = 0, 1, 2 for
// orders 18, 9, 0, u64.MAX when empty), the page table (ptr i32 and phys u64
// per entry, 512 entries a table page, regrown by doubling).

const WAYS: usize = 4;
const TLB: usize = 64;
const ENTRIES: u32 = 512;
const LIMIT: u64 = 1 << 36; // pfns of a 4-level table
const EMPTY: u64 = u64.MAX_VALUE;

let opP: usize = 0;
let iovaP: usize = 0;
let sizeP: usize = 0;
let paddrP: usize = 0;
let keyP: usize = 0;
let tphysP: usize = 0;
let stampP: usize = 0;
let ptrP: usize = 0;
let pphysP: usize = 0;
let cap: u32 = 0;
let nextId: u32 = 1;
let root: u32 = 0;
let clock: u64 = 0;

let cDma: u64 = 0;
let cHits: u64 = 0;
let cFaults: u64 = 0;
let cChecksum: u32 = 0;
let cMaps: u64 = 0;
let cMapsSkipped: u64 = 0;
let cLeaves: u64 = 0;

let rowsCap: i32 = 0;

/** Room for batches of `rows` rows (the column buffers; their pointers change). */
export function reserve(rows: i32): void {
  if (rows <= rowsCap) return;
  if (rowsCap > 0) {
    heap.free(opP);
    heap.free(iovaP);
    heap.free(sizeP);
    heap.free(paddrP);
  }
  const n = <usize>rows;
  opP = heap.alloc(n);
  iovaP = heap.alloc(n << 3);
  sizeP = heap.alloc(n << 3);
  paddrP = heap.alloc(n << 3);
  rowsCap = rows;
}

export function init(batchRows: i32): void {
  reserve(batchRows);
  keyP = heap.alloc(TLB << 3);
  tphysP = heap.alloc(TLB << 3);
  stampP = heap.alloc(TLB << 3);
  for (let i: usize = 0; i < TLB; i++) {
    store<u64>(keyP + (i << 3), EMPTY);
    store<u64>(stampP + (i << 3), 0);
  }
  cap = 128;
  ptrP = heap.alloc(<usize>(cap * ENTRIES) << 2);
  pphysP = heap.alloc(<usize>(cap * ENTRIES) << 3);
  memory.fill(ptrP, 0, <usize>(cap * ENTRIES) << 2);
  root = allocTable();
}

export function opPtr(): usize {
  return opP;
}
export function iovaPtr(): usize {
  return iovaP;
}
export function sizePtr(): usize {
  return sizeP;
}
export function paddrPtr(): usize {
  return paddrP;
}

/** Counter i as f64: dma, hits, misses, faults, checksum, maps, mapsSkipped, leaves. */
export function count(i: i32): f64 {
  switch (i) {
    case 0: return <f64>cDma;
    case 1: return <f64>cHits;
    case 2: return <f64>(cDma - cHits);
    case 3: return <f64>cFaults;
    case 4: return <f64>cChecksum;
    case 5: return <f64>cMaps;
    case 6: return <f64>cMapsSkipped;
    default: return <f64>cLeaves;
  }
}

function allocTable(): u32 {
  const id = nextId++;
  if (id + 1 > cap) {
    const old = cap;
    cap = old * 2;
    const p = heap.alloc(<usize>(cap * ENTRIES) << 2);
    memory.copy(p, ptrP, <usize>(old * ENTRIES) << 2);
    memory.fill(p + (<usize>(old * ENTRIES) << 2), 0, <usize>(old * ENTRIES) << 2);
    heap.free(ptrP);
    ptrP = p;
    const q = heap.alloc(<usize>(cap * ENTRIES) << 3);
    memory.copy(q, pphysP, <usize>(old * ENTRIES) << 3);
    heap.free(pphysP);
    pphysP = q;
  }
  return id;
}

/** The way of set `s` (first way's index) holding `k`, or -1. */
// @ts-ignore: decorator
@inline function probe(key: usize, s: usize, k: u64): i32 {
  const a = key + (s << 3);
  if (load<u64>(a) == k) return <i32>s;
  if (load<u64>(a, 8) == k) return <i32>s + 1;
  if (load<u64>(a, 16) == k) return <i32>s + 2;
  if (load<u64>(a, 24) == k) return <i32>s + 3;
  return -1;
}

/** One batch of n rows, its columns already copied in. */
export function run(n: i32): void {
  const key = keyP;
  const stamp = stampP;
  const tphys = tphysP;
  let pt = ptrP;
  let pphys = pphysP;
  const rootBase = <usize>(root * ENTRIES);
  let clk = clock;
  let dma: u64 = 0;
  let hits: u64 = 0;
  let faults: u64 = 0;
  let cs = cChecksum;
  for (let i = 0; i < n; i++) {
    const o = load<u8>(opP + <usize>i);
    const iova = load<u64>(iovaP + (<usize>i << 3));
    if (o <= 1) {
      dma++;
      const pfn = iova >> 12;
      if (pfn >= LIMIT) {
        faults++;
        continue;
      }
      const p18 = pfn >> 18;
      let w = probe(key, <usize>(p18 & 15) << 2, p18 << 2);
      if (w < 0) {
        const p9 = pfn >> 9;
        w = probe(key, <usize>(p9 & 15) << 2, (p9 << 2) | 1);
        if (w < 0) w = probe(key, <usize>(pfn & 15) << 2, (pfn << 2) | 2);
      }
      if (w >= 0) {
        store<u64>(stamp + (<usize>w << 3), ++clk);
        hits++;
        continue;
      }
      // Walk, level 4 .. 1.
      let k = rootBase + <usize>((pfn >> 27) & 511);
      let p = load<i32>(pt + (k << 2));
      if (p > 0) {
        k = <usize>(<u32>p * ENTRIES) + <usize>((pfn >> 18) & 511);
        p = load<i32>(pt + (k << 2));
        if (p > 0) {
          k = <usize>(<u32>p * ENTRIES) + <usize>((pfn >> 9) & 511);
          p = load<i32>(pt + (k << 2));
          if (p > 0) {
            k = <usize>(<u32>p * ENTRIES) + <usize>(pfn & 511);
            p = load<i32>(pt + (k << 2));
          }
        }
      }
      if (p >= 0) {
        faults++;
        continue;
      }
      const order = <u64>(-p - 1);
      const page = pfn >> order;
      const kIdx: u64 = order == 18 ? 0 : order == 9 ? 1 : 2;
      const s = <usize>(page & 15) << 2;
      const a = key + (s << 3);
      let v: usize;
      if (load<u64>(a) == EMPTY) v = s;
      else if (load<u64>(a, 8) == EMPTY) v = s + 1;
      else if (load<u64>(a, 16) == EMPTY) v = s + 2;
      else if (load<u64>(a, 24) == EMPTY) v = s + 3;
      else {
        const b = stamp + (s << 3);
        v = s;
        let best = load<u64>(b);
        const t1 = load<u64>(b, 8);
        if (t1 < best) {
          best = t1;
          v = s + 1;
        }
        const t2 = load<u64>(b, 16);
        if (t2 < best) {
          best = t2;
          v = s + 2;
        }
        if (load<u64>(b, 24) < best) v = s + 3;
      }
      const phys = load<u64>(pphys + (k << 3));
      store<u64>(key + (v << 3), (page << 2) | kIdx);
      store<u64>(tphys + (v << 3), phys);
      store<u64>(stamp + (v << 3), ++clk);
      cs = cs * 31 + ((<u32>phys) ^ <u32>(page << order)) + <u32>order;
    } else if (o == 2) {
      const i8 = <usize>i << 3;
      map(iova >> 12, load<u64>(sizeP + i8) >> 12, load<u64>(paddrP + i8) >> 12);
      pt = ptrP; // the table may have grown
      pphys = pphysP;
    }
  }
  clock = clk;
  cDma += dma;
  cHits += hits;
  cFaults += faults;
  cChecksum = cs;
}

function tz(x: u64): i32 {
  return x == 0 ? 64 : <i32>ctz<u64>(x);
}

/** A map row: skipped when a leaf overlaps it, else split as iommu_pgsize() does and installed. */
function map(pfn: u64, pages: u64, phys: u64): void {
  cMaps++;
  if (pfn >= LIMIT || pages == 0) return;
  const end = pfn + pages < LIMIT ? pfn + pages : LIMIT;
  if (anyLeafIn(pfn, end)) {
    cMapsSkipped++;
    return;
  }
  while (pages > 0) {
    const maxBySize = 63 - <i32>clz<u64>(pages);
    const al = min(tz(pfn), tz(phys));
    const order: i32 = maxBySize >= 18 && al >= 18 ? 18 : maxBySize >= 9 && al >= 9 ? 9 : 0;
    let size = pages;
    if (order != 18) {
      const next: u64 = order == 9 ? 18 : 9;
      const nextSize: u64 = (<u64>1) << next;
      const iovaOff = pfn & (nextSize - 1);
      if (iovaOff == (phys & (nextSize - 1))) {
        const offset = nextSize - iovaOff;
        if (offset + nextSize <= size) size = offset;
      }
    }
    const count = size >> order;
    for (let j: u64 = 0; j < count; j++) install(pfn + (j << order), order, phys + (j << order));
    cLeaves += count;
    pfn += count << order;
    phys += count << order;
    pages -= count << order;
  }
}

function anyLeafIn(start: u64, end: u64): bool {
  let p = start;
  while (p < end) {
    let table = root;
    for (let level = 4; ; level--) {
      const shift = <u64>(9 * (level - 1));
      const e = load<i32>(ptrP + ((<usize>(table * ENTRIES) + <usize>((p >> shift) & 511)) << 2));
      if (e < 0) return true;
      if (e == 0) {
        p = ((p >> shift) + 1) << shift;
        break;
      }
      table = <u32>e;
    }
  }
  return false;
}

function install(base: u64, order: i32, phys: u64): void {
  const leafLevel = order == 18 ? 3 : order == 9 ? 2 : 1;
  let table = root;
  for (let level = 4; level > leafLevel; level--) {
    const k = <usize>(table * ENTRIES) + <usize>((base >> <u64>(9 * (level - 1))) & 511);
    let p = load<i32>(ptrP + (k << 2));
    if (p == 0) {
      p = <i32>allocTable();
      store<i32>(ptrP + (k << 2), p);
    }
    table = <u32>p;
  }
  const k = <usize>(table * ENTRIES) + <usize>((base >> <u64>(9 * (leafLevel - 1))) & 511);
  store<i32>(ptrP + (k << 2), -(order + 1));
  store<u64>(pphysP + (k << 3), phys);
}
