// Multi-level radix page tables, 9 bits a level over 4 KiB table pages, for
// every domain of a replay, in one pool of table pages on typed arrays
// (docs/model.md §2-4, §6). A leaf of order o (size 2^(o+12)) sits at level
// floor(o/9)+1; a size between levels (Arm's 64K, AMD's any power of two) is
// stored as 2^(o mod 9) replicated entries of that level, as AMD's v1 table
// does. Table pages are freed as VT-d's `dma_pte_clear_level()` frees them:
// when an unmap chunk covers a table's whole span; a root lives as long as the
// replay.
import { POW2, alignDown, isAligned } from '../caches/indexing.js';
import { unlimitedBudget, type MemoryBudget } from '../config/limits.js';

export const ENTRIES = 512;
/** What one table page holds in the pool: its entries (int32) and their physical pages (float64). */
export const TABLE_PAGE_COST_BYTES = ENTRIES * (4 + 8);

/** The level (1 = the 4K-entry level) whose entries hold a leaf of `order`. */
export function leafLevelOf(order: number): number {
  return Math.floor(order / 9) + 1;
}

/** Receives each leaf a clear removes, once per leaf (not per replica). */
export interface LeafSink {
  leafRemoved(basePfn: number, order: number, physPfn: number): void;
}

export class PageTablePool {
  readonly levels: number;
  /** Pfns at or above this are outside the table's address space. */
  readonly limitPfn: number;
  /** Per entry: 0 empty, > 0 child table id, < 0 leaf of order -ptr-1. */
  /** Read directly by the specialized DMA run (model/specialize.ts); reallocated only by a map. */
  ptr: Int32Array;
  /** Per leaf entry: the physical pfn of the leaf's base. */
  phys: Float64Array;
  private capacity: number;
  private nextId = 1; // table id 0 is never used
  private freeIds: number[] = [];
  /** Table pages alive now, and at most. */
  alive = 0;
  peak = 0;

  /** Set by `lookup`. */
  foundBase = 0;
  foundPhys = 0;

  /**
   * The pool's arrays are charged to `budget` as they are allocated
   * (TABLE_PAGE_COST_BYTES a table page of capacity): they double as tables
   * are needed, but never past what the budget has room for.
   */
  constructor(levels: number, initialTables = 64, private readonly budget: MemoryBudget = unlimitedBudget()) {
    this.levels = levels;
    this.limitPfn = POW2[9 * levels];
    budget.charge(initialTables * TABLE_PAGE_COST_BYTES, 'the page-table pool');
    this.capacity = initialTables;
    this.ptr = new Int32Array(initialTables * ENTRIES);
    this.phys = new Float64Array(initialTables * ENTRIES);
  }

  /** Table pages that can be allocated without growing the pool. */
  get spareTables(): number {
    return this.capacity - this.nextId + this.freeIds.length;
  }

  /** Bytes the budget must still give for `tables` more table pages (0 when the pool has room for them). */
  bytesFor(tables: number): number {
    return Math.max(0, tables - this.spareTables) * TABLE_PAGE_COST_BYTES;
  }

  private allocTable(): number {
    let id = this.freeIds.pop();
    if (id === undefined) {
      id = this.nextId++;
      if (id >= this.capacity) this.growTo(id + 1);
    }
    // Freed tables are cleared when freed, so a reused one is already empty.
    if (++this.alive > this.peak) this.peak = this.alive;
    return id;
  }

  /** Grows the arrays to at least `tables` table pages: double, as far as the budget has room. */
  private growTo(tables: number): void {
    const roomTables = Math.floor(this.budget.room / TABLE_PAGE_COST_BYTES);
    const cap = Math.max(tables, Math.min(this.capacity * 2, this.capacity + roomTables));
    this.budget.charge((cap - this.capacity) * TABLE_PAGE_COST_BYTES, 'the page-table pool');
    const ptr = new Int32Array(cap * ENTRIES);
    ptr.set(this.ptr);
    const phys = new Float64Array(cap * ENTRIES);
    phys.set(this.phys);
    this.ptr = ptr;
    this.phys = phys;
    this.capacity = cap;
  }

  private freeTable(id: number): void {
    this.ptr.fill(0, id * ENTRIES, (id + 1) * ENTRIES);
    this.freeIds.push(id);
    this.alive--;
  }

  newRoot(): number {
    return this.allocTable();
  }

  /** Index of `pfn` in a table of `level` (1 = the 4K-entry level). */
  private index(pfn: number, level: number): number {
    const shift = 9 * (level - 1);
    return (pfn < 4294967296 && shift < 32 ? pfn >>> shift : Math.floor(pfn / POW2[shift])) & 511;
  }

  /**
   * The leaf covering `pfn`: returns its order, or -1 when none, and sets
   * `foundBase` (pfn of the leaf's first page) and `foundPhys`.
   */
  lookup(root: number, pfn: number): number {
    if (pfn >= this.limitPfn) return -1;
    const ptr = this.ptr;
    const small = pfn < 4294967296;
    let table = root;
    for (let level = this.levels; level >= 1; level--) {
      const shift = 9 * (level - 1);
      // 32-bit fast path of index(): pfn >>> shift is 0 for shifts of 32 and more.
      const idx = small ? (shift < 32 ? (pfn >>> shift) & 511 : 0) : this.index(pfn, level);
      const k = table * ENTRIES + idx;
      const p = ptr[k];
      if (p === 0) return -1;
      if (p < 0) {
        const order = -p - 1;
        this.foundBase = alignDown(pfn, order);
        this.foundPhys = this.phys[k];
        return order;
      }
      table = p;
    }
    return -1;
  }

