// Seeded benchmark traces, generated on demand into bench/data/ (never committed).
import fs from 'node:fs';
import path from 'node:path';
import { allocBatch, setU64, type EventBatch } from '../src/trace/batch.js';
import { Op } from '../src/trace/schema.js';
import { TraceWriter } from '../src/trace/writer.js';
import { generate, findWorkload } from '../src/workloads/index.js';
import { Rng } from '../src/workloads/rng.js';

export const DATA_DIR = path.resolve('bench/data');

/** Rows of one batch at a time to `w`, each batch written when full; `flush` writes the last. */
function rowWriter(w: TraceWriter) {
  const ROWS = 65536;
  const b: EventBatch = allocBatch(ROWS);
  return {
    async emit(ts: number, op: number, iova: number, paddr: number, size: number, device: number, domain: number): Promise<void> {
      const i = b.length++;
      setU64(b.ts, i, ts);
      b.op[i] = op;
      b.device[i] = device;
      b.pasid[i] = 0;
      b.domain[i] = domain;
      setU64(b.iova, i, iova);
      setU64(b.paddr, i, paddr);
      setU64(b.size, i, size);
      if (b.length === ROWS) {
        await w.write(b);
        b.length = 0;
      }
    },
    async flush(): Promise<void> {
      if (b.length > 0) await w.write(b);
      b.length = 0;
    },
  };
}

/**
 * DMA-heavy: one device on one domain with a 256 MiB working set (4K pages,
 * some 2M), 90% DMA of 64 B to 4 KiB at random addresses in it (far larger
 * than any IOTLB), 10% remaps of a 4K page (unmap then map).
 */
async function writeDmaHeavy(file: string, events: number, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const w = new TraceWriter(file, { workload: `bench dma-heavy events=${events} seed=${seed}` });
  const rows = rowWriter(w);
  const DEV = 0x300;
  const WS_PAGES = 65536; // 256 MiB
  const BASE = 0x100000000; // iova 4 GiB
  let ts = 0;
  let n = 0;
  const emit = async (op: number, iova: number, paddr: number, size: number, device = 0, domain = 1) => {
    await rows.emit(ts, op, iova, paddr, size, device, domain);
    n++;
  };
  await emit(Op.Attach, 0, 0, 0, DEV, 1);
  // The first quarter of the working set in 2M pages, the rest in 4K pages.
  for (let p = 0; p < WS_PAGES && n < events;) {
    const huge = p < WS_PAGES / 4;
    const size = huge ? 0x200000 : 0x1000;
    await emit(Op.Map, BASE + p * 4096, 0x800000000 + p * 4096, size);
    p += size / 4096;
  }
  while (n < events) {
    ts += 1 + rng.int(20);
    if (rng.chance(0.9)) {
      const size = 64 << rng.int(7);
      const page = rng.int(WS_PAGES);
      await emit(rng.chance(0.5) ? Op.DmaRead : Op.DmaWrite, BASE + page * 4096 + rng.int(4096 - Math.min(size, 4032)), 0, size, DEV, 0);
    } else if (n + 1 < events) {
      const page = WS_PAGES / 4 + rng.int((WS_PAGES * 3) / 4);
      await emit(Op.Unmap, BASE + page * 4096, 0, 4096);
      await emit(Op.Map, BASE + page * 4096, 0x800000000 + rng.int(1 << 20) * 4096, 4096);
    }
  }
  await rows.flush();
  await w.close();
}

/** The Dinero-equivalent work: pages mapped, 4K each, and where they start (iova 256 MiB, below 2^32 for Dinero's 32-bit addresses). */
export const DINERO_PAGES = 8192;
const DINERO_BASE = 0x10000000;

/**
 * The Dinero-equivalent work (issue 28): one device on one domain, 8192 4K
 * pages mapped, then `events` single-page DMA reads (64 B at a random
 * 64-byte-aligned offset of a random mapped page). The same references
 * go to `dinFile` in Dinero IV's binary input format (`-informat b`,
 * binaryfmt.c: per reference a little-endian uint32 address, a uint16 size,
 * a byte of access type, 0 = read, and a byte of padding).
 */
async function writeDineroWork(file: string, dinFile: string, events: number, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const w = new TraceWriter(file, { workload: `bench dinero events=${events} seed=${seed}` });
  const rows = rowWriter(w);
  const DEV = 0x300;
  const REFS = 65536;
  const refs = Buffer.alloc(8 * REFS);
  let nRefs = 0;
  const din = fs.openSync(dinFile, 'w');
  let n = 0;
  const emit = async (op: number, iova: number, paddr: number, size: number, domain: number) => {
    await rows.emit(n, op, iova, paddr, size, DEV, domain);
    n++;
    if (op === Op.DmaRead) {
      refs.writeUInt32LE(iova, 8 * nRefs);
      refs.writeUInt16LE(size, 8 * nRefs + 4);
      refs[8 * nRefs + 6] = 0; // D4XREAD
      refs[8 * nRefs + 7] = 0;
      if (++nRefs === REFS) {
        fs.writeSync(din, refs);
        nRefs = 0;
      }
    }
  };
  await emit(Op.Attach, 0, 0, 0, 1);
  for (let p = 0; p < DINERO_PAGES; p++) await emit(Op.Map, DINERO_BASE + p * 4096, 0x800000000 + p * 4096, 4096, 1);
  for (let k = 0; k < events; k++) await emit(Op.DmaRead, DINERO_BASE + rng.int(DINERO_PAGES) * 4096 + rng.int(64) * 64, 0, 64, 0);
  if (nRefs > 0) fs.writeSync(din, refs.subarray(0, 8 * nRefs));
  fs.closeSync(din);
  await rows.flush();
  await w.close();
}

/** The Dinero-equivalent work's trace and its references in Dinero IV's binary format, generating both first when missing. */
export async function dineroWork(events: number, seed = 7): Promise<{ trace: string; din: string }> {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  const trace = path.join(DATA_DIR, `dinero-${events}-s${seed}.arrows`);
  const din = path.join(DATA_DIR, `dinero-${events}-s${seed}.bin`);
  if (!fs.existsSync(trace) || !fs.existsSync(din)) await writeDineroWork(trace, din, events, seed);
  return { trace, din };
}

/** Path of a benchmark trace, generating it first when missing. */
export async function benchTrace(kind: 'dma' | 'nic', events: number, seed = 7): Promise<string> {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  const file = path.join(DATA_DIR, `${kind}-${events}-s${seed}.arrows`);
  if (fs.existsSync(file)) return file;
  if (kind === 'dma') await writeDmaHeavy(file, events, seed);
  else await generate(findWorkload('nic')!, file, { events, seed, devices: 2, fragmentation: 0.5, rateScale: 1 });
  return file;
}
