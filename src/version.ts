// The tool's version (package.json) and the version of the documented
// contract its outputs follow (docs/: trace format, model, report keys, all
// version 1). Both go into results.arrow and into the key of each resumable
// sweep summary: a summary from another version is computed again.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SPEC_VERSION = '1';

let cached: string | undefined;

/** The package's version, from the package.json above this module (src/ under tests, dist/src/ when built). */
export function toolVersion(): string {
  if (cached !== undefined) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'iommu-replay' && pkg.version) return (cached = pkg.version);
    }
    const up = path.dirname(dir);
    if (up === dir) return (cached = 'unknown');
    dir = up;
  }
}
