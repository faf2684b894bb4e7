// The configuration schema as zod 4 checked it until issue 28 (session 8):
// the plain reference the hand-written check (src/config/config.ts,
// checkConfigShape) is compared with, value by value, in
// test/config/shape-reference.test.ts. Kept verbatim; zod stays a dependency
// for the queue's job data (src/run/queue-job.ts), so this costs the
// replay nothing.
import { z } from 'zod';
import { MAX_ASID_BITS, MAX_INSTANCES, MODES, PARTIAL_UNMAP, POLICIES, VENDORS } from '../../src/config/config.js';
import { PRESET_NAMES } from '../../src/config/presets.js';
import { printable } from '../../src/text.js';

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};
const expected = (what: string) => (iss: { input?: unknown }) => `expected ${what}, got ${show(iss.input)}`;

const posInt = (what = 'a positive integer') =>
  z
    .number({ error: expected(what) })
    .int({ error: expected(what) })
    .positive({ error: expected(what) });
const nonNegInt = (what = 'a non-negative integer') =>
  z
    .number({ error: expected(what) })
    .int({ error: expected(what) })
    .min(0, { error: expected(what) });
const nonNegNum = (what = 'a non-negative number') =>
  z
    .number({ error: expected(what) })
    .min(0, { error: expected(what) })
    .refine(Number.isFinite, { error: expected(what) });
const oneOf = <T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: expected(`one of ${values.map((v) => `"${v}"`).join(', ')}`) });

const pageSizesField = z.union([z.array(z.string()), z.string()], {
  error: expected('a list of sizes like ["4K", "2M"] or a bitmap like "0x40201000"'),
});

const tableSchema = z.strictObject({
  sets: posInt().optional(),
  ways: z.union([posInt(), z.literal('full')], { error: expected('a positive integer or "full"') }).optional(),
  entries: posInt().optional(),
  policy: oneOf(POLICIES).optional(),
});

export const configSchema = z.strictObject({
  name: z.string({ error: expected('a string') }).optional(),
  preset: oneOf(PRESET_NAMES).optional(),
  pageSizes: pageSizesField.optional(),
  svaPageSizes: pageSizesField.optional(),
  iommus: z
    .array(
      z.strictObject({ name: z.string({ error: expected('a string') }).min(1, { error: expected('a non-empty name') }), pageSizes: pageSizesField.optional() }),
      {
        error: expected('a list of {"name": ...}'),
      },
    )
    .min(1, { error: expected('at least one instance') })
    .max(MAX_INSTANCES, { error: (iss) => `expected at most ${MAX_INSTANCES} instances, got ${(iss.input as unknown[]).length}` })
    .optional(),
  devices: z
    .record(
      z.string(),
      z.strictObject({
        iommu: z.string({ error: expected('an instance name') }).optional(),
        devtlb: z.boolean({ error: expected('true or false') }).optional(),
      }),
      {
        error: expected('an object keyed by device'),
      },
    )
    .optional(),
  domainIds: posInt().optional(),
  pageTable: z.strictObject({ levels: z.union([z.literal(3), z.literal(4), z.literal(5)], { error: expected('4 or 5') }).optional() }).optional(),
  iotlb: tableSchema.optional(),
  devtlb: tableSchema.optional(),
  walkCache: tableSchema.optional(),
  partialUnmap: oneOf(PARTIAL_UNMAP).optional(),
  invalidation: z
    .strictObject({
      mode: oneOf(MODES).optional(),
      maxInvalidationMask: nonNegInt().optional(),
      fqSize: posInt().optional(),
      fqTimeoutNs: nonNegNum().optional(),
    })
    .optional(),
  costs: z
    .strictObject({
      iotlbHit: nonNegNum().optional(),
      walkAccess: nonNegNum().optional(),
      pageInvalidation: nonNegNum().optional(),
      domainInvalidation: nonNegNum().optional(),
      devtlbInvalidation: nonNegNum().optional(),
      wait: nonNegNum().optional(),
    })
    .optional(),
  seed: nonNegInt().optional(),
  vendor: oneOf(VENDORS).optional(),
  // A block of another vendor than the one chosen is accepted and ignored
  // (config.md "Vendors": a sweep over vendors shares one file).
  amd: z.strictObject({ npCache: z.boolean({ error: expected('true or false') }).optional() }).optional(),
  smmu: z
    .strictObject({
      rangeInvalidation: z.boolean({ error: expected('true or false') }).optional(),
      forceSyncErratum: z.boolean({ error: expected('true or false') }).optional(),
      asidBits: posInt(`an integer in 1..${MAX_ASID_BITS}`)
        .max(MAX_ASID_BITS, { error: expected(`an integer in 1..${MAX_ASID_BITS}`) })
        .optional(),
    })
    .optional(),
  sweep: z
    .record(z.string(), z.array(z.unknown(), { error: expected('a list of values') }), { error: expected('an object of field path to values') })
    .optional(),
});

/**
 * What resolveConfig made of zod's answer: the parsed value, or the
 * `field: message` after `Invalid config "SOURCE": ` (the first issue only).
 */
export function referenceShape(value: unknown): { ok: true; data: unknown } | { ok: false; line: string } {
  const parsed = configSchema.safeParse(value ?? {});
  if (parsed.success) return { ok: true, data: parsed.data };
  const iss = parsed.error.issues[0];
  let field = iss.path.map(String).join('.');
  let message = iss.message;
  if (iss.code === 'unrecognized_keys') {
    const key = printable(iss.keys[0], 40);
    field = field ? `${field}.${key}` : key;
    message = 'unknown field';
  }
  return { ok: false, line: `${printable(field, 80) || '(top level)'}: ${message}` };
}
