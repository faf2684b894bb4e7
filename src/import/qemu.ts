// QEMU's IOMMU trace logs (`-trace ... -msg timestamp=on -D FILE`): Intel
// VT-d's vtd_* (hw/i386/trace-events of QEMU 7.x to 9.x), Arm SMMUv3's
// smmu_*/smmuv3_* (hw/arm/trace-events) and AMD-Vi's amdvi_* (QEMU 7.2), and
// their alignment with a guest kernel's iommu:* trace (docs/qemu.md).
//
// QEMU sees every translation the emulated device asks for; the guest kernel
// sees every map and unmap. The two clocks differ (host wall clock against the
// guest's trace clock) and drift, so the merge is decided by what the events
// say, not by the clocks alone:
// - each translation is matched to the mapping it used: one whose IOVA range
//   holds the page and whose physical address gives the logged gpa;
// - each guest unmap is matched, in order, to the page-selective IOTLB
//   invalidation it caused (strict mode: intel_iommu_tlb_sync() sends one
//   per unmap, arm_smmu_iotlb_sync() TLBI_NH_VA then CMD_SYNC; QEMU's
//   AMD-Vi logs no address, so its invalidations count as domain-wide);
// - a mapping then goes before the first translation that used it, an unmap
//   after the last one, and an unmap just before its invalidation; in lazy
//   mode a reused IOVA goes after the flush that freed it; the clocks only
//   place events inside the windows these rules leave.

import { formatBdf } from '../trace/schema.js';

const K4 = 4096n;

export interface QemuTranslation {
  /** Host time, µs since the log's first timestamp (or the line number). */
  hostUs: number;
  rid: number;
  iova: bigint;
  gpa: bigint;
  /** Bytes of the page that translated (mask + 1). */
  pageSize: bigint;
  /**
   * AMD-Vi: `gpa` is the base of the page that translated, whose size QEMU
   * 7.2 does not log (amdvi_translation_result prints the IOTLB entry's
   * translated_addr, a 64 KiB page's base for each of its 4 KiB pages).
   */
  gpaIsPageBase?: boolean;
}

export type QemuInvalidation =
  | { kind: 'pages'; hostUs: number; did: number; addr: bigint; size: bigint }
  | { kind: 'domain'; hostUs: number; did: number }
  | { kind: 'global'; hostUs: number };

/** Which of QEMU's emulated IOMMUs wrote a log (its trace events' prefix). */
export type QemuIommu = 'vtd' | 'smmuv3' | 'amd';
export const QEMU_IOMMUS: readonly QemuIommu[] = ['vtd', 'smmuv3', 'amd'];

/** QEMU's own counts, kept in the trace's metadata. */
export interface QemuCounts {
  /** The emulated IOMMU (absent in traces imported before SMMUv3 and AMD-Vi logs were read: VT-d). */
  iommu?: QemuIommu;
  translations: number;
  iotlbHits: number;
  /** IOTLB fills after a walk: vtd_iotlb_page_update, smmu_iotlb_insert, amdvi_cache_update. */
  iotlbUpdates: number;
  /** IOTLB emptied: vtd_iotlb_reset, smmu_iotlb_inv_all, amdvi_iotlb_reset. */
  iotlbResets: number;
  /** SMMUv3 and AMD-Vi: of the resets, those because a fill found the table full (the fill follows at once). */
  iotlbCapacityResets?: number;
  /** SMMUv3: translations to the GICv3 ITS doorbell page (MSIs). */
  msiTranslations?: number;
  /**
   * Invalidation commands by name: VT-d by trace event with "vtd_inv_desc_"
   * left off ("iotlb_pages", "wait_sw", ...); SMMUv3 by the opcode
   * smmuv3_cmdq_opcode names ("TLBI_NH_VA", "CMD_SYNC", ...); AMD-Vi by the
   * command its amdvi_* event logs ("INVALIDATE_IOMMU_PAGES", ...).
   */
  invalidations: Record<string, number>;
  /** SMMUv3 and AMD-Vi: the same from QEMU's first translation on (the driver's boot-time flushes left out). */
  invalidationsFromFirstTranslation?: Record<string, number>;
  devices: string[];
}

