// Sweeps (docs/configuration.md, "Sweeps"): the configuration's `sweep` maps a field
// path to a list of values; the short forms on the command line add axes
// (`--page-sizes 4K 4K,2M`, `--iotlb 64x4 128x8`, `--mode strict lazy`,
// `--vendor vtd amd smmuv3`). The
// grid is the cartesian product, axes in the order given, last axis fastest.
import { InputError } from '../errors.js';
import { isForbiddenKey, stableStringify } from '../json.js';
import { printable } from '../text.js';
import { VENDORS, resolveConfig, type ReplayConfig } from './config.js';
import { formatPageSizeSet, splitPageSizeList } from './pagesizes.js';
import { DEFAULT_MAX_POINTS } from './limits.js';

export interface SweepAxis {
  /** Field path, e.g. "iotlb.sets"; "iotlb" for the --iotlb short form. */
  path: string;
  values: unknown[];
  /** A short form's option ("--iotlb") and each value as typed, for messages. */
  option?: { name: string; typed: string[] };
  /** How a value shows in point labels. */
  label(value: unknown): string;
}

export interface SweepPoint {
  /** "pageSizes=4K+2M iotlb=64x4", or the base name when nothing varies. */
  label: string;
  /** File-name-safe form of the label. */
  slug: string;
  config: ReplayConfig;
  /** The axis values of this point, by path. */
  values: Record<string, string>;
}

export interface ShortForms {
  pageSizes?: string[];
  iotlb?: string[];
  mode?: string[];
  /** `--vendor vtd amd smmuv3` (model §9). */
  vendor?: string[];
}

