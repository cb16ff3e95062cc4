import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LeafTestBed } from '@seamkit/core/testing';
import { TDVMCALL_STATUS_INVALID_OPERAND } from '@seamkit/seam-cpu';
import { ACME_SEAL, AcmeSealLeaf, KVM_EXIT_ACME_SEAL } from './AcmeSealLeaf.js';
import { sealFromGuest } from './vendor-vmm.js';

const expected = (v: bigint): bigint => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return createHmac('sha256', Buffer.from('acme sealing key')).update(b).digest().readBigUInt64LE(0);
};

describe('examples/vendor-leaf', () => {
  it('a guest calls the vendor leaf through a real TD; the VMM answers through the leaf\'s own exit', () => {
    const r = sealFromGuest([0x1234n, 0n, 0xdead_beef_cafe_f00dn]);
    expect(r).toEqual([
      { status: 0n, sealed: expected(0x1234n) },
      { status: TDVMCALL_STATUS_INVALID_OPERAND, sealed: 0n }, // refused in the kernel half: no exit
      { status: 0n, sealed: expected(0xdead_beef_cafe_f00dn) },
    ]);
  });

  it('unit-tests the handler alone with the test bed', () => {
    const bed = new LeafTestBed(AcmeSealLeaf);
    const k = bed.tdvmcall({ r11: 42n });
    expect(bed.plugin.meta.leaf).toBe(ACME_SEAL);
    expect(k.exitReason).toBe(KVM_EXIT_ACME_SEAL);
    expect(k.exit).toEqual({ ret: TDVMCALL_STATUS_INVALID_OPERAND, value: 42n, sealed: 0n });
    bed.user();
    const g = bed.complete();
    expect(g.r10).toBe(0n);
    expect(g.r11).toBe(expected(42n));
  });
});
