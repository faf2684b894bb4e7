// Multi-level radix page tables for every domain of a replay, in one pool of
// table pages on typed arrays (docs/model.md §2-4, §6, §9.2), in the
// configuration's format (config/tableformat.ts): x86's 9 bits a level over
// 4 KiB table pages, or LPAE's g − 3 bits a level over table pages of the
// granule g. Level 1 holds granule-sized entries; an entry of level L spans
// 2^(granuleOrder + bits·(L−1)) pfns. A leaf of order o sits at level
// floor((o − granuleOrder)/bits)+1; under x86 a size between levels (AMD's any
// power of two) is stored as replicated entries of that level, as AMD's v1
// table does (LPAE bitmaps hold only the granule's leaves). Table pages are
// freed as VT-d's `dma_pte_clear_level()` frees them: when an unmap chunk
// covers a table's whole span; a root lives as long as the replay.
import { POW2, alignDown, isAligned } from '../caches/indexing.js';
import { unlimitedBudget, type MemoryBudget } from '../config/limits.js';
import { x86Format, type TableFormat } from '../config/tableformat.js';

/** Entries of an x86 table page. */
export const ENTRIES = 512;
/** What one table page of `entries` entries holds in the pool: its entries (int32) and their physical pages (float64). */
export function tablePageCostBytes(entries: number): number {
  return entries * (4 + 8);
}
/** An x86 table page's cost (4 KiB of 512 entries). */
export const TABLE_PAGE_COST_BYTES = tablePageCostBytes(ENTRIES);

/** Slots of the pool's walk memo (a power of two): the level-1 tables of 128 2-MiB spans under x86. */
export const WALK_MEMO_SLOTS = 128;
/** Int32s a walk memo slot takes: prefix, root, level-1 table, and one unused, so that a slot never straddles a cache line. */
export const WALK_MEMO_STRIDE = 4;

/** The level (1 = the granule's level) whose entries hold a leaf of `order` in `format` (default x86). */
export function leafLevelOf(order: number, format?: TableFormat): number {
  if (format === undefined) return Math.floor(order / 9) + 1;
  return Math.floor((order - format.granuleOrder) / format.bitsPerLevel) + 1;
}

/** log2 of the pfns an entry of `level` spans in `format`. */
export function levelShift(format: TableFormat, level: number): number {
  return format.granuleOrder + format.bitsPerLevel * (level - 1);
}

/** Receives each leaf a clear removes, once per leaf (not per replica). */
export interface LeafSink {
  leafRemoved(basePfn: number, order: number, physPfn: number): void;
  /**
   * LPAE only: a table entry at the chunk's level is being cleared, its table
   * freed (io-pgtable-arm `__arm_lpae_unmap()`); the leaves under it are
   * reported between beginTable and endTable.
   */
  beginTable?(basePfn: number, spanOrder: number): void;
  endTable?(basePfn: number, spanOrder: number): void;
}

export class PageTablePool {
  readonly format: TableFormat;
  readonly levels: number;
  /** Entries of a table page (format.entries). */
  readonly entries: number;
  /** What a table page costs the budget (tablePageCostBytes). */
  readonly tablePageCostBytes: number;
  private readonly indexMask: number;
  private readonly granuleOrder: number;
  private readonly bitsPerLevel: number;
  /** Per level (1..levels): log2 of the pfns one of its entries spans. */
  private readonly shifts: Int8Array;
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

  /**
   * Set by `lookup`: the leaf's first page, its physical page, and the index
   * of the entry the walk ended at. The pages are NaN before the first leaf
   * found: doubles from the start, so that the first page above 2^30 stored
   * changes no representation and so not the pool's map (which deoptimized
   * the narrow DMA run that reads the pool, model/specialize.ts).
   */
  foundBase = NaN;
  foundPhys = NaN;
  foundIndex = 0;
  /**
   * The specialized walk's memo of level-1 tables (model/specialize.ts
   * walkSource) lives in `ptr` where table 0's entries would be (table id 0
   * is never a table; every format's table page holds at least the memo's
   * 512 int32s): the walk then reads one array fewer, which V8's compiled
   * loop would check again in every iteration. WALK_MEMO_SLOTS slots of
   * WALK_MEMO_STRIDE int32s, slot `prefix & (WALK_MEMO_SLOTS - 1)` holding
   * the prefix (the pfn above the level-1 table's span), the root the walk
   * started at, and the level-1 table it reached, or, when the walk ended at
   * level 2 (a leaf of that level, as a 2M page under x86), that entry's
   * index as -index - 1: the walk takes that table, or reads that entry
   * again (it may hold a table since), instead of reading the levels above
   * it. A path of tables changes only
   * when a table is freed (an entry above level 1 holds a table until
   * freeSubtree frees it; allocations add paths and change none), so the
   * memo is good while `walkMemoFreed` is `freedTables` (resetWalkMemo).
   * Roots are never freed. `freedTables`: table pages freed so far;
   * `walkMemoFreed`: its value when the memo was last emptied.
   */
  freedTables = 0;
  walkMemoFreed = 0;

