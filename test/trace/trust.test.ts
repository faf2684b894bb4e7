// The trust reproducers of the reader (fixtures/trust, README there): each
// is refused with one clean line and exit 2, or served as the docs say.
import * as A from 'apache-arrow';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();
const TRUST = 'test/trace/fixtures/trust';

/** Runs the CLI and checks it refused with exactly `line` (after "iommu-replay: "), exit 2, nothing on stdout. */
function refused(args: string[], line: string, input?: Uint8Array): void {
  const r = runCli(args, input ? { input } : {});
  expect(r.stderr).toBe(`iommu-replay: ${line}\n`);
  expect(r.status).toBe(2);
  expect(r.stdout).toBe('');
}

describe('a stream without the end-of-stream marker is truncated (issue item C)', () => {
  for (const [name, batches] of [
    ['truncated-stream-half-the-batches-accepted.arrows', '3 record batches'],
    ['truncated-stream-no-batches-accepted.arrows', '0 record batches'],
  ]) {
    it(name, () => {
      const f = path.join(TRUST, name);
      const why = `the stream ends without Arrow's end-of-stream marker after ${batches}: the file is truncated`;
      for (const cmd of ['replay', 'inspect']) refused([cmd, f], `Cannot read trace "${f}": ${why}`);
      refused(['replay', '-'], `Cannot read trace "(stdin)": ${why}`, fs.readFileSync(f));
    });
  }

  it('a stream cut after any message is refused; the old 4-byte end-of-stream marker is accepted', () => {
    const whole = fs.readFileSync('test/trace/fixtures/small.arrows');
    expect(whole.subarray(-8)).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
    const cut = path.join(dir, 'cut.arrows');
    fs.writeFileSync(cut, whole.subarray(0, whole.length - 8));
    refused(['inspect', cut], `Cannot read trace "${cut}": the stream ends without Arrow's end-of-stream marker after 2 record batches: the file is truncated`);
    const old = path.join(dir, 'old-marker.arrows');
    fs.writeFileSync(old, Buffer.concat([whole.subarray(0, whole.length - 8), Buffer.alloc(4)]));
    const r = runCli(['inspect', old, '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).rows).toBe(JSON.parse(runCli(['inspect', 'test/trace/fixtures/small.arrows', '--json']).stdout).rows);
    expect(r.stderr).toBe('');
  });
});

/** No byte that could drive a terminal: only printable text and newlines. */
const CLEAN = /^[\x20-\x7e\n\u00a0-\u2027\u2030-\uffff]*$/;

describe('odd "iommu.import" metadata: inspect checks its shape and escapes its text (issue item E)', () => {
  const cases: [string, string][] = [
    ['inspect-typeerror-import-metadata.arrows', '"qemu" is not QEMU\'s counts and alignment'],
    ['inspect-typeerror-import-skipped-null.arrows', '"lines" is not {read, parsed, skipped: {reason: count}}'],
    ['inspect-terminal-escapes-import-metadata.arrows', '"lost" is not {events, markers, unknownLosses} counts'],
  ];
  for (const [name, why] of cases) {
    it(name, () => {
      const f = path.join(TRUST, name);
      for (const json of [false, true]) {
        const r = runCli(['inspect', f, ...(json ? ['--json'] : [])]);
        expect(r.status).toBe(0);
        expect(r.stderr).toBe(`iommu-replay: warning: metadata "iommu.import": ${why}; ignored\n`);
        expect(r.stdout).toMatch(CLEAN);
        expect(r.stdout).not.toContain('\x1b');
      }
    });
  }

  it('text from the metadata is shown escaped, on its own line', () => {
    const r = runCli(['inspect', path.join(TRUST, 'inspect-terminal-escapes-import-metadata.arrows')]);
    expect(r.stdout.split('\n')).toContain('  skipped: \\x1b[2J\\x1b[31mRED\\x1b]0;pwned\\x07 1');
  });

  it('a nested domain without a parent says so (was "parent undefined")', () => {
    const f = path.join(TRUST, 'message-parent-undefined.arrows');
    refused(
      ['inspect', f],
      `Cannot read trace "${f}": metadata "iommu.domains" gives nested domain 1 no parent, expected {"type": "nested", "parent": <the uint32 id of a paging domain>}`,
    );
  });
});

describe('file names and oversized metadata in messages (issue item E)', () => {
  it('a file name with control characters is shown escaped, on one line', () => {
    const f = path.join(dir, 'evil\x1b[31m\nname\u202e.arrows');
    fs.writeFileSync(f, 'not arrow');
    const shown = f.replace('\x1b', '\\x1b').replace('\n', '\\x0a').replace('\u202e', '\\u202e');
    refused(['inspect', f], `Cannot read trace "${shown}": not an Arrow IPC file or stream`);
  });

  it('trace metadata over 16 MiB is named as such, not "metadata is N bytes, but M remain"', () => {
    const t = A.tableFromIPC(fs.readFileSync('test/trace/fixtures/small.arrows'));
    const meta = new Map(t.schema.metadata);
    meta.set('notes', 'x'.repeat(18 << 20));
    const big = new A.Table(
      new A.Schema(t.schema.fields, meta),
      t.batches.map((b) => new A.RecordBatch(new A.Schema(t.schema.fields, meta), b.data)),
    );
    const f = path.join(dir, 'big-metadata.arrows');
    fs.writeFileSync(f, A.tableToIPC(big, 'stream'));
    const r = runCli(['inspect', f]);
    expect(r.stderr).toMatch(
      new RegExp(
        `^iommu-replay: Cannot read trace "${f}": the message at byte 0 has 18\\.0 MiB of metadata \\(the schema and its key/value metadata\\), more than the 16 MiB a trace's may have\\n$`,
      ),
    );
    expect(r.status).toBe(2);
  }, 60_000);
});

describe('printable (text.ts): the one helper for untrusted text on a terminal', () => {
  it('escapes C0 (ESC, CR, LF), DEL, C1, line separators and bidirectional controls', async () => {
    const { printable } = await import('../../src/text.js');
    expect(printable('a\x1b[2Jb\rc\nd\x7fe\x9bf\u2028g\u202eh\u2066i', 100)).toBe('a\\x1b[2Jb\\x0dc\\x0ad\\x7fe\\x9bf\\u2028g\\u202eh\\u2066i');
    expect(printable('日本語 ok', 100)).toBe('日本語 ok');
  });
});
