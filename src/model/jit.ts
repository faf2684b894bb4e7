// V8's inlining budget for the replay core. TurboFan stops inlining into a
// function once the bytecode it has inlined reaches a cumulative budget (920
// bytes by default); the DMA run loop reaches it before the table's probe and
// fill and the page walk are all in, leaving calls in the hottest loop. A
// larger budget inlines them: 6-10% more events per second on the bench's
// traces (DMA-heavy and NIC). V8 flags are per process, so this also holds in
// worker threads; importing this module (replay.ts does, first) is enough.
import v8 from 'node:v8';

v8.setFlagsFromString('--max-inlined-bytecode-size-cumulative=4000');