export interface QemuLog {
  /** Host events in log order. */
  events: (({ kind: 'translate' } & QemuTranslation) | QemuInvalidation)[];
  counts: QemuCounts;
}

// [PID@SEC.USEC:]event payload: hw/i386/trace-events vtd_* and amdvi_*,
// hw/arm/trace-events smmu_* and smmuv3_*.
const LINE = /^(?:\d+@(\d+)\.(\d+):)?((?:vtd|smmuv3|smmu|amdvi)_\w+)(?:\s+(.*))?$/;
const TRANSLATE = /^dev ([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-9a-fA-F]{1,2}) iova 0x([0-9a-fA-F]+) -> gpa 0x([0-9a-fA-F]+) mask 0x([0-9a-fA-F]+)$/;
const PAGES = /domain 0x([0-9a-fA-F]+) addr 0x([0-9a-fA-F]+) mask 0x([0-9a-fA-F]+)/;
const DOMAIN = /domain 0x([0-9a-fA-F]+)/;
// "smmuv3-iommu-memory-region-8-1 sid=0x8 iova=0xffffd000 translated=0x474ee000 perm=0x3"
const SMMU_TRANSLATE = /\bsid=(0x[0-9a-fA-F]+|\d+) iova=0x([0-9a-fA-F]+) translated=0x([0-9a-fA-F]+)/;
// "vmid=0 asid=1 addr=0xffffc000 tg=1 num_pages=0x1 ttl=3 leaf=1"
const SMMU_RANGE = /\basid=(\d+) addr=0x([0-9a-fA-F]+) tg=(\d+) num_pages=(0x[0-9a-fA-F]+|\d+)/;
const SMMU_ASID = /\basid=(\d+)/;
// "devid: 00:02.0 gpa 0xffffe1c0 hpa 0x6ab6000": gpa is the IOVA with its offset, hpa the page's base
const AMD_TRANSLATE = /^devid: ([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7]) gpa 0x([0-9a-fA-F]+) hpa 0x([0-9a-fA-F]+)/;
const AMD_DOMAIN = /domain 0x([0-9a-fA-F]+)/;
/** AMD-Vi commands by the event QEMU 7.2 logs for each (hw/i386/amd_iommu.c amdvi_cmdbuf_exec()). */
const AMD_COMMANDS: Record<string, string> = {
  amdvi_pages_inval: 'INVALIDATE_IOMMU_PAGES',
  amdvi_completion_wait: 'COMPLETION_WAIT',
  amdvi_iotlb_inval: 'INVALIDATE_IOTLB_PAGES',
  amdvi_devtab_inval: 'INVALIDATE_DEVTAB_ENTRY',
  amdvi_all_inval: 'INVALIDATE_IOMMU_ALL',
  amdvi_intr_inval: 'INVALIDATE_INTERRUPT_TABLE',
  amdvi_prefetch_pages: 'PREFETCH_IOMMU_PAGES',
  amdvi_ppr_exec: 'COMPLETE_PPR_REQUEST',
};
/** QEMU 7.2's virt machine: the GICv3 ITS doorbell (GITS_TRANSLATER) page, hw/arm/virt.c VIRT_GIC_ITS + 64 KiB. */
const ITS_DOORBELL_PAGE = 0x08090000n;
const PAGE_4K_MASK = 0xfffn;

/** Whether a line is one of QEMU's IOMMU trace lines (vtd_*, smmu*_*, amdvi_*), for format detection. */
export function isQemuLine(line: string): boolean {
  return LINE.test(line.trim());
}

function iommuOf(event: string): QemuIommu {
  return event.startsWith('vtd_') ? 'vtd' : event.startsWith('amdvi_') ? 'amd' : 'smmuv3';
}

const IOMMU_NAMES: Record<QemuIommu, string> = { vtd: 'Intel VT-d (vtd_*)', smmuv3: 'Arm SMMUv3 (smmu*_*)', amd: 'AMD-Vi (amdvi_*)' };

/** The BDF a QEMU line names, as a requester ID. */
function rid(bus: string, dev: string, fn: string): number {
  return (parseInt(bus, 16) << 8) | (parseInt(dev, 16) << 3) | (parseInt(fn, 16) & 7);
}

