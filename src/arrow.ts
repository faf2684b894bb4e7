// apache-arrow, loaded from the package's single-file build. Its Node entry
// (Arrow.node.mjs, what `import 'apache-arrow'` resolves to) loads 146 files:
// 0.29-0.36 s of CPU a process that writes a trace, a curve or a sweep's
// results (issue 28). The single-file build of the same package and version,
// reached through the package's own exports map ("./*", require condition),
// loads in 35-60 ms. The two differ only in the Node stream adapters
// (RecordBatchReader.toNodeStream and the like), which we do not use: the
// written files are byte-identical (test/trace/arrow-bundle.test.ts).
//
// Import the types from 'apache-arrow' with `import type`, and the values
// from here: one copy of the library in a process, so that no object of one
// copy meets an `instanceof` of the other.
import { createRequire } from 'node:module';
import type * as ArrowModule from 'apache-arrow';

export const A = createRequire(import.meta.url)('apache-arrow/Arrow.esnext.min') as typeof ArrowModule;

/** The library's types that our signatures name, as `A.Schema` and so on beside the values. */
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace A {
  type Schema = ArrowModule.Schema;
  type Data = ArrowModule.Data;
  type RecordBatch = ArrowModule.RecordBatch;
  type RecordBatchWriter = ArrowModule.RecordBatchWriter;
  type Vector = ArrowModule.Vector;
}
