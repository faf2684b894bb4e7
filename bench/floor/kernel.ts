// The 'floor' scenario of bench/run.ts (IOTLB probe, page-table walk on a
// miss, fill; map rows build the table) hand-specialized for its one
// configuration: 16 sets x 4 ways LRU, orders 18, 9, 0 probed largest first,
// a 4-level table. Struct-of-arrays on typed arrays, one function over a
// batch's columns, everything on int32 words: no doubles on the DMA path but
// the LRU stamps. Same answers as the project's generic SetAssocTable and
// PageTablePool (checked by bench/floor/run.ts), except that a map above the
// 48-bit address space is ignored here (the generic pool wraps it).
//
// IOTLB entry key: (page number at the entry's order, order index k) as two
// int32 words: keyLo = page's low 32 bits, keyHi = (page >>> 32) << 2 | k,
// with k = 0, 1, 2 for orders 18, 9, 0; an empty way has keyHi = -1.
// A pfn below 2^36 (the 4-level limit) is hi * 2^20 + (lo >>> 12) from the
// iova's words, so hi < 65536; a DMA above it misses and finds no leaf.

import { POW2 } from '../../src/caches/indexing.js';
import { alignmentOrder, floorLog2 } from '../../src/model/pgsize.js';

export const SETS = 16;
export const WAYS = 4;
const ENTRIES = 512;
const HI_LIMIT = 65536; // iova hi word of pfn 2^36

/** What both kernels count; equal between them and to the generic tables. */
export interface FloorCounts {
  dma: number;
  hits: number;
  misses: number;
  /** Misses whose walk found no leaf. */
  faults: number;
  /** Over walks that found a leaf, in order: cs = cs*31 + (physLo ^ baseLo) + order, mod 2^32. */
  checksum: number;
  maps: number;
  /** Map rows that overlapped a leaf and were skipped. */
  mapsSkipped: number;
  leaves: number;
}

export function newCounts(): FloorCounts {
  return { dma: 0, hits: 0, misses: 0, faults: 0, checksum: 0, maps: 0, mapsSkipped: 0, leaves: 0 };
}

export class JsFloor {
  // IOTLB, index set * WAYS + way.
  readonly keyLo = new Int32Array(SETS * WAYS);
  readonly keyHi = new Int32Array(SETS * WAYS).fill(-1);
  readonly physLo = new Int32Array(SETS * WAYS);
  readonly physHi = new Int32Array(SETS * WAYS);
  readonly stamp = new Float64Array(SETS * WAYS);
  clock = 0;
  // Page table: per entry 0 empty, > 0 child table id, < 0 leaf of order -p-1;
  // the leaf's physical pfn as lo/hi words.
  ptr = new Int32Array(128 * ENTRIES);
  pLo = new Int32Array(128 * ENTRIES);
  pHi = new Int32Array(128 * ENTRIES);
  nextId = 1;
  readonly root: number;
  readonly c = newCounts();

  constructor() {
    this.root = this.allocTable();
  }

  allocTable(): number {
    const id = this.nextId++;
    if ((id + 1) * ENTRIES > this.ptr.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.ptr = grow(this.ptr);
      this.pLo = grow(this.pLo);
      this.pHi = grow(this.pHi);
    }
    return id;
  }

