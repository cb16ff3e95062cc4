import { describe, expect, it } from 'vitest';
import { createVmm } from '@seamkit/core';
import { kvmModule } from '@seamkit/kvm';
import { ergonomicGuest, stepGuest } from './twoForms.js';

describe('examples/guests: the two guest forms', () => {
  it('give identical guest-visible results', () => {
    const vmm = createVmm({ modules: [kvmModule()] });
    const results = [ergonomicGuest(3, 0x1000), stepGuest(3, 0x1000)].map((guest) => {
      const td = vmm.createTd({ guest });
      td.runners[0]!.run();
      const bytes = new Uint8Array(24);
      td.memory.read(0x1000, bytes);
      return [...bytes];
    });
    expect(results[0]).toEqual(results[1]);
    expect(results[0]!.every((b) => b === 0)).toBe(true); // three SUCCESS (0) statuses
  });
});