const num = (text: string): number => (text.startsWith('0x') ? parseInt(text.slice(2), 16) : Number(text));

/** Parses QEMU log lines; `bad(lineNo, why)` reports a vtd line that does not fit. */
export class QemuLogParser {
  readonly log: QemuLog = {
    events: [],
    counts: { translations: 0, iotlbHits: 0, iotlbUpdates: 0, iotlbResets: 0, invalidations: {}, devices: [] },
  };
  private firstSec: number | null = null;
  private lastUs = 0;
  private readonly rids = new Set<number>();
  /** SMMUv3: the range-invalidation pieces since the last CMD_SYNC (one unmap's TLBIs in strict mode). */
  private pending: { did: number; start: bigint; end: bigint; hostUs: number } | null = null;
  /** SMMUv3 and AMD-Vi: the last event emptied the IOTLB (a full table when a fill follows). */
  private resetPending = false;

  /** Returns false when the line is not a QEMU IOMMU line at all; a string when it is one in an unknown format. */
  add(line: string): boolean | string {
    const m = LINE.exec(line.trim());
    if (!m) return false;
    let hostUs = this.lastUs;
    if (m[1] !== undefined) {
      const sec = Number(m[1]);
      if (this.firstSec === null) this.firstSec = sec;
      // µs since the first timestamp: exact in a double for centuries.
      hostUs = (sec - this.firstSec) * 1e6 + Number(m[2].padEnd(6, '0').slice(0, 6));
    }
    // Log lines from QEMU's threads can be stamped a µs out of order: keep log order.
    if (hostUs < this.lastUs) hostUs = this.lastUs;
    this.lastUs = hostUs;
    const event = m[3];
    const payload = (m[4] ?? '').trim();
    const c = this.log.counts;
    const iommu = iommuOf(event);
    if (c.iommu === undefined) c.iommu = iommu;
    else if (c.iommu !== iommu) return `is a ${IOMMU_NAMES[iommu]} event in a log of the ${IOMMU_NAMES[c.iommu]}`;
    if (iommu === 'vtd') return this.vtd(event, payload, hostUs);
    const wasReset = this.resetPending;
    this.resetPending = false;
    return iommu === 'smmuv3' ? this.smmu(event, payload, hostUs, wasReset) : this.amd(event, payload, hostUs, wasReset);
  }

  private device(r: number): void {
    if (this.rids.has(r)) return;
    this.rids.add(r);
    this.log.counts.devices.push(formatBdf(r));
  }

  private translate(hostUs: number, r: number, iova: bigint, gpa: bigint, pageSize: bigint, gpaIsPageBase = false): void {
    this.device(r);
    this.log.events.push({ kind: 'translate', hostUs, rid: r, iova, gpa, pageSize, ...(gpaIsPageBase ? { gpaIsPageBase } : {}) });
    this.log.counts.translations++;
  }

  /** One command by name; from the first translation on also in invalidationsFromFirstTranslation. */
  private command(name: string): void {
    const c = this.log.counts;
    c.invalidations[name] = (c.invalidations[name] ?? 0) + 1;
    const after = (c.invalidationsFromFirstTranslation ??= {});
    if (c.translations > 0) after[name] = (after[name] ?? 0) + 1;
  }

  private fill(wasReset: boolean): void {
    const c = this.log.counts;
    c.iotlbUpdates++;
    // smmu_iotlb_insert() and amdvi_update_iotlb() empty a full table, logging the reset, then insert.
    if (wasReset) c.iotlbCapacityResets = (c.iotlbCapacityResets ?? 0) + 1;
  }

