#!/usr/bin/env node
// Counts what QEMU's emulated IOMMU logged in one recording of
// scripts/record-qemu.sh (docs/qemu.md), for any of its three IOMMUs:
//   node scripts/qemu-counts.mjs [--json] QEMU.log[.gz] [GUEST.trace[.gz]]
// The IOMMU is recognised from the event names (vtd_*, smmu*_*, amdvi_*).
// Prints translations, IOTLB hits/misses/fills/resets as QEMU logs them,
// invalidation commands by kind and, given the guest's trace, its iommu:map
// and iommu:unmap events. Needs no build: it reads the text only.
import fs from 'node:fs';
import zlib from 'node:zlib';
import readline from 'node:readline';

const args = process.argv.slice(2);
const json = args[0] === '--json';
if (json) args.shift();
const [qemuLog, guestTrace] = args;
if (!qemuLog || args.length > 2) {
  console.error('usage: node scripts/qemu-counts.mjs [--json] QEMU.log[.gz] [GUEST.trace[.gz]]');
  process.exit(2);
}

async function* lines(file) {
  let input;
  try {
    fs.accessSync(file, fs.constants.R_OK);
    input = fs.createReadStream(file);
  } catch (err) {
    console.error(`Cannot read "${file}": ${err.message}`);
    process.exit(2);
  }
  if (file.endsWith('.gz')) input = input.pipe(zlib.createGunzip());
  yield* readline.createInterface({ input, crlfDelay: Infinity });
}

// [PID@SEC.USEC:]event payload (QEMU's log backend with -msg timestamp=on)
const LINE = /^(?:\d+@\d+\.\d+:)?([a-z][a-z0-9_]*) ?(.*)$/;
// QEMU 7.2's virt machine: the GICv3 ITS frame at 0x08080000, its doorbell
// (GITS_TRANSLATER) in the second 64 KiB page (hw/arm/virt.c VIRT_GIC_ITS).
const ITS_DOORBELL_PAGE = 0x08090000n;

