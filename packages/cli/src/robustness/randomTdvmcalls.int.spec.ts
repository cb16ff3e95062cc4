import { describe, expect, it } from 'vitest';
import { randomTdvmcalls } from './randomTdvmcalls.js';

/** Calls per run: 20 000 in CI; SEAMKIT_RANDOM_TDVMCALLS=10000000 for the long run. */
const COUNT = Number(process.env['SEAMKIT_RANDOM_TDVMCALLS'] ?? 20_000);

describe('a long run of random TDVMCALLs in one TD', () => {
  it.each([[1n], [0xdeadbeefn]])('keeps every invariant (seed %s)', (seed) => {
    const r = randomTdvmcalls(COUNT, seed);
    expect(r.violations).toEqual([]);
    expect(r.calls).toBe(COUNT);
    expect(r.refused).toBeGreaterThan(0);
  }, 600_000);
});
