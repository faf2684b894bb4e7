// Map and unmap (docs/model.md §3, §4): the page tables' leaves of each
// domain, the unmap's chunks handed to the invalidation's gather, and the
// IOTLB entries of removed leaves stamped with the unmap's time (the start
// of their stale window).
import type { PartialUnmap } from '../config/config.js';
import { POW2, isAligned } from '../caches/indexing.js';
import type { Iotlb } from '../caches/iotlb.js';
import type { Invalidator } from '../invalidation/invalidator.js';
import { DOMAIN_FIELDS, M, ORDERS, type Counters } from '../stats/counters.js';
import { pfnOf } from '../trace/batch.js';
import { T_NESTED, T_PAGING, T_SVA } from '../trace/domain-codes.js';
import type { Attachments } from './attachments.js';
import type { LeafSink, PageTablePool } from './pagetable.js';
import { isOne4kChunk, isOne4kPage, pgsize, pgsizeOut, splitRange } from './pgsize.js';
import type { Rows } from './rows.js';
import type { MemoryBudget } from '../config/limits.js';
import { mapTablePages, tableMemoryError } from './tablememory.js';

const PARTIAL_WHOLE = 0;
const PARTIAL_REJECT = 1;
const PARTIAL_SPLIT = 2;
const PARTIAL_CODES: Record<PartialUnmap, number> = { 'whole-leaf': PARTIAL_WHOLE, reject: PARTIAL_REJECT, split: PARTIAL_SPLIT };

/**
 * The most 4 KiB pages a map or unmap may have and take the few-pages path
 * (fewPages): a NIC's buffers are one to four pages. Far below a level-1
 * table's 512 entries, so such a range never covers a whole table page.
 */
export const FEW_PAGES_MAX = 16;

/** Whether `size` pages take the few-pages paths: at most FEW_PAGES_MAX, one chunk of 4K pages for `iommu_pgsize()` (pgsize.ts isOne4kChunk). */
function isFew4kPages(orders: Int8Array, size: number): boolean {
  return size <= FEW_PAGES_MAX && isOne4kChunk(orders, size);
}

export class Mapping implements LeafSink {
  private readonly partialUnmap: number;

  // The unmap in progress (LeafSink context).
  private curDomain = 0;
  private curRemovedAny = false;
  private curNowNs = 0;
  private splitting = false;
  /** Inside a table entry that the unmap clears (LPAE): its leaves are flushed with it, not gathered. */
  private inTable = false;
  /** The vendor gathers each removed leaf, not each chunk (§9.3 smmuv3). */
  private readonly gathersLeaves: boolean;
  /** Split mode with a leaf gather: the tail leaf's removed part [s, e) and its physical pfn, gathered after the chunk's other leaves (address order). */
  private tailPieceStart = -1;
  private tailPieceEnd = 0;
  private tailPiecePhys = 0;
  /** The vendor's tags that outlive attachments (invalidation/vendor.ts `keptTags`), or undefined. */
  private readonly keptTags: ((domain: number) => readonly number[]) | undefined;
  /** The vendor's maps send commands (decided once: invalidation/vendor.ts `mapped`). */
  private readonly flushesMaps: boolean;
  /** Lazy mode: maps are checked against the flush queues' IOVAs (Invalidator.mappedLazy). */
  private readonly lazy: boolean;
  /** flushesMaps or lazy: whether a successful map has anything to do after it (one test a map, as before lazy's). */
  private readonly afterMap: boolean;
  /**
   * With flushesMaps, per domain slot: the pfn range [start, end) of the map
   * operation in progress (its rows so far had map_more set), start -1 when
   * none. Linux flushes once per operation, after its last map
   * (iommu.c `__iommu_map_sg()`: `iotlb_sync_map(domain, iova, mapped)`).
   */
  private readonly mapOpStart: number[] = [];
  private readonly mapOpEnd: number[] = [];
  /** The few-pages paths' table entries, one a page: found by the walks that check the range, used by the changes after them. */
  readonly fewIndex = new Int32Array(FEW_PAGES_MAX);
  /** The few-pages map's pages whose level-1 table exists (their walk stopped at an empty level-1 entry). */
  private readonly fewEmptyAtLeaf = new Uint8Array(FEW_PAGES_MAX);

