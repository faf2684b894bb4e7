// Kernel trace text to the trace format. iommu:map/unmap carry no device, so
// each is attributed to the device of the dma:* event that belongs to it (the
// kernel emits them next to each other on the same CPU: iommu:map before
// dma_map_*/dma_alloc, iommu:unmap before dma_unmap_*, dma_free before
// iommu:unmap; linux-notes §7.3; the pieces of one iommu_map_sg(), however
// many, before one dma_map_sg), else to the device that mapped that IOVA
// earlier, else to one default domain. Each device gets its DMA-API default
// domain, attached at its first event. `--device` attaches devices to the
// default domain (kernels before 6.12 trace no dma:* events). A QEMU log (VT-d,
// SMMUv3 or AMD-Vi) among the files adds the device's real accesses (qemu.ts).
import fs from 'node:fs';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { InputError, describeIoError } from '../errors.js';
import { shownPath } from '../text.js';
import { allocBatch, setU64Big } from '../trace/batch.js';
import { Op, parseBdf, type OpCode } from '../trace/schema.js';
import { TraceWriter } from '../trace/writer.js';
import { Rng } from '../workloads/rng.js';
import { isKnownEvent, parseEvent, type KernelEvent } from './events.js';
import { isNoise, parseLine, type LineFormat } from './lines.js';
import { QemuLogParser, alignQemu, isQemuLine } from './qemu.js';
import { MAX_COHERENT_ACCESSES, type ImportStats } from './stats.js';

export interface ImportOptions {
  format: LineFormat | 'auto';
  synthesizeDma: boolean;
  /** Accesses per second to each coherent allocation (with synthesizeDma). */
  coherentRateHz: number;
  strict: boolean;
  seed: number;
  /** Devices (BDFs) attached to the default domain that holds unattributed maps. */
  devices?: string[];
  /** With a QEMU log: each domain-selective or global IOTLB invalidation becomes a `flush` op. */
  qemuFlushes?: boolean;
  /**
   * The inputs as the user named them, one per file, recorded as the
   * trace's source (its workload and import statistics): standard input is
   * read from a private copy, whose path means nothing to anyone.
   */
  names?: string[];
  /** A stream to read for a file instead of its path (standard input), by index in the files. */
  streams?: (NodeJS.ReadableStream | undefined)[];
}

const DEFAULT_DOMAIN = 1;
const NEIGHBOURS = 8; // how far on the same CPU a partner dma:* event may be (after a run of maps: after its last map)
// A streaming mapping's synthesized access comes this long after its dma_map
// event, or half-way to its unmap when that comes sooner.
const STREAMING_ACCESS_DELAY_NS = 1000n;

interface Rec {
  ts: bigint;
  cpu: number;
  seq: number;
  ev: KernelEvent;
}

interface OutEvent {
  ts: bigint;
  order: number; // ties: real events first, in input order (a synthesized access pushed as real takes its place among them)
  op: OpCode;
  device: number;
  domain: number;
  iova: bigint;
  paddr: bigint;
  size: bigint;
  /** map rows: more maps of the same operation follow (the trace's map_more column). */
  more?: boolean;
}

/** A line as it may be shown on a terminal (binary input shows as "?"). */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e\t]/g, '?');
}

/**
 * Opens a file, or the stream given for it (standard input), for lines,
 * gunzipping it when it starts with gzip's magic bytes. The first bytes are
 * looked at before any line is read: an Arrow trace is refused, whatever
 * its name.
 */
