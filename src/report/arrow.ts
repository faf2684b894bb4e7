// apache-arrow, loaded from the package's single-file build. Its Node entry
// (Arrow.node.mjs, what `import 'apache-arrow'` resolves to) loads 146 files:
// 0.29-0.36 s of CPU a process that writes a curve or a sweep's results
// (issue 28). The single-file build of the same package and version, reached
// through the package's own exports map ("./*", require condition), loads in
// 35-60 ms and writes the same bytes (test/report/arrow-bundle.test.ts).
//
// It lacks the Node stream adapters (`toNodeStream` throws "not available in
// this environment"): the trace writer (src/trace/writer.ts), which streams
// to a file, keeps the Node entry. Each copy builds and writes its own
// tables, so no object of one copy meets an `instanceof` of the other.
// Import the values from here and nothing from 'apache-arrow' but types.
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