  private vtd(event: string, payload: string, hostUs: number): true | string {
    const c = this.log.counts;
    if (event === 'vtd_dmar_translate') {
      const t = TRANSLATE.exec(payload);
      if (!t) return 'has a vtd_dmar_translate event in an unknown format';
      const mask = BigInt(`0x${t[6]}`);
      this.translate(hostUs, rid(t[1], t[2], t[3]), BigInt(`0x${t[4]}`) & ~mask, BigInt(`0x${t[5]}`) & ~mask, mask + 1n);
    } else if (event === 'vtd_iotlb_page_hit') c.iotlbHits++;
    else if (event === 'vtd_iotlb_page_update') c.iotlbUpdates++;
    else if (event === 'vtd_iotlb_reset') c.iotlbResets++;
    else if (event.startsWith('vtd_inv_desc_')) {
      const kind = event.slice('vtd_inv_desc_'.length);
      c.invalidations[kind] = (c.invalidations[kind] ?? 0) + 1;
      if (kind === 'iotlb_pages') {
        const p = PAGES.exec(payload);
        if (!p) return 'has a vtd_inv_desc_iotlb_pages event in an unknown format';
        this.log.events.push({ kind: 'pages', hostUs, did: parseInt(p[1], 16), addr: BigInt(`0x${p[2]}`), size: K4 << BigInt(parseInt(p[3], 16)) });
      } else if (kind === 'iotlb_domain') {
        const p = DOMAIN.exec(payload);
        if (!p) return 'has a vtd_inv_desc_iotlb_domain event in an unknown format';
        this.log.events.push({ kind: 'domain', hostUs, did: parseInt(p[1], 16) });
      } else if (kind === 'iotlb_global') this.log.events.push({ kind: 'global', hostUs });
    }
    return true;
  }

  /**
   * SMMUv3 (hw/arm/smmuv3.c, smmu-common.c of QEMU 7.2). A strict unmap is
   * TLBI_NH_VA command(s) then one CMD_SYNC (Linux arm_smmu_cmdq_batch_submit());
   * QEMU logs each command's range as the power-of-two pieces it splits it
   * into (smmuv3_s1_range_inval()), so the pieces up to the CMD_SYNC are
   * joined into one page-selective invalidation for the alignment.
   */
  private smmu(event: string, payload: string, hostUs: number, wasReset: boolean): true | string {
    const c = this.log.counts;
    if (event === 'smmuv3_translate_success') {
      const t = SMMU_TRANSLATE.exec(payload);
      if (!t) return 'has a smmuv3_translate_success event in an unknown format';
      // The stream ID of a PCI device on the virt machine is its requester ID.
      const gpa = BigInt(`0x${t[3]}`) & ~PAGE_4K_MASK;
      if (gpa === ITS_DOORBELL_PAGE) c.msiTranslations = (c.msiTranslations ?? 0) + 1;
      this.translate(hostUs, num(t[1]), BigInt(`0x${t[2]}`) & ~PAGE_4K_MASK, gpa, K4);
    } else if (event === 'smmu_iotlb_lookup_hit') c.iotlbHits++;
    else if (event === 'smmu_iotlb_insert') this.fill(wasReset);
    else if (event === 'smmu_iotlb_inv_all') {
      c.iotlbResets++;
      this.resetPending = true;
    } else if (event === 'smmuv3_cmdq_opcode') {
      // "<--- SMMU_CMD_TLBI_NH_VA": every command the guest queued
      const o = /<--- (?:SMMU_)?(?:CMD_)?(\w+)/.exec(payload);
      if (!o) return 'has a smmuv3_cmdq_opcode event in an unknown format';
      const name = o[1] === 'SYNC' ? 'CMD_SYNC' : o[1];
      this.command(name);
      if (name === 'CMD_SYNC') this.flushPending();
    } else if (event === 'smmuv3_s1_range_inval') {
      const r = SMMU_RANGE.exec(payload);
      if (!r) return 'has a smmuv3_s1_range_inval event in an unknown format';
      // tg: 1, 2, 3 = 4K, 16K, 64K granule; 0 (no range given) = one page, taken as 4 KiB.
      const tg = Number(r[3]);
      const start = BigInt(`0x${r[2]}`);
      const end = start + (BigInt(num(r[4])) << BigInt(tg === 0 ? 12 : 10 + 2 * tg));
      const did = Number(r[1]);
      const p = this.pending;
      if (p && p.did === did && start <= p.end && end >= p.start) {
        if (start < p.start) p.start = start;
        if (end > p.end) p.end = end;
      } else {
        this.flushPending();
        this.pending = { did, start, end, hostUs };
      }
    } else if (event === 'smmuv3_cmdq_tlbi_nh_asid') {
      const a = SMMU_ASID.exec(payload);
      if (!a) return 'has a smmuv3_cmdq_tlbi_nh_asid event in an unknown format';
      this.log.events.push({ kind: 'domain', hostUs, did: Number(a[1]) });
    } else if (event === 'smmuv3_cmdq_tlbi_nh') this.log.events.push({ kind: 'global', hostUs });
    return true;
  }