  constructor(
    private readonly rows: Rows,
    private readonly a: Attachments,
    private readonly pool: PageTablePool,
    private readonly counters: Counters,
    private readonly iotlbs: Iotlb[],
    private readonly inv: Invalidator,
    partialUnmap: PartialUnmap,
    /** What the model's state may hold (--max-table-memory). */
    private readonly budget: MemoryBudget,
    /** Take the fast paths of the common cases (false: the generic path only, their reference). */
    private readonly fast = true,
  ) {
    const code = (PARTIAL_CODES as Partial<Record<string, number>>)[partialUnmap];
    if (code === undefined) throw new Error(`internal: unknown partialUnmap "${partialUnmap}"`);
    this.partialUnmap = code;
    this.gathersLeaves = inv.gathersLeaves;
    this.flushesMaps = inv.flushesMaps;
    this.lazy = inv.queuesUnmaps;
    this.afterMap = this.flushesMaps || this.lazy;
    this.keptTags = inv.vendor.keptTags;
  }

  // ---------------------------------------------------------------- map (§3)

  /** The map at row `row` of the batch, at model time `nowNs`. */
  map(row: number, nowNs: number): void {
    const r = this.rows;
    r.opRow = row;
    const iovaLo = r.iova[2 * row];
    const iovaHi = r.iova[2 * row + 1];
    const paddrLo = r.paddr[2 * row];
    const paddrHi = r.paddr[2 * row + 1];
    const sizeLo = r.size[2 * row];
    const sizeHi = r.size[2 * row + 1];
    const a = this.a;
    const dom = a.domainSlot(r.domain[row]);
    const cm = this.counters.domain;
    const mb = dom * DOMAIN_FIELDS;
    cm[mb + M.mapOps]++;
    // The operation this row continues, taken here so that a map that fails ends it without a flush (Linux unmaps what the call mapped).
    let opStart = -1;
    if (this.flushesMaps && (this.mapOpStart[dom] ?? -1) >= 0) {
      opStart = this.mapOpStart[dom];
      this.mapOpStart[dom] = -1;
    }
    const type = a.domainType[dom];
    if (type !== T_PAGING && type !== T_SVA && type !== T_NESTED) {
      cm[mb + M.mapErrors]++; // EINVAL: not a paging domain
      return;
    }
    const sizes = a.sizesOf(dom);
    const granule = sizes.granuleOrder;
    if (((iovaLo | paddrLo | sizeLo) & 0xfff) !== 0) {
      cm[mb + M.mapErrors]++; // EINVAL: below the 4K granule floor
      return;
    }
    const iova = pfnOf(iovaLo, iovaHi);
    const paddr = pfnOf(paddrLo, paddrHi);
    const size = pfnOf(sizeLo, sizeHi);
    if (!isAligned(iova, granule) || !isAligned(paddr, granule) || !isAligned(size, granule)) {
      cm[mb + M.mapErrors]++; // EINVAL: not granule-aligned
      return;
    }
    if (size === 0) return;
    const root = a.domainRoot[dom];
    const pool = this.pool;
    const orders = sizes.ordersDesc;
    // A few 4K pages (one chunk of 4K pages for iommu_pgsize()): the overlap
    // check is one walk a page (a leaf overlaps the range iff it holds one
    // of its pages), whose empty entry the page goes into when its tables
    // are there.
    const few = this.fast && isFew4kPages(orders, size);
    // Beyond the table's address space (VT-d: the domain's aperture): rejected.
    if (iova + size > pool.limitPfn || (few ? this.anyFewMapped(root, iova, size) : pool.anyLeafIn(root, iova, iova + size))) {
      cm[mb + M.mapErrors]++; // EINVAL (aperture) or EEXIST (overlap): nothing changes
      return;
    }
    // The tables the map may need, checked before any is made (model/tablememory.ts).
    const tables = mapTablePages(pool, orders, iova, paddr, size);
    const need = pool.bytesFor(tables);
    if (!this.budget.fits(need)) throw tableMemoryError(r.firstRow + row, r.domain[row], iova, size, need, this.budget);
    // Made room for in one growth, as checked: growing page by page while the map is made would double the pool
    // several times, each time holding the old arrays and the new, and could stop halfway through the map.
    if (need > 0) pool.reserve(tables);
    cm[mb + M.mapBytes] += size * 4096;
    if (a.domainSizes[dom] < 0) a.domainSizes[dom] = 0; // mapped before any attach: the first instance's
    if (few) {
      // splitRange's one chunk of `size` 4K pages, in address order; a page
      // whose table is missing is installed by a walk that makes it (and may
      // make a later page's: that page was found without one, so walks too).
      const index = this.fewIndex;
      const atLeaf = this.fewEmptyAtLeaf;
      for (let j = 0; j < size; j++) {
        if (atLeaf[j] !== 0) pool.installGranuleAt(index[j], paddr + j);
        else pool.install(root, iova + j, 0, paddr + j);
      }
      this.counters.mapPages[dom * ORDERS] += size;
    } else splitRange(pool, orders, iova, paddr, size, root, this.counters.mapPages, dom * ORDERS);
    if (this.afterMap) this.afterMapped(dom, opStart, iova, size, row, nowNs);
  }