  /** One batch: op codes and the iova, size and paddr uint64 columns as lo/hi words. */
  run(op: Uint8Array, iova: Uint32Array, size: Uint32Array, paddr: Uint32Array, n: number): void {
    const keyLo = this.keyLo;
    const keyHi = this.keyHi;
    const physLo = this.physLo;
    const physHi = this.physHi;
    const stamp = this.stamp;
    let ptr = this.ptr;
    let pLo = this.pLo;
    const root = this.root;
    const c = this.c;
    let clock = this.clock;
    let dma = 0;
    let hits = 0;
    let faults = 0;
    let cs = c.checksum;
    for (let i = 0; i < n; i++) {
      const o = op[i];
      const lo = iova[2 * i];
      const hi = iova[2 * i + 1];
      if (o <= 1) {
        dma++;
        if (hi >= HI_LIMIT) {
          faults++;
          continue;
        }
        // Probe order 18, then 9, then 0, each in its own set.
        const p18 = (hi << 2) | (lo >>> 30);
        let s = (p18 & 15) << 2;
        let w = -1;
        if (keyLo[s] === p18 && keyHi[s] === 0) w = s;
        else if (keyLo[s + 1] === p18 && keyHi[s + 1] === 0) w = s + 1;
        else if (keyLo[s + 2] === p18 && keyHi[s + 2] === 0) w = s + 2;
        else if (keyLo[s + 3] === p18 && keyHi[s + 3] === 0) w = s + 3;
        if (w < 0) {
          const p9 = (hi << 11) | (lo >>> 21);
          s = (p9 & 15) << 2;
          if (keyLo[s] === p9 && keyHi[s] === 1) w = s;
          else if (keyLo[s + 1] === p9 && keyHi[s + 1] === 1) w = s + 1;
          else if (keyLo[s + 2] === p9 && keyHi[s + 2] === 1) w = s + 2;
          else if (keyLo[s + 3] === p9 && keyHi[s + 3] === 1) w = s + 3;
          if (w < 0) {
            const p0 = (hi << 20) | (lo >>> 12);
            const k0 = ((hi >>> 12) << 2) | 2;
            s = (p0 & 15) << 2;
            if (keyLo[s] === p0 && keyHi[s] === k0) w = s;
            else if (keyLo[s + 1] === p0 && keyHi[s + 1] === k0) w = s + 1;
            else if (keyLo[s + 2] === p0 && keyHi[s + 2] === k0) w = s + 2;
            else if (keyLo[s + 3] === p0 && keyHi[s + 3] === k0) w = s + 3;
          }
        }
        if (w >= 0) {
          stamp[w] = ++clock;
          hits++;
          continue;
        }
        // Walk: level 4 .. 1, indices from the iova's words.
        let k = (root << 9) + ((hi >>> 7) & 511);
        let p = ptr[k];
        let order = -1;
        if (p > 0) {
          k = (p << 9) + (((hi << 2) | (lo >>> 30)) & 511);
          p = ptr[k];
          if (p > 0) {
            k = (p << 9) + ((lo >>> 21) & 511);
            p = ptr[k];
            if (p > 0) {
              k = (p << 9) + ((lo >>> 12) & 511);
              p = ptr[k];
            }
          }
        }
        if (p < 0) order = -p - 1;
        if (order < 0) {
          faults++;
          continue;
        }
        // Fill at the leaf's order: its page, set and key.
        let page: number;
        let kh: number;
        if (order === 18) {
          page = (hi << 2) | (lo >>> 30);
          kh = 0;
        } else if (order === 9) {
          page = (hi << 11) | (lo >>> 21);
          kh = 1;
        } else {
          page = (hi << 20) | (lo >>> 12);
          kh = ((hi >>> 12) << 2) | 2;
        }
        s = (page & 15) << 2;
        // First invalid way, else the smallest stamp (first of equals).
        if (keyHi[s] < 0) w = s;
        else if (keyHi[s + 1] < 0) w = s + 1;
        else if (keyHi[s + 2] < 0) w = s + 2;
        else if (keyHi[s + 3] < 0) w = s + 3;
        else {
          w = s;
          let best = stamp[s];
          if (stamp[s + 1] < best) {
            best = stamp[s + 1];
            w = s + 1;
          }
          if (stamp[s + 2] < best) {
            best = stamp[s + 2];
            w = s + 2;
          }
          if (stamp[s + 3] < best) w = s + 3;
        }
        const phLo = pLo[k];
        keyLo[w] = page;
        keyHi[w] = kh;
        physLo[w] = phLo;
        physHi[w] = this.pHi[k];
        stamp[w] = ++clock;
        // The walk's result: base pfn's low word, the leaf's physical pfn, its order.
        const baseLo = order === 0 ? page : page << order;
        cs = (Math.imul(cs, 31) + (phLo ^ baseLo) + order) | 0;
      } else if (o === 2) {
        c.maps++;
        const sLo = size[2 * i];
        const sHi = size[2 * i + 1];
        if (sHi === 0 && sLo >>> 12 === 1 && hi < HI_LIMIT) {
          // One page (every remap): one walk, as the generic anyLeafIn does.
          let p = ptr[(root << 9) + ((hi >>> 7) & 511)];
          if (p > 0) {
            p = ptr[(p << 9) + (((hi << 2) | (lo >>> 30)) & 511)];
            if (p > 0) {
              p = ptr[(p << 9) + ((lo >>> 21) & 511)];
              if (p > 0) p = ptr[(p << 9) + ((lo >>> 12) & 511)];
            }
          }
          if (p < 0) {
            c.mapsSkipped++;
            continue;
          }
          // Into a hole: one 4K leaf (iommu_pgsize's answer for one page).
          this.install0(lo, hi, paddr[2 * i], paddr[2 * i + 1]);
          ptr = this.ptr; // the table may have grown
          pLo = this.pLo;
          continue;
        }
        this.map(lo, hi, sLo, sHi, paddr[2 * i], paddr[2 * i + 1]);
        ptr = this.ptr; // the table may have grown
        pLo = this.pLo;
      }
    }
    this.clock = clock;
    c.dma += dma;
    c.hits += hits;
    c.misses += dma - hits;
    c.faults += faults;
    c.checksum = cs;
  }

