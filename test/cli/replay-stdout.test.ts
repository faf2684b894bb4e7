// The short table a replay prints on stdout when it writes no file
// (report/markdown.ts summaryTable, summaryNotes): in lazy mode it shows the
// stale hits and, when maps reused an IOVA still in the flush queue, the
// note that says those stale hits are not what Linux's lazy mode would see;
// a trace with no DMA says why there are no hit rates. Strict mode's table
// has neither.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeTrace } from '../../src/trace/writer.js';
import { runCli, tmpDir } from '../helpers/cli.js';
import { batchOf } from '../helpers/events.js';

const NIC = path.resolve('traces/nic.arrows');

describe('replay stdout: the summary table and its notes', () => {
  it('lazy mode: the stale hits and the note on IOVAs reused before their flush', () => {
    const r = runCli(['replay', NIC, '--mode', 'lazy']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('| IOTLB stale hits (lazy mode) | 1,085 |');
    expect(r.stdout).toContain('> 2,139 of 3,251 successful maps reused an IOVA still waiting in the flush queue');
    expect(r.stderr).toBe('');
  });

  it('strict mode: no stale-hit row and no note', () => {
    const r = runCli(['replay', NIC]);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('stale');
    expect(r.stdout).not.toContain('>');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^\| peak page-table pages \|/);
  });

  it('a trace with no DMA says why there are no hit rates', async () => {
    const trace = path.join(tmpDir(), 'maps-only.arrows');
    await writeTrace(trace, {}, [
      batchOf([
        { op: 'map', domain: 1, iova: 0x1000, paddr: 0x1000, size: 0x1000 },
        { op: 'unmap', domain: 1, iova: 0x1000, size: 0x1000 },
      ]),
    ]);
    const r = runCli(['replay', trace]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('> The trace has no DMA events, so there are no hit rates');
  });
});