  /** What follows a successful map of pfns [iova, iova + size) of `dom` at row `row`, when anything does (afterMap). */
  private afterMapped(dom: number, opStart: number, iova: number, size: number, row: number, nowNs: number): void {
    // AMD with NpCache flushes what was mapped (§9.3), once per map operation; other vendors' maps send nothing.
    if (this.flushesMaps) this.mappedInOp(dom, opStart, iova, size, row, nowNs);
    if (this.lazy) this.inv.mappedLazy(dom, iova, iova + size);
  }

  /**
   * With flushesMaps, pfns [iova, iova + size) of `dom` were mapped at row
   * `row` in the operation begun at `opStart` (-1: begun by this row): the
   * operation goes on when the row has map_more set, else its range is
   * flushed now.
   */
  private mappedInOp(dom: number, opStart: number, iova: number, size: number, row: number, nowNs: number): void {
    const mapMore = this.rows.mapMore;
    const start = opStart >= 0 ? Math.min(opStart, iova) : iova;
    const end = opStart >= 0 ? Math.max(this.mapOpEnd[dom], iova + size) : iova + size;
    if (mapMore !== undefined && mapMore[row] !== 0) {
      this.mapOpStart[dom] = start;
      this.mapOpEnd[dom] = end;
    } else this.inv.mapped(dom, start, end, nowNs);
  }

  /**
   * Whether a leaf holds one of pfns [iova, iova + size) (a few-pages map's
   * overlap check, pool.anyLeafIn of the range): one walk a page, noting for
   * each page the empty level-1 entry its walk stopped at, if it did.
   */
  private anyFewMapped(root: number, iova: number, size: number): boolean {
    const pool = this.pool;
    for (let j = 0; j < size; j++) {
      if (pool.lookup(root, iova + j) >= 0) return true;
      const atLeaf = pool.emptyLevel === 1;
      this.fewEmptyAtLeaf[j] = atLeaf ? 1 : 0;
      if (atLeaf) this.fewIndex[j] = pool.emptyIndex;
    }
    return false;
  }

  // ---------------------------------------------------------------- unmap (§4)

  /** The unmap at row `row` of the batch, at model time `nowNs`. */
  unmap(row: number, nowNs: number): void {
    const r = this.rows;
    r.opRow = row;
    const iovaLo = r.iova[2 * row];
    const iovaHi = r.iova[2 * row + 1];
    const sizeLo = r.size[2 * row];
    const sizeHi = r.size[2 * row + 1];
    const a = this.a;
    const dom = a.domainSlot(r.domain[row]);
    const cm = this.counters.domain;
    const mb = dom * DOMAIN_FIELDS;
    cm[mb + M.unmapOps]++;
    const type = a.domainType[dom];
    if (type !== T_PAGING && type !== T_SVA && type !== T_NESTED) {
      cm[mb + M.unmapErrors]++;
      return;
    }
    const sizes = a.sizesOf(dom);
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
    const root = a.domainRoot[dom];
    const pool = this.pool;
    // One 4 KiB page whose leaf is that page (most unmaps of a streaming
    // workload): one chunk, one leaf, a gather of one page.
    if (this.fast && isOne4kPage(orders, size) && pool.lookup(root, iova) === 0) {
      this.countRemoved(dom, 0);
      pool.clearGranuleAt(pool.foundIndex);
      // Strict on one attachment (VT-d, AMD): the sync marks the entry
      // markUnmapped would as it removes it (one IOTLB search); a nested
      // domain's entries are not marked, SMMUv3 marks its kept tags too.
      if (type === T_NESTED || this.keptTags !== undefined || !this.inv.syncedUnmapped(dom, iova, iova + 1, nowNs)) {
        this.markUnmapped(dom, iova, 0, nowNs);
        this.inv.unmappedPage(dom, iova, nowNs);
      }
      return;
    }
    // A few 4 KiB pages, each a 4K leaf (a NIC's multi-page buffer): one
    // chunk, whose clear removes those leaves in address order and frees no
    // table (a table page spans 512 pages), then the generic gather.
    if (this.fast && isFew4kPages(orders, size) && this.allFew4kLeaves(root, iova, size)) {
      this.unmapFew(dom, iova, size, nowNs);
      return;
    }
    this.unmapChunks(dom, root, orders, iova, size, nowNs);
  }

