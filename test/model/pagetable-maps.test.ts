import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('PageTablePool keeps its map', () => {
  it('an LPAE pool\'s lookups store small-integer entry indices (no "wrong map" deoptimization of anyFewMapped, spareTables)', () => {
    // An LPAE format's entries are 2 ** bits, a heap number: entry indices the
    // interpreter computed from it were heap numbers too, and the first stored
    // in `foundIndex` changed that field's representation and the pool's map.
    const url = (f: string) => JSON.stringify(pathToFileURL(path.resolve('dist/src', f)).href);
    const script = `
      const { PageTablePool } = await import(${url('model/pagetable.js')});
      const { lpaeFormat } = await import(${url('config/tableformat.js')});
      const out = [];
      for (const granule of [12, 14, 16]) {
        const before = new PageTablePool(lpaeFormat(granule));
        const pool = new PageTablePool(lpaeFormat(granule));
        const root = pool.newRoot();
        const g = granule - 12;
        pool.install(root, 5 << g, g, 7 << g);
        const found = pool.lookup(root, 5 << g);
        pool.lookup(root, 9 << g); // an empty entry: emptyIndex
        out.push(granule + ' ' + (found === g) + ' ' + %HaveSameMap(before, pool));
      }
      console.log(out.join('\\n'));`;
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['12 true true', '14 true true', '16 true true']);
  });
});
