// Vendors (docs/model.md §9, config.md "Vendors"): the configuration's
// `vendor`, `amd` and `smmu`, presets that set the vendor, `--vendor` on the
// command line, the summary's `invalidation.commands.byName`, and the refusal
// of nested domains under a vendor that is not VT-d.
import fs from 'node:fs';
import path from 'node:path';
import * as A from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { VENDORS, isVendorModelled, resolveConfig } from '../../src/config/config.js';
import { PRESETS } from '../../src/config/presets.js';
import { expandSweep } from '../../src/config/sweep.js';
import { InputError } from '../../src/errors.js';
import { Replay } from '../../src/model/replay.js';
import { runCli, tmpDir } from '../helpers/cli.js';
import { K4 } from '../helpers/events.js';
import { metaOf, replayEvents } from '../helpers/replay.js';
import { vendorCase } from '../helpers/random-case.js';

const NIC = path.resolve('traces/nic.arrows');
/** A vendor resolves when modelled; until then it is refused with one message (never replayed with half its rules). */
const notYet = (v: string) => `vendor: vendor ${v} is not modelled yet`;

describe('vendor configuration (config.md "Vendors")', () => {
  it('defaults: vtd, amd.npCache false, smmu range invalidation on, no erratum, 16-bit ASIDs, in the resolved configuration', () => {
    const c = resolveConfig({});
    expect(c.vendor).toBe('vtd');
    expect(c.amd).toEqual({ npCache: false });
    expect(c.smmu).toEqual({ rangeInvalidation: true, forceSyncErratum: false, asidBits: 16 });
  });

  it('VENDORS lists vtd, amd, smmuv3', () => {
    expect([...VENDORS]).toEqual(['vtd', 'amd', 'smmuv3']);
  });

  it("a field of another vendor's block is accepted and ignored; an unknown field in it is an error", () => {
    const c = resolveConfig({ vendor: 'vtd', amd: { npCache: true }, smmu: { asidBits: 8, rangeInvalidation: false, forceSyncErratum: true } });
    expect(c.vendor).toBe('vtd');
    expect(c.amd.npCache).toBe(true);
    expect(c.smmu).toEqual({ rangeInvalidation: false, forceSyncErratum: true, asidBits: 8 });
    expect(() => resolveConfig({ amd: { npcache: true } })).toThrow('Invalid config "config": amd.npcache: unknown field');
    expect(() => resolveConfig({ smmu: { asid: 8 } })).toThrow('Invalid config "config": smmu.asid: unknown field');
  });

  it('asidBits: an integer in 1..16; vendor: one of the list', () => {
    for (const bad of [0, 17, 2.5, '8'])
      expect(() => resolveConfig({ smmu: { asidBits: bad } })).toThrow(/smmu\.asidBits: expected an integer in 1\.\.16, got/);
    expect(resolveConfig({ smmu: { asidBits: 1 } }).smmu.asidBits).toBe(1);
    expect(() => resolveConfig({ vendor: 'intel' })).toThrow('Invalid config "config": vendor: expected one of "vtd", "amd", "smmuv3", got "intel"');
    expect(() => resolveConfig({ amd: { npCache: 1 } })).toThrow('amd.npCache: expected true or false, got 1');
  });

  it('a vendor not modelled yet is a configuration error, never a replay with half its rules', () => {
    for (const v of VENDORS) {
      if (isVendorModelled(v)) expect(resolveConfig({ vendor: v }).vendor).toBe(v);
      else expect(() => resolveConfig({ vendor: v })).toThrow(notYet(v));
    }
  });
});

describe('presets set the vendor (model §9.4)', () => {
  const want: Record<string, string> = {
    'intel-vtd': 'vtd',
    'amd-v1': 'amd',
    'amd-v2': 'amd',
    'arm-smmu-4k': 'smmuv3',
    'arm-smmu-16k': 'smmuv3',
    'arm-smmu-64k': 'smmuv3',
  };
  it('intel-vtd → vtd, amd-v1/amd-v2 → amd, arm-smmu-* → smmuv3', () => {
    expect(Object.fromEntries(PRESETS.map((p) => [p.name, p.vendor]))).toEqual(want);
    for (const p of PRESETS) {
      if (isVendorModelled(p.vendor)) expect(resolveConfig({ preset: p.name }).vendor).toBe(want[p.name]);
      else expect(() => resolveConfig({ preset: p.name })).toThrow(notYet(p.vendor));
    }
  });

  it('an explicit vendor wins over the preset', () => {
    expect(resolveConfig({ preset: 'arm-smmu-64k', vendor: 'vtd' }).vendor).toBe('vtd');
    expect(resolveConfig({ preset: 'amd-v1', vendor: 'vtd' }).pageSizes[1]).toBe('8K');
  });
});

