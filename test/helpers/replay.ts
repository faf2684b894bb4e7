// Replays event lists in memory (no files) and returns the summary.
import { resolveConfig } from '../../src/config/config.js';
import { Replay } from '../../src/model/replay.js';
import { buildSummary, type Summary } from '../../src/stats/summary.js';
import type { DomainType, TraceMetadata } from '../../src/trace/schema.js';
import { batchOf, type Ev } from './events.js';

export interface Meta {
  /** A nested domain is written as in the trace's metadata: {type: 'nested', parent}. */
  domains?: Record<number, DomainType | { type: 'nested'; parent: number }>;
  topology?: TraceMetadata['topology'];
}

export function metaOf(m: Meta = {}): TraceMetadata {
  const entries = Object.entries(m.domains ?? {}).map(([k, v]) => [Number(k), v] as const);
  return {
    domains: new Map(entries.map(([id, v]) => [id, typeof v === 'string' ? v : 'nested'])),
    parents: new Map(entries.flatMap(([id, v]) => (typeof v === 'string' ? [] : [[id, v.parent] as const]))),
    topology: m.topology,
  };
}

export function replayEvents(events: Ev[], config: object = {}, meta: Meta = {}): Summary {
  const r = new Replay(resolveConfig(config, 'test'), metaOf(meta));
  consumeInTwo(r, events);
  return buildSummary(r, ['test']);
}

/** Feeds `events` to `r` as two batches, so that batch boundaries are exercised too. */
export function consumeInTwo(r: Replay, events: Ev[]): void {
  const mid = Math.floor(events.length / 2);
  r.consume(batchOf(events.slice(0, mid)));
  r.consume(batchOf(events.slice(mid)));
}

export function domainRow(s: Summary, id: number) {
  const row = s.byDomain.find((d) => d.domain === id);
  if (!row) throw new Error(`no domain ${id} in summary`);
  return row;
}