  /** AMD-Vi (hw/i386/amd_iommu.c of QEMU 7.2). */
  private amd(event: string, payload: string, hostUs: number, wasReset: boolean): true | string {
    const c = this.log.counts;
    if (event === 'amdvi_translation_result') {
      const t = AMD_TRANSLATE.exec(payload);
      if (!t) return 'has an amdvi_translation_result event in an unknown format';
      this.translate(hostUs, rid(t[1], t[2], t[3]), BigInt(`0x${t[4]}`) & ~PAGE_4K_MASK, BigInt(`0x${t[5]}`) & ~PAGE_4K_MASK, K4, true);
    } else if (event === 'amdvi_iotlb_hit') c.iotlbHits++;
    else if (event === 'amdvi_cache_update') this.fill(wasReset);
    else if (event === 'amdvi_iotlb_reset') {
      c.iotlbResets++;
      this.resetPending = true;
    } else if (Object.hasOwn(AMD_COMMANDS, event)) {
      this.command(AMD_COMMANDS[event]);
      if (event === 'amdvi_pages_inval') {
        // QEMU 7.2 logs the domain only, and drops every entry of it whatever
        // the address (amdvi_inval_pages(): "we don't have devid - we can't
        // remove pages by address"): a domain-selective invalidation in effect.
        const d = AMD_DOMAIN.exec(payload);
        if (!d) return 'has an amdvi_pages_inval event in an unknown format';
        this.log.events.push({ kind: 'domain', hostUs, did: parseInt(d[1], 16) });
      } else if (event === 'amdvi_all_inval') this.log.events.push({ kind: 'global', hostUs });
    }
    return true;
  }

  /** Ends the log: an SMMUv3 range not followed by its CMD_SYNC still counts for the alignment. */
  finish(): void {
    this.flushPending();
  }

  /** SMMUv3: the joined range pieces become one page-selective invalidation for the alignment. */
  private flushPending(): void {
    const p = this.pending;
    if (p) this.log.events.push({ kind: 'pages', hostUs: p.hostUs, did: p.did, addr: p.start, size: p.end - p.start });
    this.pending = null;
  }
}

/** A guest event on the way out (convert.ts's OutEvent, time in ns). */
export interface GuestEvent {
  ts: bigint;
  op: number;
  domain: number;
  iova: bigint;
  size: bigint;
  paddr: bigint;
}

export interface Alignment {
  /** Per guest event: its time on the merged clock (ns on the guest's clock). */
  guestTsNs: Float64Array;
  /** Per host event: its time on the merged clock. */
  hostTsNs: Float64Array;
  /** Per guest event: how many host events go before it. Non-decreasing. */
  positions: Int32Array;
  stats: AlignStats;
}

export interface AlignStats {
  translations: number;
  /** Translations that fall inside no mapping live at that moment (0 on a faithful pair). */
  unfit: number;
  /** Translations whose page and gpa no guest mapping ever held. */
  unmatched: number;
  /** Guest unmaps anchored to the IOTLB invalidation they caused. */
  anchoredUnmaps: number;
  guestUnmaps: number;
  /** How far the host clock ran ahead of the guest's over the recording, ms (the offset at the end minus that at the start). */
  driftMs: number;
}

/**
 * Decides where each host event goes among the guest events and gives every
 * event a time on the guest's clock. `ops` names the guest's map and unmap codes.
 */
