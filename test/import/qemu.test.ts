// A QEMU IOMMU log (VT-d, SMMUv3, AMD-Vi) beside a guest iommu trace (src/import/qemu.ts, docs/qemu.md).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { importTrace } from '../../src/import/convert.js';
import { QemuLogParser } from '../../src/import/qemu.js';
import { storedImportStats } from '../../src/import/stats.js';
import { resolveConfig } from '../../src/config/config.js';
import { replayTrace } from '../../src/run/run.js';
import { openTrace } from '../../src/trace/merge.js';
import { OP_NAMES } from '../../src/trace/schema.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();
const opts = { format: 'auto' as const, synthesizeDma: false, coherentRateHz: 1000, strict: true, seed: 1 };

// Two strict-mode I/Os through one buffer at a reused IOVA (same iova, same
// paddr), as the kernel's IOVA cache gives them; the guest clock runs 4.9 s
// behind the host's.
const GUEST = `# tracer: nop
              dd-90      [000] .....     5.000000: map: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 paddr=0x0000000000009000 size=4096
          <idle>-0       [000] d.h1.     5.000300: unmap: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 size=4096 unmapped_size=4096
              dd-90      [000] .....     5.000400: map: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 paddr=0x0000000000009000 size=4096
          <idle>-0       [000] d.h1.     5.000700: unmap: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 size=4096 unmapped_size=4096
`;
const QEMU = `7@1700000009.900000:vtd_inv_desc_iotlb_global iotlb invalidate global
7@1700000009.900100:vtd_dmar_translate dev 00:03.00 iova 0xfffff000 -> gpa 0x9000 mask 0xfff
7@1700000009.900100:vtd_iotlb_page_update IOTLB page update sid 0x18 iova 0xfffff000 slpte 0x9003 domain 0x2
7@1700000009.900310:vtd_inv_desc_iotlb_pages iotlb invalidate domain 0x2 addr 0xfffff000 mask 0x0
7@1700000009.900310:vtd_inv_desc_wait_sw wait invalidate status write addr 0x1 data 0x2
7@1700000009.900450:vtd_dmar_translate dev 00:03.00 iova 0xfffff000 -> gpa 0x9000 mask 0xfff
7@1700000009.900450:vtd_iotlb_page_update IOTLB page update sid 0x18 iova 0xfffff000 slpte 0x9003 domain 0x2
7@1700000009.900460:vtd_dmar_translate dev 00:03.00 iova 0xfffff040 -> gpa 0x9040 mask 0xfff
7@1700000009.900460:vtd_iotlb_page_hit IOTLB page hit sid 0x18 iova 0xfffff040 slpte 0x9003 domain 0x2
7@1700000009.900710:vtd_inv_desc_iotlb_pages iotlb invalidate domain 0x2 addr 0xfffff000 mask 0x0
`;

async function rows(file: string): Promise<string[]> {
  const t = await openTrace([file]);
  const out: string[] = [];
  for await (const b of t.batches())
    for (let i = 0; i < b.length; i++) out.push(`${OP_NAMES[b.op[i]]}${b.op[i] === 1 || b.op[i] === 0 ? ` ${b.iova[2 * i].toString(16)}` : ''}`);
  await t.close();
  return out;
}

