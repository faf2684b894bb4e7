#!/usr/bin/env node
// Cross-checks the model against QEMU's emulated IOMMU on one recording
// (docs/qemu.md), for VT-d, SMMUv3 and AMD-Vi (recognised from the log):
//   node scripts/qemu-check.mjs strict|lazy QEMU.log[.gz] GUEST.trace[.gz]
// Imports the pair, replays it with traces/qemu/qemu-<iommu>-<mode>.json and
// prints the table. With QEMU's own flushes replayed (imported with
// --qemu-flushes, replayed with qemu-<iommu>-flush-ops.json: no timer of the
// model's) for lazy mode, and for AMD-Vi in strict mode too: QEMU 7.2's
// INVALIDATE_IOMMU_PAGES empties the whole domain, which the flush ops
// reproduce while the model keeps the hardware's rule. Exit 1 when a count
// that must agree does not, or a translation falls outside every live
// mapping. Needs `npm run build`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist/src', p));
const { importTrace } = await dist('import/convert.js');
const { resolveConfig } = await dist('config/config.js');
const { replayTrace } = await dist('run/run.js');
const { crossCheckRows, crossCheckTable } = await dist('report/qemu.js');

const [mode, qemuLog, guestTrace] = process.argv.slice(2);
if (!['strict', 'lazy'].includes(mode) || !qemuLog || !guestTrace) {
  console.error('usage: node scripts/qemu-check.mjs strict|lazy QEMU.log GUEST.trace');
  process.exit(2);
}

/**
 * SMMUv3 and AMD-Vi: the model's counts against QEMU's, commands by their
 * own names from QEMU's first translation on (the driver's boot-time
 * commands come before the guest trace's maps). `exact`: must agree.
 */
function vendorRows(q, sum, m) {
  const after = q.invalidationsFromFirstTranslation ?? {};
  const byName = sum.totals.invalidation.commands.byName ?? {};
  const iotlb = sum.totals.iotlb;
  const names = q.iommu === 'smmuv3' ? ['TLBI_NH_VA', 'TLBI_NH_ASID', 'CMD_SYNC'] : ['INVALIDATE_IOMMU_PAGES', 'COMPLETION_WAIT'];
  const rows = [];
  // SMMUv3 strict: one TLBI_NH_VA (range) and one CMD_SYNC per unmap, as Linux sends them.
  // AMD-Vi: NpCache's flush after map is counted per iommu:map event, Linux's per map operation (docs/qemu.md).
  const exactCommands = q.iommu === 'smmuv3' && m === 'strict';
  if (m !== 'flush-ops')
    for (const n of names) rows.push({ what: `${n} (from QEMU's first translation)`, model: byName[n] ?? 0, qemu: after[n] ?? 0, exact: exactCommands });
  // The IOTLB: exact when the model's invalidations are QEMU's (SMMUv3 strict) or QEMU's own are replayed (flush-ops).
  const exactIotlb = m === 'flush-ops' || (q.iommu === 'smmuv3' && m === 'strict');
  rows.push({ what: 'IOTLB lookups (translations)', model: iotlb.lookups, qemu: q.translations, exact: true });
  rows.push({ what: 'IOTLB hits', model: iotlb.hits, qemu: q.iotlbHits, exact: exactIotlb });
  rows.push({ what: 'IOTLB misses, walks (fills)', model: iotlb.misses, qemu: q.iotlbUpdates, exact: exactIotlb });
  return rows;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qemu-check-'));
const opts = { format: 'auto', synthesizeDma: false, coherentRateHz: 0, strict: false, seed: 1 };
let ok = true;
let iommu = null;
for (const m of mode === 'strict' ? ['strict', 'flush-ops'] : ['lazy', 'flush-ops']) {
  const out = path.join(tmp, `${m}.arrows`);
  const s = await importTrace([qemuLog, guestTrace], out, { ...opts, qemuFlushes: m === 'flush-ops' });
  iommu = s.qemu.iommu ?? 'vtd';
  // VT-d strict needs no flush ops: its page-selective commands are exact in QEMU.
  if (m === 'flush-ops' && mode === 'strict' && iommu !== 'amd') break;
  const name = `qemu-${iommu}-${m}`;
  const config = resolveConfig(JSON.parse(fs.readFileSync(path.join(root, 'traces/qemu', `${name}.json`), 'utf8')), name);
  const sum = await replayTrace([out], config);
  const rows = iommu === 'vtd' ? crossCheckRows(s.qemu, sum, m) : vendorRows(s.qemu, sum, m);
  const a = s.qemu.alignment;
  console.log(`\n${iommu} ${m}: ${a.translations} translations, ${a.unfit} outside a live mapping; IOTLB resets in QEMU ${s.qemu.iotlbResets}`);
  process.stdout.write(crossCheckTable(rows));
  if (a.unfit > 0 || rows.some((r) => r.exact && r.model !== r.qemu)) ok = false;
}
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
