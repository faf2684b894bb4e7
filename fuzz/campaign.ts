// `npm run fuzz [-- --mutants N] [--replay] [--keep DIR]`: the long mutation
// campaign of issue 19 over generated files and streams. Prints counts per
// outcome and every mutant that broke a bound; exits 1 when any did.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { FUZZ_MAX_TABLE_BYTES, MEMORY_BOUND_BYTES, TIME_BOUND_MS, campaign, isCleanLine, scratchDir, seedTraces, type MutantResult } from './mutate.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const total = Number(opt('mutants', '20000'));
const replay = args.includes('--replay');
const keepDir = opt('keep', '');
const cliEvery = Number(opt('cli-every', '200'));
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src/cli/main.js');

const dir = scratchDir();
const seeds = await seedTraces(dir);
const per = Math.ceil(total / seeds.length);
const counts = { accepted: 0, rejected: 0, internal: 0, slow: 0, memory: 0, cliRuns: 0, cliBad: 0 };
const bad: string[] = [];
const started = Date.now();
const flag = (r: MutantResult, why: string, bytes: Uint8Array) => {
  bad.push(`${r.seed} mutant ${r.mutant} (${r.kind}): ${why}`);
  if (keepDir) {
    fs.mkdirSync(keepDir, { recursive: true });
    fs.writeFileSync(path.join(keepDir, `${r.seed.replace(/\./, `-${r.mutant}.`)}`), bytes);
  }
};
for (const seed of seeds) {
  for (let first = 0; first < per; first += 500) {
    await campaign(seed, first, Math.min(500, per - first), dir, {
      replay,
      keep: (r, bytes) => {
        counts[r.outcome.kind]++;
        if (r.outcome.kind === 'internal') flag(r, r.outcome.message.split('\n')[0], bytes);
        if (r.ms > TIME_BOUND_MS) {
          counts.slow++;
          flag(r, `took ${r.ms.toFixed(0)} ms`, bytes);
        }
        if (r.rssGrowth > MEMORY_BOUND_BYTES) {
          counts.memory++;
          flag(r, `grew RSS by ${(r.rssGrowth / 2 ** 20).toFixed(0)} MiB`, bytes);
        }
        if (cliEvery > 0 && r.mutant % cliEvery === 0) {
          // The CLI path on a sample: one line on stderr, exit 0 or 2, in time.
          const f = path.join(dir, `cli${path.extname(seed)}`);
          fs.writeFileSync(f, bytes);
          for (const cmd of ['inspect', 'replay']) {
            counts.cliRuns++;
            const extra = cmd === 'replay' ? ['--max-table-memory', String(FUZZ_MAX_TABLE_BYTES)] : [];
            const p = spawnSync(process.execPath, ['--max-old-space-size=256', CLI, cmd, f, ...extra], { encoding: 'utf8', timeout: 30_000 });
            const lines = p.stderr.trim() === '' ? [] : p.stderr.trim().split('\n');
            // Exit 0 may warn (faults or failed maps under the configuration: cli/warnings.ts), in clean lines.
            const ok =
              (p.status === 0 && lines.every((l) => l.startsWith('iommu-replay: warning: ') && isCleanLine(l))) ||
              (p.status === 2 && lines.length === 1 && isCleanLine(lines[0]));
            if (!ok) {
              counts.cliBad++;
              flag(r, `CLI ${cmd}: exit ${p.status}${p.signal ? ` (${p.signal})` : ''}: ${p.stderr.slice(0, 200)}`, bytes);
            }
          }
        }
      },
    });
    process.stderr.write(`\r${seed.split('/').pop()} ${first + 500}/${per}   `);
  }
}
fs.rmSync(dir, { recursive: true, force: true });
const n = counts.accepted + counts.rejected + counts.internal;
console.log(
  `\n${n} mutants of ${seeds.length} seed traces (${seeds.map((s) => path.basename(s)).join(', ')}) in ${((Date.now() - started) / 1000).toFixed(0)} s, ${replay ? 'read and replayed' : 'read'}:`,
);
console.log(`  accepted ${counts.accepted}, rejected with one clean line ${counts.rejected}, internal text ${counts.internal}`);
console.log(`  over ${TIME_BOUND_MS} ms: ${counts.slow}, over ${MEMORY_BOUND_BYTES / 2 ** 20} MiB: ${counts.memory}`);
console.log(`  CLI runs ${counts.cliRuns}, not one clean line or exit 0/2: ${counts.cliBad}`);
for (const b of bad.slice(0, 50)) console.log(`  ${b}`);
process.exitCode = bad.length ? 1 : 0;
