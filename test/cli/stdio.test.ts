// `-` for standard input and output (issue 13, item 3): it works, or it says
// in one line why not; never a silent success.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, runCliBytes, tmpDir } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');

describe('- as a trace reads an Arrow stream or file from standard input', () => {
  it('replay - gives the same counters as replaying the file', () => {
    const fromFile = JSON.parse(runCli(['replay', NIC, '--json', '-']).stdout);
    const r = runCli(['replay', '-', '--json', '-'], { input: fs.readFileSync(NIC) });
    expect(r.status).toBe(0);
    const fromStdin = JSON.parse(r.stdout);
    expect(fromStdin.trace.files).toEqual(['(stdin)']);
    expect(fromStdin.totals).toEqual(fromFile.totals);
    expect(fromStdin.totals.dma.events).toBeGreaterThan(0);
  });

  it('inspect - reads an Arrow file (not only a stream) and merges with other files', () => {
    const file = path.join(tmpDir(), 'nvme.arrow');
    expect(runCli(['gen', 'nvme', '-o', file, '--events', '300']).status).toBe(0);
    const r = runCli(['inspect', '-', NIC, '--json'], { input: fs.readFileSync(file) });
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.files).toEqual(['(stdin)', NIC]);
    expect(got.rows).toBe(12300);
  });

  it('empty or non-Arrow standard input is one line naming (stdin), exit 2', () => {
    expect(runCli(['replay', '-'])).toEqual({ status: 2, stdout: '', stderr: 'iommu-replay: Cannot read trace "(stdin)": the file is empty\n' });
    const r = runCli(['replay', '-'], { input: 'hello\n' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^iommu-replay: Cannot read trace "\(stdin\)": [^\n]+\n$/);
  });

  it('- named twice among traces is refused', () => {
    expect(runCli(['replay', '-', '-']).stderr).toBe('iommu-replay: "-" (standard input) is named more than once among the traces\n');
  });
});

describe('- as an output writes standard output', () => {
  it('--report - writes the Markdown report', () => {
    const r = runCli(['replay', NIC, '--report', '-']);
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('# iommu-replay: baseline\n')).toBe(true);
  });

  it('gen -o - writes an Arrow stream to stdout and no file named -', () => {
    const d = tmpDir();
    const r = runCliBytes(['gen', 'nvme', '-o', '-', '--events', '500']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('wrote 500 events to standard output\n');
    expect(r.stdout.readUInt32LE(0)).toBe(0xffffffff); // stream framing, not the ARROW1 file magic
    const file = path.join(d, 'same.arrows');
    expect(runCli(['gen', 'nvme', '-o', file, '--events', '500']).status).toBe(0);
    expect(Buffer.compare(r.stdout, fs.readFileSync(file))).toBe(0);
    expect(fs.existsSync('-')).toBe(false);
    // ... and the stream replays from standard input.
    expect(JSON.parse(runCli(['replay', '-', '--json', '-'], { input: r.stdout }).stdout).trace.events).toBe(500);
  });

  it('two outputs to standard output are refused before the work', () => {
    expect(runCli(['replay', NIC, '--json', '-', '--report', '-'])).toEqual({
      status: 2,
      stdout: '',
      stderr: 'iommu-replay: Only one output can go to standard output ("-"): --json and --report both ask for it\n',
    });
  });
});

describe('- where a command cannot take it is one clear line', () => {
  it('sweep - and sweep --out -', () => {
    const d = tmpDir();
    const a = runCli(['sweep', '-', '--out', path.join(d, 'o')]);
    expect(a.status).toBe(2);
    expect(a.stderr).toBe('iommu-replay: sweep cannot take "-" as a trace: it writes many files into --out and reads each trace file from several threads; give files and a folder\n');
    expect(fs.existsSync(path.join(d, 'o'))).toBe(false);
    expect(runCli(['sweep', NIC, '--out', '-']).stderr).toBe('iommu-replay: sweep cannot take "-" as --out: it writes many files into --out and reads each trace file from several threads; give files and a folder\n');
  });

  it('--config -', () => {
    expect(runCli(['replay', NIC, '--config', '-']).stderr).toBe('iommu-replay: replay cannot take "-" (standard input or output) as --config: give a file\n');
  });
});
