import { describe, expect, it } from 'vitest';
import { RAX, RegisterFile, SeamCpu, SeamkitError } from '@seamkit/seam-cpu';
import { seamcall } from '../host/seamcall.js';
import { bootPlatform, createTd, globalHkidOf, installPlatform, mngInit } from '../testing/buildTd.js';

/** Checks of the module's behaviour against the real module's order of checks. */
describe('TDX module fidelity', () => {
  it('checks the platform state before the leaf: an unknown leaf before SYS_READY is TDX_SYS_NOT_READY', () => {
    const p = installPlatform();
    const args = new RegisterFile();
    expect(seamcall(p.lp0, 0x7777, args)).toBe(0xc000050500000000n);
    expect(seamcall(p.lp0, 0x9 | (0xff << 24), args)).toBe(0xc000050500000000n);
    args.set(RAX, 0n);
  });

  it('refuses the global private HKID in TDH.MNG.CREATE as not free (it is HKID_RESERVED)', () => {
    const p = bootPlatform();
    const tdr = p.cpu.memory.allocPage();
    expect(p.host.tdhMngCreate(p.lp0, tdr, globalHkidOf(p))).toBe(0xc000082000000000n);
  });

  it('refuses a SEPT table for a shared GPA (the secure EPT covers private GPAs only)', () => {
    const p = bootPlatform();
    const { tdr } = createTd(p);
    mngInit(p, tdr);
    const r = p.host.tdhMemSeptAdd(p.lp0, tdr, 2 ** 47, 3, p.cpu.memory.allocPage());
    expect(r.status).toBe(0xc000010000000001n);
  });

  it('refuses a CPU with more packages than logical processors', () => {
    let err: unknown;
    try {
      new SeamCpu({ logicalProcessors: 2, packages: 3 });
    } catch (e) {
      err = e;
    }
    expect(SeamkitError.is(err) && err.code).toBe('SEAMKIT_ERR_CPU_TOPOLOGY');
  });
});
