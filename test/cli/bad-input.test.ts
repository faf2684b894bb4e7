// Bad input found by review: every case one line on stderr, exit 2, nothing on stdout, no output file.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSummary } from '../../src/stats/summary.js';
import { writeTrace } from '../../src/trace/writer.js';
import { batchOf } from '../helpers/events.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');

function expectOneLine(r: { status: number; stdout: string; stderr: string }, text: string | RegExp): void {
  expect(r.status).toBe(2);
  expect(r.stdout).toBe('');
  if (typeof text === 'string') expect(r.stderr).toBe(`iommu-replay: ${text}\n`);
  else expect(r.stderr).toMatch(text);
  expect(r.stderr.trim().split('\n').length).toBe(1);
}

describe('usage errors stop before any work', () => {
  it('a command without its traces', () => {
    expectOneLine(runCli(['replay']), 'Not enough non-option arguments: got 0, need at least 1 (see --help)');
    expectOneLine(runCli(['inspect', '--json']), 'Not enough non-option arguments: got 0, need at least 1 (see --help)');
  });

  it('gen and import without -o', () => {
    expectOneLine(runCli(['gen', 'nic']), 'Missing required argument: out (see --help)');
    expectOneLine(runCli(['import', 'traces/kernel-nic.trace']), 'Missing required argument: out (see --help)');
  });

  it('sweep without traces writes nothing', () => {
    const d = path.join(tmpDir(), 'out');
    expectOneLine(runCli(['sweep', '--out', d]), /^iommu-replay: Not enough non-option arguments/);
    expect(fs.existsSync(d)).toBe(false);
  });

  it('an unknown option', () => {
    expectOneLine(runCli(['replay', NIC, '--bogus']), 'Unknown argument: bogus (see --help)');
  });
});

describe('inputs the review found crashing', () => {
  it('a topology with no instances, or one named twice', async () => {
    const dir = tmpDir();
    for (const [name, topo] of [
      ['empty', { iommus: [] }],
      [
        'twice',
        {
          iommus: [
            { name: 'a', devices: [] },
            { name: 'a', devices: [] },
          ],
        },
      ],
    ] as const) {
      const f = path.join(dir, `${name}.arrows`);
      await writeTrace(f, { topology: topo as never }, [batchOf([{ op: 'flush', domain: 1 }])]);
      const r = runCli(['sweep', f, '--iotlb', '32x4', '64x4', '--jobs', '2', '--out', path.join(dir, 'o'), '--quiet']);
      expectOneLine(
        r,
        name === 'empty'
          ? `Cannot read trace "${f}": metadata "iommu.topology" must be {"iommus": [...]} with at least one instance`
          : `Cannot read trace "${f}": metadata "iommu.topology" names an instance twice (a, a)`,
      );
    }
  });

  it('an input error inside a sweep worker thread is one line too', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'late-bad.arrows');
    const first = batchOf(Array.from({ length: 5 }, (_, i) => ({ ts: 10 + i, op: 'flush' as const })));
    await writeTrace(f, {}, [first, batchOf([{ ts: 1, op: 'flush' }])]);
    const r = runCli(['sweep', f, '--iotlb', '32x4', '64x4', '--jobs', '2', '--out', path.join(dir, 'o'), '--quiet']);
    expectOneLine(r, `Cannot read trace "${f}": column "ts" goes backwards at row 5 (1 after 14)`);
  });

  it('--resume runs again a point whose summary is corrupt or foreign', () => {
    const d = tmpDir();
    const args = ['sweep', NIC, '--iotlb', '32x4', '64x4', '--out', d, '--quiet', '--jobs', '1'];
    expect(runCli(args).status).toBe(0);
    fs.writeFileSync(path.join(d, 'summaries/nic/iotlb=32x4.json'), '{ broken');
    fs.writeFileSync(path.join(d, 'summaries/nic/iotlb=64x4.json'), '{}');
    expect(runCli([...args, '--resume']).status).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(d, 'summaries/nic/iotlb=32x4.json'), 'utf8')).version).toBe(1);
    expect(JSON.parse(fs.readFileSync(path.join(d, 'summaries/nic/iotlb=64x4.json'), 'utf8')).version).toBe(1);
  });

  it('--profile into a directory is refused before the run', () => {
    const d = tmpDir();
    expectOneLine(runCli(['replay', NIC, '--profile', d]), `Cannot write "${d}": it is a directory`);
  });

  it('a device or a symlink as output is written through, not replaced', () => {
    const d = tmpDir();
    expect(runCli(['replay', NIC, '--json', '/dev/null']).status).toBe(0);
    expect(fs.statSync('/dev/null').isCharacterDevice()).toBe(true);
    const real = path.join(d, 'real.json');
    fs.writeFileSync(real, '');
    const link = path.join(d, 'link.json');
    fs.symlinkSync(real, link);
    expect(runCli(['replay', NIC, '--json', link]).status).toBe(0);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(JSON.parse(fs.readFileSync(real, 'utf8')).version).toBe(1);
  });

  it('a geometry too large for memory', () => {
    const d = tmpDir();
    const f = path.join(d, 'big.json');
    fs.writeFileSync(f, JSON.stringify({ iotlb: { entries: 4294967296, ways: 1 } }));
    expectOneLine(runCli(['replay', NIC, '--config', f]), `Invalid config "${f}": iotlb.entries: expected at most 16777216 entries, got 4294967296`);
  });

  it('import of something that is not trace text, and a bad seed', () => {
    const d = tmpDir();
    const out = path.join(d, 'x.arrows');
    const r = runCli(['import', NIC, '-o', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `iommu-replay: Cannot import "${NIC}": this is already an Arrow trace; replay or inspect it directly (import reads kernel trace text and QEMU logs)\n`,
    );
    expect(r.stderr).not.toMatch(/[^\x20-\x7e\n]/);
    expect(fs.existsSync(out)).toBe(false);
    expectOneLine(
      runCli(['import', 'traces/kernel-nic.trace', '-o', out, '--seed', '-1']),
      "Invalid option --seed: expected an integer in 0..2^32-1, got '-1'",
    );
  });
});

describe('inspect keeps wall-clock timestamps exact', () => {
  it('prints first and last ts of a trace past 2^53 exactly', async () => {
    const f = path.join(tmpDir(), 'wall.arrows');
    await writeTrace(f, {}, [
      batchOf([
        { ts: 1700000000123456789n as unknown as number, op: 'flush' },
        { ts: 1700000000123456799n as unknown as number, op: 'flush' },
      ]),
    ]);
    const r = runCli(['inspect', f, '--json']);
    expect(r.stdout).toContain('"firstTs": 1700000000123456789');
    expect(r.stdout).toContain('"spanNs": 10');
  });

  it("replay's spanNs is lastTs - firstTs exactly past 2^53 (report-keys.md), and reads back exact", async () => {
    const f = path.join(tmpDir(), 'far.arrows');
    await writeTrace(f, {}, [
      batchOf([
        { ts: 0, op: 'flush' },
        { ts: (2n ** 53n + 1n) as unknown as number, op: 'flush' },
      ]),
    ]);
    const r = runCli(['replay', f, '--json', '-']);
    expect(r.stdout).toContain('"lastTs": 9007199254740993');
    expect(r.stdout).toContain('"spanNs": 9007199254740993');
    expect(parseSummary(r.stdout).trace.spanNs).toBe(2n ** 53n + 1n);
  });
});
