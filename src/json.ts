// JSON from files we do not control (trace metadata, configurations):
// nesting is bounded before JSON.parse sees it (a deep document overflows
// the stack), and keys that would reach an object's prototype are refused.
// And JSON we write (summaries, inspect --json): stableStringify.
import { printable } from './text.js';

/** Deeper than any configuration or metadata we define (they nest 3 levels). */
export const MAX_JSON_DEPTH = 32;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export class JsonError extends Error {
  override name = 'JsonError';
}

/** The deepest nesting of `text`, counted outside strings; stops counting past `limit`. */
function depthOf(text: string, limit: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return 0;
}

/** The first forbidden key in `value`, as a dotted path, or undefined. */
export function forbiddenKeyPath(value: unknown, at = ''): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  for (const key of Object.keys(value)) {
    const path = at ? `${at}.${key}` : key;
    if (FORBIDDEN_KEYS.has(key)) return path;
    const inner = forbiddenKeyPath((value as Record<string, unknown>)[key], path);
    if (inner) return inner;
  }
  return undefined;
}

/** Whether a key (or a dotted path's part) may name a field. */
export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key);
}

/**
 * Parses untrusted JSON: JsonError (with our message) when it is not JSON,
 * nests deeper than `maxDepth`, or uses a key such as "__proto__".
 */
export function parseUntrustedJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (depthOf(text, maxDepth) > maxDepth) throw new JsonError(`nests deeper than ${maxDepth} levels, expected a small JSON document`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message);
    const where = m ? `at character ${m[1]}` : /end of JSON/i.test((err as Error).message) ? 'it ends too early' : 'unexpected text';
    throw new JsonError(text.trim() === '' ? 'empty, expected JSON' : `not valid JSON (${where})`);
  }
  const bad = forbiddenKeyPath(value);
  if (bad !== undefined) throw new JsonError(`${printable(bad)}: the key "${bad.split('.').pop()}" is not allowed`);
  return value;
}

/**
 * JSON with keys sorted at every level and plain numbers (bigints as exact
 * integers): byte-identical for equal content.
 */
export function stableStringify(value: unknown, indent = 2): string {
  return `${write(value, '', ' '.repeat(indent))}\n`;
}

function write(v: unknown, pad: string, step: string): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
  if (typeof v !== 'object') return JSON.stringify(v);
  const inner = pad + step;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + write(x, inner, step)).join(',\n')}\n${pad}]`;
  }
  const keys = Object.keys(v)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort();
  if (keys.length === 0) return '{}';
  return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${write((v as Record<string, unknown>)[k], inner, step)}`).join(',\n')}\n${pad}}`;
}