function showValue(v: unknown): string {
  // A list of size names is a page-size set: written as every output writes
  // it. Any other list or object is its JSON (never "[object Object]").
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return formatPageSizeSet(v);
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

/** The user's text in a message: quoted, control characters escaped. */
function quoted(text: string): string {
  return `'${printable(text, 60)}'`;
}

/** Parses "--iotlb ENTRIESxWAYS" ("64x4", "256xfull"). */
function parseIotlb(text: string): { entries: number; ways: number | 'full' } {
  const m = /^(\d+)x(\d+|full)$/i.exec(text.trim());
  if (!m) throw new InputError(`Invalid option --iotlb: expected ENTRIESxWAYS like 64x4 or 256xfull, got ${quoted(text)}`);
  return { entries: Number(m[1]), ways: m[2].toLowerCase() === 'full' ? 'full' : Number(m[2]) };
}

function parseMode(text: string): string {
  if (text !== 'strict' && text !== 'lazy') throw new InputError(`Invalid option --mode: expected strict or lazy, got ${quoted(text)}`);
  return text;
}

function parseVendor(text: string): string {
  if (!(VENDORS as readonly string[]).includes(text))
    throw new InputError(`Invalid option --vendor: expected one of ${VENDORS.join(', ')}, got ${quoted(text)}`);
  return text;
}

export function shortFormAxes(s: ShortForms): SweepAxis[] {
  const axes: SweepAxis[] = [];
  if (s.pageSizes?.length)
    axes.push({ path: 'pageSizes', values: s.pageSizes.map(splitPageSizeList), label: showValue, option: { name: '--page-sizes', typed: s.pageSizes } });
  if (s.iotlb?.length)
    axes.push({
      path: 'iotlb',
      values: s.iotlb.map(parseIotlb),
      label: (v) => {
        const g = v as { entries: number; ways: number | 'full' };
        return `${g.entries}x${g.ways}`;
      },
      option: { name: '--iotlb', typed: s.iotlb },
    });
  if (s.mode?.length) axes.push({ path: 'invalidation.mode', values: s.mode.map(parseMode), label: showValue, option: { name: '--mode', typed: s.mode } });
  if (s.vendor?.length) axes.push({ path: 'vendor', values: s.vendor.map(parseVendor), label: showValue, option: { name: '--vendor', typed: s.vendor } });
  return axes;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = obj;
  for (const k of keys.slice(0, -1)) {
    const next = at[k];
    at[k] = typeof next === 'object' && next !== null && !Array.isArray(next) ? { ...(next as object) } : {};
    at = at[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  // A whole-object axis (--iotlb) keeps the base's other keys (policy).
  if (path === 'iotlb' && typeof value === 'object' && value !== null) {
    const base = (at[last] ?? {}) as Record<string, unknown>;
    const { sets: _s, entries: _e, ways: _w, ...rest } = base;
    at[last] = { ...rest, ...(value as object) };
  } else at[last] = value;
}

/**
 * Expands the base configuration and its axes into resolved points. More
 * than `maxPoints` points is an error, found before any point is built.
 */
export function expandSweep(raw: Record<string, unknown>, shortForms: ShortForms, source: string, maxPoints = DEFAULT_MAX_POINTS): SweepPoint[] {
  const { sweep, ...base } = raw as { sweep?: Record<string, unknown[]> } & Record<string, unknown>;
  const axes: SweepAxis[] = [];
  if (sweep !== undefined && (typeof sweep !== 'object' || sweep === null || Array.isArray(sweep)))
    throw new InputError(`Invalid config "${source}": sweep: expected an object of field path to values`);
  for (const [path, values] of Object.entries(sweep ?? {})) {
    const where = `Invalid config "${source}": sweep.${printable(path)}`;
    if (path.split('.').some((k) => k === '' || isForbiddenKey(k))) throw new InputError(`${where}: expected a field path like "iotlb.sets"`);
    if (!Array.isArray(values) || values.length === 0) throw new InputError(`${where}: expected a non-empty list of values`);
    axes.push({ path, values, label: showValue });
  }
  axes.push(...shortFormAxes(shortForms));
  const count = axes.reduce((n, a) => n * a.values.length, 1);
  if (count > maxPoints)
    throw new InputError(
      `Invalid sweep: ${count.toLocaleString('en-US')} points (${axes.map((a) => `${printable(a.path)}: ${a.values.length}`).join(' x ')}), over the limit of ${maxPoints.toLocaleString('en-US')}; raise it with --max-points`,
    );
  const seen = new Set<string>();
  for (const a of axes) {
    if (seen.has(a.path)) throw new InputError(`Invalid sweep: the field "${a.path}" is swept twice (config and command line?)`);
    seen.add(a.path);
  }
  if (base.name !== undefined && typeof base.name !== 'string')
    throw new InputError(`Invalid config "${source}": name: expected a string, got ${printable(JSON.stringify(base.name) ?? '', 40)}`);
  const hasFile = !source.startsWith('(') && !source.startsWith('--');
  const baseName = typeof base.name === 'string' ? base.name : undefined;
  let combos: { raw: Record<string, unknown>; parts: string[]; values: Record<string, string> }[] = [{ raw: structuredClone(base), parts: [], values: {} }];
  for (const axis of axes) {
    const next: typeof combos = [];
    for (const c of combos) {
      for (const v of axis.values) {
        const r = structuredClone(c.raw);
        setPath(r, axis.path, structuredClone(v));
        const shown = axis.label(v);
        next.push({ raw: r, parts: [...c.parts, `${axis.path}=${shown}`], values: { ...c.values, [axis.path]: shown } });
      }
    }
    combos = next;
  }
  // Each command-line value checked on its own against the base first: a bad
  // one is blamed on its option and its text, not on a sweep point (and not
  // on a configuration file the user never gave).
  // (Only when the base resolves alone: otherwise the points' own errors say what is wrong.)
  const baseResolves = (() => {
    try {
      resolveConfig(structuredClone(base), source);
      return true;
    } catch {
      return false;
    }
  })();
  for (const axis of baseResolves ? axes : []) {
    if (!axis.option) continue;
    axis.values.forEach((v, i) => {
      const r = structuredClone(base);
      setPath(r, axis.path, structuredClone(v));
      try {
        resolveConfig(r, source);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        const why = err.message.replace(/^Invalid config "[^"]*": /, '');
        const withFile = hasFile ? ` with "${source}"` : '';
        throw new InputError(`Invalid option ${axis.option!.name} ${quoted(axis.option!.typed[i])}${withFile}: ${why}`);
      }
    });
  }
  const points = combos.map((c) => {
    const label = c.parts.length ? c.parts.join(' ') : (baseName ?? 'baseline');
    const named = { ...c.raw, name: c.parts.length ? (baseName ? `${baseName} ${label}` : label) : (baseName ?? 'baseline') };
    let config: ReplayConfig;
    try {
      config = resolveConfig(named, source);
    } catch (err) {
      if (err instanceof InputError && c.parts.length) throw new InputError(`${err.message} (in sweep point ${label})`);
      throw err;
    }
    return { label, slug: slugOf(label), config, values: c.values, parts: c.parts };
  });
  // Two points are the same when their resolved configurations are, apart
  // from the name (which is made from the label): compared whole, as stable
  // JSON, never by label or file name.
  const seenConfigs = new Map<string, (typeof points)[number]>();
  for (const p of points) {
    const { name: _name, ...rest } = p.config;
    const key = stableStringify(rest, 0);
    const other = seenConfigs.get(key);
    if (other !== undefined) {
      // Why: the same value twice, or values of one axis that another axis
      // sets again (`"sweep": {"iotlb.sets": [8, 16]}` with `--iotlb 32x4`).
      const onlyOther = other.parts.filter((x) => !p.parts.includes(x));
      const onlyThis = p.parts.filter((x) => !other.parts.includes(x));
      const why = onlyOther.length
        ? `they differ only in ${printable(onlyOther.join(' '), 60)} against ${printable(onlyThis.join(' '), 60)}, which another axis of the sweep sets again`
        : 'a value is listed twice';
      throw new InputError(`Invalid sweep: two points are the same configuration: ${printable(other.label, 80)} and ${printable(p.label, 80)} (${why})`);
    }
    seenConfigs.set(key, p);
  }
  fileNames(points.map((p) => p.label)).forEach((name, i) => (points[i].slug = name));
  return points.map(({ parts: _parts, ...p }) => p);
}

/** File names are cut to this many characters (a hash keeps cut ones apart). */
export const MAX_SLUG_CHARS = 120;

function shortHash(text: string): string {
  // node:crypto loads here, when a name is cut, not at every start (6 ms of a replay's).
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/**
 * The file-name-safe form of a label: its characters outside
 * [A-Za-z0-9+._=-] as "_", a leading "." as "_" (no hidden file, never "."
 * or ".."). A label that had to be cut ends in a short hash of the whole label.
 */
export function slugOf(label: string): string {
  const safe =
    label
      .replace(/\|/g, '+')
      .replace(/[^A-Za-z0-9+._=-]+/g, '_')
      .replace(/^\./, '_') || '_';
  return safe.length <= MAX_SLUG_CHARS ? safe : `${safe.slice(0, MAX_SLUG_CHARS - 11)}_${shortHash(label)}`;
}

/**
 * File names for `labels`, one each: slugOf, and where different labels
 * still give one name ("a b" and "a_b"), those end in the hash of their label.
 */
export function fileNames(labels: string[]): string[] {
  const slugs = labels.map(slugOf);
  const count = new Map<string, number>();
  for (const s of slugs) count.set(s, (count.get(s) ?? 0) + 1);
  return slugs.map((s, i) => (count.get(s)! > 1 ? `${s.slice(0, MAX_SLUG_CHARS - 11)}_${shortHash(labels[i])}` : s));
}
