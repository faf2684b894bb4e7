// `inspect` (src/cli/inspect.ts) loads what it shows and nothing more: the
// trace reader is the tool's own, and an imported trace's statistics are
// shown without the importer and its trace writer (issue 20).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, runCliModules } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');

describe('inspect', () => {
  it('does not load apache-arrow, the importer or the trace writer; prints what it printed before', () => {
    const r = runCliModules(['inspect', NIC]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(runCli(['inspect', NIC]).stdout);
    expect(r.stdout).toContain('rows: 12,000');
    expect(r.modules.filter((m) => m.includes('/node_modules/apache-arrow/'))).toEqual([]);
    expect(r.modules.filter((m) => /\/src\/(import\/convert|trace\/writer)\.js$/.test(m))).toEqual([]);
  });
});
