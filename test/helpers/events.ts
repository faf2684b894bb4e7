// Test helper: traces from readable event lists.
import { allocBatch, type EventBatch } from '../../src/trace/batch.js';
import { OP_CODE_BY_NAME, type OpName } from '../../src/trace/schema.js';

export interface Ev {
  ts?: number;
  op: OpName;
  device?: number;
  pasid?: number;
  domain?: number;
  iova?: number | bigint;
  paddr?: number | bigint;
  size?: number | bigint;
  /** map rows: more maps of this operation follow (the trace's optional map_more column). */
  mapMore?: number;
}

function put64(words: Uint32Array, i: number, v: number | bigint | undefined): void {
  const b = BigInt(v ?? 0);
  words[2 * i] = Number(b & 0xffffffffn);
  words[2 * i + 1] = Number(b >> 32n);
}

/** One batch of events; ts defaults to the row index. */
export function batchOf(events: Ev[]): EventBatch {
  const b = allocBatch(Math.max(1, events.length));
  events.forEach((e, i) => {
    put64(b.ts, i, e.ts ?? i);
    b.op[i] = OP_CODE_BY_NAME.get(e.op)!;
    b.device[i] = e.device ?? 0;
    b.pasid[i] = e.pasid ?? 0;
    b.domain[i] = e.domain ?? 0;
    put64(b.iova, i, e.iova);
    put64(b.paddr, i, e.paddr);
    put64(b.size, i, e.size);
    b.mapMore![i] = e.mapMore ?? 0;
  });
  b.length = events.length;
  return b;
}

export const K4 = 0x1000;
export const M2 = 0x200000;
export const G1 = 0x40000000;
