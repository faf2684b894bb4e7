// gen --iova-free lazy (workloads/dmaapi.ts DmaDomain): an unmapped IOVA goes
// back to the allocator only when its domain's flush queue is flushed, by the
// model's rule (§5) with its default size and timeout, as Linux's lazy mode
// frees it (queue_iova(), fq_ring_free()). So a lazy replay of such a trace
// finds no map of an IOVA still in the flush queue, where a strict-style
// trace (the default, unchanged) has many.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FQ_SIZE, DEFAULT_FQ_TIMEOUT_NS, resolveConfig } from '../../src/config/config.js';
import { replayTrace } from '../../src/run/run.js';
import { openTrace } from '../../src/trace/merge.js';
import { DmaDomain } from '../../src/workloads/dmaapi.js';
import { findWorkload, generate } from '../../src/workloads/index.js';
import { PhysAllocator } from '../../src/workloads/phys.js';
import { Rng } from '../../src/workloads/rng.js';
import { Sim } from '../../src/workloads/sim.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();
const opts = { events: 30_000, seed: 5, devices: 2, fragmentation: 0.5, rateScale: 1 };

describe('gen --iova-free lazy: IOVAs wait for the flush queue', () => {
  for (const name of ['nic', 'nvme', 'mixed', 'vm-nested']) {
    for (const vendor of name === 'vm-nested' ? ['vtd'] : ['vtd', 'amd', 'smmuv3']) {
      it(`${name} under ${vendor}: a lazy replay finds no map of an IOVA still queued; the strict-style trace has some`, async () => {
        const lazy = path.join(dir, `${name}-lazy.arrows`);
        const strict = path.join(dir, `${name}-strict.arrows`);
        const o = name === 'mixed' ? { ...opts, devices: 1 } : opts; // mixed: a fixed set of devices
        await generate(findWorkload(name)!, lazy, { ...o, iovaFree: 'lazy' });
        await generate(findWorkload(name)!, strict, o);
        const config = resolveConfig({ vendor, invalidation: { mode: 'lazy' } } as never);
        const l = await replayTrace([lazy], config);
        const s = await replayTrace([strict], config);
        expect(l.totals.invalidation.reusedBeforeFlush).toEqual({ maps: 0, pages: 0 });
        expect(s.totals.invalidation.reusedBeforeFlush!.maps).toBeGreaterThan(0);
        expect(l.totals.map.errors).toBe(0);
        expect(l.totals.unmap.ops).toBeGreaterThan(1000);
      });
    }
  }

  it('an IOVA is not handed out again before the queue is full or its timeout has passed', async () => {
    const sim = new Sim({ flush: () => {} }, 1e9);
    const dom = new DmaDomain(sim, 1, new PhysAllocator(new Rng(1), 0), 4096, 'lazy');
    const first = dom.mapBuffer(4096);
    dom.unmap(first);
    // DEFAULT_FQ_SIZE - 1 more unmaps fill the queue; none of their maps takes the first IOVA.
    const seen = new Set<number>();
    for (let i = 0; i < DEFAULT_FQ_SIZE - 1; i++) {
      const m = dom.mapBuffer(4096);
      seen.add(m.iova);
      dom.unmap(m);
    }
    expect(seen.has(first.iova)).toBe(false);
    // The queue is full: the next unmap flushes it, and the first IOVA is free again.
    const last = dom.mapBuffer(4096);
    expect(last.iova).not.toBe(first.iova);
    dom.unmap(last);
    expect(dom.mapBuffer(4096).iova).toBe(first.iova);
  });

  it("the queue's timeout frees what it holds at the first map at or after it", () => {
    const sim = new Sim({ flush: () => {} }, 1e9);
    const dom = new DmaDomain(sim, 1, new PhysAllocator(new Rng(1), 0), 4096, 'lazy');
    const a = dom.mapBuffer(4096);
    dom.unmap(a);
    sim.now = DEFAULT_FQ_TIMEOUT_NS - 1;
    const b = dom.mapBuffer(4096);
    expect(b.iova).not.toBe(a.iova);
    sim.now = DEFAULT_FQ_TIMEOUT_NS;
    expect(dom.mapBuffer(4096).iova).toBe(a.iova);
  });

  it('strict (the default) frees at the unmap, as before', () => {
    const sim = new Sim({ flush: () => {} }, 1e9);
    const dom = new DmaDomain(sim, 1, new PhysAllocator(new Rng(1), 0));
    const a = dom.mapBuffer(4096);
    dom.unmap(a);
    expect(dom.mapBuffer(4096).iova).toBe(a.iova);
  });

  it("the trace's workload text says iova-free=lazy; a strict trace's text is as before", async () => {
    const f = path.join(dir, 'label.arrows');
    await generate(findWorkload('nic')!, f, { ...opts, events: 100, iovaFree: 'lazy' });
    const t = await openTrace([f]);
    expect(t.meta.workload).toBe('nic events=100 seed=5 devices=2 fragmentation=0.5 rate=1 iova-free=lazy');
    await t.close();
  });

  it('gen mixed refuses --devices other than 1: its devices are a fixed set (it wrote devices=2 in the metadata and ignored it)', () => {
    const r = runCli(['gen', 'mixed', '--events', '10', '--devices', '2', '-o', path.join(dir, 'mixed2.arrows')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('iommu-replay: Invalid option --devices 2: the mixed workload has a fixed set of devices (see gen --help)\n');
  });

  it('the command line: --iova-free lazy, and one line for a bad value or a workload without DMA-API IOVAs', () => {
    const out = path.join(dir, 'cli.arrows');
    expect(runCli(['gen', 'nvme', '--events', '500', '--iova-free', 'lazy', '-o', out]).status).toBe(0);
    const bad = runCli(['gen', 'nic', '--events', '10', '--iova-free', 'later', '-o', out]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('iommu-replay: Invalid option --iova-free: expected strict or lazy, got later\n');
    const sva = runCli(['gen', 'sva', '--events', '10', '--iova-free', 'lazy', '-o', path.join(dir, 'sva.arrows')]);
    expect(sva.status).toBe(2);
    expect(sva.stderr).toBe(
      'iommu-replay: Invalid option --iova-free lazy: the sva workload has no DMA-API IOVAs (its maps stand for CPU page-table changes)\n',
    );
  });
});
