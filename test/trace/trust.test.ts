// The trust reproducers of the reader (fixtures/trust, README there): each
// is refused with one clean line and exit 2, or served as the docs say.
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
  for (const [name, batches] of [['truncated-stream-half-the-batches-accepted.arrows', '3 record batches'], ['truncated-stream-no-batches-accepted.arrows', '0 record batches']]) {
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
