// --help (CLI item 7): examples for every command of the CLI's own, the
// defaults of --page-sizes, --iotlb and --mode (the default configuration's,
// taken from resolveConfig), no "[default: []]" on a required positional,
// and page-size sets written 4K+2M+1G as everywhere else.
import { describe, expect, it } from 'vitest';
import { SHORT_FORM_DEFAULTS } from '../../src/cli/defaults.js';
import { resolveConfig } from '../../src/config/config.js';
import { DEFAULT_MAX_TABLE_TEXT } from '../../src/model/tablememory.js';
import { runCli } from '../helpers/cli.js';

describe('--help', () => {
  it('shows examples, at the top and for each command', () => {
    expect(runCli(['--help']).stdout).toContain('Examples:');
    for (const command of ['replay', 'sweep', 'curve', 'compare', 'gen', 'import', 'inspect', 'worker']) {
      const r = runCli([command, '--help']);
      expect(r.status, command).toBe(0);
      expect(r.stdout, command).toMatch(/Examples:\n {2}iommu-replay /);
      expect(r.stdout, command).not.toContain('[default: []]');
    }
  });

  it('shows what --page-sizes, --iotlb, --mode and --vendor mean when not given', () => {
    const c = resolveConfig({});
    expect(SHORT_FORM_DEFAULTS).toEqual({
      pageSizes: c.pageSizes.join('+'),
      iotlb: `${c.iotlb.entries}x${c.iotlb.ways}`,
      mode: c.invalidation.mode,
      vendor: c.vendor,
    });
    const flat = (command: string) => runCli([command, '--help']).stdout.replace(/\s+/g, ' ');
    for (const command of ['replay', 'sweep']) {
      const text = flat(command);
      expect(text).toContain("[default: the configuration's, else 4K+2M+1G]");
      expect(text).toContain("[default: the configuration's, else 64x4]");
      expect(text).toContain("[default: the configuration's, else strict]");
      expect(text).toContain("[default: the configuration's or its preset's, else vtd]");
    }
    expect(flat('curve')).toContain("[default: the configuration's, else 4K+2M+1G]");
  });

  it("shows --max-table-memory's default, the replay's (384M), on every command that takes it", () => {
    expect(DEFAULT_MAX_TABLE_TEXT).toBe('384M');
    for (const command of ['replay', 'sweep', 'fit', 'curve', 'worker']) {
      const text = runCli([command, '--help']).stdout.replace(/\s+/g, ' ');
      const option = text.slice(text.indexOf('--max-table-memory '));
      expect(option.slice(0, option.indexOf(']', option.indexOf('[default:')) + 1), command).toMatch(/\[string\] \[default: 384M\]$/);
    }
  });

  it('writes page-size sets as everything else does: 4K+2M+1G', () => {
    expect(runCli(['gen', '--help']).stdout.replace(/\s+/g, ' ')).toContain('[default: "4K+2M+1G"]');
  });
});