  /** Installs one 4K leaf at the iova's pfn (below 2^36), on int32 words as the walk. */
  private install0(lo: number, hi: number, aLo: number, aHi: number): void {
    let k = (this.root << 9) + ((hi >>> 7) & 511);
    let p = this.ptr[k];
    if (p === 0) {
      p = this.allocTable();
      this.ptr[k] = p; // after the call: allocTable may replace ptr
    }
    k = (p << 9) + (((hi << 2) | (lo >>> 30)) & 511);
    p = this.ptr[k];
    if (p === 0) {
      p = this.allocTable();
      this.ptr[k] = p;
    }
    k = (p << 9) + ((lo >>> 21) & 511);
    p = this.ptr[k];
    if (p === 0) {
      p = this.allocTable();
      this.ptr[k] = p;
    }
    k = (p << 9) + ((lo >>> 12) & 511);
    this.ptr[k] = -1;
    this.pLo[k] = (aHi << 20) | (aLo >>> 12);
    this.pHi[k] = aHi >>> 12;
    this.c.leaves++;
  }

  /**
   * A map row that is not one page over a mapped one (cold: the initial maps
   * and the rare remap into a hole): skipped when a leaf overlaps it, else
   * split as iommu_pgsize() does and installed. pfns as doubles here (exact
   * below 2^53); `& 511` is exact on them as they are below 2^36.
   */
  private map(iLo: number, iHi: number, sLo: number, sHi: number, aLo: number, aHi: number): void {
    const c = this.c;
    let pfn = iHi * 1048576 + (iLo >>> 12);
    let pages = sHi * 1048576 + (sLo >>> 12);
    let phys = aHi * 1048576 + (aLo >>> 12);
    if (pfn >= 68719476736 || pages === 0) return; // 2^36: outside the table (see the header)
    if (this.anyLeafIn(pfn, Math.min(pfn + pages, 68719476736))) {
      c.mapsSkipped++;
      return;
    }
    while (pages > 0) {
      // iommu_pgsize over orders 18, 9, 0.
      const maxBySize = floorLog2(pages);
      const align = Math.min(alignmentOrder(pfn), alignmentOrder(phys));
      const order = maxBySize >= 18 && align >= 18 ? 18 : maxBySize >= 9 && align >= 9 ? 9 : 0;
      let size = pages;
      if (order !== 18) {
        const next = order === 9 ? 18 : 9;
        const nextSize = POW2[next];
        const iovaOff = pfn - Math.floor(pfn / nextSize) * nextSize;
        if (iovaOff === phys - Math.floor(phys / nextSize) * nextSize) {
          const offset = nextSize - iovaOff;
          if (offset + nextSize <= size) size = offset;
        }
      }
      const step = POW2[order];
      const count = Math.floor(size / step);
      for (let j = 0; j < count; j++) this.install(pfn + j * step, order, phys + j * step);
      c.leaves += count;
      pfn += count * step;
      phys += count * step;
      pages -= count * step;
    }
  }

  /** Whether a leaf overlaps pfns [start, end): descend at each point, skip empty spans. */
  private anyLeafIn(start: number, end: number): boolean {
    const ptr = this.ptr;
    let p = start;
    while (p < end) {
      let table = this.root;
      for (let level = 4; ; level--) {
        const shift = 9 * (level - 1);
        const span = POW2[shift];
        const e = ptr[table * ENTRIES + (Math.floor(p / span) & 511)];
        if (e < 0) return true;
        if (e === 0) {
          p = (Math.floor(p / span) + 1) * span;
          break;
        }
        table = e;
      }
    }
    return false;
  }

  private install(base: number, order: number, phys: number): void {
    const leafLevel = order === 18 ? 3 : order === 9 ? 2 : 1;
    let table = this.root;
    for (let level = 4; level > leafLevel; level--) {
      const k = table * ENTRIES + (Math.floor(base / POW2[9 * (level - 1)]) & 511);
      let p = this.ptr[k];
      if (p === 0) {
        p = this.allocTable();
        this.ptr[k] = p;
      }
      table = p;
    }
    const k = table * ENTRIES + (Math.floor(base / POW2[9 * (leafLevel - 1)]) & 511);
    this.ptr[k] = -(order + 1);
    this.pLo[k] = phys; // ToInt32: its low 32 bits
    this.pHi[k] = Math.floor(phys / 4294967296);
  }
}