describe('--vendor and the vendor sweep axis', () => {
  it('a sweep over vendors: one point each, labelled vendor=...', () => {
    const vendors = VENDORS.filter(isVendorModelled);
    const points = expandSweep({ sweep: { vendor: vendors } }, {}, 'test');
    expect(points.map((p) => p.label)).toEqual(vendors.map((v) => `vendor=${v}`));
    expect(points.map((p) => p.config.vendor)).toEqual(vendors);
    const short = expandSweep({}, { vendor: [...vendors] }, '(command line)');
    expect(short.map((p) => p.label)).toEqual(vendors.map((v) => `vendor=${v}`));
  });

  it('--vendor: an unknown value is one line naming the option', () => {
    expect(() => expandSweep({}, { vendor: ['arm'] }, '(command line)')).toThrow(
      new InputError("Invalid option --vendor: expected one of vtd, amd, smmuv3, got 'arm'"),
    );
  });

  it('replay --vendor takes one value; vtd is the default and names itself in the summary', () => {
    const r = runCli(['replay', NIC, '--vendor', 'vtd', '--json', '-']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).config.vendor).toBe('vtd');
    const two = runCli(['replay', NIC, '--vendor', 'vtd', '--vendor', 'amd']);
    expect(two.status).toBe(2);
    expect(two.stderr).toBe('iommu-replay: Invalid option --vendor: replay takes one value, got 2 (several values are a sweep: iommu-replay sweep)\n');
    const bad = runCli(['replay', NIC, '--vendor', 'intel']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("iommu-replay: Invalid option --vendor: expected one of vtd, amd, smmuv3, got 'intel'\n");
  });

  it('sweep --vendor: results.arrow has a vendor column', () => {
    const out = tmpDir();
    const r = runCli(['sweep', NIC, '--vendor', 'vtd', '--iotlb', '32x4', '64x4', '--out', out, '--quiet', '--jobs', '1']);
    expect(r.stderr).toBe('');
    const t = A.tableFromIPC(fs.readFileSync(path.join(out, 'results.arrow')));
    expect(t.getChild('vendor')?.toArray()).toEqual(['vtd', 'vtd']);
    expect(fs.existsSync(path.join(out, 'summaries/nic/iotlb=32x4_vendor=vtd.json'))).toBe(true);
  });
});

describe('a sweep over vendors: the reports keep the vendors apart', () => {
  it('grid rows per mode and vendor ("strict amd"), and a recommendation per vendor', () => {
    const out = tmpDir();
    const r = runCli(['sweep', NIC, '--vendor', 'vtd', 'amd', '--iotlb', '32x4', '64x4', '--out', out, '--quiet', '--jobs', '1']);
    expect(r.stderr).toBe('');
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    // Two rows for one bitmap: VT-d's (the mode alone) and AMD's, never one hiding the other.
    expect(md).toMatch(/\| 4K\+2M\+1G \| strict \| [^\n]*\n\| 4K\+2M\+1G \| strict amd \|/);
    // One pick per vendor, each among its own points (report/findings.ts); here both vendors reach the same one.
    expect(md).toContain('**Recommendation, per vendor.**');
    expect(md).toMatch(/\n- `vtd` \(Intel VT-d\) and `amd` \(AMD-Vi\) alike: A 32x4 IOTLB/);
  });
});

describe('invalidation.commands.byName (report.md)', () => {
  it('vtd: PSI, DSI, DEVTLB, WAIT are the four kinds', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: 0x300, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: 2 * K4 },
        { op: 'dma_read', device: 0x300, iova: 0, size: 64 },
        { op: 'unmap', domain: 1, iova: 0, size: K4 },
        { op: 'flush', domain: 1 },
      ],
      { devices: { '0000:03:00.0': { devtlb: true } } },
    );
    const c = s.totals.invalidation.commands;
    // unmap: 1 PSI + 1 device-TLB + 1 wait; flush: 1 DSI + 1 device-TLB + 1 wait.
    expect(c).toEqual({ page: 1, domain: 1, devtlb: 2, wait: 2, byName: { PSI: 1, DSI: 1, DEVTLB: 2, WAIT: 2 } });
    expect(s.byDomain[0].invalidation.commands.byName).toEqual({ PSI: 1, DSI: 1, DEVTLB: 2, WAIT: 2 });
  });
});

