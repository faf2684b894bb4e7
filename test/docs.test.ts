// The users' documentation is in the repository and complete (issue 13,
// item 2): docs/ exists, everything points there, every configuration field
// and every summary key is documented.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from './config/zod-reference.js';
import { RESULTS_META } from '../src/report/compare.js';
import { runCli } from './helpers/cli.js';

const DOCS = ['README.md', 'trace-format.md', 'model.md', 'configuration.md', 'report-keys.md'];
const doc = (name: string) => fs.readFileSync(path.join('docs', name), 'utf8');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('docs/', () => {
  it('holds the four documents and an index that links them', () => {
    for (const d of DOCS) expect(fs.existsSync(path.join('docs', d)), d).toBe(true);
    for (const d of DOCS.slice(1)) expect(doc('README.md')).toContain(`(${d})`);
  });

  it('nothing a user reads points outside the repository', () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    expect(readme).not.toContain('../shared');
    expect(readme).toContain('docs/README.md');
    for (const f of [...sourceFiles('src'), ...DOCS.map((d) => path.join('docs', d))]) expect(fs.readFileSync(f, 'utf8'), f).not.toContain('../shared');
  });

  it('--help points to docs/', () => {
    const r = runCli(['--help']);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('Documentation: docs/README.md');
    expect(runCli(['replay', '--help']).stdout.replace(/\s+/g, ' ')).toContain('docs/README.md');
  });

  it('every configuration field is documented', () => {
    const text = doc('configuration.md');
    const fields = (shape: Record<string, unknown>, prefix: string): string[] =>
      Object.entries(shape).flatMap(([k, v]) => {
        let inner = v as { def?: { innerType?: unknown; shape?: unknown }; shape?: Record<string, unknown>; unwrap?: () => unknown };
        if (typeof inner.unwrap === 'function') inner = inner.unwrap() as typeof inner;
        const sub = inner.shape && k !== 'iotlb' && k !== 'devtlb' && k !== 'walkCache' ? fields(inner.shape, `${prefix}${k}.`) : [];
        return [`${prefix}${k}`, ...sub];
      });
    for (const f of fields(configSchema.shape as Record<string, unknown>, '')) {
      const leaf = f.split('.').pop()!;
      expect(text.includes(`\`${f}\``) || text.includes(`"${leaf}"`), f).toBe(true);
    }
  });

  it('every key of a summary and of results.arrow is documented', () => {
    const text = doc('report-keys.md');
    const summary = JSON.parse(fs.readFileSync('reports/example/summaries/nic/pageSizes=4K+2M_iotlb=64x4_invalidation.mode=lazy.json', 'utf8'));
    const keys = new Set<string>();
    const walk = (v: unknown, at: string) => {
      if (Array.isArray(v)) v.forEach((x) => walk(x, at));
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v))
          if (at !== 'config' && !/^\d+[KMGT]$/.test(k)) {
            keys.add(k);
            walk(x, k);
          }
    };
    walk(summary, '');
    for (const k of keys) expect(text, k).toMatch(new RegExp(`\\b${k}\\b`));
    for (const m of Object.values(RESULTS_META)) expect(text).toContain(m);
  });

  it('the model documents each rule with the Linux function it follows', () => {
    const text = doc('model.md');
    for (const fn of [
      'iommu_pgsize()',
      '__iommu_map()',
      '__iommu_unmap()',
      'iommu_iotlb_gather_add_page()',
      'calculate_psi_aligned_address()',
      'cache_tag_flush_range()',
      'flush_iotlb_all',
      'set_dev_pasid',
    ])
      expect(text, fn).toContain(fn);
    for (let s = 1; s <= 7; s++) expect(text).toMatch(new RegExp(`^## ${s}\\. `, 'm'));
  });
});
