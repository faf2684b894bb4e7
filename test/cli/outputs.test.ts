import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');

describe('output places that cannot be written give one line, exit 2 and no file', () => {
  it('a report under a directory that cannot be created (no endless mkdir under /proc)', () => {
    const d = tmpDir();
    const json = path.join(d, 'ok.json');
    const r = runCli(['replay', NIC, '--json', json, '--report', '/proc/nope/r.md']);
    expect(r.stderr).toBe('iommu-replay: Cannot create directory "/proc/nope": ENOENT\n');
    expect(r.status).toBe(2);
    expect(fs.existsSync(json)).toBe(false); // checked before the work
  });

  it('an output path that is a directory', () => {
    const d = tmpDir();
    expect(runCli(['replay', NIC, '--json', d]).stderr).toBe(`iommu-replay: Cannot write "${d}": it is a directory\n`);
    expect(runCli(['gen', 'nic', '-o', d, '--events', '10']).stderr).toBe(`iommu-replay: Cannot write "${d}": it is a directory\n`);
  });

  it('parent directories are created for outputs', () => {
    const d = tmpDir();
    const json = path.join(d, 'a', 'b', 's.json');
    expect(runCli(['replay', NIC, '--json', json]).status).toBe(0);
    expect(fs.existsSync(json)).toBe(true);
    expect(fs.readdirSync(path.dirname(json))).toEqual(['s.json']); // no temporary file left
  });
});
