// Typed-array helpers shared by the model's growable state.

/** A copy of `a` with room for `capacity` elements (the rest zero). */
export function grow<T extends Float64Array | Int32Array | Int16Array | Uint8Array | Int8Array>(a: T, capacity: number): T {
  const next = new (a.constructor as new (n: number) => T)(capacity);
  next.set(a);
  return next;
}
