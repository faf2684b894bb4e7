// The trace's domain types (trace-format.md, schema.ts DomainType) as small
// codes for typed arrays: the model keeps one per domain slot, and the
// invalidation vendors decide a teardown by it. Here, at the bottom, so that
// every layer that needs them can import them.
import type { DomainType } from './schema.js';

export const T_PAGING = 0;
export const T_IDENTITY = 1;
export const T_BLOCKED = 2;
export const T_SVA = 3;
/** A guest's stage 1 over a paging parent's stage 2 (docs/model.md §8). */
export const T_NESTED = 4;
/** Names by code: T_* codes are indexes here. */
export const TYPE_NAMES: readonly DomainType[] = ['paging', 'identity', 'blocked', 'sva', 'nested'];
