import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED } from '@seamkit/seam-cpu';
import { runCustomVmm } from './custom-vmm.js';

describe('examples/custom-vmm', () => {
  it('runs: the unregistered leaf gets SUBFUNC_UNSUPPORTED, the panic reaches the VMM', () => {
    const { status, panic } = runCustomVmm();
    expect(status).toBe(TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED);
    expect(panic?.message).toBe('hello from the TD');
    expect(panic?.log).toBe('TDX guest reports fatal error. error code: 0x0 error message:"hello from the TD"');
  });

  it('is the example shown in the README, verbatim', () => {
    const example = readFileSync(new URL('./custom-vmm.ts', import.meta.url), 'utf8').trim();
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(example);
  });
});
