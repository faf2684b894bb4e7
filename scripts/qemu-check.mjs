#!/usr/bin/env node
// Cross-checks the model against QEMU's VT-d on one recording (docs/qemu.md):
//   node scripts/qemu-check.mjs strict|lazy QEMU.log[.gz] GUEST.trace[.gz]
// Imports the pair, replays it with traces/qemu/qemu-vtd-<mode>.json (lazy:
// also imported with --qemu-flushes and replayed with qemu-vtd-flush-ops.json)
// and prints the table. Exit 1 when a count that must agree does not, or a
// translation falls outside every live mapping. Needs `npm run build`.
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
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qemu-check-'));
const config = (name) => resolveConfig(JSON.parse(fs.readFileSync(path.join(root, 'traces/qemu', `${name}.json`), 'utf8')), name);
const opts = { format: 'auto', synthesizeDma: false, coherentRateHz: 0, strict: false, seed: 1 };
let ok = true;
for (const m of mode === 'strict' ? ['strict'] : ['lazy', 'flush-ops']) {
  const out = path.join(tmp, `${m}.arrows`);
  const s = await importTrace([qemuLog, guestTrace], out, { ...opts, qemuFlushes: m === 'flush-ops' });
  const sum = await replayTrace([out], config(m === 'flush-ops' ? 'qemu-vtd-flush-ops' : `qemu-vtd-${m}`));
  const rows = crossCheckRows(s.qemu, sum, m);
  const a = s.qemu.alignment;
  console.log(`\n${m}: ${a.translations} translations, ${a.unfit} outside a live mapping; IOTLB resets in QEMU ${s.qemu.iotlbResets}`);
  process.stdout.write(crossCheckTable(rows));
  if (a.unfit > 0 || rows.some((r) => r.exact && r.model !== r.qemu)) ok = false;
}
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
