// The model against QEMU's VT-d on one recording (docs/qemu.md): the rows of
// the cross-check table, shared by the shipped-recordings test and
// `npm run record:check`.
import type { QemuCounts } from '../import/qemu.js';
import type { Summary } from '../stats/summary.js';

/**
 * How the trace was replayed: `strict` and `lazy` with the model's own
 * invalidations; `flush-ops` imported with --qemu-flushes and replayed with
 * no flush-queue timer, so that the IOTLB is compared apart from the timer.
 */
export type CheckMode = 'strict' | 'lazy' | 'flush-ops';

export interface CheckRow {
  what: string;
  model: number;
  qemu: number;
  /** Whether the two must agree exactly (else the difference is explained in docs/qemu.md). */
  exact: boolean;
}

export function crossCheckRows(q: QemuCounts, s: Summary, mode: CheckMode): CheckRow[] {
  const inv = (k: string) => q.invalidations[k] ?? 0;
  const cmd = s.totals.invalidation.commands;
  const iotlb = s.totals.iotlb;
  const exactIotlb = mode !== 'lazy';
  const rows: CheckRow[] = [];
  if (mode === 'strict') rows.push({ what: 'page-selective invalidations (vtd_inv_desc_iotlb_pages)', model: cmd.page, qemu: inv('iotlb_pages'), exact: true });
  rows.push({
    what:
      mode === 'lazy' ? 'flushes: domain-selective invalidations (vtd_inv_desc_iotlb_domain)' : 'domain-selective invalidations (vtd_inv_desc_iotlb_domain)',
    model: cmd.domain,
    qemu: inv('iotlb_domain'),
    exact: mode !== 'lazy',
  });
  rows.push({ what: 'IOTLB lookups (vtd_dmar_translate)', model: iotlb.lookups, qemu: q.translations, exact: true });
  rows.push({ what: 'IOTLB hits (vtd_iotlb_page_hit)', model: iotlb.hits, qemu: q.iotlbHits, exact: exactIotlb });
  rows.push({ what: 'IOTLB misses, walks (vtd_iotlb_page_update)', model: iotlb.misses, qemu: q.iotlbUpdates, exact: exactIotlb });
  return rows;
}

export function crossCheckTable(rows: CheckRow[]): string {
  const out = ['| count | model | QEMU | |', '|---|---:|---:|---|'];
  for (const r of rows)
    out.push(
      `| ${r.what} | ${r.model} | ${r.qemu} | ${r.model === r.qemu ? 'equal' : r.exact ? 'DIFFERENT' : `${r.model > r.qemu ? '+' : ''}${(((r.model - r.qemu) / Math.max(1, r.qemu)) * 100).toFixed(1)}%`} |`,
    );
  return out.join('\n') + '\n';
}
