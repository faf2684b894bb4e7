// Parsing and writing of the schema's custom metadata (docs/trace-format.md,
// "File-level metadata").
import { traceError } from '../errors.js';
import { JsonError, parseUntrustedJson } from '../json.js';
import { printable } from '../text.js';
import { DOMAIN_TYPES, META_DOMAINS, META_IMPORT, META_TOPOLOGY, META_VERSION, META_WORKLOAD, type DomainType, type TraceMetadata } from './schema.js';

export function parseMetadata(file: string, raw: Map<string, string>): TraceMetadata {
  const fail = (key: string, why: string) => traceError(file, `metadata "${key}" ${printable(why, 200)}`);
  const json = (key: string): unknown => {
    const text = raw.get(key);
    if (text === undefined) return undefined;
    try {
      return parseUntrustedJson(text);
    } catch (err) {
      if (err instanceof JsonError) throw traceError(file, `metadata "${key}": ${err.message}`);
      throw err;
    }
  };
  const meta: TraceMetadata = { domains: new Map() };

  const version = json(META_VERSION);
  if (version !== undefined) {
    if (String(version) !== '1') throw fail(META_VERSION, `is ${JSON.stringify(version)}, expected "1"`);
    meta.version = '1';
  }

  const domains = json(META_DOMAINS);
  if (domains !== undefined) {
    if (typeof domains !== 'object' || domains === null || Array.isArray(domains)) throw fail(META_DOMAINS, 'must be an object of domain id to type');
    for (const [key, type] of Object.entries(domains)) {
      const id = Number(key);
      if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw fail(META_DOMAINS, `has key "${key}", expected a uint32 domain id`);
      if (typeof type === 'object' && type !== null && (type as { type?: unknown }).type === 'nested') {
        // {"type": "nested", "parent": N} (docs/model.md §8)
        const parent = (type as { parent?: unknown }).parent;
        if (parent === undefined)
          throw fail(META_DOMAINS, `gives nested domain ${key} no parent, expected {"type": "nested", "parent": <the uint32 id of a paging domain>}`);
        if (!isUint32(parent))
          throw fail(META_DOMAINS, `gives nested domain ${key} parent ${JSON.stringify(parent)}, expected the uint32 id of a paging domain`);
        meta.domains.set(id, 'nested');
        (meta.parents ??= new Map()).set(id, parent);
        continue;
      }
      if (type === 'nested') throw fail(META_DOMAINS, `gives domain ${key} type "nested" without a parent, expected {"type": "nested", "parent": <id>}`);
      if (!DOMAIN_TYPES.includes(type as DomainType))
        throw fail(META_DOMAINS, `gives domain ${key} type ${JSON.stringify(type)}, expected one of ${DOMAIN_TYPES.join(', ')}`);
      meta.domains.set(id, type as DomainType);
    }
    const bad = badParent(meta);
    if (bad !== undefined) throw fail(META_DOMAINS, bad);
  }

  const topology = json(META_TOPOLOGY);
  if (topology !== undefined) {
    const iommus = (topology as { iommus?: unknown })?.iommus;
    if (!Array.isArray(iommus) || iommus.length === 0) throw fail(META_TOPOLOGY, 'must be {"iommus": [...]} with at least one instance');
    const names = iommus.map((m) => (m as { name?: unknown })?.name);
    if (new Set(names).size !== names.length) throw fail(META_TOPOLOGY, `names an instance twice (${names.join(', ')})`);
    meta.topology = {
      iommus: iommus.map((entry, i) => {
        const name = (entry as { name?: unknown })?.name;
        const devices = (entry as { devices?: unknown })?.devices ?? [];
        if (typeof name !== 'string' || name === '') throw fail(META_TOPOLOGY, `iommus[${i}].name must be a non-empty string`);
        if (printable(name, Infinity) !== name) throw fail(META_TOPOLOGY, `iommus[${i}].name ${JSON.stringify(name)} has control characters`);
        if (!Array.isArray(devices) || !devices.every((d) => Number.isInteger(d) && d >= 0 && d <= 0xffffffff))
          throw fail(META_TOPOLOGY, `iommus[${i}].devices must be an array of uint32 requester IDs`);
        return { name, devices: devices as number[] };
      }),
    };
  }

  const imported = json(META_IMPORT);
  if (imported !== undefined && typeof imported === 'object' && imported !== null) meta.importStats = imported as Record<string, unknown>;

  const workload = raw.get(META_WORKLOAD);
  if (workload !== undefined) {
    // Free text; writers may or may not JSON-quote it. Shown in reports, so
    // kept short and printable.
    let v: unknown = workload;
    try {
      v = parseUntrustedJson(workload);
    } catch {
      // not JSON: the text itself
    }
    meta.workload = printable(typeof v === 'string' ? v : workload, 200);
  }
  return meta;
}

function isUint32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** Why a nested domain's parent is not a paging domain (listed or not), or undefined when every parent is. */
function badParent(meta: TraceMetadata): string | undefined {
  for (const [id, parent] of meta.parents ?? []) {
    const type = meta.domains.get(parent) ?? 'paging';
    if (type !== 'paging') return `gives nested domain ${id} parent ${parent}, which is ${type}, expected a paging domain`;
  }
  return undefined;
}

export function metadataToRaw(meta: Partial<TraceMetadata>): Map<string, string> {
  const raw = new Map<string, string>();
  raw.set(META_VERSION, JSON.stringify('1'));
  if (meta.domains && meta.domains.size > 0) {
    const obj: Record<string, unknown> = {};
    for (const id of [...meta.domains.keys()].sort((a, b) => a - b)) {
      const type = meta.domains.get(id)!;
      obj[String(id)] = type === 'nested' ? { type, parent: meta.parents?.get(id) } : type;
    }
    raw.set(META_DOMAINS, JSON.stringify(obj));
  }
  if (meta.topology) raw.set(META_TOPOLOGY, JSON.stringify(meta.topology));
  if (meta.workload !== undefined) raw.set(META_WORKLOAD, JSON.stringify(meta.workload));
  if (meta.importStats !== undefined) raw.set(META_IMPORT, JSON.stringify(meta.importStats));
  return raw;
}

/** Merges the metadata of several files of one trace: domain types must agree. */
export function mergeMetadata(files: { path: string; meta: TraceMetadata }[]): TraceMetadata {
  const out: TraceMetadata = { domains: new Map() };
  for (const { path, meta } of files) {
    for (const [id, type] of meta.domains) {
      const prev = out.domains.get(id);
      if (prev !== undefined && prev !== type) throw traceError(path, `domain ${id} is ${type} here but ${prev} in an earlier file`);
      out.domains.set(id, type);
      const parent = meta.parents?.get(id);
      if (parent === undefined) continue;
      const prevParent = out.parents?.get(id);
      if (prevParent !== undefined && prevParent !== parent)
        throw traceError(path, `nested domain ${id} has parent ${parent} here but ${prevParent} in an earlier file`);
      (out.parents ??= new Map()).set(id, parent);
    }
    const bad = badParent(out);
    if (bad !== undefined) throw traceError(path, `metadata "${META_DOMAINS}" ${bad} (the files' domain types together)`);
    if (!out.topology && meta.topology) out.topology = meta.topology;
    if (out.version === undefined) out.version = meta.version;
    if (out.workload === undefined) out.workload = meta.workload;
    if (out.importStats === undefined) out.importStats = meta.importStats;
  }
  return out;
}
