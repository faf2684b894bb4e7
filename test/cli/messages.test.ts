// Bad command lines get one line naming the option, the value and what is
// expected, exit 2 (issue: CLI items 1, 5, 6): a missing trace, a second
// value given to replay's one-value options, -h and -V, negative-looking
// values, a geometry the configuration refuses, a non-number.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { joinDashValues } from '../../src/cli/options.js';
import { runCli } from '../helpers/cli.js';

const NIC = path.resolve('traces/nic.arrows');

function oneLine(args: string[]): { status: number; line: string } {
  const r = runCli(args);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return { status: r.status, line: r.stderr.trim() };
}

describe('a trace that cannot be read', () => {
  it('is "Cannot read trace" and exit 2 for every command that reads traces', () => {
    for (const command of ['replay', 'sweep', 'curve', 'inspect']) {
      expect(oneLine([command, 'missing.arrows'])).toEqual({ status: 2, line: 'iommu-replay: Cannot read trace "missing.arrows": no such file' });
    }
  });

  it('replay given two values of a one-value option says so, and points at sweep', () => {
    const cases: [string[], string][] = [
      [['--mode', 'strict', 'lazy'], '--mode'],
      [['--page-sizes', '4K', '4K+2M'], '--page-sizes'],
      [['--iotlb', '64x4', '128x8'], '--iotlb'],
    ];
    for (const [opts, option] of cases) {
      const r = oneLine(['replay', NIC, ...opts]);
      expect(r.status).toBe(2);
      expect(r.line).toContain(`Invalid option ${option}: replay takes one value per option`);
      expect(r.line).toContain(`iommu-replay sweep TRACE... ${opts.join(' ')}`);
    }
  });
});

describe('-h and -V', () => {
  it('-h is --help, at the top and for a command', () => {
    expect(runCli(['-h'])).toEqual(runCli(['--help']));
    expect(runCli(['-h']).status).toBe(0);
    const replay = runCli(['replay', '-h']);
    expect(replay.status).toBe(0);
    expect(replay.stdout).toEqual(runCli(['replay', '--help']).stdout);
    expect(replay.stdout).toContain('--page-sizes');
  });

  it('-V is --version', () => {
    expect(runCli(['-V'])).toEqual(runCli(['--version']));
    expect(runCli(['-V', 'x']).stdout).toEqual(runCli(['--version']).stdout);
  });
});

describe('option values', () => {
  it('a value that starts with a dash is still the value of its option', () => {
    expect(joinDashValues(['replay', 't', '--iotlb', '-64x4', '--mode', 'lazy'])).toEqual(['replay', 't', '--iotlb=-64x4', '--mode', 'lazy']);
    expect(joinDashValues(['x', '--', '--iotlb', '-6'])).toEqual(['x', '--', '--iotlb', '-6']);
    expect(oneLine(['replay', NIC, '--iotlb', '-64x4']).line).toBe(
      "iommu-replay: Invalid option --iotlb: expected ENTRIESxWAYS like 64x4 or 256xfull, got '-64x4'",
    );
    expect(oneLine(['replay', NIC, '--page-sizes', '-4K']).line).toBe(
      `iommu-replay: Invalid option --page-sizes '-4K': pageSizes: expected a power-of-two size like "4K" or "2M", got "-4K"`,
    );
    expect(oneLine(['replay', NIC, '--max-table-memory', '-1G']).line).toBe(
      'iommu-replay: Invalid option --max-table-memory: expected a size like 512M, 4G or 1T, got "-1G"',
    );
  });

  it('a geometry the configuration refuses is blamed on --iotlb and its text, not on a config or a sweep point', () => {
    for (const command of ['replay', 'sweep']) {
      const r = oneLine([command, NIC, '--iotlb', '65x3']);
      expect(r).toEqual({ status: 2, line: "iommu-replay: Invalid option --iotlb '65x3': iotlb.entries: expected a multiple of ways (3), got 65" });
    }
  });

  it('curve --max-entries abc shows what was typed, never NaN', () => {
    expect(oneLine(['curve', NIC, '--max-entries', 'abc']).line).toBe(
      "iommu-replay: Invalid option --max-entries: expected an integer in 1..1048576, got 'abc'",
    );
    expect(oneLine(['curve', NIC, '--max-groups', 'x']).line).toBe("iommu-replay: Invalid option --max-groups: expected a positive integer, got 'x'");
  });
});
