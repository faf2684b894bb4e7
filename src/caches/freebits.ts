// A set of integers [0, n) with "the first member at or after i" in a few
// steps: a 32-ary tree of bitmaps (level 0 one bit an element; a bit of level
// k + 1 says that word of level k is not zero). It finds the first non-valid
// way of a set of an IndexedTable (caches/table.ts) without scanning ways.

/** Index of the lowest set bit of a non-zero int32. */
function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

export class FreeBits {
  private readonly levels: Int32Array[] = [];

  /** All of [0, n) in the set. */
  constructor(readonly n: number) {
    let count = n;
    do {
      const words = Math.max(1, Math.ceil(count / 32));
      const level = new Int32Array(words).fill(-1);
      // Bits past `count` are not members.
      const tail = count - (words - 1) * 32;
      if (tail < 32) level[words - 1] = tail === 0 ? 0 : -1 >>> (32 - tail);
      this.levels.push(level);
      count = words;
    } while (count > 1);
  }

  add(i: number): void {
    for (const level of this.levels) {
      const w = i >>> 5;
      const was = level[w];
      level[w] = was | (1 << (i & 31));
      if (was !== 0) return;
      i = w;
    }
  }

  delete(i: number): void {
    for (const level of this.levels) {
      const w = i >>> 5;
      const now = level[w] & ~(1 << (i & 31));
      level[w] = now;
      if (now !== 0) return;
      i = w;
    }
  }

  has(i: number): boolean {
    return (this.levels[0][i >>> 5] & (1 << (i & 31))) !== 0;
  }

  /** The smallest member >= from, or -1. */
  next(from: number): number {
    const levels = this.levels;
    let k = 0;
    let i = from;
    for (;;) {
      if (k === levels.length) return -1;
      const level = levels[k];
      const w = i >>> 5;
      if (w >= level.length) return -1;
      const bits = level[w] & (-1 << (i & 31));
      if (bits !== 0) {
        i = (w << 5) + ctz(bits);
        break;
      }
      i = w + 1;
      k++;
    }
    while (k > 0) {
      k--;
      i = (i << 5) + ctz(levels[k][i]);
    }
    return i;
  }
}
