// Issue 28: a replay does not load zod (0.12-0.16 s of CPU a process): the
// configuration is checked by hand (src/config/config.ts, checkConfigShape);
// zod is for the queue's job data only (src/run/queue-job.ts).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliModules, tmpDir } from '../helpers/cli.js';

/** Whether a CLI run loaded the configuration's module, and any of zod's. */
function loaded(modules: string[]): { config: boolean; zod: boolean } {
  return { config: modules.some((f) => f.endsWith('/dist/src/config/config.js')), zod: modules.some((f) => f.includes('/node_modules/zod/')) };
}

describe('a replay does not load zod', () => {
  it('replay with a configuration file', () => {
    const dir = tmpDir();
    const config = path.join(dir, 'c.json');
    fs.writeFileSync(config, JSON.stringify({ iotlb: { sets: 16, ways: 4 }, invalidation: { mode: 'lazy' } }));
    const r = runCliModules(['replay', 'traces/nic.arrows', '--config', config, '--json', path.join(dir, 's.json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 's.json'), 'utf8')).config.invalidation.mode).toBe('lazy');
    expect(loaded(r.modules)).toEqual({ config: true, zod: false });
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('a configuration rejected for its shape', () => {
    const dir = tmpDir();
    const config = path.join(dir, 'c.json');
    fs.writeFileSync(config, '{"iotlb": {"ways": 0}}');
    const r = runCliModules(['replay', 'traces/nic.arrows', '--config', config, '--json', path.join(dir, 's.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`iommu-replay: Invalid config "${config}": iotlb.ways: expected a positive integer, got 0`);
    expect(loaded(r.modules)).toEqual({ config: true, zod: false });
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
