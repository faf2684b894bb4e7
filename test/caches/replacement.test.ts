// caches/replacement.ts POLICY_RULES: every policy of the configuration has
// its hooks and its generated source in one entry, and a name it does not
// know is an error (the generator once fell through to '' for one).
import { describe, expect, it } from 'vitest';
import { POLICIES, type PolicyName } from '../../src/config/config.js';
import { POLICY_RULES, Replacement, policyVariant } from '../../src/caches/replacement.js';
import { pagingRunSource } from '../../src/model/specialize.js';

describe('replacement policies in one place (POLICY_RULES)', () => {
  it('has an entry for every policy the configuration accepts, and no other', () => {
    expect(Object.keys(POLICY_RULES).sort()).toEqual([...POLICIES].sort());
  });

  it('gives each variant a distinct code, the one its Replacement switches on', () => {
    const codes = new Set<number>();
    for (const p of POLICIES) {
      for (const ways of [1, 2, 4, 8]) {
        const v = policyVariant(p, ways);
        expect(new Replacement(p, 2, ways, 1).code).toBe(v.code);
        codes.add(v.code);
      }
    }
    expect(codes.size).toBe(POLICIES.length + 1); // lru over 4 ways is a variant of its own
  });

  it('refuses a policy it does not know, at run time and in the generated loop', () => {
    expect(() => new Replacement('mru' as PolicyName, 1, 4, 1)).toThrow(/unknown replacement policy "mru"/);
    const shape = { orders: [0], sets: 1, ways: 4, policy: 'mru' as PolicyName, levels: 4, devtlb: false, walkCaches: false, lanes: false };
    expect(() => pagingRunSource(shape)).toThrow(/unknown replacement policy "mru"/);
  });
});
