// `-` for standard input and output (issue 13, item 3): it works, or it says
// in one line why not; never a silent success.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, runCliBytes, tmpDir } from '../helpers/cli.js';

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
    expect(a.stderr).toBe(
      'iommu-replay: sweep cannot take "-" as a trace: it writes many files into --out and reads each trace file from several threads; give files and a folder\n',
    );
    expect(fs.existsSync(path.join(d, 'o'))).toBe(false);
    expect(runCli(['sweep', NIC, '--out', '-']).stderr).toBe(
      'iommu-replay: sweep cannot take "-" as --out: it writes many files into --out and reads each trace file from several threads; give files and a folder\n',
    );
  });

  it('--config -', () => {
    expect(runCli(['replay', NIC, '--config', '-']).stderr).toBe('iommu-replay: replay cannot take "-" (standard input or output) as --config: give a file\n');
  });
});

describe('standard input, FIFOs and process substitution are read as streams (issue item D)', () => {
  /** A private TMPDIR, so that what a run leaves behind can be seen. */
  function privateTmp(): string {
    const d = fs.mkdtempSync(path.join(tmpDir(), 'tmp-'));
    return d;
  }

  it('yes | inspect -: refused from its first bytes, at once, nothing left in TMPDIR', () => {
    const tmp = privateTmp();
    const r = spawnSync('bash', ['-c', `yes | "${process.execPath}" "${CLI}" inspect -`], {
      encoding: 'utf8',
      env: { ...process.env, TMPDIR: tmp },
      timeout: 20_000,
    });
    expect(r.stderr).toBe('iommu-replay: Cannot read trace "(stdin)": not an Arrow IPC file or stream\n');
    expect(r.status).toBe(2);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('a stream is read up to its end-of-stream marker and no further; garbage after a good start is refused', () => {
    const tmp = privateTmp();
    const nic = fs.readFileSync(NIC);
    const sh = (cmd: string) => spawnSync('bash', ['-c', cmd], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp }, timeout: 20_000 });
    // The writer goes on writing after the stream: the command does not wait for it.
    const whole = sh(`(cat "${NIC}"; yes) | "${process.execPath}" "${CLI}" inspect - --json`);
    expect(whole.status).toBe(0);
    expect(JSON.parse(whole.stdout).rows).toBe(12000);
    const schemaLength = 8 + nic.readInt32LE(4);
    const cut = sh(`(head -c ${schemaLength} "${NIC}"; yes) | "${process.execPath}" "${CLI}" inspect -`);
    expect(cut.status).toBe(2);
    expect(cut.stderr).toMatch(/^iommu-replay: Cannot read trace "\(stdin\)": the message at byte \d+ [^\n]+\n$/);
    // The file format: its messages are followed the same way, then at most a footer's bytes.
    const file = sh(`(printf 'ARROW1\\0\\0'; yes) | "${process.execPath}" "${CLI}" inspect -`);
    expect(file.stderr).toBe(
      'iommu-replay: Cannot read trace "(stdin)": the message at byte 8 says its metadata is 175704697 bytes, more than the 16 MiB a trace\'s may have\n',
    );
    expect(file.status).toBe(2);
    const small = 'test/trace/fixtures/small.arrow';
    const tail = sh(`(cat ${small}; yes) | "${process.execPath}" "${CLI}" inspect -`);
    expect(tail.stderr).toBe(
      'iommu-replay: Cannot read trace "(stdin)": goes on for more than 16 MiB after the end-of-stream marker of its messages, more than an Arrow file\'s footer takes\n',
    );
    expect(tail.status).toBe(2);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('SIGTERM while standard input is being read removes the copy and ends with the signal', async () => {
    const tmp = privateTmp();
    const child = spawn(process.execPath, [CLI, 'inspect', '-'], { env: { ...process.env, TMPDIR: tmp }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.write(fs.readFileSync(NIC).subarray(0, 5000)); // a start, then the writer stalls
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    for (let k = 0; k < 400 && !fs.readdirSync(tmp).some((d) => fs.readdirSync(path.join(tmp, d)).length > 0); k++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.readdirSync(tmp).length).toBe(1);
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(fs.readdirSync(tmp)).toEqual([]);
  }, 30_000);

  it("replay <(cat trace) and a FIFO with a writer give the file's counters", () => {
    const expected = JSON.parse(runCli(['replay', NIC, '--json', '-']).stdout).totals;
    const sub = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" replay <(cat "${NIC}") --json -`], { encoding: 'utf8', timeout: 20_000 });
    expect(sub.stderr).toBe('');
    expect(JSON.parse(sub.stdout).totals).toEqual(expected);
    expect(JSON.parse(sub.stdout).trace.files[0]).toMatch(/^\/dev\/fd\/\d+$/);
    const fifo = path.join(tmpDir(), 'trace.fifo');
    spawnSync('mkfifo', [fifo]);
    const viaFifo = spawnSync('bash', ['-c', `cat "${NIC}" > "${fifo}" & "${process.execPath}" "${CLI}" replay "${fifo}" --json -; wait`], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(viaFifo.stderr).toBe('');
    expect(JSON.parse(viaFifo.stdout).totals).toEqual(expected);
    expect(JSON.parse(viaFifo.stdout).trace.files).toEqual([fifo]);
  });

  it('a character device is refused with one line; the reader never opens a FIFO (it would wait for a writer)', async () => {
    expect(runCli(['inspect', '/dev/null'])).toEqual({
      status: 2,
      stdout: '',
      stderr: 'iommu-replay: Cannot read trace "/dev/null": is a character device, not a trace file\n',
    });
    const fifo = path.join(tmpDir(), 'no-writer.fifo');
    spawnSync('mkfifo', [fifo]);
    const { openTrace } = await import('../../src/trace/merge.js');
    await expect(openTrace([fifo])).rejects.toThrow(
      `Cannot read trace "${fifo}": is a FIFO (named pipe), not a regular file: replay and inspect read one as a stream, like standard input; this command needs a file`,
    );
  });
});
