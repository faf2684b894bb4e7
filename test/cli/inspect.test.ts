// `inspect` (src/cli/inspect.ts) loads what it shows and nothing more: the
// trace reader is the tool's own, an imported trace's statistics are shown
// without the importer and its trace writer, and a decompressor loads only
// for a compressed trace (issue 20).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, runCliModules, tmpDir } from '../helpers/cli.js';

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

  it("names a nested domain's parent, as the trace declares it (trace-format §metadata, model §8)", () => {
    // The type column said 'nested' and the JSON had no parent: which paging domain a
    // nested one's stage 2 is came out nowhere.
    const trace = path.join(tmpDir(), 'vmn.arrows');
    expect(runCli(['gen', 'vm-nested', '--events', '400', '-o', trace]).status).toBe(0);
    const text = runCli(['inspect', trace]).stdout;
    expect(text).toMatch(/\| 1 \| nested \(parent 2\) \| [0-9,]+ \|/);
    const json = JSON.parse(runCli(['inspect', trace, '--json']).stdout) as { domains: { domain: number; type: string; parent?: number }[] };
    expect(json.domains.find((d) => d.domain === 1)).toMatchObject({ type: 'nested', parent: 2 });
    expect(json.domains.find((d) => d.domain === 2)).not.toHaveProperty('parent');
  });
});
