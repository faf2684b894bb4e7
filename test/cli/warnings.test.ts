// A configuration the trace cannot use is valid and exits 0, but it must not
// pass silently (CLI item 8): `replay traces/nic.arrows --page-sizes 2M` gave
// a 0.00% hit rate with its 3,251 map errors only in --report. Now one
// warning line per trace and point with DMA faults or failed maps (at most
// MAX_WARNING_LINES, then a count); a correct run prints none.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { MAX_WARNING_LINES, problemText, warningLines } from '../../src/cli/warnings.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');

describe('warnings on stderr', () => {
  it('replay: a page-size set the trace cannot use is one warning line with the counts; exit 0', () => {
    const r = runCli(['replay', NIC, '--page-sizes', '2M']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(
      `iommu-replay: warning: ${NIC} with page sizes 2M: 6,567 of 6,567 DMA accesses faulted, 3,251 of 3,251 maps failed, 2,181 of 2,181 unmaps failed (replay --report FILE shows the counts)\n`,
    );
    expect(r.stdout).toContain('| IOTLB hit rate | 0.00% |');
  });

  it('replay: failed attaches are counted in the warning, which says why the DMAs after them faulted', () => {
    // traces/mixed.arrows attaches one domain to two VFs behind two instances; under smmuv3 the
    // second attach fails (model §9.1: a domain belongs to the SMMU of its first use).
    const mixed = path.resolve('traces/mixed.arrows');
    const r = runCli(['replay', mixed, '--vendor', 'smmuv3']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(
      `iommu-replay: warning: ${mixed} with page sizes 4K+2M+1G: 810 of 7,629 DMA accesses faulted, 1 of 7 attaches failed (replay --report FILE shows the counts)\n`,
    );
    expect(problemText({ dmaEvents: 5, faults: 0, attaches: 4, attachErrors: 2 })).toBe('2 of 4 attaches failed');
  });

  it('replay: a correct run prints nothing on stderr', () => {
    expect(runCli(['replay', NIC, '--page-sizes', '4K+2M']).stderr).toBe('');
  });

  it('sweep: one line for each trace and point with faults, none for the others', () => {
    const out = path.join(tmpDir(), 'out');
    const r = runCli(['sweep', NIC, '--page-sizes', '2M', '4K', '--iotlb', '32x4', '--out', out, '--quiet']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(
      `iommu-replay: warning: nic with pageSizes=2M iotlb=32x4: 6,567 of 6,567 DMA accesses faulted, 3,251 of 3,251 maps failed, 2,181 of 2,181 unmaps failed (see ${path.join(out, 'report.md')})\n`,
    );
  });

  it('curve: one line for the curve whose DMA faulted, with its failed maps and unmaps as sweep has them', () => {
    const out = path.join(tmpDir(), 'out');
    const r = runCli(['curve', NIC, '--page-sizes', '2M', '4K', '--max-entries', '16', '--out', out, '--quiet']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(
      `iommu-replay: warning: nic with pageSizes=2M invalidation.mode=strict: 6,567 of 6,567 DMA accesses faulted, 3,251 of 3,251 maps failed, 2,181 of 2,181 unmaps failed (see ${path.join(out, 'report.md')})\n`,
    );
  });

  it("curve: the line counts the trace's DMA events and its failed attaches, as replay's and sweep's do", () => {
    // The curve's line took IOTLB lookups (pages translated) for the DMA events and
    // left the failed attach out: '810 of 17,342 DMA accesses faulted' where replay
    // says '810 of 7,629 DMA accesses faulted, 1 of 7 attaches failed'.
    const mixed = path.resolve('traces/mixed.arrows');
    const out = path.join(tmpDir(), 'out');
    const r = runCli(['curve', mixed, '--vendor', 'smmuv3', '--max-entries', '4', '--out', out, '--quiet']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(
      `iommu-replay: warning: mixed with pageSizes=4K+2M+1G invalidation.mode=strict vendor=smmuv3: 810 of 7,629 DMA accesses faulted, 1 of 7 attaches failed (see ${path.join(out, 'report.md')})\n`,
    );
    // The report the line points to has those counts too (it had a faults column alone).
    const note = "Warning: 810 of 7,629 DMA accesses faulted, 1 of 7 attaches failed (faults: the most at any size, each size's in the table).";
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toContain(`\n> ${note}\n`);
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain(`<p class="note">${note.replace("'", '&#39;')}</p>`);
  });

  it('many points with faults: at most MAX_WARNING_LINES lines, the last counting the rest', () => {
    const items = Array.from({ length: 12 }, (_, i) => ({ what: `t with p${i}`, counts: { dmaEvents: 10, faults: 10 } }));
    const lines = warningLines(items, 'see out/report.md');
    expect(lines).toHaveLength(MAX_WARNING_LINES);
    expect(lines[MAX_WARNING_LINES - 1]).toBe('warning: 8 more trace x point(s) with DMA faults or failed maps, unmaps or attaches (see out/report.md)');
    expect(warningLines([{ what: 'ok', counts: { dmaEvents: 10, faults: 0, maps: 3, mapErrors: 0 } }], 'x')).toEqual([]);
    // Points whose only failures are attaches are among those the last line counts, and it says so.
    const attachOnly = Array.from({ length: 7 }, (_, i) => ({ what: `t with p${i}`, counts: { dmaEvents: 10, faults: 0, attaches: 2, attachErrors: 1 } }));
    expect(warningLines(attachOnly, 'w').at(-1)).toBe('warning: 3 more trace x point(s) with DMA faults or failed maps, unmaps or attaches (w)');
  });

  it("counts are written as toLocaleString('en-US') writes them, without calling it (its first call starts ICU: 42 ms of a replay)", () => {
    // Seeded counts of every digit count up to 2^53-1, and 0.
    const counts = [0, 1, 999, 1000, 2 ** 53 - 1];
    let x = 12345;
    for (let i = 0; i < 200; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      counts.push(Math.floor((x / 2 ** 31) * 10 ** (i % 16)));
    }
    const expected = counts.map((c) => `1 of ${c.toLocaleString('en-US')} DMA accesses faulted, 1 of ${c.toLocaleString('en-US')} maps failed`);
    const spy = vi.spyOn(Number.prototype, 'toLocaleString');
    try {
      const texts = counts.map((c) => problemText({ dmaEvents: c, faults: 1, maps: c, mapErrors: 1 }));
      const more = warningLines(
        Array.from({ length: 1003 + MAX_WARNING_LINES }, (_, i) => ({ what: `t${i}`, counts: { dmaEvents: 1, faults: 1 } })),
        'w',
      );
      expect(spy).not.toHaveBeenCalled();
      expect(texts).toEqual(expected);
      expect(more.at(-1)).toBe('warning: 1,004 more trace x point(s) with DMA faults or failed maps, unmaps or attaches (w)');
    } finally {
      spy.mockRestore();
    }
  });
});
