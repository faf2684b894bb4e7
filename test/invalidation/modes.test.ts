// invalidation/modes.ts: what each invalidation mode decides, asked by rule
// rather than by comparing the mode's name.
import { describe, expect, it } from 'vitest';
import { MODES, resolveConfig, type InvalidationMode } from '../../src/config/config.js';
import { MODE_RULES, modeRules } from '../../src/invalidation/modes.js';
import { laneGroups } from '../../src/run/run.js';

describe('invalidation modes (MODE_RULES)', () => {
  it('has rules for every mode the configuration accepts, and no other', () => {
    expect(Object.keys(MODE_RULES).sort()).toEqual([...MODES].sort());
  });

  it('lazy defers to the flush queue and replays alone; strict syncs and may share lanes', () => {
    expect(modeRules('lazy')).toEqual({ deferred: true, lanes: false });
    expect(modeRules('strict')).toEqual({ deferred: false, lanes: true });
    const configs = (['strict', 'strict', 'lazy', 'lazy'] as const).map((mode, i) =>
      resolveConfig({ iotlb: { sets: 4 << i, ways: 4 }, invalidation: { mode } }, 't'),
    );
    expect(laneGroups(configs)).toEqual([[0, 1], [2], [3]]);
  });

  it('refuses a mode it does not know', () => {
    expect(() => modeRules('eager' as InvalidationMode)).toThrow(/unknown invalidation mode "eager"/);
  });
});