const byEvent = {};
const c = {
  iommu: null,
  translations: 0,
  msiTranslations: 0,
  otherTranslationResults: {},
  iotlbHits: 0,
  iotlbMisses: 0,
  iotlbFills: 0,
  iotlbResets: 0,
  iotlbCapacityResets: 0,
  commands: {},
  // The same, from the first translation on: boot-time commands (the driver's
  // initial flushes of every domain and device-table entry) left out.
  commandsFromFirstTranslation: {},
  rangePieces: 0,
  devices: new Set(),
};
const vendorOf = (e) => (e.startsWith('vtd_') ? 'vtd' : e.startsWith('smmu') ? 'smmuv3' : e.startsWith('amdvi_') ? 'amd' : null);
const bump = (o, k, n = 1) => (o[k] = (o[k] ?? 0) + n);
const command = (k) => {
  bump(c.commands, k);
  if (c.translations > 0) bump(c.commandsFromFirstTranslation, k);
};
// SMMUv3 and AMD-Vi log the same event when QEMU empties its IOTLB because a
// fill found it full (smmu_iotlb_insert(), amdvi_update_iotlb()) and when a
// command or a reset empties it; the full case is the one followed at once
// by the fill that caused it (smmu_iotlb_insert / amdvi_cache_update).
let resetPending = false;
let n = 0;
for await (const raw of lines(qemuLog)) {
  n++;
  const line = raw.trim();
  if (line === '') continue;
  const m = LINE.exec(line);
  const vendor = m && vendorOf(m[1]);
  if (!vendor) {
    console.error(`Cannot count "${qemuLog}": line ${n} is not a vtd_*, smmu*_* or amdvi_* trace line: ${line.slice(0, 120)}`);
    process.exit(2);
  }
  if (c.iommu === null) c.iommu = vendor;
  else if (c.iommu !== vendor) {
    console.error(`Cannot count "${qemuLog}": line ${n} is a ${vendor} event in a ${c.iommu} log`);
    process.exit(2);
  }
  const [, ev, payload] = m;
  bump(byEvent, ev);
  if (resetPending && (ev === 'smmu_iotlb_insert' || ev === 'amdvi_cache_update')) c.iotlbCapacityResets++;
  resetPending = ev === 'smmu_iotlb_inv_all' || ev === 'amdvi_iotlb_reset';
  if (vendor === 'vtd') {
    if (ev === 'vtd_dmar_translate') {
      c.translations++;
      const d = /^dev (\S+) /.exec(payload);
      if (d) c.devices.add(d[1]);
    } else if (ev === 'vtd_iotlb_page_hit') c.iotlbHits++;
    else if (ev === 'vtd_iotlb_page_update') {
      c.iotlbMisses++;
      c.iotlbFills++;
    } else if (ev === 'vtd_iotlb_reset') c.iotlbResets++;
    else if (ev.startsWith('vtd_inv_desc_')) command(ev.slice('vtd_inv_desc_'.length));
  } else if (vendor === 'smmuv3') {
    if (ev === 'smmuv3_translate_success') {
      c.translations++;
      // "smmuv3-iommu-memory-region-0-0 sid=256 iova=0x... translated=0x... perm=0x2"
      const t = /sid=(?:0x)?([0-9a-fA-F]+) iova=0x([0-9a-fA-F]+) translated=0x([0-9a-fA-F]+)/.exec(payload);
      if (!t) {
        console.error(`Cannot count "${qemuLog}": line ${n} has a smmuv3_translate_success event in an unknown format`);
        process.exit(2);
      }
      c.devices.add(`sid=${t[1]}`);
      if ((BigInt(`0x${t[3]}`) & ~0xfffn) === ITS_DOORBELL_PAGE) c.msiTranslations++;
    } else if (ev.startsWith('smmuv3_translate_')) bump(c.otherTranslationResults, ev.slice('smmuv3_translate_'.length));
    else if (ev === 'smmu_iotlb_lookup_hit') c.iotlbHits++;
    else if (ev === 'smmu_iotlb_lookup_miss') c.iotlbMisses++;
    else if (ev === 'smmu_iotlb_insert') c.iotlbFills++;
    else if (ev === 'smmu_iotlb_inv_all') c.iotlbResets++;
    else if (ev === 'smmuv3_cmdq_opcode') {
      // "<--- SMMU_CMD_TLBI_NH_VA": every command the guest queued, by its name in
      // Linux (CMDQ_OP_*: TLBI_NH_VA, CMD_SYNC...), as import stores them
      const o = /<--- (?:SMMU_CMD_)?(\w+)/.exec(payload);
      command(o ? (o[1] === 'SYNC' ? 'CMD_SYNC' : o[1]) : payload);
    } else if (ev === 'smmuv3_s1_range_inval' || ev === 'smmuv3_range_inval') c.rangePieces++;
  } else {
    if (ev === 'amdvi_translation_result') {
      c.translations++;
      const d = /devid: (\S+) /.exec(payload);
      if (d) c.devices.add(d[1]);
    } else if (ev === 'amdvi_iotlb_hit') c.iotlbHits++;
    else if (ev === 'amdvi_cache_update') c.iotlbFills++;
    else if (ev === 'amdvi_iotlb_reset') c.iotlbResets++;
    else if (ev === 'amdvi_page_fault') bump(c.otherTranslationResults, 'page_fault');
    else {
      // Commands by the kind Linux sent (hw/i386/amd_iommu.c amdvi_cmdbuf_exec()).
      const kind = {
        amdvi_pages_inval: 'INVALIDATE_IOMMU_PAGES',
        amdvi_completion_wait: 'COMPLETION_WAIT',
        amdvi_iotlb_inval: 'INVALIDATE_IOTLB_PAGES',
        amdvi_devtab_inval: 'INVALIDATE_DEVTAB_ENTRY',
        amdvi_all_inval: 'INVALIDATE_IOMMU_ALL',
        amdvi_intr_inval: 'INVALIDATE_INTERRUPT_TABLE',
        amdvi_prefetch_pages: 'PREFETCH_IOMMU_PAGES',
        amdvi_ppr_exec: 'COMPLETE_PPR_REQUEST',
      }[ev];
      if (kind) command(kind);
    }
  }
}
if (c.iommu === 'amd') {
  // amdvi_iotlb_hit is logged on a hit; a translation that is not a hit walked the table.
  c.iotlbMisses = c.translations - c.iotlbHits;
}