  /** Memory accesses of a walk that ends at a leaf of `order` (docs/model.md §6, step 3). */
  walkAccesses(order: number): number {
    return this.levels - leafLevelOf(order) + 1;
  }

  /** Whether any leaf overlaps pfns [start, end). */
  anyLeafIn(root: number, start: number, end: number): boolean {
    if (start >= this.limitPfn) return false;
    if (end - start === 1) return this.lookup(root, start) >= 0; // one page: one walk
    return this.anyLeafInTable(root, this.levels, 0, start, Math.min(end, this.limitPfn));
  }

  private anyLeafInTable(table: number, level: number, tableBase: number, start: number, end: number): boolean {
    const span = POW2[9 * (level - 1)];
    const i0 = Math.max(0, Math.floor((start - tableBase) / span));
    const i1 = Math.min(ENTRIES - 1, Math.floor((end - 1 - tableBase) / span));
    for (let i = i0; i <= i1; i++) {
      const p = this.ptr[table * ENTRIES + i];
      if (p === 0) continue;
      if (p < 0) return true;
      if (this.anyLeafInTable(p, level - 1, tableBase + i * span, start, end)) return true;
    }
    return false;
  }

  /** Installs a leaf; the caller has checked that nothing overlaps it. */
  install(root: number, basePfn: number, order: number, physPfn: number): void {
    const leafLevel = leafLevelOf(order);
    let table = root;
    for (let level = this.levels; level > leafLevel; level--) {
      const k = table * ENTRIES + this.index(basePfn, level);
      let p = this.ptr[k];
      if (p === 0) {
        p = this.allocTable();
        this.ptr[k] = p; // ptr may have been reallocated by allocTable: index it afresh
      }
      table = p;
    }
    const replicas = POW2[order - 9 * (leafLevel - 1)];
    const k0 = table * ENTRIES + this.index(basePfn, leafLevel);
    const code = -(order + 1);
    const span = POW2[9 * (leafLevel - 1)];
    for (let j = 0; j < replicas; j++) {
      // An emptied lower table may still hang here (tables are freed only when
      // an unmap covers them): VT-d's __domain_mapping frees it for the superpage.
      const p = this.ptr[k0 + j];
      if (p > 0) this.freeSubtree(p, leafLevel - 1, basePfn + j * span, null);
      this.ptr[k0 + j] = code;
      this.phys[k0 + j] = physPfn;
    }
  }

  /**
   * Removes the one leaf of `order` at `basePfn` (known to exist). A leaf is
   * smaller than the span of the table that holds it, so no table page can be
   * covered and freed: this is `clear` over exactly that leaf, without the
   * range walk.
   */
  clearLeaf(root: number, basePfn: number, order: number, sink: LeafSink): void {
    const leafLevel = leafLevelOf(order);
    let table = root;
    for (let level = this.levels; level > leafLevel; level--) table = this.ptr[table * ENTRIES + this.index(basePfn, level)];
    const k0 = table * ENTRIES + this.index(basePfn, leafLevel);
    sink.leafRemoved(basePfn, order, this.phys[k0]);
    const replicas = POW2[order - 9 * (leafLevel - 1)];
    if (replicas === 1) this.ptr[k0] = 0; // the usual case: a call to fill costs more than the store
    else this.ptr.fill(0, k0, k0 + replicas);
  }

  /**
   * Removes every leaf within pfns [start, end) (the caller has widened the
   * range to whole leaves) and frees the table pages whose whole span lies in
   * it, reporting each removed leaf once.
   */
  clear(root: number, start: number, end: number, sink: LeafSink): void {
    if (start >= this.limitPfn) return;
    this.clearTable(root, this.levels, 0, start, Math.min(end, this.limitPfn), sink);
  }

  private clearTable(table: number, level: number, tableBase: number, start: number, end: number, sink: LeafSink): void {
    const span = POW2[9 * (level - 1)];
    const i0 = Math.max(0, Math.floor((start - tableBase) / span));
    const i1 = Math.min(ENTRIES - 1, Math.floor((end - 1 - tableBase) / span));
    for (let i = i0; i <= i1; i++) {
      const k = table * ENTRIES + i;
      const p = this.ptr[k];
      if (p === 0) continue;
      const entryBase = tableBase + i * span;
      if (p < 0) {
        const order = -p - 1;
        if (isAligned(entryBase, order)) sink.leafRemoved(entryBase, order, this.phys[k]);
        this.ptr[k] = 0;
      } else if (start <= entryBase && entryBase + span <= end) {
        this.freeSubtree(p, level - 1, entryBase, sink);
        this.ptr[k] = 0;
      } else {
        this.clearTable(p, level - 1, entryBase, start, end, sink);
      }
    }
  }

  private freeSubtree(table: number, level: number, tableBase: number, sink: LeafSink | null): void {
    const span = POW2[9 * (level - 1)];
    for (let i = 0; i < ENTRIES; i++) {
      const k = table * ENTRIES + i;
      const p = this.ptr[k];
      if (p === 0) continue;
      const entryBase = tableBase + i * span;
      if (p < 0) {
        const order = -p - 1;
        if (sink !== null && isAligned(entryBase, order)) sink.leafRemoved(entryBase, order, this.phys[k]);
      } else {
        this.freeSubtree(p, level - 1, entryBase, sink);
      }
    }
    this.freeTable(table);
  }
}