  /** Set by `lookup` when it finds no leaf: the level (1 = the granule's) and the index of the empty entry the walk stopped at; level 0 when the walk did not reach one. */
  emptyLevel = 0;
  emptyIndex = 0;

  /**
   * The pool's arrays are charged to `budget` as they are allocated
   * (tablePageCostBytes a table page of capacity: under LPAE a 64K-granule
   * table page of 8192 entries costs 16 times an x86 one): they double as
   * tables are needed, but never past what the budget has room for.
   * `format` is a level count for the x86 format, or the configuration's
   * format; `initialTables` counts x86-sized pages (fewer larger ones).
   */
  constructor(
    format: number | TableFormat,
    initialTables = 64,
    private readonly budget: MemoryBudget = unlimitedBudget(),
  ) {
    const f = typeof format === 'number' ? x86Format(format) : format;
    this.format = f;
    this.levels = f.levels;
    // Small integers (| 0): an LPAE format's entries come as 2 ** bits, a heap
    // number, and an entry index made from a heap number in the interpreter is
    // one too: stored in `foundIndex` it changed that field to a double, and
    // so the pool's map, which deoptimized the code that had read the pool
    // ("wrong map", in mapping.ts's anyFewMapped and in spareTables).
    this.entries = f.entries | 0;
    this.tablePageCostBytes = tablePageCostBytes(f.entries);
    this.indexMask = this.entries - 1;
    this.granuleOrder = f.granuleOrder;
    this.bitsPerLevel = f.bitsPerLevel;
    this.shifts = Int8Array.from({ length: f.levels + 1 }, (_, l) => (l === 0 ? 0 : levelShift(f, l)));
    this.limitPfn = POW2[f.limitOrder];
    const tables = Math.max(2, Math.ceil((initialTables * ENTRIES) / f.entries));
    budget.charge(tables * this.tablePageCostBytes, 'the page-table pool');
    this.capacity = tables;
    this.ptr = new Int32Array(tables * f.entries);
    if (this.entries < WALK_MEMO_SLOTS * WALK_MEMO_STRIDE) throw new Error('internal: the walk memo does not fit in table 0 of the page-table pool');
    this.resetWalkMemo();
    this.phys = new Float64Array(tables * f.entries);
  }

  /** The level whose entries hold a leaf of `order`. */
  leafLevel(order: number): number {
    return Math.floor((order - this.granuleOrder) / this.bitsPerLevel) + 1;
  }

  /** Table pages that can be allocated without growing the pool. */
  get spareTables(): number {
    return this.capacity - this.nextId + this.freeIds.length;
  }

  /**
   * Bytes the budget must still give for `tables` more table pages (0 when
   * the pool has room for them): growing allocates the whole new arrays while
   * the old ones are held (growTo), so the new capacity counts in full.
   */
  bytesFor(tables: number): number {
    const extra = tables - this.spareTables;
    return extra > 0 ? (this.capacity + extra) * this.tablePageCostBytes : 0;
  }

