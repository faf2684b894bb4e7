// QEMU's Intel VT-d trace log (`-trace 'vtd_*' -msg timestamp=on -D FILE`,
// hw/i386/trace-events of QEMU 7.x to 9.x) and its alignment with a guest
// kernel's iommu:* trace (docs/qemu.md).
//
// QEMU sees every translation the emulated device asks for; the guest kernel
// sees every map and unmap. The two clocks differ (host wall clock against the
// guest's trace clock) and drift, so the merge is decided by what the events
// say, not by the clocks alone:
// - each translation is matched to the mapping it used: one whose IOVA range
//   holds the page and whose physical address gives the logged gpa;
// - each guest unmap is matched, in order, to the page-selective IOTLB
//   invalidation it caused (strict mode: intel_iommu_tlb_sync() sends one
//   per unmap);
// - a mapping then goes before the first translation that used it, an unmap
//   after the last one, and an unmap just before its invalidation; in lazy
//   mode a reused IOVA goes after the flush that freed it; the clocks only
//   place events inside the windows these rules leave.

import { formatBdf } from '../trace/schema.js';

export interface QemuTranslation {
  /** Host time, µs since the log's first timestamp (or the line number). */
  hostUs: number;
  rid: number;
  iova: bigint;
  gpa: bigint;
  /** Bytes of the page that translated (mask + 1). */
  pageSize: bigint;
}

export type QemuInvalidation =
  | { kind: 'pages'; hostUs: number; did: number; addr: bigint; mask: number }
  | { kind: 'domain'; hostUs: number; did: number }
  | { kind: 'global'; hostUs: number };

/** QEMU's own counts, kept in the trace's metadata. */
export interface QemuCounts {
  translations: number;
  iotlbHits: number;
  iotlbUpdates: number;
  iotlbResets: number;
  /** Invalidation descriptors by trace event, "vtd_inv_desc_" left off ("iotlb_pages", "wait_sw", ...). */
  invalidations: Record<string, number>;
  devices: string[];
}

export interface QemuLog {
  /** Host events in log order. */
  events: (({ kind: 'translate' } & QemuTranslation) | QemuInvalidation)[];
  counts: QemuCounts;
}

// [PID@SEC.USEC:]vtd_event payload
const LINE = /^(?:\d+@(\d+)\.(\d+):)?(vtd_\w+)\s*(.*)$/;
const TRANSLATE = /^dev ([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-9a-fA-F]{1,2}) iova 0x([0-9a-fA-F]+) -> gpa 0x([0-9a-fA-F]+) mask 0x([0-9a-fA-F]+)$/;
const PAGES = /domain 0x([0-9a-fA-F]+) addr 0x([0-9a-fA-F]+) mask 0x([0-9a-fA-F]+)/;
const DOMAIN = /domain 0x([0-9a-fA-F]+)/;

/** Whether a line is one of QEMU's vtd_* trace lines (for format detection). */
export function isQemuLine(line: string): boolean {
  return LINE.test(line.trim());
}

// QEMU's other emulated IOMMUs (hw/arm/trace-events smmu_*/smmuv3_*,
// hw/i386/trace-events amdvi_*), recorded by scripts/record-qemu.sh --iommu.
// Not imported yet: recognised only so that such a log is refused, not read
// as a kernel trace whose every line fails to parse.
const OTHER_IOMMU = /^(?:\d+@\d+\.\d+:)?(smmuv3_|smmu_|amdvi_)\w*(?:\s|$)/;

/** Which other QEMU IOMMU's log a line comes from ("Arm SMMUv3 (smmu*_* events)"), or null. */
export function otherQemuIommu(line: string): string | null {
  const m = OTHER_IOMMU.exec(line.trim());
  if (!m) return null;
  return m[1] === 'amdvi_' ? 'AMD-Vi (amdvi_* events)' : 'Arm SMMUv3 (smmu*_* events)';
}

/** The BDF a QEMU line names, as a requester ID. */
function rid(bus: string, dev: string, fn: string): number {
  return (parseInt(bus, 16) << 8) | (parseInt(dev, 16) << 3) | (parseInt(fn, 16) & 7);
}

/** Parses QEMU log lines; `bad(lineNo, why)` reports a vtd line that does not fit. */
export class QemuLogParser {
  readonly log: QemuLog = {
    events: [],
    counts: { translations: 0, iotlbHits: 0, iotlbUpdates: 0, iotlbResets: 0, invalidations: {}, devices: [] },
  };
  private firstSec: number | null = null;
  private lastUs = 0;
  private readonly rids = new Set<number>();

  /** Returns false when the line is not a vtd line at all; a string when it is one in an unknown format. */
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
    const payload = m[4];
    const c = this.log.counts;
    if (event === 'vtd_dmar_translate') {
      const t = TRANSLATE.exec(payload);
      if (!t) return 'has a vtd_dmar_translate event in an unknown format';
      const r = rid(t[1], t[2], t[3]);
      if (!this.rids.has(r)) {
        this.rids.add(r);
        c.devices.push(formatBdf(r));
      }
      const mask = BigInt(`0x${t[6]}`);
      this.log.events.push({ kind: 'translate', hostUs, rid: r, iova: BigInt(`0x${t[4]}`) & ~mask, gpa: BigInt(`0x${t[5]}`) & ~mask, pageSize: mask + 1n });
      c.translations++;
    } else if (event === 'vtd_iotlb_page_hit') c.iotlbHits++;
    else if (event === 'vtd_iotlb_page_update') c.iotlbUpdates++;
    else if (event === 'vtd_iotlb_reset') c.iotlbResets++;
    else if (event.startsWith('vtd_inv_desc_')) {
      const kind = event.slice('vtd_inv_desc_'.length);
      c.invalidations[kind] = (c.invalidations[kind] ?? 0) + 1;
      if (kind === 'iotlb_pages') {
        const p = PAGES.exec(payload);
        if (!p) return 'has a vtd_inv_desc_iotlb_pages event in an unknown format';
        this.log.events.push({ kind: 'pages', hostUs, did: parseInt(p[1], 16), addr: BigInt(`0x${p[2]}`), mask: parseInt(p[3], 16) });
      } else if (kind === 'iotlb_domain') {
        const p = DOMAIN.exec(payload);
        if (!p) return 'has a vtd_inv_desc_iotlb_domain event in an unknown format';
        this.log.events.push({ kind: 'domain', hostUs, did: parseInt(p[1], 16) });
      } else if (kind === 'iotlb_global') this.log.events.push({ kind: 'global', hostUs });
    }
    return true;
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

const K4 = 4096n;

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
            if (instUnmap[id] <= cursor || gpaOf(id, e.iova) !== e.gpa) continue;
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
        const span = K4 << BigInt(e.mask);
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
  match(null);
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
