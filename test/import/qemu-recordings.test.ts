// The shipped QEMU recordings (traces/qemu/, docs/qemu.md): re-imported and
// replayed, the model's counts against QEMU's own.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { importTrace } from '../../src/import/convert.js';
import type { ImportStats } from '../../src/import/stats.js';
import { replayTrace } from '../../src/run/run.js';
import { crossCheckRows, type CheckMode } from '../../src/report/qemu.js';
import { tmpDir } from '../helpers/cli.js';

const dir = tmpDir();
const TRACES = path.resolve('traces/qemu');

async function check(name: string, mode: CheckMode, config: object | string = `qemu-vtd-${mode}`) {
  const out = path.join(dir, `${name}-${mode}.arrows`);
  const s: ImportStats = await importTrace([path.join(TRACES, `${name}.qemu.log.gz`), path.join(TRACES, `${name}.guest.trace.gz`)], out, {
    format: 'auto',
    synthesizeDma: false,
    coherentRateHz: 0,
    strict: true,
    seed: 1,
    qemuFlushes: mode === 'flush-ops',
  });
  const raw = typeof config === 'string' ? JSON.parse(fs.readFileSync(path.join(TRACES, `${config}.json`), 'utf8')) : config;
  const sum = await replayTrace([out], resolveConfig(raw, 'test'));
  const rows = Object.fromEntries(crossCheckRows(s.qemu!, sum, mode).map((r) => [r.what.replace(/ \(.*$/, ''), [r.model, r.qemu]]));
  return { s, sum, rows };
}

describe('shipped QEMU recordings against the model', () => {
  it("strict: every translation fits; page-selective commands, IOTLB hits and misses equal QEMU's", async () => {
    const { s, rows } = await check('strict', 'strict');
    expect(s.qemu!.alignment).toMatchObject({ translations: 9748, unfit: 0, anchoredUnmaps: 614, guestUnmaps: 614 });
    expect(rows['page-selective invalidations']).toEqual([614, 614]);
    expect(rows['IOTLB hits']).toEqual([4616, 4616]);
    expect(rows['IOTLB misses, walks']).toEqual([5132, 5132]);
  });

  it('lazy, model timer: more flushes than the guest kernel sent (its timer fires later than 10 ms; docs/qemu.md)', async () => {
    const { s, rows } = await check('lazy', 'lazy');
    expect(s.qemu!.alignment.unfit).toBe(0);
    expect(rows['flushes: domain-selective invalidations']).toEqual([484, 410]);
    expect(rows['IOTLB hits']).toEqual([2737, 2793]);
  });

  it("lazy, QEMU flushes replayed: IOTLB hits and misses equal QEMU's", async () => {
    const { rows } = await check('lazy', 'flush-ops', 'qemu-vtd-flush-ops');
    expect(rows['domain-selective invalidations']).toEqual([410, 410]);
    expect(rows['IOTLB hits']).toEqual([2793, 2793]);
    expect(rows['IOTLB misses, walks']).toEqual([6954, 6954]);
  });

  it('lazy sequential, QEMU flushes replayed: QEMU emptied its full IOTLB once; only flush-when-full gives its hits', async () => {
    const { s, rows } = await check('lazy-seq', 'flush-ops', 'qemu-vtd-flush-ops');
    expect(s.qemu!.iotlbResets).toBe(1);
    expect(rows['IOTLB hits']).toEqual([1800, 1800]);
    const lru = await check('lazy-seq', 'flush-ops', {
      ...JSON.parse(fs.readFileSync(path.join(TRACES, 'qemu-vtd-flush-ops.json'), 'utf8')),
      iotlb: { entries: 1024, ways: 'full', policy: 'lru' },
    });
    expect(lru.rows['IOTLB hits']).toEqual([1805, 1800]);
  });
});