  /** Grows the pool at once so that `tables` more table pages need no growth (the budget was asked: bytesFor). */
  reserve(tables: number): void {
    const extra = tables - this.spareTables;
    if (extra > 0) this.growTo(this.capacity + extra);
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

  /**
   * Grows the arrays to at least `tables` table pages: double, as far as the
   * budget has room. While the arrays are copied the old ones and the new ones
   * are held at once, so the new ones are charged in full before the old ones
   * are released: the budget bounds that peak too (a refusal at the default
   * limit once peaked at 1.7 GB), at the cost of a pool that can use only
   * about half to two thirds of the limit.
   */
  private growTo(tables: number): void {
    const oldBytes = this.capacity * this.tablePageCostBytes;
    const roomTables = Math.floor(this.budget.room / this.tablePageCostBytes);
    const cap = Math.max(tables, Math.min(this.capacity * 2, roomTables));
    this.budget.regrow(cap * this.tablePageCostBytes, oldBytes, 'the page-table pool', () => {
      const ptr = new Int32Array(cap * this.entries);
      ptr.set(this.ptr);
      const phys = new Float64Array(cap * this.entries);
      phys.set(this.phys);
      this.ptr = ptr;
      this.phys = phys;
      this.capacity = cap;
    });
  }

  private freeTable(id: number): void {
    this.ptr.fill(0, id * this.entries, (id + 1) * this.entries);
    this.freedTables++;
    this.freeIds.push(id);
    this.alive--;
  }

  /** Empties the walk memo: a table recorded in it may have been freed since. */
  resetWalkMemo(): void {
    this.ptr.fill(-1, 0, WALK_MEMO_SLOTS * WALK_MEMO_STRIDE);
    this.walkMemoFreed = this.freedTables;
  }

  newRoot(): number {
    return this.allocTable();
  }

  /** Index of `pfn` in a table of `level` (1 = the granule's level). */
  private index(pfn: number, level: number): number {
    const shift = this.shifts[level];
    return (pfn < 4294967296 && shift < 32 ? pfn >>> shift : Math.floor(pfn / POW2[shift])) & this.indexMask;
  }

  /**
   * The leaf covering `pfn`: returns its order, or -1 when none, and sets
   * `foundBase` (pfn of the leaf's first page) and `foundPhys`.
   */
  lookup(root: number, pfn: number): number {
    if (pfn >= this.limitPfn) return -1;
    const ptr = this.ptr;
    const small = pfn < 4294967296;
    const shifts = this.shifts;
    const n = this.entries;
    const mask = this.indexMask;
    let table = root;
    for (let level = this.levels; level >= 1; level--) {
      const shift = shifts[level];
      // 32-bit fast path of index(): pfn >>> shift is 0 for shifts of 32 and more.
      const idx = small ? (shift < 32 ? (pfn >>> shift) & mask : 0) : this.index(pfn, level);
      const k = table * n + idx;
      const p = ptr[k];
      if (p === 0) {
        this.emptyLevel = level;
        this.emptyIndex = k;
        return -1;
      }
      if (p < 0) {
        const order = -p - 1;
        this.foundBase = alignDown(pfn, order);
        this.foundPhys = this.phys[k];
        this.foundIndex = k;
        return order;
      }
      table = p;
    }
    this.emptyLevel = 0;
    return -1;
  }

  /**
   * The index in `ptr` of `pfn`'s level-1 entry (the granule's level) under
   * `root`, or -1 when the walk reaches no level-1 table (an empty entry or a
   * leaf above it) or `pfn` is past the limit: `lookup`'s walk, for a caller
   * that reads the entry itself (the batch loop's few-pages maps and unmaps,
   * model/batchloop.ts: an empty entry is lookup's emptyLevel 1, a leaf of
   * the granule is its order granuleOrder). Below 2^31 through the walk memo,
   * as the specialized walk (resetWalkMemo): the level-1 table of the page's
   * prefix under this root without reading the levels above, recorded after
   * a walk that reached it.
   */
  level1Entry(root: number, pfn: number): number {
    if (pfn >= this.limitPfn) return -1;
    const ptr = this.ptr;
    const n = this.entries;
    const memo = pfn < 2147483648 && this.levels >= 2;
    let pre = 0;
    let ms = 0;
    if (memo) {
      if (this.walkMemoFreed !== this.freedTables) this.resetWalkMemo();
      pre = pfn >> this.shifts[2];
      ms = (pre & (WALK_MEMO_SLOTS - 1)) * WALK_MEMO_STRIDE;
      const t = ptr[ms + 2];
      if (ptr[ms] === pre && ptr[ms + 1] === root && t > 0) return t * n + ((pfn >>> this.shifts[1]) & this.indexMask);
    }
    let table = root;
    for (let level = this.levels; level >= 2; level--) {
      const p = ptr[table * n + this.index(pfn, level)];
      if (p <= 0) return -1;
      table = p;
    }
    if (memo) {
      ptr[ms] = pre;
      ptr[ms + 1] = root;
      ptr[ms + 2] = table;
    }
    return table * n + this.index(pfn, 1);
  }

  /**
   * Installs a leaf of one granule at the empty level-1 entry `k` that a
   * `lookup` of its page found (`emptyIndex` with `emptyLevel` 1: its tables
   * exist), without walking again: `install` of that leaf.
   */
  installGranuleAt(k: number, physPfn: number): void {
    this.ptr[k] = -(this.granuleOrder + 1);
    this.phys[k] = physPfn;
  }

  /**
   * Removes the leaf of one granule at entry `k` that a `lookup` found
   * (`foundIndex`, order granuleOrder): `clearLeafAt` of that leaf, which has
   * no replicas, without its sink.
   */
  clearGranuleAt(k: number): void {
    this.ptr[k] = 0;
  }

  /** Memory accesses of a walk that ends at a leaf of `order`: one per level down to the leaf's (docs/model.md §6 step 3, §9.2). */
  walkAccesses(order: number): number {
    return this.levels - this.leafLevel(order) + 1;
  }

  /** Whether any leaf overlaps pfns [start, end). */
  anyLeafIn(root: number, start: number, end: number): boolean {
    if (start >= this.limitPfn) return false;
    if (end - start === 1) return this.lookup(root, start) >= 0; // one page: one walk
    return this.anyLeafInTable(root, this.levels, 0, start, Math.min(end, this.limitPfn));
  }

  private anyLeafInTable(table: number, level: number, tableBase: number, start: number, end: number): boolean {
    const span = POW2[this.shifts[level]];
    const i0 = Math.max(0, Math.floor((start - tableBase) / span));
    const i1 = Math.min(this.indexMask, Math.floor((end - 1 - tableBase) / span));
    for (let i = i0; i <= i1; i++) {
      const p = this.ptr[table * this.entries + i];
      if (p === 0) continue;
      if (p < 0) return true;
      if (this.anyLeafInTable(p, level - 1, tableBase + i * span, start, end)) return true;
    }
    return false;
  }

  /** Installs a leaf; the caller has checked that nothing overlaps it. */
  install(root: number, basePfn: number, order: number, physPfn: number): void {
    const leafLevel = this.leafLevel(order);
    let table = root;
    for (let level = this.levels; level > leafLevel; level--) {
      const k = table * this.entries + this.index(basePfn, level);
      let p = this.ptr[k];
      if (p === 0) {
        p = this.allocTable();
        this.ptr[k] = p; // ptr may have been reallocated by allocTable: index it afresh
      }
      table = p;
    }
    const replicas = POW2[order - this.shifts[leafLevel]];
    const k0 = table * this.entries + this.index(basePfn, leafLevel);
    const code = -(order + 1);
    const span = POW2[this.shifts[leafLevel]];
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
   * Removes the one leaf of `order` at `basePfn` that a `lookup` of `pfn`
   * found, its entry `k` (`foundIndex`: the unmap has just walked there, and
   * does not walk again). A leaf is smaller than the span of the table that
   * holds it, so no table page can be covered and freed: this is `clear` over
   * exactly that leaf, without the range walk.
   */
  clearLeafAt(k: number, pfn: number, basePfn: number, order: number, sink: LeafSink): void {
    const shift = this.shifts[this.leafLevel(order)];
    // A size between levels is replicated entries (AMD): k is pfn's replica; the leaf's first is basePfn's.
    const k0 = k - Math.floor((pfn - basePfn) / POW2[shift]);
    sink.leafRemoved(basePfn, order, this.phys[k0]);
    const replicas = POW2[order - shift];
    if (replicas === 1)
      this.ptr[k0] = 0; // the usual case: a call to fill costs more than the store
    else this.ptr.fill(0, k0, k0 + replicas);
  }

  /**
   * Removes every leaf within pfns [start, end) (the caller has widened the
   * range to whole leaves) and frees the table pages whose whole span lies in
   * it, reporting each removed leaf once.
   */
  clear(root: number, start: number, end: number, sink: LeafSink, chunkOrder = Infinity): void {
    if (start >= this.limitPfn) return;
    // VT-d frees every table whose span the range covers; io-pgtable-arm only
    // the tables it meets as entries of the chunk's level (a table emptied
    // leaf by leaf stays), and tells the sink (§9.2, §9.3).
    this.tableChunkOrder = this.format.kind === 'lpae' ? chunkOrder : Infinity;
    this.clearTable(root, this.levels, 0, start, Math.min(end, this.limitPfn), sink);
  }

  /** clear's chunk order under LPAE (Infinity: free every covered table, as VT-d). */
  private tableChunkOrder = Infinity;

  private clearTable(table: number, level: number, tableBase: number, start: number, end: number, sink: LeafSink): void {
    const span = POW2[this.shifts[level]];
    const i0 = Math.max(0, Math.floor((start - tableBase) / span));
    const i1 = Math.min(this.indexMask, Math.floor((end - 1 - tableBase) / span));
    for (let i = i0; i <= i1; i++) {
      const k = table * this.entries + i;
      const p = this.ptr[k];
      if (p === 0) continue;
      const entryBase = tableBase + i * span;
      if (p < 0) {
        const order = -p - 1;
        if (isAligned(entryBase, order)) sink.leafRemoved(entryBase, order, this.phys[k]);
        this.ptr[k] = 0;
      } else if (start <= entryBase && entryBase + span <= end && this.shifts[level] <= this.tableChunkOrder) {
        if (this.tableChunkOrder !== Infinity) {
          const shift = this.shifts[level];
          sink.beginTable?.(entryBase, shift);
          this.freeSubtree(p, level - 1, entryBase, sink);
          this.ptr[k] = 0;
          sink.endTable?.(entryBase, shift);
        } else {
          this.freeSubtree(p, level - 1, entryBase, sink);
          this.ptr[k] = 0;
        }
      } else {
        this.clearTable(p, level - 1, entryBase, start, end, sink);
      }
    }
  }

  private freeSubtree(table: number, level: number, tableBase: number, sink: LeafSink | null): void {
    const span = POW2[this.shifts[level]];
    for (let i = 0; i < this.entries; i++) {
      const k = table * this.entries + i;
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
