// The thread that writes a curve run's outputs (cli/curve.ts reportThread):
// it loads the report's modules (apache-arrow, vega, vega-lite: about half a
// second) while the command's own thread computes the curve, then renders
// the curves it is sent.
import { parentPort } from 'node:worker_threads';
import { curveOutputs, type CurveOf } from '../report/curve.js';

parentPort!.once('message', (m: { curves: CurveOf[]; maxEntries: number }) => {
  curveOutputs(m.curves, m.maxEntries).then(
    (out) => parentPort!.postMessage({ out }),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