  /** Unmaps the few 4K leaves at pfns [iova, iova + size) that allFew4kLeaves found (fewIndex); also the batch loop's (batchloop.ts). */
  unmapFew(dom: number, iova: number, size: number, nowNs: number): void {
    const pool = this.pool;
    const index = this.fewIndex;
    const inv = this.inv;
    const leaves = this.gathersLeaves;
    // A chunk gather (VT-d, AMD) of a domain whose entries are marked: the strict sync marks them as it removes
    // them (Invalidator.syncedUnmapped), one IOTLB search a page where the marks took one more.
    const markInSync = !leaves && this.a.domainType[dom] !== T_NESTED && this.keptTags === undefined;
    inv.beginUnmap();
    for (let j = 0; j < size; j++) {
      // leafRemoved's steps for each leaf, as clear reports them.
      this.countRemoved(dom, 0);
      if (leaves) inv.addLeaf(dom, iova + j, 1, nowNs);
      if (!markInSync) this.markUnmapped(dom, iova + j, 0, nowNs);
      pool.clearGranuleAt(index[j]);
    }
    if (markInSync) {
      if (inv.syncedUnmapped(dom, iova, iova + size, nowNs)) return;
      for (let j = 0; j < size; j++) this.markUnmapped(dom, iova + j, 0, nowNs); // lazy, a nested domain over it...
    }
    if (!leaves) inv.addChunk(dom, iova, size, nowNs);
    inv.endUnmap(dom, true, nowNs, iova, iova + size);
  }

