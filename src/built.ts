// Where a thread's module is: threads run the build (dist/), also under the
// test runner, where the module starting them is TypeScript under src/ (the
// build is then the working directory's dist/, as the tests run from the
// project's root).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built module `name` in the folder of the module at `callerUrl` (its `import.meta.url`). */
export function builtModule(callerUrl: string, name: string): string {
  const here = fileURLToPath(callerUrl);
  const dir = path.dirname(here);
  return here.endsWith('.ts') ? path.resolve('dist', path.relative(process.cwd(), dir), name) : path.join(dir, name);
}