export function alignQemu(guest: GuestEvent[], host: QemuLog['events'], ops: { map: number; unmap: number }): Alignment {
  const G = guest.length;
  // 1. Mapping instances and the unmap that ends each (first unmap after it over its pages).
  const instMap: number[] = []; // guest index of the map
  const instUnmap: number[] = []; // guest index of the unmap, or G
  const byPage = new Map<number, number[]>(); // iova page -> instances, in map order
  const live = new Map<string, number>(); // "domain:page" -> instance
  const lastUnmap = new Map<string, number>(); // "domain:page" -> guest index of its last unmap
  const prevUnmap = new Int32Array(G).fill(-1); // per map: the latest earlier unmap of one of its pages
  for (let j = 0; j < G; j++) {
    const e = guest[j];
    if (e.op !== ops.map && e.op !== ops.unmap) continue;
    const first = e.iova / K4;
    const pages = Number((e.size + K4 - 1n) / K4);
    if (pages > 1 << 20) continue; // a gigantic range is no DMA buffer: not indexed
    if (e.op === ops.map) {
      const id = instMap.length;
      instMap.push(j);
      instUnmap.push(G);
      for (let k = 0; k < pages; k++) {
        const page = Number(first) + k;
        const u = lastUnmap.get(`${e.domain}:${page}`);
        if (u !== undefined && u > prevUnmap[j]) prevUnmap[j] = u;
        live.set(`${e.domain}:${page}`, id);
        let list = byPage.get(page);
        if (!list) byPage.set(page, (list = []));
        list.push(id);
      }
    } else {
      for (let k = 0; k < pages; k++) {
        const key = `${e.domain}:${Number(first) + k}`;
        const id = live.get(key);
        lastUnmap.set(key, j);
        if (id !== undefined) {
          if (instUnmap[id] === G) instUnmap[id] = j;
          live.delete(key);
        }
      }
    }
  }
  const gpaOf = (id: number, iova: bigint) => {
    const m = guest[instMap[id]];
    return m.paddr + (iova - m.iova);
  };
  /** Whether mapping `id` gives translation `t`'s gpa (AMD-Vi: the base of a naturally aligned page of it holding the address). */
  const gives = (id: number, t: QemuTranslation): boolean => {
    const g = gpaOf(id, t.iova);
    if (g === t.gpa) return true;
    if (!t.gpaIsPageBase || g < t.gpa) return false;
    const off = g - t.gpa;
    let page = K4;
    while (page <= off) page <<= 1n;
    return t.gpa % page === 0n && (t.iova - off) % page === 0n && t.iova - off >= guest[instMap[id]].iova;
  };

  // 2. Match in host order. `cursor`: a guest index known to precede the
  // current host event. A page and gpa that several mappings held (the same
  // buffer at a reused IOVA) go to the latest one mapped before the
  // translation by the clock estimate once there is one, else to the earliest
  // still live.
  const H = host.length;
  const instOf = new Int32Array(H);
  const anchorOf = new Int32Array(H); // page-selective invalidation -> guest unmap index
  const unmaps: number[] = [];
  for (let j = 0; j < G; j++) if (guest[j].op === ops.unmap) unmaps.push(j);
  const lastUse = new Int32Array(instMap.length);
  const firstUse = new Int32Array(instMap.length);
  const hostUs = new Float64Array(H);
  for (let h = 0; h < H; h++) hostUs[h] = host[h].hostUs;
  let unmatched = 0;
  let translations = 0;
  const match = (mapEstNs: Float64Array | null) => {
    instOf.fill(-1);
    anchorOf.fill(-1);
    lastUse.fill(-1);
    firstUse.fill(-1);
    unmatched = 0;
    translations = 0;
    let nextUnmap = 0;
    let cursor = -1;
    for (let h = 0; h < H; h++) {
      const e = host[h];
      if (e.kind === 'translate') {
        translations++;
        const list = byPage.get(Number(e.iova / K4));
        let pick = -1;
        if (list) {
          for (const id of list) {
            if (instUnmap[id] <= cursor || !gives(id, e)) continue;
            if (pick < 0) pick = id;
            else if (mapEstNs !== null && mapEstNs[id] <= hostUs[h] * 1000) pick = id;
            if (mapEstNs === null || mapEstNs[id] > hostUs[h] * 1000) break;
          }
        }
        if (pick < 0) {
          unmatched++;
          continue;
        }
        instOf[h] = pick;
        if (firstUse[pick] < 0) firstUse[pick] = h;
        lastUse[pick] = h;
        if (instMap[pick] > cursor) cursor = instMap[pick];
      } else if (e.kind === 'pages') {
        // The next guest unmap whose range this page-selective invalidation
        // covers. Domain-selective ones are not anchored: in lazy mode they are
        // the flush queue's (fq_flush_timeout, or a full queue), not an unmap's.
        const span = e.size;
        for (let k = nextUnmap; k < unmaps.length && k < nextUnmap + 4; k++) {
          const u = guest[unmaps[k]];
          const covers = e.addr < u.iova + (u.size || 1n) && u.iova < e.addr + span;
          if (!covers || unmaps[k] <= cursor) continue;
          anchorOf[h] = unmaps[k];
          cursor = unmaps[k];
          nextUnmap = k + 1;
          break;
        }
      }
    }
  };

  // Clock offset (host - guest), from pairs whose host event follows its
  // guest event closely: a map and its first translation, an unmap and its
  // invalidation. The lower envelope over a sliding window is the offset; it
  // follows drift between the clocks. A wrong match only makes a pair's
  // difference larger, so the envelope survives the first, clock-less pass.
  let env: { g: number; d: number }[] = [];
  const envelope = () => {
    const pairs: { g: number; d: number }[] = [];
    for (let id = 0; id < instMap.length; id++) {
      if (firstUse[id] < 0) continue;
      const g = Number(guest[instMap[id]].ts);
      pairs.push({ g, d: hostUs[firstUse[id]] * 1000 - g });
    }
    for (let h = 0; h < H; h++)
      if (anchorOf[h] >= 0) {
        const g = Number(guest[anchorOf[h]].ts);
        pairs.push({ g, d: hostUs[h] * 1000 - g });
      }
    pairs.sort((a, b) => a.g - b.g);
    const WINDOW_NS = 1e9;
    env = pairs.map((p, i) => {
      let d = p.d;
      for (let k = i - 1; k >= 0 && pairs[k].g >= p.g - WINDOW_NS; k--) d = Math.min(d, pairs[k].d);
      for (let k = i + 1; k < pairs.length && pairs[k].g <= p.g + WINDOW_NS; k++) d = Math.min(d, pairs[k].d);
      return { g: p.g, d };
    });
  };
  const offsetAt = (g: number): number => {
    if (env.length === 0) return 0;
    let a = 0;
    let b = env.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (env[m].g <= g) a = m + 1;
      else b = m;
    }
    if (a === 0) return env[0].d;
    if (a === env.length) return env[env.length - 1].d;
    const p = env[a - 1];
    const q = env[a];
    return q.g === p.g ? p.d : p.d + ((q.d - p.d) * (g - p.g)) / (q.g - p.g);
  };
  // A first clock estimate, a constant offset: the first translation and the
  // earliest mapping that gives its page and gpa. Without one, the first pass
  // matches by order alone, which holds only when unmaps are anchored to
  // invalidations that name their range (VT-d, SMMUv3); QEMU's AMD-Vi logs no
  // address, and its flushes after maps (NpCache) cannot be told from an
  // unmap's. The passes that follow replace it with the envelope.
  let firstEst: Float64Array | null = null;
  const h0 = host.findIndex((e) => e.kind === 'translate');
  if (h0 >= 0) {
    const t = host[h0] as QemuTranslation;
    const id = (byPage.get(Number(t.iova / K4)) ?? []).find((i) => gives(i, t));
    if (id !== undefined) {
      const d = hostUs[h0] * 1000 - Number(guest[instMap[id]].ts);
      firstEst = new Float64Array(instMap.length);
      for (let i = 0; i < instMap.length; i++) firstEst[i] = Number(guest[instMap[i]].ts) + d;
    }
  }
  match(firstEst);
  envelope();
  const mapEstNs = new Float64Array(instMap.length);
  for (let id = 0; id < instMap.length; id++) {
    const g = Number(guest[instMap[id]].ts);
    mapEstNs[id] = g + offsetAt(g);
  }
  match(mapEstNs);
  envelope();
  const off0 = env.length ? env[0].d : 0;

  // 3. Window of each guest event among host events: lo <= pos <= hi, where
  // pos = index of the first host event after it.
  const lo = new Int32Array(G);
  const hi = new Int32Array(G).fill(H);
  for (let id = 0; id < instMap.length; id++) {
    if (firstUse[id] >= 0) hi[instMap[id]] = Math.min(hi[instMap[id]], firstUse[id]);
    if (lastUse[id] >= 0 && instUnmap[id] < G) lo[instUnmap[id]] = Math.max(lo[instUnmap[id]], lastUse[id] + 1);
  }
  let anchored = 0;
  const isAnchored = new Uint8Array(G);
  for (let h = 0; h < H; h++) {
    const j = anchorOf[h];
    if (j < 0) continue;
    anchored++;
    isAnchored[j] = 1;
    lo[j] = Math.max(lo[j], h);
    hi[j] = Math.min(hi[j], h);
  }
  for (let j = G - 2; j >= 0; j--) hi[j] = Math.min(hi[j], hi[j + 1]);

  // 5. Positions: the clock's estimate, clamped into each window, kept monotone.
  // Times: host events on the host clock, guest events on theirs, both moved
  // to the guest clock by the offset at the start (off0); a guest event is
  // then clamped between the host events around it.
  const hostTs = new Float64Array(H);
  for (let h = 0; h < H; h++) hostTs[h] = hostUs[h] * 1000 - off0;
  const guestTs = new Float64Array(G);
  const pos = new Int32Array(G);
  const place = () => {
    let prevPos = 0;
    let floor = 0;
    for (let j = 0; j < G; j++) {
      const g = Number(guest[j].ts);
      const est = g + offsetAt(g) - off0;
      // first host event with a time after the estimate
      let a = 0;
      let b = H;
      while (a < b) {
        const m = (a + b) >> 1;
        if (hostTs[m] <= est) a = m + 1;
        else b = m;
      }
      floor = Math.max(floor, lo[j]);
      let p = Math.max(a, prevPos, floor);
      if (p > hi[j]) p = Math.max(hi[j], prevPos);
      pos[j] = p;
      prevPos = p;
      const before = p > 0 ? hostTs[p - 1] : -Infinity;
      const after = p < H ? hostTs[p] : Infinity;
      guestTs[j] = Math.min(Math.max(est, before), after);
    }
  };
  place();
  // 5b. Lazy mode: Linux frees an unmapped IOVA only after the flush queue's
  // domain-wide flush has completed (dma-iommu.c fq_ring_free()), so between
  // an unmap that no page-selective command followed and a later map of one
  // of its pages lies a domain-selective or global invalidation: the first
  // after the unmap's estimated place when that is before the map's first
  // use, else the last one before that use.
  const flushes: number[] = [];
  for (let h = 0; h < H; h++) if (host[h].kind === 'domain' || host[h].kind === 'global') flushes.push(h);
  if (flushes.length > 0) {
    const firstAtOrAfter = (x: number) => {
      let a = 0;
      let b = flushes.length;
      while (a < b) {
        const m = (a + b) >> 1;
        if (flushes[m] < x) a = m + 1;
        else b = m;
      }
      return a;
    };
    for (let j = 0; j < G; j++) {
      const u = prevUnmap[j];
      if (u < 0 || isAnchored[u]) continue;
      let k = firstAtOrAfter(pos[u]);
      if (!(k < flushes.length && flushes[k] < hi[j])) k = firstAtOrAfter(hi[j]) - 1;
      if (k < 0 || flushes[k] < lo[u]) continue; // no flush fits: left to the check below
      hi[u] = Math.min(hi[u], flushes[k]);
      lo[j] = Math.max(lo[j], flushes[k] + 1);
    }
    for (let j = G - 2; j >= 0; j--) hi[j] = Math.min(hi[j], hi[j + 1]);
    place();
  }

  // 6. Check: every matched translation inside its mapping's live window.
  let unfit = unmatched;
  for (let h = 0; h < H; h++) {
    const id = instOf[h];
    if (id < 0) continue;
    const mapPos = pos[instMap[id]];
    const unmapPos = instUnmap[id] < G ? pos[instUnmap[id]] : H + 1;
    if (!(mapPos <= h && unmapPos > h)) unfit++;
  }
  return {
    guestTsNs: guestTs,
    hostTsNs: hostTs,
    stats: {
      translations,
      unfit,
      unmatched,
      anchoredUnmaps: anchored,
      guestUnmaps: unmaps.length,
      driftMs: env.length ? (env[env.length - 1].d - env[0].d) / 1e6 : 0,
    },
    positions: pos,
  };
}