describe('QEMU VT-d log', () => {
  it('parses vtd lines with and without the PID@SEC.USEC prefix and counts what QEMU did', () => {
    const p = new QemuLogParser();
    for (const l of QEMU.split('\n')) p.add(l);
    expect(p.add('vtd_dmar_translate dev 00:03.00 iova 0x200000 -> gpa 0x400000 mask 0x1fffff')).toBe(true);
    expect(p.add('vtd_dmar_translate dev 00:03.00 iova zzz')).toBe('has a vtd_dmar_translate event in an unknown format');
    expect(p.add('random text')).toBe(false);
    expect(p.log.counts).toEqual({
      iommu: 'vtd',
      translations: 4,
      iotlbHits: 1,
      iotlbUpdates: 2,
      iotlbResets: 0,
      invalidations: { iotlb_global: 1, iotlb_pages: 2, wait_sw: 1 },
      devices: ['0000:00:03.0'],
    });
    const last = p.log.events[p.log.events.length - 1];
    expect(last).toMatchObject({ kind: 'translate', rid: 0x18, iova: 0x200000n, gpa: 0x400000n, pageSize: 0x200000n });
  });

  it('each translation goes inside the mapping it used: a reused IOVA after the invalidation of the unmap before it', async () => {
    const g = path.join(dir, 'guest.trace');
    const q = path.join(dir, 'qemu.log');
    fs.writeFileSync(g, GUEST);
    fs.writeFileSync(q, QEMU);
    const out = path.join(dir, 'pair.arrows');
    const s = await importTrace([q, g], out, opts);
    expect(s.qemu?.alignment).toMatchObject({ translations: 3, unfit: 0, unmatched: 0, anchoredUnmaps: 2, guestUnmaps: 2 });
    expect(Math.abs(s.qemu!.alignment.driftMs)).toBeLessThan(0.1);
    // QEMU's device is attached to the default domain that holds the maps.
    expect(s.devices).toEqual([{ name: '0000:00:03.0', requesterId: 0x18, domain: 1 }]);
    expect(await rows(out)).toEqual(['attach', 'map', 'dma_read fffff000', 'unmap', 'map', 'dma_read fffff000', 'dma_read fffff000', 'unmap']);
    // The model replays what QEMU did: two page-selective commands, one hit.
    const sum = await replayTrace(
      [out],
      resolveConfig({ iotlb: { entries: 1024, ways: 'full', policy: 'flush-when-full' }, invalidation: { maxInvalidationMask: 18 } }, 'test'),
    );
    expect(sum.totals.iotlb).toMatchObject({ lookups: 3, hits: 1, staleHits: 0 });
    expect(sum.totals.invalidation.commands).toMatchObject({ page: 2, domain: 0 });
  });

  it('reads gzip-compressed inputs, recognising each file by content whatever its order', async () => {
    const g = path.join(dir, 'guest.trace.gz');
    const q = path.join(dir, 'qemu.log.gz');
    fs.writeFileSync(g, zlib.gzipSync(GUEST));
    fs.writeFileSync(q, zlib.gzipSync(QEMU));
    const out = path.join(dir, 'gz.arrows');
    const s = await importTrace([g, q], out, opts);
    expect(s.qemu?.alignment.unfit).toBe(0);
    expect(await rows(out)).toEqual(['attach', 'map', 'dma_read fffff000', 'unmap', 'map', 'dma_read fffff000', 'dma_read fffff000', 'unmap']);
  });

  it('a truncated .gz is one clear error naming the file, not a stack trace', async () => {
    const q = path.join(dir, 'cut.log.gz');
    fs.writeFileSync(q, zlib.gzipSync(QEMU).subarray(0, 60));
    await expect(importTrace([q, path.join(dir, 'guest.trace')], path.join(dir, 'cut.arrows'), opts)).rejects.toThrow(
      `Cannot import "${q}": gzip data is corrupt or truncated after line 0 (unexpected end of file)`,
    );
    expect(fs.existsSync(path.join(dir, 'cut.arrows'))).toBe(false);
  });

  it('a translation that no mapping held is counted as not fitting, and shown by import and inspect', () => {
    const g = path.join(dir, 'g2.trace');
    const q = path.join(dir, 'q2.log');
    fs.writeFileSync(g, GUEST);
    fs.writeFileSync(q, QEMU + '7@1700000009.900800:vtd_dmar_translate dev 00:03.00 iova 0x5000 -> gpa 0x7000 mask 0xfff\n');
    const out = path.join(dir, 'unfit.arrows');
    const r = runCli(['import', q, g, '-o', out]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('QEMU alignment: 3 of 4 translations inside a live mapping, 1 do not fit (1 match no mapping); 2 of 2 unmaps anchored');
    const i = runCli(['inspect', out]);
    expect(i.stdout).toContain('\n  QEMU VT-d: 4 translations by 0000:00:03.0; IOTLB hits 1, updates 2, resets 0\n');
    expect(i.stdout).toContain('\n  QEMU invalidation descriptors: iotlb_global 1, iotlb_pages 2, wait_sw 1\n');
  });

  it('--qemu-flushes replays QEMU domain-selective and global invalidations as flush ops', async () => {
    const out = path.join(dir, 'flushes.arrows');
    await importTrace([path.join(dir, 'qemu.log'), path.join(dir, 'guest.trace')], out, { ...opts, qemuFlushes: true });
    expect((await rows(out)).filter((r) => r === 'flush')).toHaveLength(1);
  });

  it('a QEMU log alone is an error that says what is missing', () => {
    const out = path.join(dir, 'alone.arrows');
    const r = runCli(['import', path.join(dir, 'qemu.log'), '-o', out]);
    expect(r.stderr).toBe(
      `iommu-replay: Cannot import "${path.join(dir, 'qemu.log')}": a QEMU log needs the guest kernel's iommu trace beside it (the maps and unmaps)\n`,
    );
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('QEMU logs of SMMUv3 and AMD-Vi (scripts/record-qemu.sh --iommu smmuv3|amd)', () => {
  // The guest maps the GICv3 ITS doorbell page (iommu_dma_get_msi_page()),
  // then one buffer twice at a reused IOVA; a 64 KiB buffer last.
  const guest = `# tracer: nop
   kworker/u2:0-9       [000] .....     5.000000: map: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 paddr=0x0000000008090000 size=4096
              dd-90      [000] .....     5.000100: map: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 paddr=0x0000000000009000 size=4096
          <idle>-0       [000] d.h1.     5.000300: unmap: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 size=4096 unmapped_size=4096
              dd-90      [000] .....     5.000400: map: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 paddr=0x000000000000a000 size=4096
          <idle>-0       [000] d.h1.     5.000700: unmap: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 size=4096 unmapped_size=4096
              dd-90      [000] .....     5.000800: map: IOMMU: iova=0x00000000fffe0000 - 0x00000000ffff0000 paddr=0x0000000000020000 size=65536
`;
  // Format strings of QEMU 7.2 (docs/qemu.md); the host clock runs 4.9 s ahead.
  const smmu = `1@1700000009.900000:smmuv3_cmdq_opcode <--- SMMU_CMD_TLBI_NSNH_ALL
1@1700000009.900000:smmuv3_cmdq_tlbi_nh
1@1700000009.900000:smmu_iotlb_inv_all IOTLB invalidate all
1@1700000009.900000:smmuv3_cmdq_opcode <--- SMMU_CMD_SYNC
1@1700000009.900150:smmu_iotlb_lookup_miss IOTLB cache MISS asid=1 addr=0xffffe000 hit=0 miss=1 hit rate=0
1@1700000009.900150:smmu_iotlb_insert IOTLB ++ asid=1 addr=0xffffe000 tg=1 level=3
1@1700000009.900150:smmuv3_translate_success smmuv3-iommu-memory-region-8-1 sid=0x8 iova=0xffffe000 translated=0x9000 perm=0x3
1@1700000009.900160:smmu_iotlb_lookup_miss IOTLB cache MISS asid=1 addr=0xfffff000 hit=0 miss=2 hit rate=0
1@1700000009.900160:smmu_iotlb_insert IOTLB ++ asid=1 addr=0xfffff000 tg=1 level=3
1@1700000009.900160:smmuv3_translate_success smmuv3-iommu-memory-region-8-1 sid=0x8 iova=0xfffff040 translated=0x8090040 perm=0x2
1@1700000009.900310:smmuv3_cmdq_opcode <--- SMMU_CMD_TLBI_NH_VA
1@1700000009.900310:smmuv3_s1_range_inval vmid=0 asid=1 addr=0xffffe000 tg=1 num_pages=0x1 ttl=3 leaf=1
1@1700000009.900310:smmuv3_cmdq_opcode <--- SMMU_CMD_SYNC
1@1700000009.900450:smmu_iotlb_lookup_miss IOTLB cache MISS asid=1 addr=0xffffe000 hit=0 miss=3 hit rate=0
1@1700000009.900450:smmu_iotlb_insert IOTLB ++ asid=1 addr=0xffffe000 tg=1 level=3
1@1700000009.900450:smmuv3_translate_success smmuv3-iommu-memory-region-8-1 sid=0x8 iova=0xffffe000 translated=0xa000 perm=0x3
1@1700000009.900460:smmu_iotlb_lookup_hit IOTLB cache HIT asid=1 addr=0xffffe040 hit=1 miss=3 hit rate=25
1@1700000009.900460:smmuv3_translate_success smmuv3-iommu-memory-region-8-1 sid=0x8 iova=0xffffe040 translated=0xa040 perm=0x3
1@1700000009.900710:smmuv3_cmdq_opcode <--- SMMU_CMD_TLBI_NH_VA
1@1700000009.900710:smmuv3_s1_range_inval vmid=0 asid=1 addr=0xffffe000 tg=1 num_pages=0x1 ttl=3 leaf=1
1@1700000009.900710:smmuv3_cmdq_opcode <--- SMMU_CMD_SYNC
`;
  const amd = `1@1700000009.890000:amdvi_pages_inval AMD-Vi pages for domain 0x2 invalidated
1@1700000009.890000:amdvi_completion_wait completion wait requested with store address 0x11b2000 and store data 0x1
1@1700000009.900150:amdvi_cache_update  update iotlb domid 0x2 devid: 00:02.0 gpa 0xffffe000 hpa 0x9000
1@1700000009.900150:amdvi_translation_result devid: 00:02.0 gpa 0xffffe000 hpa 0x9000
1@1700000009.900310:amdvi_pages_inval AMD-Vi pages for domain 0x2 invalidated
1@1700000009.900310:amdvi_completion_wait completion wait requested with store address 0x11b2000 and store data 0x2
1@1700000009.900450:amdvi_cache_update  update iotlb domid 0x2 devid: 00:02.0 gpa 0xffffe000 hpa 0xa000
1@1700000009.900450:amdvi_translation_result devid: 00:02.0 gpa 0xffffe000 hpa 0xa000
1@1700000009.900460:amdvi_iotlb_hit hit iotlb devid 00:02.0 gpa 0xffffe040 hpa 0xa000
1@1700000009.900460:amdvi_translation_result devid: 00:02.0 gpa 0xffffe040 hpa 0xa000
1@1700000009.900710:amdvi_pages_inval AMD-Vi pages for domain 0x2 invalidated
1@1700000009.900900:amdvi_iotlb_reset IOTLB exceed size limit - reset
1@1700000009.900900:amdvi_cache_update  update iotlb domid 0x2 devid: 00:02.0 gpa 0xfffe1000 hpa 0x20000
1@1700000009.900900:amdvi_translation_result devid: 00:02.0 gpa 0xfffe1080 hpa 0x20000
`;

  /** Writes NAME.log and NAME-guest.trace and imports the pair to NAME.arrows. */
  const importPair = async (name: string, log: string, guestText: string) => {
    const files = [path.join(dir, `${name}.log`), path.join(dir, `${name}-guest.trace`)];
    fs.writeFileSync(files[0], log);
    fs.writeFileSync(files[1], guestText);
    const out = path.join(dir, `${name}.arrows`);
    return { out, s: await importTrace(files, out, opts) };
  };

  it('SMMUv3: translations become reads by the stream ID, the ITS doorbell MSI among them, inside live mappings; commands by opcode', async () => {
    const { out, s } = await importPair('smmu', smmu, guest);
    expect((await rows(out)).join(', ')).toBe(
      'attach, map, map, dma_read ffffe000, dma_read fffff000, unmap, map, dma_read ffffe000, dma_read ffffe000, unmap, map',
    );
    const { alignment, ...counts } = s.qemu!;
    expect(counts).toEqual({
      iommu: 'smmuv3',
      translations: 4,
      msiTranslations: 1,
      iotlbHits: 1,
      iotlbUpdates: 3,
      iotlbResets: 1,
      invalidations: { TLBI_NSNH_ALL: 1, CMD_SYNC: 3, TLBI_NH_VA: 2 },
      invalidationsFromFirstTranslation: { CMD_SYNC: 2, TLBI_NH_VA: 2 },
      devices: ['0000:00:01.0'],
    });
    expect(alignment).toMatchObject({ translations: 4, unfit: 0, unmatched: 0, anchoredUnmaps: 2, guestUnmaps: 2 });
    // inspect shows what the metadata holds, checked against its shape
    const r = runCli(['inspect', out]);
    expect(r.status).toBe(0);
    // Its one reset is the boot-time TLBI_NSNH_ALL, not a full table: the line says 0 of them
    // were (it said 'resets 1' alone, and '(N because full)' only when N > 0).
    expect(r.stdout).toContain(
      'QEMU SMMUv3: 4 translations (1 of them MSIs to the ITS doorbell) by 0000:00:01.0; IOTLB hits 1, updates 3, resets 1 (0 because full)\n',
    );
    expect(r.stdout).toContain('QEMU commands from its first translation on: CMD_SYNC 2, TLBI_NH_VA 2');
  });

  it('AMD-Vi: hpa is the page base (a 64 KiB page for each of its 4 KiB pages); a reset before a fill is the table being full', async () => {
    const { out, s } = await importPair('amd', amd, guest.split('\n').slice(0, 1).concat(guest.split('\n').slice(2)).join('\n'));
    expect((await rows(out)).join(', ')).toBe(
      'attach, map, dma_read ffffe000, unmap, map, dma_read ffffe000, dma_read ffffe000, unmap, map, dma_read fffe1000',
    );
    const { alignment, ...counts } = s.qemu!;
    expect(counts).toEqual({
      iommu: 'amd',
      translations: 4,
      iotlbHits: 1,
      iotlbUpdates: 3,
      iotlbResets: 1,
      iotlbCapacityResets: 1,
      invalidations: { INVALIDATE_IOMMU_PAGES: 3, COMPLETION_WAIT: 2 },
      invalidationsFromFirstTranslation: { INVALIDATE_IOMMU_PAGES: 2, COMPLETION_WAIT: 1 },
      devices: ['0000:00:02.0'],
    });
    expect(alignment).toMatchObject({ translations: 4, unfit: 0, unmatched: 0 });
  });

  it("inspect trusts the stored QEMU counts only in import's shape: an unknown IOMMU or a bad count leaves them out, named", () => {
    const qemu = {
      iommu: 'amd',
      translations: 4,
      iotlbHits: 1,
      iotlbUpdates: 3,
      iotlbResets: 1,
      iotlbCapacityResets: 1,
      invalidations: { INVALIDATE_IOMMU_PAGES: 3 },
      invalidationsFromFirstTranslation: { INVALIDATE_IOMMU_PAGES: 2 },
      devices: ['0000:00:02.0'],
      alignment: { translations: 4, unfit: 0, unmatched: 0, anchoredUnmaps: 0, guestUnmaps: 2, driftMs: 0 },
    };
    expect(storedImportStats({ qemu, mapOperations: 3 })).toEqual({ stats: { qemu, mapOperations: 3 }, ignored: [] });
    for (const bad of [{ iommu: 'arm' }, { msiTranslations: -1 }, { invalidationsFromFirstTranslation: { CMD_SYNC: 'x' } }])
      expect(storedImportStats({ qemu: { ...qemu, ...bad } })).toEqual({ stats: {}, ignored: ['"qemu" is not QEMU\'s counts and alignment'] });
    expect(storedImportStats({ mapOperations: 1.5 }).ignored).toEqual(['"mapOperations" is not a count']);
  });

  it('a log that mixes two IOMMUs names the line', async () => {
    fs.writeFileSync(path.join(dir, 'mixed.log'), smmu + amd);
    const out = path.join(dir, 'mixed.arrows');
    await expect(importTrace([path.join(dir, 'mixed.log'), path.join(dir, 'smmu-guest.trace')], out, opts)).rejects.toThrow(
      /line 22 is a AMD-Vi \(amdvi_\*\) event in a log of the Arm SMMUv3 \(smmu\*_\*\)/,
    );
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('import --device (kernels before 6.12: no dma:* events)', () => {
  it('attaches the device to the default domain, so replay sends invalidations for its unmaps', async () => {
    const g = path.join(dir, 'dev.trace');
    fs.writeFileSync(g, GUEST);
    for (const [devices, page] of [
      [[], 0],
      [['0000:03:00.0'], 2],
    ] as const) {
      const out = path.join(dir, `dev${page}.arrows`);
      await importTrace([g], out, { ...opts, devices: [...devices] });
      const sum = await replayTrace([out], resolveConfig({}, 'test'));
      expect(sum.totals.invalidation.commands.page).toBe(page);
    }
    const bad = runCli(['import', g, '-o', path.join(dir, 'bad.arrows'), '--device', 'nvme0']);
    expect(bad.stderr).toBe('iommu-replay: Invalid option --device: expected a PCI address like 0000:03:00.0, got nvme0\n');
    expect(bad.status).toBe(2);
  });
});