async function openLines(file: string, given?: NodeJS.ReadableStream): Promise<readline.Interface> {
  let source: NodeJS.ReadableStream;
  let first: Buffer;
  let rest: AsyncIterator<Buffer>;
  try {
    if (!given) {
      fs.accessSync(file, fs.constants.R_OK);
      if (fs.statSync(file).isDirectory()) throw new InputError(`Cannot import "${shownPath(file)}": is a directory, not a file`);
    }
    source = given ?? fs.createReadStream(file);
    // The first chunk (a pipe's or a file's first read), then the rest as it comes.
    rest = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const next = await rest.next();
    first = next.done ? Buffer.alloc(0) : Buffer.from(next.value);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`Cannot import "${shownPath(file)}": ${describeIoError(err)}`);
  }
  // An Arrow file ("ARROW1") or stream (0xFFFFFFFF, then a metadata length) is a trace already.
  if (first.subarray(0, 6).toString('latin1') === 'ARROW1' || (first.length >= 8 && first.readUInt32LE(0) === 0xffffffff))
    throw new InputError(
      `Cannot import "${shownPath(file)}": this is already an Arrow trace; replay or inspect it directly (import reads kernel trace text and QEMU logs)`,
    );
  const bytes = Readable.from(
    (async function* () {
      if (first.length) yield first;
      for (let r = await rest.next(); !r.done; r = await rest.next()) yield r.value;
    })(),
  );
  let stream: NodeJS.ReadableStream = bytes;
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) {
    const gunzip = zlib.createGunzip();
    bytes.pipe(gunzip);
    stream = gunzip;
  }
  (stream as NodeJS.ReadableStream & { setEncoding(e: string): void }).setEncoding('utf8');
  return readline.createInterface({ input: stream, crlfDelay: Infinity });
}

function overlaps(a: bigint, aSize: bigint, b: bigint, bSize: bigint): boolean {
  return a < b + (bSize === 0n ? 1n : bSize) && b < a + (aSize === 0n ? 1n : aSize);
}

