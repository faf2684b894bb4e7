// An EventBatch packed into one ArrayBuffer, so that it can cross a thread
// boundary by transfer (no copy) and its storage can be handed back for reuse.
// Layout: the 8-byte columns first (ts, iova, paddr, size: 2 words a row), then
// the 4-byte ones (device, pasid, domain), then op; every section stays aligned.
import type { EventBatch } from './batch.js';

/** Bytes of a packed batch of `rows` rows. */
export function packedBytes(rows: number): number {
  return rows * (4 * 8 + 3 * 4 + 1);
}

/** Views of a packed buffer as a batch of `length` rows (no copy). */
export function viewPacked(buf: ArrayBuffer, length: number, firstRow: number): EventBatch {
  let at = 0;
  const words = (perRow: number): Uint32Array => {
    const v = new Uint32Array(buf, at, length * perRow);
    at += length * perRow * 4;
    return v;
  };
  const ts = words(2);
  const iova = words(2);
  const paddr = words(2);
  const size = words(2);
  const device = words(1);
  const pasid = words(1);
  const domain = words(1);
  const op = new Uint8Array(buf, at, length);
  return { length, firstRow, ts, op, device, pasid, domain, iova, paddr, size };
}

/** Copies `b` into `buf` (at least packedBytes(b.length) bytes) and returns the packed views. */
export function pack(b: EventBatch, buf: ArrayBuffer): EventBatch {
  const out = viewPacked(buf, b.length, b.firstRow);
  const n = b.length;
  out.ts.set(b.ts.subarray(0, 2 * n));
  out.iova.set(b.iova.subarray(0, 2 * n));
  out.paddr.set(b.paddr.subarray(0, 2 * n));
  out.size.set(b.size.subarray(0, 2 * n));
  out.device.set(b.device.subarray(0, n));
  out.pasid.set(b.pasid.subarray(0, n));
  out.domain.set(b.domain.subarray(0, n));
  out.op.set(b.op.subarray(0, n));
  return out;
}
