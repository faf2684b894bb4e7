// docs/qemu.md tells users to run `node scripts/qemu-check.mjs strict|lazy
// QEMU.log GUEST.trace` and `npm run record:check`; the script once imported
// a module that had moved (dist/src/model/run.js) and both failed. Here they
// run as the docs write them, on the recordings shipped in traces/qemu/
// (recording a fresh pair needs QEMU; the check part does not).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';

const DOC = fs.readFileSync('docs/qemu.md', 'utf8');

describe('the QEMU cross-check, as docs/qemu.md says to run it', () => {
  it('node scripts/qemu-check.mjs strict QEMU.log GUEST.trace: every count that must agree does', () => {
    expect(DOC).toContain('node scripts/qemu-check.mjs strict|lazy QEMU.log GUEST.trace');
    const r = spawnSync(process.execPath, ['scripts/qemu-check.mjs', 'strict', 'traces/qemu/strict.qemu.log.gz', 'traces/qemu/strict.guest.trace.gz'], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('| IOTLB hits (vtd_iotlb_page_hit) | 4616 | 4616 | equal |');
  }, 120_000);

  it('npm run record:check -- --shipped: every VT-d, SMMUv3 and AMD-Vi recording agrees, exit 0', () => {
    expect(DOC).toContain('npm run record:check -- --shipped');
    const r = spawnSync('npm', ['run', '--silent', 'record:check', '--', '--shipped'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('record:check: the model agrees with QEMU on every count that must agree');
    // QEMU's flushes replayed: VT-d lazy and lazy-seq; SMMUv3's three lazy; AMD-Vi strict, split and lazy.
    expect(r.stdout.match(/^vtd flush-ops: /gm)).toHaveLength(2);
    expect(r.stdout.match(/^smmuv3 flush-ops: /gm)).toHaveLength(3);
    expect(r.stdout.match(/^amd flush-ops: /gm)).toHaveLength(3);
    expect(r.stdout).not.toMatch(/[1-9]\d* outside a live mapping/);
    expect(r.stderr).not.toContain('FAILED');
  }, 900_000);

  it("SMMUv3 strict: QEMU's TLBI_NH_VA, CMD_SYNC, IOTLB hits and misses, the model's own (256 entries, emptied when full)", () => {
    const r = spawnSync(
      process.execPath,
      ['scripts/qemu-check.mjs', 'strict', 'traces/qemu/smmuv3-strict.qemu.log.gz', 'traces/qemu/smmuv3-strict.guest.trace.gz'],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("| TLBI_NH_VA (from QEMU's first translation) | 612 | 612 | equal |");
    expect(r.stdout).toContain("| CMD_SYNC (from QEMU's first translation) | 612 | 612 | equal |");
    expect(r.stdout).toContain('| IOTLB hits | 5220 | 5220 | equal |');
  }, 300_000);

  it("AMD-Vi strict: the model keeps the hardware's rule (more hits); QEMU 7.2's whole-domain INVALIDATE_IOMMU_PAGES, replayed as flush ops, gives QEMU's hits", () => {
    const r = spawnSync(process.execPath, ['scripts/qemu-check.mjs', 'strict', 'traces/qemu/amd-strict.qemu.log.gz', 'traces/qemu/amd-strict.guest.trace.gz'], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('amd strict: 9748 translations, 0 outside a live mapping');
    expect(r.stdout).toContain('| IOTLB hits | 4616 | 1878 | +145.8% |');
    // One flush per map operation (map_more) and per unmap: 621 + 614; QEMU's 3 more map operations come before its first translation.
    expect(r.stdout).toContain("| COMPLETION_WAIT (from QEMU's first translation) | 1235 | 1232 | +0.2% |");
    expect(r.stdout.split('amd flush-ops')[1]).toContain('| IOTLB hits | 1878 | 1878 | equal |');
  }, 300_000);

  it('npm run record:check without QEMU says it is skipped and exits 0', () => {
    if (spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0) return; // QEMU present: it would record
    const r = spawnSync('npm', ['run', '--silent', 'record:check'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('record:check skipped: qemu-system-x86_64 is not installed');
  }, 60_000);
});
