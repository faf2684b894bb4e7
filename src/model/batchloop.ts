// The batch loop of a strict replay under VT-d or AMD (docs/model.md §3-§6):
// the rows a NIC's trace is made of handled in one loop, with no call per
// row for the common ones, and every other row through the general
// handlers (replay.ts rowLoop's, mapping.ts's). Decided once per replay
// (batchLoopApplies); the property tests in test/model/batchloop.test.ts
// compare it with the general handlers (ReplayLimits.genericMapping).
//
// The common rows, each checked before anything changes, so that a row that
// is not one of them goes to the general handler as if this loop did not
// exist:
// - a DMA run: DmaPath.run, as rowLoop calls it;
// - a map of 1 to FEW_PAGES_MAX 4K pages, one chunk of 4K pages
//   (pgsize.ts isOne4kChunk), none mapped, whose level-1 tables exist, on a
//   vendor whose maps send nothing: mapping.ts map's few-pages path;
// - a strict unmap of 1 to FEW_PAGES_MAX 4K pages, one chunk of 4K pages,
//   each a 4K leaf, of a paging or SVA domain: mapping.ts unmap's one-page
//   and few-pages paths. One page of a domain with one attachment and no
//   nested domain over it takes the vendor's one-page sync inline
//   (removal.ts onePage), its IOTLB entry marked unmapped as the sync
//   removes it; the others go through mapping.ts unmapFew (the gather of
//   that one chunk synced, its pages' entries marked as they are removed).
import type { ReplayConfig } from '../config/config.js';
import { removeUnmappedPage, type Iotlb } from '../caches/iotlb.js';
import type { SetAssocTable } from '../caches/table.js';
import type { Invalidator } from '../invalidation/invalidator.js';
import { DOMAIN_FIELDS, M, ORDERS, type Counters } from '../stats/counters.js';
import { TWO_POW_32 } from '../trace/batch.js';
import { T_PAGING, T_SVA } from '../trace/domain-codes.js';
import { Op } from '../trace/schema.js';
import type { Attachments } from './attachments.js';
import type { DmaPath } from './dma.js';
import { FEW_PAGES_MAX, type Mapping } from './mapping.js';
import type { PageTablePool } from './pagetable.js';
import { isOne4kChunk } from './pgsize.js';
import type { Rows } from './rows.js';

const DMA_READ = Op.DmaRead;
const DMA_WRITE = Op.DmaWrite;
const MAP = Op.Map;
const UNMAP = Op.Unmap;

/** mapping.ts FEW_PAGES_MAX, in bytes. */
const FEW_BYTES_MAX = FEW_PAGES_MAX * 4096;

/**
 * Rows a call of the batch loop (or of replay.ts rowLoop) takes at most
 * during a replay's warm-up (batchWarmUp; Replay.consume cuts the calls).
 * V8 compiles the loop while the first batch runs in the interpreter; a call
 * of a whole batch (65,536 rows) is still running when the code arrives, and
 * V8 compiled the loop a second time to enter that call's loop in progress
 * (on-stack replacement: NIC 5M, as much compile CPU again, 260 ms on a
 * loaded machine, while the first batch went on unoptimized). Short calls
 * take the first code at the next call.
 */
export const BATCH_WARM_ROWS = 16;
/** The short calls a new batch loop makes (BATCH_WARM_ROWS): 2^18 rows at most, which outlast its compile on a loaded machine. */
export const batchWarmUp = { calls: 2 ** 14 };

/** Whether a replay of `config` takes the batch loop: strict, VT-d or AMD, with the fast map and unmap paths. */
export function batchLoopApplies(config: ReplayConfig, genericMapping: boolean, lanes: boolean): boolean {
  return !genericMapping && !lanes && config.invalidation.mode === 'strict' && (config.vendor === 'vtd' || config.vendor === 'amd');
}

export class BatchLoop {
  private readonly flushesMaps: boolean;
  constructor(
    private readonly rows: Rows,
    private readonly a: Attachments,
    /** Its entries are read through it (level1Entry, ptr, installGranuleAt): it grows by replacing its arrays. */
    private readonly pool: PageTablePool,
    private readonly counters: Counters,
    private readonly iotlbs: Iotlb[],
    private readonly walkCaches: SetAssocTable[][],
    private readonly inv: Invalidator,
    private readonly dma: DmaPath,
    private readonly mapping: Mapping,
    /** The other rows (attach, detach, flush): replay.ts Replay.control. */
    private readonly other: (op: number, i: number, now: number) => void,
  ) {
    this.flushesMaps = inv.flushesMaps;
  }

  /**
   * The slot of domain `id` when a map or unmap of `size` 4K pages (1 to
   * FEW_PAGES_MAX) of it may take this loop's way: a paging or SVA domain
   * with a 4K granule, whose `size` pages are one chunk of 4K pages for
   * `iommu_pgsize()` (pgsize.ts isOne4kChunk); else -1.
   */
  private fewPagesDomain(id: number, size: number): number {
    const a = this.a;
    const dom = a.domainSlot(id);
    const type = a.domainType[dom];
    if (type !== T_PAGING && type !== T_SVA) return -1;
    const sizes = a.sizesOf(dom);
    return sizes.granuleOrder === 0 && isOne4kChunk(sizes.ordersDesc, size) ? dom : -1;
  }