export async function importTrace(files: string[], out: string, opts: ImportOptions): Promise<ImportStats> {
  const names = opts.names ?? files;
  const stats: ImportStats = {
    files: names,
    lines: { read: 0, parsed: 0, skipped: {} },
    firstBad: [],
    otherEvents: {},
    kernelEvents: {},
    attribution: { sameCpuNeighbour: 0, earlierMapping: 0, vendorDevField: 0, defaultDomain: 0 },
    synthesized: { streaming: 0, coherent: 0 },
    sortedBackwardsTimestamps: 0,
    devices: [],
    events: 0,
    mapOperations: 0,
    lost: { events: 0, markers: 0, unknownLosses: 0 },
  };
  const skip = (reason: string) => (stats.lines.skipped[reason] = (stats.lines.skipped[reason] ?? 0) + 1);
  const bad = (file: string, n: number, line: string, why: string) => {
    if (opts.strict) throw new InputError(`Cannot import "${shownPath(file)}": line ${n} ${why}: ${printable(line.trim().slice(0, 160))}`);
    skip(why);
    if (stats.firstBad.length < 5) stats.firstBad.push(`${shownPath(file)}:${n}: ${printable(line.trim().slice(0, 160))}`);
  };

  // 1. Parse every line. A file whose first event line is a QEMU vtd_*, smmu*_* or amdvi_* line is a QEMU log.
  const recs: Rec[] = [];
  const qemu = new QemuLogParser();
  let qemuFiles = 0;
  for (const [k, file] of files.entries()) {
    let n = 0;
    let isQemu: boolean | null = null;
    try {
      for await (const line of await openLines(file, opts.streams?.[k])) {
        n++;
        stats.lines.read++;
        if (isQemu === null && line.trim() !== '') {
          isQemu = isQemuLine(line);
          if (isQemu) qemuFiles++;
        }
        if (isQemu) {
          const r = qemu.add(line);
          if (r === true) stats.lines.parsed++;
          else if (r === false) {
            if (line.trim() === '') skip('blank');
            else bad(file, n, line, 'is not a QEMU trace line');
          } else bad(file, n, line, r);
          continue;
        }
        const noise = isNoise(line);
        if (noise === 'lost') {
          // The ring buffer overwrote or dropped events: a replay would be wrong.
          const m = /LOST (\d+) EVENTS/.exec(line);
          if (opts.strict)
            throw new InputError(
              `Cannot import "${shownPath(file)}": line ${n} says events were lost (${printable(line.trim().slice(0, 80))}); re-record with a larger buffer_size_kb, or import without --strict to accept an incomplete trace`,
            );
          stats.lost.markers++;
          if (m) stats.lost.events += Number(m[1]);
          else stats.lost.unknownLosses++;
        }
        if (noise) {
          skip(noise === 'lost' ? 'lost-events markers' : noise === 'header' ? 'headers and comments' : 'blank');
          continue;
        }
        const t = parseLine(line, opts.format);
        if (!t) {
          bad(file, n, line, 'is not a trace line');
          continue;
        }
        if ((t.system && t.system !== 'iommu' && t.system !== 'dma') || !isKnownEvent(t.event)) {
          const name = t.system ? `${t.system}:${t.event}` : t.event;
          stats.otherEvents[name] = (stats.otherEvents[name] ?? 0) + 1;
          skip('other tracepoints');
          continue;
        }
        const ev = parseEvent(t.event, t.payload);
        if (!ev) {
          bad(file, n, line, `has a ${t.event} event in an unknown format`);
          continue;
        }
        stats.lines.parsed++;
        if (ev.kind === 'ignored') {
          skip('events with no model meaning (sync, errors)');
          continue;
        }
        stats.kernelEvents[ev.kind] = (stats.kernelEvents[ev.kind] ?? 0) + 1;
        recs.push({ ts: t.tsNs, cpu: t.cpu, seq: recs.length, ev });
      }
    } catch (err) {
      // A corrupt or truncated .gz: one clear line, not a stack trace.
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && code.startsWith('Z_'))
        throw new InputError(`Cannot import "${shownPath(file)}": gzip data is corrupt or truncated after line ${n} (${(err as Error).message})`);
      throw err;
    }
  }
  qemu.finish();
  if (qemuFiles > 0 && recs.length === 0)
    throw new InputError(
      `Cannot import ${files.map((f) => `"${shownPath(f)}"`).join(', ')}: a QEMU log needs the guest kernel's iommu trace beside it (the maps and unmaps)`,
    );
  if (stats.lines.parsed === 0)
    throw new InputError(
      `Cannot import ${files.map((f) => `"${shownPath(f)}"`).join(', ')}: no iommu or dma trace events in ${stats.lines.read} line(s)${stats.firstBad.length ? ` (first unparsed: ${stats.firstBad[0].slice(0, 120)})` : ''}`,
    );
  // Per-CPU buffers interleave: sort by time, keeping input order on ties.
  for (let i = 1; i < recs.length; i++) if (recs[i].ts < recs[i - 1].ts) stats.sortedBackwardsTimestamps++;
  recs.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.seq - b.seq));

  // 2. Devices and their default domains.
  const devices = new Map<string, { rid: number; domain: number; attached: boolean }>();
  let synthetic = 0;
  const deviceOf = (name: string) => {
    let d = devices.get(name);
    if (!d) {
      // Non-PCI devices (platform "1d84000.ufshc") get IDs in segment 0xffff.
      const rid = parseBdf(name) ?? 0xffff0000 + synthetic++;
      d = { rid, domain: DEFAULT_DOMAIN + 1 + devices.size, attached: false };
      devices.set(name, d);
      stats.devices.push({ name, requesterId: rid, domain: d.domain });
    }
    return d;
  };

  // 3. Attribution of iommu:map/unmap.
  // Neighbours are looked for in each CPU's input order (its buffer order),
  // which a sort by ts could disturb when timestamps tie.
  const byCpu = new Map<number, number[]>();
  const inputOrder = recs.map((_, i) => i).sort((a, b) => recs[a].seq - recs[b].seq);
  for (const i of inputOrder) {
    const r = recs[i];
    let list = byCpu.get(r.cpu);
    if (!list) byCpu.set(r.cpu, (list = []));
    list.push(i);
  }
  const posInCpu = new Map<number, number>();
  for (const list of byCpu.values()) list.forEach((idx, k) => posInCpu.set(idx, k));
  // Map operations (docs/trace-format.md, map_more): iommu_map_sg() maps its
  // segments one __iommu_map() each, at iova + mapped (iommu.c
  // __iommu_map_sg()), each traced as one iommu:map, and syncs once after the
  // last; so a map whose next event on its CPU is a map starting where it
  // ends continues into that one. A separate iommu_map() call lands below
  // (the IOVA allocator works down) or after another event on the CPU.
  // mapNext[i]: the record that map i continues into, or -1.
  const mapNext = new Int32Array(recs.length).fill(-1);
  for (const list of byCpu.values())
    for (let k = 0; k + 1 < list.length; k++) {
      const e = recs[list[k]].ev;
      const next = recs[list[k + 1]].ev;
      if (e.kind === 'iommu_map' && next.kind === 'iommu_map' && next.iova === e.iova + e.size) mapNext[list[k]] = list[k + 1];
    }
  const mapRow = new Int32Array(recs.length).fill(-1); // record -> its map row in outEv
  // runEnd[i]: the last map of the run that map i belongs to. iommu_map_sg()
  // traces one iommu:map per physically contiguous piece (iommu.c
  // __iommu_map_sg() merges contiguous entries into one __iommu_map()), and
  // dma_map_sg is traced after the call returns: every map of the run looks
  // for its dma_map_sg after the run's last map, however many pieces it has.
  const runEnd = new Int32Array(recs.length).fill(-1);
  for (const list of byCpu.values())
    for (let k = list.length - 1; k >= 0; k--) {
      const i = list[k];
      if (recs[i].ev.kind === 'iommu_map') runEnd[i] = mapNext[i] >= 0 ? runEnd[mapNext[i]] : i;
    }
  /** The dma:* record that iommu:map or iommu:unmap record i belongs to, or -1. */
  const partner = (i: number): number => {
    const r = recs[i];
    const list = byCpu.get(r.cpu)!;
    if (r.ev.kind === 'iommu_map') {
      const { iova, size } = r.ev;
      const k = posInCpu.get(runEnd[i])!;
      for (let j = k + 1; j < Math.min(list.length, k + 1 + NEIGHBOURS); j++) {
        const e = recs[list[j]].ev;
        if (e.kind === 'dma_map' && e.ranges.some((x) => overlaps(x.addr, x.size, iova, size))) return list[j];
        if (e.kind === 'dma_alloc' && overlaps(e.addr, e.size, iova, size)) return list[j];
      }
    } else if (r.ev.kind === 'iommu_unmap') {
      const { iova, size } = r.ev;
      const k = posInCpu.get(i)!;
      for (let j = k + 1; j < Math.min(list.length, k + 1 + NEIGHBOURS); j++) {
        const e = recs[list[j]].ev;
        if (e.kind === 'dma_unmap' && (e.sg || overlaps(e.addr!, e.size!, iova, size))) return list[j];
        if (e.kind === 'iommu_unmap' || e.kind === 'iommu_map') break;
      }
      for (let j = k - 1; j >= Math.max(0, k - NEIGHBOURS); j--) {
        const e = recs[list[j]].ev;
        if (e.kind === 'dma_free' && overlaps(e.addr, e.size, iova, size)) return list[j];
        if (e.kind === 'iommu_unmap' || e.kind === 'iommu_map') break;
      }
    }
    return -1;
  };
  const partnerOf = new Int32Array(recs.length).fill(-1);
  // unmapOf[u]: the iommu:unmap that dma_unmap record u belongs to (traced
  // before it on its CPU), where the mapping really ends.
  const unmapOf = new Int32Array(recs.length).fill(-1);
  for (let i = 0; i < recs.length; i++) {
    const kind = recs[i].ev.kind;
    if (kind !== 'iommu_map' && kind !== 'iommu_unmap') continue;
    const p = (partnerOf[i] = partner(i));
    if (kind === 'iommu_unmap' && p >= 0 && recs[p].ev.kind === 'dma_unmap' && unmapOf[p] < 0) unmapOf[p] = i;
  }
  /** The device of the dma:* record that iommu record i belongs to. */
  const partnerDevice = (i: number): string | undefined => {
    const p = partnerOf[i];
    return p >= 0 ? (recs[p].ev as { device: string }).device : undefined;
  };

  // 4. Output events.
  const outEv: OutEvent[] = [];
  let order = 0;
  const push = (ts: bigint, op: OpCode, device: number, domain: number, iova = 0n, paddr = 0n, size = 0n, synthesized = false) =>
    outEv.push({ ts, order: synthesized ? 1e15 + order++ : order++, op, device, domain, iova, paddr, size });
  const attachAt = (ts: bigint, name: string) => {
    const d = deviceOf(name);
    if (!d.attached) {
      d.attached = true;
      push(ts, Op.Attach, d.rid, d.domain);
    }
    return d;
  };
  const owner = new Map<bigint, string>(); // iova -> device that mapped it
  // Where each mapping ends: indices of unmaps and frees by (device, address).
  const ends = new Map<string, number[]>();
  // A dma_unmap_sg carries no DMA address: it ends the dma_map_sg of the same
  // phys_addrs list, or (a format without them) the device's next one.
  const sgKey = (device: string, phys: string | undefined) => (phys === undefined ? `${device}|sg` : `${device}|sg|${phys}`);
  recs.forEach((r, i) => {
    const e = r.ev;
    const key =
      e.kind === 'dma_unmap' ? (e.sg ? sgKey(e.device, e.phys) : `${e.device}|${e.addr}`) : e.kind === 'dma_free' ? `${e.device}|free|${e.addr}` : undefined;
    if (key === undefined) return;
    let list = ends.get(key);
    if (!list) ends.set(key, (list = []));
    list.push(i);
  });
  /** The first end (unmap or free) record under `key` after record i. */
  const endAfter = (key: string, i: number): number | undefined => {
    const list = ends.get(key);
    if (!list) return undefined;
    let a = 0;
    let b = list.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (list[m] <= i) a = m + 1;
      else b = m;
    }
    return a < list.length ? list[a] : undefined;
  };
  // Devices named by --device (or, with a QEMU log, the devices it saw that
  // the kernel trace gave no domain) sit on the default domain from the start.
  const extra = [...(opts.devices ?? [])];
  if (qemuFiles > 0 && extra.length === 0) for (const d of qemu.log.counts.devices) extra.push(d);
  const firstTs = recs.length ? recs[0].ts : 0n;
  for (const name of extra) {
    if (devices.has(name)) continue;
    const rid = parseBdf(name);
    if (rid === undefined) throw new InputError(`Invalid option --device: expected a PCI address like 0000:03:00.0, got ${name}`);
    const d = { rid, domain: DEFAULT_DOMAIN, attached: true };
    devices.set(name, d);
    stats.devices.push({ name, requesterId: rid, domain: DEFAULT_DOMAIN });
    push(firstTs, Op.Attach, rid, DEFAULT_DOMAIN);
  }
  const rng = new Rng(opts.seed);
  const lastTs = recs.length ? recs[recs.length - 1].ts : 0n;
  recs.forEach((r, i) => {
    const ev = r.ev;
    switch (ev.kind) {
      case 'iommu_map':
      case 'iommu_unmap': {
        let name = ev.device;
        if (name) stats.attribution.vendorDevField++;
        else if ((name = partnerDevice(i))) stats.attribution.sameCpuNeighbour++;
        else if (ev.kind === 'iommu_unmap' && (name = owner.get(ev.iova))) stats.attribution.earlierMapping++;
        else stats.attribution.defaultDomain++;
        const domain = name ? attachAt(r.ts, name).domain : DEFAULT_DOMAIN;
        if (ev.kind === 'iommu_map') {
          if (name) owner.set(ev.iova, name);
          push(r.ts, Op.Map, 0, domain, ev.iova, ev.paddr, ev.size);
          mapRow[i] = outEv.length - 1;
        } else {
          owner.delete(ev.iova);
          push(r.ts, Op.Unmap, 0, domain, ev.iova, 0n, ev.size);
        }
        break;
      }
      case 'attach':
      case 'group':
        attachAt(r.ts, ev.device);
        break;
      case 'fault': {
        // The device really accessed this address: replay the access.
        const d = attachAt(r.ts, ev.device);
        push(r.ts, ev.write ? Op.DmaWrite : Op.DmaRead, d.rid, 0, ev.iova, 0n, 1n);
        break;
      }
      case 'dma_map': {
        const d = attachAt(r.ts, ev.device);
        if (!opts.synthesizeDma) break;
        // Read or written once in full between map and unmap: strictly
        // before the iommu:unmap that ends the mapping, which the kernel
        // traces before the dma_unmap event (and, in strict mode, before
        // waiting for the invalidation: iommu.c __iommu_unmap(), then
        // iommu_iotlb_sync()); the dma_unmap's own time when no iommu:unmap
        // belongs to it.
        const u = endAfter(ev.sg ? sgKey(ev.device, ev.phys) : `${ev.device}|${ev.ranges[0]?.addr}`, i);
        const end = u === undefined ? undefined : recs[unmapOf[u] >= 0 ? unmapOf[u] : u].ts;
        const half = end === undefined ? STREAMING_ACCESS_DELAY_NS : end > r.ts ? (end - r.ts) / 2n : 0n;
        const at = r.ts + (half > STREAMING_ACCESS_DELAY_NS ? STREAMING_ACCESS_DELAY_NS : half);
        // No time between the dma_map and the unmap (equal timestamps): the
        // access keeps the dma_map's time and its row goes in the dma_map's
        // place, after the map's row and before the unmap's.
        const inPlace = end !== undefined && at >= end;
        for (const x of ev.ranges) {
          if (ev.dir !== 'FROM_DEVICE') push(at, Op.DmaRead, d.rid, 0, x.addr, 0n, x.size, !inPlace);
          if (ev.dir !== 'TO_DEVICE') push(at, Op.DmaWrite, d.rid, 0, x.addr, 0n, x.size, !inPlace);
          stats.synthesized.streaming += ev.dir === 'FROM_DEVICE' || ev.dir === 'TO_DEVICE' ? 1 : 2;
        }
        break;
      }
      case 'dma_unmap':
        attachAt(r.ts, ev.device);
        break;
      case 'dma_alloc': {
        const d = attachAt(r.ts, ev.device);
        if (!opts.synthesizeDma || opts.coherentRateHz <= 0) break;
        const u = endAfter(`${ev.device}|free|${ev.addr}`, i);
        const until = u === undefined ? lastTs : recs[u].ts;
        let period = BigInt(Math.max(1, Math.round(1e9 / opts.coherentRateHz)));
        // Accesses strictly inside the life at the rate; past the cap, the
        // capped number spread evenly over the whole life instead.
        const life = until - r.ts;
        if (life > 0n && (life - 1n) / period > BigInt(MAX_COHERENT_ACCESSES)) {
          period = life / BigInt(MAX_COHERENT_ACCESSES + 1);
          stats.synthesizedSpread = (stats.synthesizedSpread ?? 0) + 1;
        }
        const span = Number(ev.size > 64n ? ev.size - 64n : 1n);
        let k = 0;
        for (let t = r.ts + period; t < until && k < MAX_COHERENT_ACCESSES; t += period, k++) {
          // 64-byte aligned, in plain arithmetic: `& ~63` is an int32
          // operation and wraps offsets past 2 GiB to negative ones.
          const x = Math.floor(rng.float() * span);
          const off = BigInt(x - (x % 64));
          push(t, k % 2 === 0 ? Op.DmaRead : Op.DmaWrite, d.rid, 0, ev.addr + off, 0n, ev.size < 64n ? ev.size : 64n, true);
          stats.synthesized.coherent++;
        }
        break;
      }
      case 'dma_free':
        attachAt(r.ts, ev.device);
        break;
    }
  });
  // An operation is one domain's: a run whose next map went to another domain (attributed otherwise) ends there.
  for (let i = 0; i < recs.length; i++) {
    if (mapRow[i] < 0) continue;
    const next = mapNext[i];
    if (next >= 0 && outEv[mapRow[next]].domain === outEv[mapRow[i]].domain) outEv[mapRow[i]].more = true;
    else stats.mapOperations++;
  }
  outEv.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.order - b.order));
  let events = outEv;
  if (qemuFiles > 0) {
    const host = qemu.log.events;
    const al = alignQemu(outEv, host, { map: Op.Map, unmap: Op.Unmap });
    stats.qemu = { ...qemu.log.counts, alignment: al.stats };
    // Guest events before the host events their positions name; each
    // translation becomes one read of one page (QEMU does not log the access
    // direction: docs/qemu.md). Times are kept non-decreasing.
    // The domains of the devices QEMU saw, for --qemu-flushes.
    const qemuDomains = [...new Set(qemu.log.counts.devices.map((n) => devices.get(n)?.domain).filter((d): d is number => d !== undefined))].sort(
      (a, b) => a - b,
    );
    events = [];
    let j = 0;
    let last = 0;
    const at = (t: number) => (last = Math.max(last, Math.round(t)));
    for (let h = 0; h <= host.length; h++) {
      for (; j < outEv.length && al.positions[j] <= h; j++) events.push({ ...outEv[j], ts: BigInt(at(al.guestTsNs[j])) });
      const e = host[h];
      if (h < host.length && e.kind === 'translate')
        events.push({ ts: BigInt(at(al.hostTsNs[h])), order: 0, op: Op.DmaRead, device: e.rid, domain: 0, iova: e.iova, paddr: 0n, size: e.pageSize });
      else if (h < host.length && opts.qemuFlushes && (e.kind === 'domain' || e.kind === 'global'))
        for (const domain of qemuDomains)
          events.push({ ts: BigInt(at(al.hostTsNs[h])), order: 0, op: Op.Flush, device: 0, domain, iova: 0n, paddr: 0n, size: 0n });
    }
  }
  stats.events = events.length;

  // 5. Write.
  const w = new TraceWriter(
    out,
    {
      workload: `imported from ${names.join(', ')}${opts.synthesizeDma ? ' (synthesized DMA)' : ''}`,
      importStats: {
        lines: stats.lines,
        attribution: stats.attribution,
        synthesized: stats.synthesized,
        devices: stats.devices,
        lost: stats.lost,
        mapOperations: stats.mapOperations,
        ...(stats.qemu ? { qemu: stats.qemu } : {}),
      },
    },
    true,
  );
  try {
    const ROWS = 65536;
    const b = allocBatch(ROWS);
    for (const e of events) {
      const i = b.length++;
      setU64Big(b.ts, i, e.ts);
      b.op[i] = e.op;
      b.device[i] = e.device;
      b.pasid[i] = 0;
      b.domain[i] = e.domain;
      setU64Big(b.iova, i, e.iova);
      setU64Big(b.paddr, i, e.paddr);
      setU64Big(b.size, i, e.size);
      b.mapMore![i] = e.more ? 1 : 0;
      if (b.length === ROWS) {
        await w.write(b);
        b.length = 0;
      }
    }
    if (b.length) await w.write(b);
    await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
  return stats;
}
