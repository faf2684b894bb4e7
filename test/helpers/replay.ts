// Replays event lists in memory (no files) and returns the summary.
import { resolveConfig } from '../../src/config/config.js';
import { Replay } from '../../src/model/replay.js';
import { buildSummary, type Summary } from '../../src/stats/summary.js';
import type { DomainType, TraceMetadata } from '../../src/trace/schema.js';
import { batchOf, type Ev } from './events.js';

export interface Meta {
  domains?: Record<number, DomainType>;
  topology?: TraceMetadata['topology'];
}

export function metaOf(m: Meta = {}): TraceMetadata {
  return { domains: new Map(Object.entries(m.domains ?? {}).map(([k, v]) => [Number(k), v])), topology: m.topology };
}

export function replayEvents(events: Ev[], config: object = {}, meta: Meta = {}): Summary {
  const r = new Replay(resolveConfig(config, 'test'), metaOf(meta));
  // Split into two batches so that batch boundaries are exercised too.
  const mid = Math.floor(events.length / 2);
  r.consume(batchOf(events.slice(0, mid)));
  r.consume(batchOf(events.slice(mid)));
  return buildSummary(r, ['test']);
}

export function domainRow(s: Summary, id: number) {
  const row = s.byDomain.find((d) => d.domain === id);
  if (!row) throw new Error(`no domain ${id} in summary`);
  return row;
}
