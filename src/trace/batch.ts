// One record batch as the replay sees it: struct-of-arrays on typed arrays.
// uint64 columns are Uint32Array views with two words a row (lo at 2*i, hi at
// 2*i+1, little-endian as Arrow stores them), so the hot loop needs no BigInt.

export interface EventBatch {
  length: number;
  /** Row index of row 0 within its file (for error messages). */
  firstRow: number;
  ts: Uint32Array;
  /** Op codes (see `Op`), decoded once per batch from the dictionary. */
  op: Uint8Array;
  device: Uint32Array;
  pasid: Uint32Array;
  domain: Uint32Array;
  iova: Uint32Array;
  paddr: Uint32Array;
  size: Uint32Array;
  /** The optional `map_more` column (schema.ts MAP_MORE_COLUMN); absent when the trace has none (every map its own operation). */
  mapMore?: Uint32Array;
}

export const TWO_POW_32 = 4294967296;

/** A uint64 column value as a number (exact below 2^53). */
export function u64(words: Uint32Array, row: number): number {
  return words[2 * row + 1] * TWO_POW_32 + words[2 * row];
}

/** The 4 KiB page-frame number of a uint64 byte value given as lo/hi words (its low 12 bits dropped). */
export function pfnOf(lo: number, hi: number): number {
  return hi * 1048576 + (lo >>> 12);
}

/**
 * The last 4 KiB page a DMA touches: the one holding its last byte, from the
 * low word of its iova, its first page and its size in bytes (a 0-byte access
 * touches its first page only).
 */
export function lastPfnOf(iovaLo: number, firstPfn: number, sizeBytes: number): number {
  const span = (iovaLo & 0xfff) + (sizeBytes === 0 ? 1 : sizeBytes) - 1;
  return firstPfn + (span < 4294967296 ? span >>> 12 : Math.floor(span / 4096));
}

/** Writes a uint64 (a number, exact below 2^53) as lo/hi words at row i. */
export function setU64(words: Uint32Array, i: number, v: number): void {
  words[2 * i] = v % TWO_POW_32;
  words[2 * i + 1] = Math.floor(v / TWO_POW_32);
}

/** Writes a uint64 given as a bigint (any 64-bit value) as lo/hi words at row i. */
export function setU64Big(words: Uint32Array, i: number, v: bigint): void {
  words[2 * i] = Number(v & 0xffffffffn);
  words[2 * i + 1] = Number((v >> 32n) & 0xffffffffn);
}

/** A uint64 as a number when exact, else as a bigint (JSON prints both plainly). */
export function exactNumber(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A batch with its own storage for `capacity` rows (used by merge and writers). */
export function allocBatch(capacity: number): EventBatch {
  return {
    length: 0,
    firstRow: 0,
    ts: new Uint32Array(2 * capacity),
    op: new Uint8Array(capacity),
    device: new Uint32Array(capacity),
    pasid: new Uint32Array(capacity),
    domain: new Uint32Array(capacity),
    iova: new Uint32Array(2 * capacity),
    paddr: new Uint32Array(2 * capacity),
    size: new Uint32Array(2 * capacity),
    mapMore: new Uint32Array(capacity),
  };
}

/** Copies row `from` of `src` to row `to` of `dst`. */
export function copyRow(src: EventBatch, from: number, dst: EventBatch, to: number): void {
  dst.ts[2 * to] = src.ts[2 * from];
  dst.ts[2 * to + 1] = src.ts[2 * from + 1];
  dst.op[to] = src.op[from];
  dst.device[to] = src.device[from];
  dst.pasid[to] = src.pasid[from];
  dst.domain[to] = src.domain[from];
  dst.iova[2 * to] = src.iova[2 * from];
  dst.iova[2 * to + 1] = src.iova[2 * from + 1];
  dst.paddr[2 * to] = src.paddr[2 * from];
  dst.paddr[2 * to + 1] = src.paddr[2 * from + 1];
  dst.size[2 * to] = src.size[2 * from];
  dst.size[2 * to + 1] = src.size[2 * from + 1];
  if (dst.mapMore) dst.mapMore[to] = src.mapMore ? src.mapMore[from] : 0;
}

/** A copy of the first `length` rows with its own (8-byte aligned) storage. */
export function cloneBatch(b: EventBatch): EventBatch {
  const n = b.length;
  return {
    length: n,
    firstRow: b.firstRow,
    ts: b.ts.slice(0, 2 * n),
    op: b.op.slice(0, n),
    device: b.device.slice(0, n),
    pasid: b.pasid.slice(0, n),
    domain: b.domain.slice(0, n),
    iova: b.iova.slice(0, 2 * n),
    paddr: b.paddr.slice(0, 2 * n),
    size: b.size.slice(0, 2 * n),
    ...(b.mapMore ? { mapMore: b.mapMore.slice(0, n) } : {}),
  };
}
