// The README's very first command printed "MaxListenersExceededWarning:
// Possible EventTarget memory leak detected" (one AbortSignal shared by every
// pool task, src/run/pool.ts). A correct run prints no warning, ever: here the
// command runs as the README writes it (its --out in a temporary folder, and
// --jobs 2 so that the thread pool runs on a one-core machine too).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/cli.js';

/** The words after `npx iommu-replay` on the README's first command line. */
function readmeFirstCommand(): string[] {
  const line = fs
    .readFileSync('README.md', 'utf8')
    .split('\n')
    .find((l) => l.includes('npx iommu-replay '));
  if (!line) throw new Error('README.md has no npx iommu-replay command');
  return line
    .slice(line.indexOf('npx iommu-replay ') + 'npx iommu-replay '.length)
    .trim()
    .split(/\s+/);
}

describe("the README's first command", () => {
  it('runs with nothing on stderr but its closing line: no warning', () => {
    const args = readmeFirstCommand();
    expect(args.slice(0, 2)).toEqual(['sweep', 'traces/nic.arrows']);
    const out = path.join(tmpDir(), 'example');
    const at = args.indexOf('--out');
    expect(at).toBeGreaterThan(0);
    args[at + 1] = out;
    const r = runCli([...args, '--jobs', '2']);
    expect(r.stderr).not.toMatch(/warning/i);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`3 trace(s) x 24 point(s): ${path.join(out, 'report.html')}\n`);
    expect(fs.existsSync(path.join(out, 'report.html'))).toBe(true);
    // The shipped example is this command's output, byte for byte (the
    // reports of a single-vendor sweep did not change when sweeps over
    // vendors got their per-vendor findings).
    for (const f of ['report.md', 'report.html', 'results.arrow'])
      expect(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join('reports/example', f))), f).toBe(true);
  }, 300_000);
});