describe("nested translation is VT-d's (model §9.3)", () => {
  it('a trace with nested domains under another vendor is one configuration error', () => {
    const meta = metaOf({ domains: { 1: 'paging', 2: { type: 'nested', parent: 1 } } });
    for (const vendor of ['amd', 'smmuv3'] as const) {
      // Built by hand: the refusal comes before anything of the vendor is made, whether or not it is modelled yet.
      const config = { ...resolveConfig({}), vendor };
      expect(() => new Replay(config, meta)).toThrow(
        new InputError(
          `Invalid config: vendor: the trace has nested domains (domain 2), and nested translation is VT-d's; replay it with "vendor": "vtd", not "${vendor}" (docs/model.md §9.3)`,
        ),
      );
    }
    expect(() => new Replay(resolveConfig({}), meta)).not.toThrow();
  });

  it('replay --vendor amd of a vm-nested trace: one line, exit status 2, no output file', () => {
    const d = tmpDir();
    const trace = path.join(d, 'nested.arrows');
    expect(runCli(['gen', 'vm-nested', '-o', trace, '--events', '300']).status).toBe(0);
    const json = path.join(d, 'out.json');
    const r = runCli(['replay', trace, '--vendor', 'amd', '--json', json]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^iommu-replay: Invalid config: vendor: the trace has nested domains \(domain \d+\), and nested translation is VT-d's; replay it with "vendor": "vtd", not "amd" \(docs\/model.md §9.3\)\n$/,
    );
    expect(fs.existsSync(json)).toBe(false);
  });
});

describe("resolution is idempotent: resolve(resolve(c)) equals resolve(c) (a summary's config, a queued job's, replay --config)", () => {
  it('for seeded configurations of every vendor', () => {
    for (const vendor of VENDORS)
      for (let seed = 1; seed <= 60; seed++) {
        const once = resolveConfig(vendorCase(seed, vendor).config);
        expect(resolveConfig(JSON.parse(JSON.stringify(once))), `${vendor} seed ${seed}`).toEqual(once);
      }
  });

  it("under smmuv3 the resolved pageTable.levels are the granule's (model §9.6: 4K and 16K 4, 64K 3); vtd and amd keep theirs", () => {
    const levels = (c: object) => resolveConfig(c).pageTable.levels;
    expect(levels({ vendor: 'smmuv3', pageSizes: ['4K', '2M'] })).toBe(4);
    expect(levels({ vendor: 'smmuv3', pageSizes: ['16K'] })).toBe(4);
    expect(levels({ vendor: 'smmuv3', pageSizes: ['64K', '512M'] })).toBe(3);
    expect(levels({ preset: 'arm-smmu-64k' })).toBe(3);
    expect(levels({ vendor: 'amd', pageTable: { levels: 5 } })).toBe(5);
    expect(levels({ vendor: 'vtd' })).toBe(4);
    expect(() => resolveConfig({ vendor: 'amd', pageTable: { levels: 3 } })).toThrow('Invalid config "config": pageTable.levels: expected 4 or 5, got 3');
    expect(() => resolveConfig({ pageTable: { levels: 3 } })).toThrow('Invalid config "config": pageTable.levels: expected 4 or 5, got 3');
  });

  it('a 64K-granule summary says pageTable.levels 3 in its config and results.arrow, and replay --config of that config runs', () => {
    const d = tmpDir();
    const cfg = path.join(d, 'c.json');
    fs.writeFileSync(cfg, JSON.stringify({ vendor: 'smmuv3', pageSizes: ['64K', '512M'] }));
    const json = path.join(d, 's.json');
    expect(runCli(['replay', NIC, '--config', cfg, '--json', json]).status).toBe(0);
    const summary = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(summary.config.pageTable).toEqual({ levels: 3 });
    const again = path.join(d, 'again.json');
    fs.writeFileSync(again, JSON.stringify(summary.config));
    const r = runCli(['replay', NIC, '--config', again, '--json', path.join(d, 's2.json')]);
    expect(r.stderr).not.toContain('Invalid config'); // (nic's 4K maps fault under 64K: the warning says so)
    expect(r.status).toBe(0);
    expect(fs.readFileSync(path.join(d, 's2.json'), 'utf8')).toBe(fs.readFileSync(json, 'utf8'));
    const out = path.join(d, 'sw');
    expect(runCli(['sweep', NIC, '--config', cfg, '--out', out, '--jobs', '1', '--quiet']).status).toBe(0);
    const table = A.tableFromIPC(fs.readFileSync(path.join(out, 'results.arrow')));
    expect(table.getChild('page_table_levels')!.get(0)).toBe(3);
  });
});