const guest = guestTrace ? { map: 0, unmap: 0, mapBytes: 0, unmapBytes: 0, otherEvents: {} } : null;
if (guest) {
  // "  <idle>-0  [000] d.h1.  12.345678: unmap: IOMMU: iova=0x... - 0x... size=4096 unmapped_size=4096"
  const EV = /^\s*.+?\s+\[\d+\]\s+(?:\S+\s+)?\d+\.\d+:\s+(\w+):\s*(.*)$/;
  for await (const raw of lines(guestTrace)) {
    if (raw.startsWith('#') || raw.trim() === '') continue;
    const m = EV.exec(raw);
    if (!m) continue;
    const [, ev, payload] = m;
    const size = /\bsize=(\d+|0x[0-9a-fA-F]+)/.exec(payload);
    if (ev === 'map') {
      guest.map++;
      if (size) guest.mapBytes += Number(size[1]);
    } else if (ev === 'unmap') {
      guest.unmap++;
      const u = /unmapped_size=(\d+|0x[0-9a-fA-F]+)/.exec(payload);
      if (u) guest.unmapBytes += Number(u[1]);
    } else bump(guest.otherEvents, ev);
  }
}

const out = { ...c, devices: [...c.devices], events: byEvent, guest };
if (json) {
  console.log(JSON.stringify(out, null, 2));
  process.exit(0);
}
const rows = [
  ['IOMMU', c.iommu ?? '(empty log)'],
  ['devices', out.devices.join(' ')],
  ['translations', c.translations],
];
if (c.iommu === 'smmuv3') rows.push(['  of which MSI (to the ITS doorbell page)', c.msiTranslations]);
for (const [k, v] of Object.entries(c.otherTranslationResults)) rows.push([`  translation ${k}`, v]);
rows.push(
  ['IOTLB hits', c.iotlbHits],
  [c.iommu === 'amd' ? 'IOTLB misses (translations - hits)' : 'IOTLB misses', c.iotlbMisses],
  ['IOTLB fills', c.iotlbFills],
);
if (c.iommu === 'vtd') rows.push(['IOTLB resets', c.iotlbResets]);
else {
  rows.push([`IOTLB emptied (${c.iommu === 'smmuv3' ? 'smmu_iotlb_inv_all' : 'amdvi_iotlb_reset'})`, c.iotlbResets]);
  rows.push(['  of which because full (followed by the fill)', c.iotlbCapacityResets]);
}
for (const [k, v] of Object.entries(c.commands).sort())
  rows.push([`command ${k}`, `${v} (${c.commandsFromFirstTranslation[k] ?? 0} from the first translation on)`]);
if (c.iommu === 'smmuv3') rows.push(['  range-invalidation pieces (smmuv3_s1_range_inval)', c.rangePieces]);
if (guest) {
  rows.push(['guest iommu:map', guest.map], ['guest iommu:unmap', guest.unmap]);
  rows.push(['guest bytes mapped / unmapped', `${guest.mapBytes} / ${guest.unmapBytes}`]);
  for (const [k, v] of Object.entries(guest.otherEvents)) rows.push([`guest ${k}`, v]);
}
const w = Math.max(...rows.map((r) => r[0].length));
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
