// `inspect` (src/cli/inspect.ts) loads what it shows and nothing more: the
// trace reader is the tool's own, an imported trace's statistics are shown
// without the importer and its trace writer, and a decompressor loads only
// for a compressed trace (issue 20).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, runCliModules } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');
const FORMATS = path.resolve('test/trace/fixtures/formats');
const fromPackage = (modules: string[], name: string) => modules.filter((m) => m.includes(`/node_modules/${name}/`));

describe('inspect', () => {
  it('does not load apache-arrow, the importer, the trace writer or a decompressor; prints what it printed before', () => {
    const r = runCliModules(['inspect', NIC]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(runCli(['inspect', NIC]).stdout);
    expect(r.stdout).toContain('rows: 12,000');
    for (const name of ['apache-arrow', 'fzstd', 'lz4js']) expect(fromPackage(r.modules, name)).toEqual([]);
    expect(r.modules.filter((m) => /\/src\/(import\/convert|trace\/writer)\.js$/.test(m))).toEqual([]);
  });

  it('loads the decompressor a compressed trace needs, and only that one (LZ4 frames are decoded by the reader itself)', () => {
    const lz4 = runCliModules(['inspect', path.join(FORMATS, 'lz4-cli-int64-dict-utf8view.arrow'), '--json']);
    expect(lz4.status).toBe(0);
    expect(fromPackage(lz4.modules, 'lz4js')).toEqual([]);
    expect(fromPackage(lz4.modules, 'fzstd')).toEqual([]);
    const zstd = runCliModules(['inspect', path.join(FORMATS, 'zstd-cli-int64-large-utf8.arrows'), '--json']);
    expect(zstd.status).toBe(0);
    expect(fromPackage(zstd.modules, 'fzstd')).not.toEqual([]);
    expect(fromPackage(zstd.modules, 'lz4js')).toEqual([]);
  });
});
