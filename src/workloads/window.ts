// The IOTLB-reach experiment of Neugebauer et al., "Understanding PCIe
// performance for end host networking" (SIGCOMM 2018, §5.3), as pcie-bench
// runs it: the host buffer (64 MiB unless `bufferBytes` says otherwise) is
// allocated and mapped once, and the device then reads or writes
// `transferBytes` at a time inside its first `windowBytes`, at uniformly
// random transfer-aligned offsets or sequentially (wrapping at the window's
// end). With 4K pages the hit rate falls once the window outgrows entries x
// 4 KiB; with superpages allowed the buffer is mapped with 2M pages (a
// contiguous, aligned buffer), and even a small window lies inside one.
import { InputError } from '../errors.js';
import { byteSizeOf } from '../config/limits.js';
import { PAGE, dmaBuffer } from './dmaapi.js';
import { eachDevice, type Workload, type WorkloadContext, type WorkloadOptions } from './workload.js';

/** 4 MiB unless --window says otherwise. */
export const DEFAULT_WINDOW_BYTES = 4 << 20;
/** pcie-bench's host buffer: 64 MiB, mapped once (--buffer). */
export const DEFAULT_BUFFER_BYTES = 64 << 20;
export const DEFAULT_TRANSFER_BYTES = 64;
export const WINDOW_PATTERNS = ['random', 'sequential'] as const;
export type WindowPattern = (typeof WINDOW_PATTERNS)[number];
const TRANSFERS_PER_S = 10_000_000;

/** The window workload's own options, defaults filled in. */
export interface WindowShape {
  windowBytes: number;
  bufferBytes: number;
  transferBytes: number;
  pattern: WindowPattern;
  write: boolean;
}

/** The options' window shape: the buffer is at least the window (64 MiB unless given). */
export function windowShape(opts: WorkloadOptions): WindowShape {
  const windowBytes = opts.windowBytes ?? DEFAULT_WINDOW_BYTES;
  return {
    windowBytes,
    bufferBytes: opts.bufferBytes ?? Math.max(DEFAULT_BUFFER_BYTES, windowBytes),
    transferBytes: opts.transferBytes ?? DEFAULT_TRANSFER_BYTES,
    pattern: opts.pattern ?? 'random',
    write: opts.write ?? false,
  };
}

/** Why a window shape cannot be generated (one phrase), or undefined when it can. */
export function windowShapeProblem(s: WindowShape): string | undefined {
  const ok = (n: number, min: number) => Number.isSafeInteger(n) && n >= min && n <= 2 ** 40;
  if (!ok(s.windowBytes, 64)) return `the window must be 64 bytes to 1T, got ${s.windowBytes}`;
  if (!ok(s.bufferBytes, 64)) return `the buffer must be 64 bytes to 1T, got ${s.bufferBytes}`;
  if (!ok(s.transferBytes, 1) || s.transferBytes > s.windowBytes)
    return `the transfer size must be 1 byte to the window (${s.windowBytes}), got ${s.transferBytes}`;
  if (s.windowBytes > s.bufferBytes) return `the window (${s.windowBytes} bytes) is larger than the buffer (${s.bufferBytes} bytes)`;
  return undefined;
}

export const window: Workload = {
  name: 'window',
  granules: true,
  describe:
    'IOTLB reach (Neugebauer et al., SIGCOMM 2018; pcie-bench): one mapping of a --buffer BYTES buffer (64M), then --transfer BYTES (64) DMA reads (or --write) at random (or --pattern sequential) in its first --window BYTES',
  start(ctx: WorkloadContext, deviceBase: number, domainBase: number) {
    const { sim, rng } = ctx;
    const s = windowShape(ctx.opts);
    const pages = Math.max(1, Math.ceil(s.bufferBytes / PAGE));
    eachDevice(ctx, 0x05, deviceBase, domainBase, (rid, dom) => {
      const buf = dom.map(ctx.phys.alloc(pages));
      const slots = Math.max(1, Math.floor(s.windowBytes / s.transferBytes));
      const gapNs = 1e9 / (TRANSFERS_PER_S * ctx.opts.rateScale);
      let next = 0;
      const transfer = () => {
        if (sim.done) return;
        const slot = s.pattern === 'random' ? rng.int(slots) : next++ % slots;
        dmaBuffer(sim, s.write, rid, buf, slot * s.transferBytes, s.transferBytes);
        sim.after(gapNs, transfer);
      };
      sim.after(1000, transfer);
    });
  },
  label(opts) {
    const s = windowShape(opts);
    return ` window=${s.windowBytes} buffer=${s.bufferBytes} transfer=${s.transferBytes} pattern=${s.pattern} ${s.write ? 'write' : 'read'}`;
  },
};

/** A described window: the workload's shape, and whether the IOTLB is measured warm (docs/fit.md). */
export interface WindowDescription {
  shape: WindowShape;
  /** Count only the transfers after as many again have warmed the IOTLB (`warm`); `cold` (the default) counts from the empty IOTLB. */
  warm: boolean;
}

/**
 * A window workload described in one word, as `fit`'s CSV names it:
 * `window:WINDOW:TRANSFER[:OPTION]...`, sizes in bytes or 4K/1.5M-style,
 * options `rnd`|`seq` (random, the default, or sequential), `rd`|`wr`
 * (read, the default, or write), `cold`|`warm` (the IOTLB at the start of
 * the measured transfers) and `buffer=SIZE`. Throws InputError naming what
 * is wrong (the caller says where).
 */
export function parseWindowDescription(text: string): WindowDescription {
  const parts = text.split(':').map((p) => p.trim());
  if (parts[0] !== 'window' || parts.length < 3)
    throw new InputError(
      `unknown workload description "${text}": expected window:WINDOW:TRANSFER[:rnd|seq][:rd|wr][:cold|warm][:buffer=SIZE], e.g. window:4M:64`,
    );
  const size = (what: string, t: string): number => {
    const n = byteSizeOf(t);
    if (n === undefined) throw new InputError(`${what} "${t}" in "${text}" is not a size (bytes, or 4K/1.5M-style)`);
    return n;
  };
  const windowBytes = size('window', parts[1]);
  const transferBytes = size('transfer size', parts[2]);
  let pattern: WindowPattern = 'random';
  let write = false;
  let warm = false;
  let bufferBytes: number | undefined;
  for (const opt of parts.slice(3)) {
    if (opt === 'rnd' || opt === 'random') pattern = 'random';
    else if (opt === 'seq' || opt === 'sequential') pattern = 'sequential';
    else if (opt === 'rd' || opt === 'read') write = false;
    else if (opt === 'wr' || opt === 'write') write = true;
    else if (opt === 'cold' || opt === 'warm') warm = opt === 'warm';
    else if (opt.startsWith('buffer=')) bufferBytes = size('buffer', opt.slice('buffer='.length));
    else throw new InputError(`unknown option "${opt}" in "${text}": expected rnd, seq, rd, wr, cold, warm or buffer=SIZE`);
  }
  const shape = windowShape({ windowBytes, bufferBytes, transferBytes, pattern, write } as WorkloadOptions);
  const problem = windowShapeProblem(shape);
  if (problem) throw new InputError(`"${text}": ${problem}`);
  return { shape, warm };
}
