// lz4js ships no types; the functions the tests use (the reader decodes LZ4 frames itself: trace/codec.ts).
declare module 'lz4js' {
  /** Decodes one LZ4 block of `src[sIndex, sIndex + sLength)` into `dst` from `dIndex`; returns the end index in `dst`. */
  export function decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
  export function compress(src: Uint8Array, maxSize?: number): Uint8Array;
  export function decompress(src: Uint8Array, maxSize?: number): Uint8Array;
  const lz4: { decompressBlock: typeof decompressBlock; compress: typeof compress; decompress: typeof decompress };
  export default lz4;
}
