import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/import/events.js';
import { parseLine, parseTimestamp } from '../../src/import/lines.js';
import { importTrace } from '../../src/import/convert.js';
import { checkedInspection, inspectText } from '../../src/cli/inspect.js';
import { inspectTrace } from '../../src/trace/inspect.js';
import { openTrace } from '../../src/trace/merge.js';
import { OP_NAMES } from '../../src/trace/schema.js';
import { runCli, runCliBytes, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();

describe('line syntax', () => {
  it('raw ftrace with 5-char flags and a comm with parentheses', () => {
    const l = parseLine(
      '   (udev-worker)-532     [010] .....     4.878076: map: IOMMU: iova=0x00000000fe980000 - 0x00000000fea00000 paddr=0x000000010ec80000 size=524288',
      'auto',
    )!;
    expect(l).toMatchObject({ comm: '(udev-worker)', pid: 532, cpu: 10, tsNs: 4878076000n, event: 'map' });
  });

  it('raw ftrace with 4-char flags (old kernels), 7-char flags (distro) and a comm with spaces and dashes', () => {
    expect(parseLine('  kworker/u64:0-12    [011] d...   327.747766: unmap: x', 'auto')).toMatchObject({ comm: 'kworker/u64:0', pid: 12, cpu: 11 });
    expect(parseLine('        qemu-kvm-4575    [008] .......   438.308478: unmap: x', 'auto')).toMatchObject({
      comm: 'qemu-kvm',
      pid: 4575,
      cpu: 8,
      tsNs: 438308478000n,
    });
    expect(parseLine(' irq/26-AMD-Vi-154     [006] .....   327.753942: io_page_fault: x', 'auto')).toMatchObject({ comm: 'irq/26-AMD-Vi', pid: 154 });
    expect(parseLine('  my worker thread-77 [000] ..... 1.000001: map: x', 'auto')).toMatchObject({ comm: 'my worker thread', pid: 77 });
  });

  it('raw ftrace with the tgid column, numeric or unknown', () => {
    expect(parseLine('   (udev-worker)-532     (    532) [010] .....     4.878076: map: x', 'auto')).toMatchObject({ pid: 532, cpu: 10 });
    expect(parseLine('          <idle>-0       (-------) [001] d.h1.    99.000002: unmap: x', 'auto')).toMatchObject({ comm: '<idle>', pid: 0, cpu: 1 });
  });

  it('trace-cmd report: no flags, padded event names, -t nanoseconds', () => {
    expect(parseLine('   (udev-worker)-532   [010]     4.878076: map:                  IOMMU: iova=0x1', 'auto')).toMatchObject({
      event: 'map',
      payload: 'IOMMU: iova=0x1',
      tsNs: 4878076000n,
    });
    expect(parseLine('   kworker/u64:0-12    [011]   327.747700412: dma_map_page:         0000:c2:00.0 dir=FROM_DEVICE', 'auto')).toMatchObject({
      event: 'dma_map_page',
      tsNs: 327747700412n,
    });
  });

  it('perf script: comm tid [cpu] time: system:event:', () => {
    const l = parseLine('   (udev-worker)     532 [010]     4.878076:        iommu:map: IOMMU: iova=0x1 paddr=0x2 size=4096', 'auto')!;
    expect(l).toMatchObject({ comm: '(udev-worker)', pid: 532, cpu: 10, system: 'iommu', event: 'map', payload: 'IOMMU: iova=0x1 paddr=0x2 size=4096' });
    expect(parseLine('   kworker/u64:0  12/7      [011]   327.747700: dma:dma_map_page: 0000:c2:00.0 dir=TO_DEVICE', 'perf')).toMatchObject({
      system: 'dma',
      event: 'dma_map_page',
      pid: 12,
    });
  });

  it('timestamps in µs, ns and integers', () => {
    expect(parseTimestamp('327.747766')).toBe(327747766000n);
    expect(parseTimestamp('327.747766123')).toBe(327747766123n);
    expect(parseTimestamp('123456789')).toBe(123456789n);
  });
});

describe('tracepoint payloads', () => {
  it('iommu:map in the v5.17+ form with a range and the older form without', () => {
    expect(parseEvent('map', 'IOMMU: iova=0x00000000fe980000 - 0x00000000fea00000 paddr=0x000000010ec80000 size=524288')).toEqual({
      kind: 'iommu_map',
      device: undefined,
      iova: 0xfe980000n,
      paddr: 0x10ec80000n,
      size: 524288n,
    });
    expect(parseEvent('map', 'IOMMU: iova=0x00000000fe980000 paddr=0x000000010ec80000 size=524288')).toMatchObject({ iova: 0xfe980000n, size: 524288n });
    expect(parseEvent('map', 'IOMMU: dev=0000:03:00.0 iova=0x0000000000001000 paddr=0x0000000000002000 size=4096')).toMatchObject({ device: '0000:03:00.0' });
  });

  it('iommu:unmap in both forms, with unmapped_size', () => {
    expect(parseEvent('unmap', 'IOMMU: iova=0x00000000fe980000 - 0x00000000fea00000 size=524288 unmapped_size=524288')).toEqual({
      kind: 'iommu_unmap',
      device: undefined,
      iova: 0xfe980000n,
      size: 524288n,
      unmapped: 524288n,
    });
    expect(parseEvent('unmap', 'IOMMU: iova=0x0000000000000000 size=4096 unmapped_size=0')).toMatchObject({ iova: 0n, unmapped: 0n });
  });

  it('attach_device_to_domain, add_device_to_group, io_page_fault', () => {
    expect(parseEvent('attach_device_to_domain', 'IOMMU: device=0000:03:00.0')).toEqual({ kind: 'attach', device: '0000:03:00.0' });
    expect(parseEvent('add_device_to_group', 'IOMMU: groupID=12 device=0000:03:00.0')).toEqual({ kind: 'group', group: 12, device: '0000:03:00.0' });
    expect(parseEvent('io_page_fault', 'IOMMU:ath12k_pci 0000:c2:00.0 iova=0x00000000fe980000 flags=0x0001')).toEqual({
      kind: 'fault',
      device: '0000:c2:00.0',
      iova: 0xfe980000n,
      write: true,
    });
  });

  it('dma_map_page (6.12), dma_map_phys and dma_map_resource (later names), with attrs', () => {
    expect(parseEvent('dma_map_page', '0000:03:00.0 dir=FROM_DEVICE dma_addr=fffff000 size=4096 phys_addr=1234567000 attrs=')).toEqual({
      kind: 'dma_map',
      device: '0000:03:00.0',
      dir: 'FROM_DEVICE',
      ranges: [{ addr: 0xfffff000n, size: 4096n }],
      sg: false,
    });
    expect(
      parseEvent('dma_map_phys', '0000:03:00.0 dir=TO_DEVICE dma_addr=ffffe040 size=1500 phys_addr=abc040 attrs=SKIP_CPU_SYNC|WEAK_ORDERING'),
    ).toMatchObject({ dir: 'TO_DEVICE', ranges: [{ addr: 0xffffe040n, size: 1500n }] });
    expect(parseEvent('dma_map_resource', '0000:03:00.0 dir=BIDIRECTIONAL dma_addr=f0000000 size=8192 phys_addr=f0000000 attrs=MMIO')).toMatchObject({
      dir: 'BIDIRECTIONAL',
    });
    expect(parseEvent('dma_unmap_page', '0000:03:00.0 dir=FROM_DEVICE dma_addr=fffff000 size=4096 attrs=')).toMatchObject({
      kind: 'dma_unmap',
      addr: 0xfffff000n,
      size: 4096n,
    });
    expect(parseEvent('dma_unmap_phys', '0000:03:00.0 dir=TO_DEVICE dma_addr=ffffe040 size=1500 attrs=')).toMatchObject({ kind: 'dma_unmap' });
  });

  it('dma_map_sg plain and in the capped nents/ents form; dma_unmap_sg has no DMA addresses, only the phys_addrs of its list', () => {
    expect(
      parseEvent(
        'dma_map_sg',
        '0000:01:00.0 dir=FROM_DEVICE dma_addrs={0xfff00000,0xfff02000} sizes={0x2000,0x1000} phys_addrs={0x10a3f2000,0x10a3f4000} attrs=',
      ),
    ).toMatchObject({
      kind: 'dma_map',
      sg: true,
      ranges: [
        { addr: 0xfff00000n, size: 0x2000n },
        { addr: 0xfff02000n, size: 0x1000n },
      ],
    });
    expect(
      parseEvent(
        'dma_map_sg',
        '0000:03:00.0 dir=TO_DEVICE nents=2/2 ents=1/1 dma_addrs={0xfff00000} sizes={0x3000} phys_addrs={0x10a3f2000,0x10a3f4000} attrs=',
      ),
    ).toMatchObject({ ranges: [{ addr: 0xfff00000n, size: 0x3000n }] });
    expect(
      parseEvent(
        'dma_map_sg',
        '0000:03:00.0 dir=TO_DEVICE nents=200/200 ents=128/200 [TRUNCATED] dma_addrs={0x1000} sizes={0x1000} phys_addrs={0x1000} attrs=',
      ),
    ).toMatchObject({ ranges: [{ addr: 0x1000n }] });
    expect(parseEvent('dma_unmap_sg', '0000:01:00.0 dir=FROM_DEVICE phys_addrs={0x10a3f2000,0x10a3f4000} attrs=')).toEqual({
      kind: 'dma_unmap',
      device: '0000:01:00.0',
      dir: 'FROM_DEVICE',
      sg: true,
      phys: '{0x10a3f2000,0x10a3f4000}',
    });
  });

  it('dma_alloc and dma_free in the 6.12 form, the later dir= form and the -rc phys_addr form', () => {
    expect(parseEvent('dma_alloc', '0000:c2:00.0 dma_addr=fe980000 size=524288 virt_addr=000000006cadbcb1 flags=GFP_KERNEL attrs=')).toEqual({
      kind: 'dma_alloc',
      device: '0000:c2:00.0',
      addr: 0xfe980000n,
      size: 524288n,
    });
    expect(
      parseEvent('dma_alloc', '0000:c2:00.0 dir=BIDIRECTIONAL dma_addr=fe980000 size=524288 virt_addr=0xffff888100000000 flags=GFP_KERNEL|__GFP_NOWARN attrs='),
    ).toMatchObject({ kind: 'dma_alloc', size: 524288n });
    expect(parseEvent('dma_alloc', '0000:c2:00.0 dma_addr=fe980000 size=4096 phys_addr=10ec80000 flags=GFP_KERNEL attrs=')).toMatchObject({
      kind: 'dma_alloc',
    });
    expect(parseEvent('dma_free', '0000:c2:00.0 dma_addr=fe980000 size=524288 virt_addr=000000006cadbcb1 attrs=')).toMatchObject({
      kind: 'dma_free',
      addr: 0xfe980000n,
    });
    expect(parseEvent('dma_free_pages', '0000:c2:00.0 dir=0x0 dma_addr=fe980000 size=4096 virt_addr=(nil) attrs=')).toMatchObject({ kind: 'dma_free' });
  });

  it('syncs are known but carry nothing for the model; malformed payloads are null', () => {
    expect(parseEvent('dma_sync_single_for_cpu', '0000:03:00.0 dir=FROM_DEVICE dma_addr=fffff000 size=4096')).toEqual({ kind: 'ignored' });
    expect(parseEvent('map', 'IOMMU: iova=zz')).toBeNull();
    expect(parseEvent('dma_map_page', '0000:03:00.0 dir=FROM_DEVICE size=4096')).toBeNull();
  });
});

const FTRACE = `# tracer: nop
#
# entries-in-buffer/entries-written: 14/14   #P:4
#
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
   (udev-worker)-532     [010] .....     4.878076: map: IOMMU: iova=0x00000000fe980000 - 0x00000000fea00000 paddr=0x000000010ec80000 size=524288
   (udev-worker)-532     [010] .....     4.878079: dma_alloc: 0000:c2:00.0 dma_addr=fe980000 size=524288 virt_addr=000000006cadbcb1 flags=GFP_KERNEL attrs=
      ksoftirqd/1-20     [001] ..s1.     5.000100: map: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 paddr=0x0000000234567000 size=4096
      ksoftirqd/1-20     [001] ..s1.     5.000101: dma_map_page: 0000:03:00.0 dir=FROM_DEVICE dma_addr=fffff040 size=1500 phys_addr=234567040 attrs=
  my worker thread-77    [002] .....     5.000050: map: IOMMU: iova=0x0000000000100000 - 0x0000000000101000 paddr=0x0000000000200000 size=4096
      ksoftirqd/1-20     [001] ..s1.     5.000200: unmap: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 size=4096 unmapped_size=4096
      ksoftirqd/1-20     [001] ..s1.     5.000201: dma_unmap_page: 0000:03:00.0 dir=FROM_DEVICE dma_addr=fffff040 size=1500 attrs=
   kworker/u64:0-12      [011] .....   327.747700: dma_free: 0000:c2:00.0 dma_addr=fe980000 size=524288 virt_addr=000000006cadbcb1 attrs=
   kworker/u64:0-12      [011] .....   327.747766: unmap: IOMMU: iova=0x00000000fe980000 - 0x00000000fea00000 size=524288 unmapped_size=524288
 irq/26-AMD-Vi-154     [006] .....   327.753942: io_page_fault: IOMMU:ath12k_pci 0000:c2:00.0 iova=0x00000000fe980000 flags=0x0001
     kworker/3:1-99      [003] .....   327.800000: sched_switch: prev_comm=x prev_pid=1
CPU:3 [LOST 12 EVENTS]
this line is garbage
      ksoftirqd/1-20     [001] ..s1.   327.900000: dma_map_page: 0000:03:00.0 dir=FROM_DEVICE size=1500
`;

describe('import', () => {
  it('parses a raw ftrace file, sorts across CPUs, attributes maps, and accounts for every line', async () => {
    const f = path.join(dir, 'raw.trace');
    fs.writeFileSync(f, FTRACE);
    const out = path.join(dir, 'raw.arrows');
    const s = await importTrace([f], out, { format: 'auto', synthesizeDma: false, coherentRateHz: 1000, strict: false, seed: 1 });
    expect(s.lines.read).toBe(FTRACE.split('\n').length - 1);
    expect(s.lines.parsed).toBe(10);
    expect(s.lines.skipped).toEqual({
      'headers and comments': 6,
      'other tracepoints': 1,
      'lost-events markers': 1,
      'is not a trace line': 1,
      'has a dma_map_page event in an unknown format': 1,
    });
    expect(s.firstBad).toEqual([
      `${f}:19: this line is garbage`,
      `${f}:20: ksoftirqd/1-20     [001] ..s1.   327.900000: dma_map_page: 0000:03:00.0 dir=FROM_DEVICE size=1500`,
    ]);
    expect(s.sortedBackwardsTimestamps).toBe(1);
    // Two maps and two unmaps by a same-CPU dma event; the lone map on CPU 2 goes to the default domain.
    expect(s.attribution).toEqual({ sameCpuNeighbour: 4, earlierMapping: 0, vendorDevField: 0, defaultDomain: 1 });
    expect(s.devices.map((d) => d.name)).toEqual(['0000:c2:00.0', '0000:03:00.0']);
    const t = await openTrace([out]);
    const rows: string[] = [];
    for await (const b of t.batches()) for (let i = 0; i < b.length; i++) rows.push(`${OP_NAMES[b.op[i]]} dev=${b.device[i].toString(16)} dom=${b.domain[i]}`);
    await t.close();
    expect(rows).toEqual([
      'attach dev=c200 dom=2',
      'map dev=0 dom=2',
      'map dev=0 dom=1', // 5.000050 on CPU 2 sorts before CPU 1's 5.000100
      'attach dev=300 dom=3',
      'map dev=0 dom=3',
      'unmap dev=0 dom=3',
      'unmap dev=0 dom=2', // dma_free came first on its CPU
      'dma_write dev=c200 dom=0', // the io_page_fault access
    ]);
    expect(t.meta.importStats).toMatchObject({ attribution: { sameCpuNeighbour: 4 } });
  });

  it('--strict makes an unparseable line an error naming file and line', () => {
    const f = path.join(dir, 'strict.trace');
    fs.writeFileSync(f, FTRACE.replace('CPU:3 [LOST 12 EVENTS]\n', ''));
    const out = path.join(dir, 'strict.arrows');
    const r = runCli(['import', f, '-o', out, '--strict']);
    expect(r.stderr).toBe(`iommu-replay: Cannot import "${f}": line 18 is not a trace line: this line is garbage\n`);
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('perf script and trace-cmd report text import to the same events as raw ftrace', async () => {
    const perf = `   (udev-worker)     532 [010]     4.878076:        iommu:map: IOMMU: iova=0x00000000fe980000 - 0x00000000fea00000 paddr=0x000000010ec80000 size=524288
   (udev-worker)     532 [010]     4.878079:  dma:dma_alloc: 0000:c2:00.0 dma_addr=fe980000 size=524288 virt_addr=0xffff888100000000 flags=GFP_KERNEL attrs=
   kworker/u64:0      12 [011]   327.747700:    dma:dma_free: 0000:c2:00.0 dma_addr=fe980000 size=524288 virt_addr=0xffff888100000000 attrs=
   kworker/u64:0      12 [011]   327.747766:      iommu:unmap: IOMMU: iova=0x00000000fe980000 - 0x00000000fea00000 size=524288 unmapped_size=524288
`;
    const tcr = `cpus=16
   (udev-worker)-532   [010]     4.878076: map:                  IOMMU: iova=0x00000000fe980000 paddr=0x000000010ec80000 size=524288
   (udev-worker)-532   [010]     4.878079: dma_alloc:            0000:c2:00.0 dma_addr=fe980000 size=524288 virt_addr=0xffff888100000000 flags=GFP_KERNEL attrs=
   kworker/u64:0-12    [011]   327.747700: dma_free:             0000:c2:00.0 dma_addr=fe980000 size=524288 virt_addr=0xffff888100000000 attrs=
   kworker/u64:0-12    [011]   327.747766: unmap:                IOMMU: iova=0x00000000fe980000 size=524288 unmapped_size=524288
`;
    const results = [];
    for (const [name, text, format] of [
      ['p.txt', perf, 'perf'],
      ['t.txt', tcr, 'auto'],
    ] as const) {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      const s = await importTrace([f], path.join(dir, `${name}.arrows`), { format, synthesizeDma: false, coherentRateHz: 1000, strict: true, seed: 1 });
      results.push(s);
    }
    for (const s of results) {
      expect(s.attribution).toMatchObject({ sameCpuNeighbour: 2, defaultDomain: 0 });
      expect(s.events).toBe(3); // attach, map, unmap
    }
  });

  it('--synthesize-dma reads or writes each streaming mapping once and touches coherent memory at the rate', async () => {
    const text = `  a-1 [000] ..... 1.000000: map: IOMMU: iova=0x0000000000010000 - 0x0000000000011000 paddr=0x0000000000900000 size=4096
  a-1 [000] ..... 1.000001: dma_map_page: 0000:03:00.0 dir=TO_DEVICE dma_addr=10000 size=100 phys_addr=900000 attrs=
  a-1 [000] ..... 1.000010: unmap: IOMMU: iova=0x0000000000010000 - 0x0000000000011000 size=4096 unmapped_size=4096
  a-1 [000] ..... 1.000011: dma_unmap_page: 0000:03:00.0 dir=TO_DEVICE dma_addr=10000 size=100 attrs=
  a-1 [000] ..... 1.000020: map: IOMMU: iova=0x0000000000020000 - 0x0000000000022000 paddr=0x0000000000a00000 size=8192
  a-1 [000] ..... 1.000021: dma_alloc: 0000:03:00.0 dma_addr=20000 size=8192 virt_addr=0 flags=GFP_KERNEL attrs=
  a-1 [000] ..... 1.010021: dma_free: 0000:03:00.0 dma_addr=20000 size=8192 virt_addr=0 attrs=
  a-1 [000] ..... 1.010022: unmap: IOMMU: iova=0x0000000000020000 - 0x0000000000022000 size=8192 unmapped_size=8192
`;
    const f = path.join(dir, 'synth.trace');
    fs.writeFileSync(f, text);
    const out = path.join(dir, 'synth.arrows');
    const s = await importTrace([f], out, { format: 'auto', synthesizeDma: true, coherentRateHz: 1000, strict: true, seed: 1 });
    expect(s.synthesized).toEqual({ streaming: 1, coherent: 9 }); // one read; 10 ms at 1 kHz: 9 accesses strictly inside
    const r = runCli(['replay', out, '--json', path.join(dir, 'synth.json')]);
    expect(r.status).toBe(0);
    const sum = JSON.parse(fs.readFileSync(path.join(dir, 'synth.json'), 'utf8'));
    expect(sum.totals.dma).toMatchObject({ events: 10, faults: 0 });
    expect(sum.totals.unmap).toMatchObject({ ops: 2, short: 0 });
  });

  it('inspect says how map/unmap events were attributed', async () => {
    const f = path.join(dir, 'raw2.trace');
    fs.writeFileSync(f, FTRACE);
    const out = path.join(dir, 'raw2.arrows');
    expect(runCli(['import', f, '-o', out]).status).toBe(0);
    expect(runCli(['inspect', out]).stdout).toContain('map/unmap attributed: same-CPU dma event 4, earlier mapping 0, dev= field 0, default domain 1');
  });

  it('unmaps of an IOVA whose map was attributed earlier go to the same device', async () => {
    const text = `  a-1 [000] ..... 1.000000: map: IOMMU: iova=0x0000000000010000 - 0x0000000000011000 paddr=0x0000000000900000 size=4096
  a-1 [000] ..... 1.000001: dma_map_page: 0000:03:00.0 dir=TO_DEVICE dma_addr=10000 size=100 phys_addr=900000 attrs=
  b-2 [001] ..... 2.000000: unmap: IOMMU: iova=0x0000000000010000 - 0x0000000000011000 size=4096 unmapped_size=4096
`;
    const f = path.join(dir, 'owner.trace');
    fs.writeFileSync(f, text);
    const s = await importTrace([f], path.join(dir, 'owner.arrows'), { format: 'auto', synthesizeDma: false, coherentRateHz: 0, strict: true, seed: 1 });
    expect(s.attribution).toMatchObject({ sameCpuNeighbour: 1, earlierMapping: 1 });
  });

  it("partners are found in each CPU's input order even when sorting by ts would separate them", async () => {
    const lines: string[] = [];
    for (let k = 0; k < 12; k++) {
      const iova = (0x10000 + k * 0x1000).toString(16);
      lines.push(`  a-1 [000] ..... 1.000000: map: IOMMU: iova=0x${iova.padStart(16, '0')} paddr=0x0000000000900000 size=4096`);
      lines.push(`  a-1 [000] ..... 1.000001: dma_map_page: 0000:03:00.0 dir=TO_DEVICE dma_addr=${iova} size=64 phys_addr=900000 attrs=`);
    }
    const f = path.join(dir, 'ties.trace');
    fs.writeFileSync(f, lines.join('\n') + '\n');
    const s = await importTrace([f], path.join(dir, 'ties.arrows'), { format: 'auto', synthesizeDma: false, coherentRateHz: 0, strict: true, seed: 1 });
    expect(s.attribution).toMatchObject({ sameCpuNeighbour: 12, defaultDomain: 0 });
  });

  it('a missing input file is one clear line', () => {
    const r = runCli(['import', path.join(dir, 'none.trace'), '-o', path.join(dir, 'x.arrows')]);
    expect(r.stderr).toBe(`iommu-replay: Cannot import "${path.join(dir, 'none.trace')}": no such file\n`);
    expect(r.status).toBe(2);
  });
});

describe('lost events (issue 13, item 13)', () => {
  const text = `  a-1 [000] ..... 1.000000: map: IOMMU: iova=0x0000000000010000 - 0x0000000000011000 paddr=0x0000000000900000 size=4096
CPU:0 [LOST 12 EVENTS]
  a-1 [000] ..... 1.000010: unmap: IOMMU: iova=0x0000000000010000 - 0x0000000000011000 size=4096 unmapped_size=4096
CPU:1 [LOST 3 EVENTS]
`;

  it('--strict rejects a trace with [LOST N EVENTS] markers, naming the line, and writes nothing', () => {
    const f = path.join(dir, 'lost.trace');
    fs.writeFileSync(f, text);
    const out = path.join(dir, 'lost-strict.arrows');
    const r = runCli(['import', f, '-o', out, '--strict']);
    expect(r.stderr).toBe(
      `iommu-replay: Cannot import "${f}": line 2 says events were lost (CPU:0 [LOST 12 EVENTS]); re-record with a larger buffer_size_kb, or import without --strict to accept an incomplete trace\n`,
    );
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('without --strict, import and inspect warn how many events were lost', () => {
    const f = path.join(dir, 'lost.trace');
    fs.writeFileSync(f, text);
    const out = path.join(dir, 'lost.arrows');
    const r = runCli(['import', f, '-o', out]);
    const warning = 'warning: 15 events were lost (2 markers in the trace): the replay misses them; re-record with a larger buffer_size_kb';
    expect(r.status).toBe(0);
    expect(r.stderr.split('\n')).toContain(warning);
    const i = runCli(['inspect', out]);
    expect(i.stdout.split('\n')).toContain(`  ${warning}`);
  });
});

describe('inspect of an imported trace (issue 13, item 14)', () => {
  it('prints each import statistic on a line of its own', async () => {
    const f = path.join(dir, 'raw14.trace');
    fs.writeFileSync(f, FTRACE);
    const out = path.join(dir, 'raw14.arrows');
    await importTrace([f], out, { format: 'auto', synthesizeDma: false, coherentRateHz: 1000, strict: false, seed: 1 });
    const text = inspectText(checkedInspection(await inspectTrace([out])).shown);
    const section = text.slice(text.indexOf('\nimport:\n') + 1, text.indexOf('\n\nnotes:'));
    expect(section.split('\n')).toEqual([
      'import:',
      '  lines: 20 read, 10 parsed',
      '  skipped: headers and comments 6, other tracepoints 1, lost-events markers 1, is not a trace line 1, has a dma_map_page event in an unknown format 1',
      '  map/unmap attributed: same-CPU dma event 4, earlier mapping 0, dev= field 0, default domain 1',
      '  warning: 12 events were lost (1 marker in the trace): the replay misses them; re-record with a larger buffer_size_kb',
    ]);
  });
});

describe('import of what is not trace text, and of standard input (issue item F)', () => {
  it('an Arrow trace (file or stream, or on standard input) is refused with one line, exit 2, no output', () => {
    const out = path.join(dir, 'never.arrows');
    for (const f of ['traces/nic.arrows', 'test/trace/fixtures/small.arrow']) {
      const r = runCli(['import', f, '-o', out]);
      expect(r.stderr).toBe(
        `iommu-replay: Cannot import "${f}": this is already an Arrow trace; replay or inspect it directly (import reads kernel trace text and QEMU logs)\n`,
      );
      expect(r.status).toBe(2);
    }
    const r = runCli(['import', '-', '-o', out], { input: fs.readFileSync('traces/nic.arrows') });
    expect(r.stderr).toBe(
      'iommu-replay: Cannot import "(stdin)": this is already an Arrow trace; replay or inspect it directly (import reads kernel trace text and QEMU logs)\n',
    );
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('standard input is recorded as "standard input", not the path of a temporary copy', async () => {
    const out = path.join(dir, 'from-stdin.arrows');
    const r = runCli(['import', '-', '-o', out], { input: fs.readFileSync('traces/kernel-nic.trace') });
    expect(r.status).toBe(0);
    const shown = checkedInspection(await inspectTrace([out])).shown;
    expect(shown.workload).toBe('imported from standard input');
    expect(JSON.stringify([shown.workload, shown.imported])).not.toMatch(/iommu-replay-|\/tmp\//);
  });

  it('import - -o -: the trace on standard output records "standard input" too', async () => {
    const r = runCliBytes(['import', '-', '-o', '-'], { input: fs.readFileSync('traces/kernel-nic.trace') });
    expect(r.status).toBe(0);
    const out = path.join(dir, 'stdin-to-stdout.arrows');
    fs.writeFileSync(out, r.stdout);
    const shown = checkedInspection(await inspectTrace([out])).shown;
    expect(shown.workload).toBe('imported from standard input');
  });

  it("a file name with control characters is shown escaped in import's messages", () => {
    const f = path.join(dir, 'evil\x1b[2J\nname.trace');
    fs.writeFileSync(f, 'nothing to see\n');
    const r = runCli(['import', f, '-o', path.join(dir, 'evil.arrows')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`Cannot import "${f.replace('\x1b', '\\x1b').replace('\n', '\\x0a')}"`);
    expect(r.stderr.split('\n').length).toBe(2);
    expect(r.stderr).not.toContain('\x1b');
  });
});