  /**
   * The generic unmap of pfns [iova, iova + size) of `dom` (§4): chunk by
   * chunk as iommu_pgsize() gives them, each chunk's leaves cleared and
   * gathered, partial leaves as the configuration says. Out of unmap() so
   * that its code stays out of the fast paths' (V8 inlines small functions
   * only): the hot unmap's machine code is then a fraction of its size.
   */
  private unmapChunks(dom: number, root: number, orders: Int8Array, iova: number, size: number, nowNs: number): void {
    const pool = this.pool;
    const cm = this.counters.domain;
    const mb = dom * DOMAIN_FIELDS;
    const end = iova + size;
    this.curDomain = dom;
    this.curRemovedAny = false;
    this.curNowNs = nowNs;
    this.inv.beginUnmap();
    // The range the unmap removes leaves from (lazy mode's queue holds it): from its first page, or from the
    // start of the leaf it begins inside (whole-leaf), to where it ends or stops.
    let from = iova;
    let c = iova;
    while (c < end) {
      // One 4K page left: iommu_pgsize() can only give that page.
      const onePage = isOne4kPage(orders, end - c);
      const order = onePage ? 0 : pgsize(orders, c, c, end - c);
      let chunkEnd = onePage ? c + 1 : c + pgsizeOut.count * POW2[order];
      const headOrder = pool.lookup(root, c);
      if (headOrder < 0) {
        cm[mb + M.unmapShort]++; // a hole: stop, keep what earlier chunks removed
        break;
      }
      const headBase = pool.foundBase;
      const headPhys = pool.foundPhys;
      const headIndex = pool.foundIndex;
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
          if (headSticks) clearStart = from = headBase; // only the first chunk can begin inside a leaf
          if (tailSticks) chunkEnd = tailBase + POW2[tailOrder];
        } else {
          if (headSticks) this.splitLeaf(dom, root, orders, headBase, headOrder, headPhys, c, chunkEnd, false);
          if (tailSticks && !(headSticks && tailBase === headBase)) this.splitLeaf(dom, root, orders, tailBase, tailOrder, tailPhys, c, chunkEnd, true);
        }
      }
      // The chunk is exactly the head leaf (looked up at c): nothing was
      // split, so the table is as that lookup left it; no second walk.
      if (clearStart === headBase && headBase + POW2[headOrder] === chunkEnd) pool.clearLeafAt(headIndex, c, headBase, headOrder, this);
      else pool.clear(root, clearStart, chunkEnd, this, order);
      if (!this.gathersLeaves) this.inv.addChunk(dom, c, chunkEnd - c, nowNs);
      else if (this.tailPieceStart >= 0) {
        this.gatherPieces(dom, orders, this.tailPieceStart, this.tailPiecePhys, this.tailPieceEnd - this.tailPieceStart);
        this.tailPieceStart = -1;
      }
      c = chunkEnd;
    }
    this.inv.endUnmap(dom, this.curRemovedAny, nowNs, from, c);
  }

  /** Whether every page of pfns [iova, iova + size) is a 4K leaf; notes their entries (fewIndex). */
  private allFew4kLeaves(root: number, iova: number, size: number): boolean {
    const pool = this.pool;
    for (let j = 0; j < size; j++) {
      if (pool.lookup(root, iova + j) !== 0) return false;
      this.fewIndex[j] = pool.foundIndex;
    }
    return true;
  }

  /**
   * Arm before v6.13 (`arm_lpae_split_blk_unmap`): the leaf is replaced by
   * smaller allowed pages and only its part inside [s, e) is removed.
   */
  private splitLeaf(dom: number, root: number, orders: Int8Array, base: number, order: number, phys: number, s: number, e: number, tail: boolean): void {
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
    if (!this.gathersLeaves) return;
    // The removed part's pages are gathered as leaves, in address order: the
    // head's now, the tail's after the chunk's other leaves.
    if (!tail) this.gatherPieces(dom, orders, rs, phys + (rs - base), re - rs);
    else {
      this.tailPieceStart = rs;
      this.tailPieceEnd = re;
      this.tailPiecePhys = phys + (rs - base);
    }
  }

  /** Gathers the pages iommu_pgsize() splits pfns [iova, iova + size) -> phys into, one leaf each (§9.3 smmuv3). */
  private gatherPieces(dom: number, orders: Int8Array, iova: number, phys: number, size: number): void {
    let at = iova;
    let pa = phys;
    let left = size;
    while (left > 0) {
      const order = pgsize(orders, at, pa, left);
      const count = pgsizeOut.count;
      const len = POW2[order];
      for (let j = 0; j < count; j++) this.inv.addLeaf(dom, at + j * len, len, this.curNowNs);
      at += count * len;
      pa += count * len;
      left -= count * len;
    }
  }

  /** LeafSink (LPAE): a table entry of the chunk's level is cleared (io-pgtable-arm `__arm_lpae_unmap()` finds a table). */
  beginTable(): void {
    this.inTable = true;
  }

  /** LeafSink (LPAE): the table is gone; `io_pgtable_tlb_flush_walk()` over its span goes out now (6.1: its leaves are not gathered). */
  endTable(basePfn: number, spanOrder: number): void {
    this.inTable = false;
    this.inv.flushWalk(this.curDomain, basePfn, basePfn + POW2[spanOrder], this.curNowNs);
  }

  /** LeafSink: a leaf of the current unmap's domain is gone. */
  leafRemoved(basePfn: number, order: number): void {
    const dom = this.curDomain;
    this.curRemovedAny = true;
    if (!this.splitting) {
      this.countRemoved(dom, order);
      // io-pgtable-arm gathers each cleared leaf with its size (§9.3 smmuv3).
      if (this.gathersLeaves && !this.inTable) this.inv.addLeaf(dom, basePfn, POW2[order], this.curNowNs);
    }
    this.markUnmapped(dom, basePfn, order, this.curNowNs);
  }

  /** A whole leaf of `order` removed from `dom`: unmap.bytes is what was really removed, whole leaves (report.md). */
  private countRemoved(dom: number, order: number): void {
    this.counters.unmapPages[dom * ORDERS + order]++;
    this.counters.domain[dom * DOMAIN_FIELDS + M.unmapBytes] += POW2[order] * 4096;
  }

  /**
   * Marks the IOTLB entries of `dom`'s removed leaf with the unmap time: the
   * stale window starts now. Not for S1 leaves: combined entries are smaller
   * than their S1 leaf or lie in another S2 leaf, so the window is measured
   * on paging and SVA entries only (docs/nested.md).
   */
  private markUnmapped(dom: number, basePfn: number, order: number, nowNs: number): void {
    const a = this.a;
    if (a.domainType[dom] === T_NESTED) return;
    if (this.keptTags !== undefined) {
      // SMMUv3: also the entries of the SMMUs it is no longer attached behind.
      const kept = this.keptTags(dom);
      for (let k = 0; k < kept.length; k += 2) this.iotlbs[kept[k]].markUnmapped(kept[k + 1], basePfn, order, nowNs);
      return;
    }
    const atts = a.domainAttachments[dom];
    for (let k = 0; k < atts.length; k++) {
      this.iotlbs[a.deviceInstance[a.attDevice[atts[k]]]].markUnmapped(a.attTag[atts[k]], basePfn, order, nowNs);
    }
  }
}
