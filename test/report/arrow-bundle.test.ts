// Issue 28: apache-arrow loads from the package's single-file build
// (src/report/arrow.ts): 35-60 ms of CPU instead of 0.29-0.36 s for the 146 files of
// its Node entry, Arrow.node.mjs. The files it writes must not change. (The
// trace writer keeps the Node entry: it streams through toNodeStream.)
import fs from 'node:fs';
import path from 'node:path';
import * as NodeArrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { A } from '../../src/report/arrow.js';
import { runCli, runCliModules, tmpDir } from '../helpers/cli.js';

describe('apache-arrow from its single-file build', () => {
  it('a curve run loads the single-file build, none of the Node entry, and writes a curves.arrow the Node entry reads', () => {
    const dir = tmpDir();
    const trace = path.join(dir, 't.arrows');
    expect(runCli(['gen', 'window', '--window', '1M', '--events', '5000', '--fragmentation', '0', '-o', trace]).status).toBe(0);
    const out = path.join(dir, 'out');
    const r = runCliModules(['curve', trace, '--page-sizes', '4K', '--max-entries', '64', '--quiet', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const arrow = r.modules.filter((f) => f.includes('/node_modules/apache-arrow/'));
    expect(arrow).toEqual([expect.stringMatching(/\/apache-arrow\/Arrow\.esnext\.min\.js$/)]);
    const table = NodeArrow.tableFromIPC(fs.readFileSync(path.join(out, 'curves.arrow')));
    expect(table.numRows).toBeGreaterThan(0);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('writes the same bytes as the Node entry, file and stream', () => {
    for (const lib of [A, NodeArrow] as const) expect(typeof lib.tableToIPC).toBe('function');
    const build = (lib: typeof NodeArrow) =>
      new lib.Table({
        name: lib.vectorFromArray(['a', 'b', 'a', 'c'], new lib.Dictionary(new lib.Utf8(), new lib.Int32())),
        n: lib.makeVector(new Uint32Array([1, 2, 3, 4])),
        x: lib.makeVector(new Float64Array([0.5, 1, 1.5, NaN])),
        big: lib.makeVector(new BigInt64Array([1n, 2n, -3n, 4n])),
      });
    for (const format of ['file', 'stream'] as const) {
      const ours = Buffer.from(A.tableToIPC(build(A), format));
      const theirs = Buffer.from(NodeArrow.tableToIPC(build(NodeArrow), format));
      expect(ours.equals(theirs)).toBe(true);
    }
  });
});