  run(from: number, n: number, ts: Uint32Array, op: Uint8Array, baseHi: number, baseLo: number): void {
    const inv = this.inv;
    const dma = this.dma;
    const mapping = this.mapping;
    const rows = this.rows;
    const domain = rows.domain;
    const iovaCol = rows.iova;
    const sizeCol = rows.size;
    const paddrCol = rows.paddr;
    const a = this.a;
    const pool = this.pool;
    const counters = this.counters;
    const flushesMaps = this.flushesMaps;
    // The pages' table entries, found by the walks that check them: Mapping's scratch (mapping.ts fewIndex), which unmapFew reads.
    const index = mapping.fewIndex;
    for (let i = from; i < n; i++) {
      const now = (ts[2 * i + 1] - baseHi) * TWO_POW_32 + (ts[2 * i] - baseLo);
      if (now >= inv.nextDeadline) inv.fireTimeouts(now);
      const o = op[i];
      if (o === DMA_READ || o === DMA_WRITE) {
        i = dma.run(i, n, op, ts, baseHi, baseLo) - 1;
        continue;
      }
      if (o === MAP) {
        fast: {
          if (flushesMaps) break fast;
          const iovaLo = iovaCol[2 * i];
          const paddrLo = paddrCol[2 * i];
          const sizeLo = sizeCol[2 * i];
          if (sizeCol[2 * i + 1] !== 0 || sizeLo > FEW_BYTES_MAX || sizeLo === 0 || ((iovaLo | paddrLo | sizeLo) & 0xfff) !== 0) break fast;
          const size = sizeLo >>> 12;
          const dom = this.fewPagesDomain(domain[i], size);
          if (dom < 0) break fast;
          const iova = iovaCol[2 * i + 1] * 1048576 + (iovaLo >>> 12);
          if (iova + size > pool.limitPfn || pool.spareTables < 2 * pool.levels) break fast;
          const root = a.domainRoot[dom];
          let j = 0;
          for (; j < size; j++) {
            // An empty level-1 entry: lookup's -1 with emptyLevel 1.
            const k = pool.level1Entry(root, iova + j);
            if (k < 0 || pool.ptr[k] !== 0) break;
            index[j] = k;
          }
          if (j < size) break fast;
          rows.opRow = i;
          // Read here, not once a call: a domain's first row (fewPagesDomain's slot, or any handler's) may grow the counters into a new array (Counters.ensureDomains).
          const cm = counters.domain;
          const mb = dom * DOMAIN_FIELDS;
          cm[mb + M.mapOps]++;
          cm[mb + M.mapBytes] += size * 4096;
          if (a.domainSizes[dom] < 0) a.domainSizes[dom] = 0;
          const paddr = paddrCol[2 * i + 1] * 1048576 + (paddrLo >>> 12);
          for (let k = 0; k < size; k++) pool.installGranuleAt(index[k], paddr + k);
          counters.mapPages[dom * ORDERS] += size;
          continue;
        }
        mapping.map(i, now);
        continue;
      }
      if (o === UNMAP) {
        fast: {
          const iovaLo = iovaCol[2 * i];
          const sizeLo = sizeCol[2 * i];
          if (sizeCol[2 * i + 1] !== 0 || sizeLo > FEW_BYTES_MAX || sizeLo === 0 || ((iovaLo | sizeLo) & 0xfff) !== 0) break fast;
          const size = sizeLo >>> 12;
          const dom = this.fewPagesDomain(domain[i], size);
          if (dom < 0) break fast;
          const iova = iovaCol[2 * i + 1] * 1048576 + (iovaLo >>> 12);
          // Every page a 4K leaf, their entries in mapping.fewIndex: mapping.ts allFew4kLeaves, written out (its call on
          // every unmap measured 3.5% of the NIC replay).
          const root = a.domainRoot[dom];
          let j = 0;
          for (; j < size; j++) {
            // A 4K leaf: lookup's order 0 (the entry -order - 1), found at level 1.
            const k = pool.level1Entry(root, iova + j);
            if (k < 0 || pool.ptr[k] !== -1) break;
            index[j] = k;
          }
          if (j < size) break fast;
          rows.opRow = i;
          const cm = counters.domain; // as the map's: read after the domain's slot is known
          const base = dom * DOMAIN_FIELDS;
          cm[base + M.unmapOps]++;
          cm[base + M.unmapRequestedBytes] += size * 4096;
          const atts = a.domainAttachments[dom];
          if (size === 1 && atts.length === 1 && a.domainNested[dom].length === 0) {
            // mapping.ts countRemoved's, of the one 4K leaf.
            counters.unmapPages[dom * ORDERS]++;
            cm[base + M.unmapBytes] += 4096;
            pool.clearGranuleAt(index[0]);
            // The strict sync of the page, as Removal.onePage (VT-d's and AMD's syncUnmapped of one page) counts it, written out
            // here to spare the calls: one page command on the one attachment, a device-TLB command, one wait.
            cm[base + M.syncs]++;
            cm[base + M.cmdPage]++;
            const att = atts[0];
            const dev = a.attDevice[att];
            const inst = a.deviceInstance[dev];
            const tag = a.attTag[att];
            const iotlb = this.iotlbs[inst];
            cm[base + M.entriesRemoved] += removeUnmappedPage(iotlb, tag, iova, now);
            const wc = this.walkCaches[inst];
            for (let k = 0; k < wc.length; k++) wc[k].removePage(tag, iova, now);
            iotlb.drain(cm, base);
            const devtlb = a.devtlbs[dev];
            if (devtlb !== null) {
              cm[base + M.cmdDevtlb]++;
              devtlb.removePage(att, iova, now);
            }
            cm[base + M.cmdWait]++;
            continue;
          }
          // The chunk's strict sync, which marks each leaf's IOTLB entries unmapped as it removes them (vendor syncUnmapped).
          mapping.unmapFew(dom, iova, size, now);
          continue;
        }
        mapping.unmap(i, now);
        continue;
      }
      this.other(o, i, now);
    }
  }
}
