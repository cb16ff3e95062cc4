// A vendor-specific TDVMCALL leaf with an exit of its own: the guest asks the VMM to "seal" a
// 64-bit value; the VMM answers with a keyed digest of it.
import { createHmac } from 'node:crypto';
import { injectable } from 'inversify';
import {
  LEAF_EXIT, LEAF_RESUME, VcpuEmulation, type LeafContext, type LeafPlugin, type UserExitContext,
} from '@seamkit/core';
import {
  R10, R11, TDVMCALL_STATUS_ERROR_HI, TDVMCALL_STATUS_INVALID_OPERAND_LO,
} from '@seamkit/seam-cpu';

/** R10 value of the leaf (vendor range: 0x10000..0xFFFFFFFF). 'AC' + 1. */
export const ACME_SEAL = 0x4143_0001;
/** The leaf's own exit reason (not a KVM_EXIT_* number). */
export const KVM_EXIT_ACME_SEAL = 0x1000;
/** Exit struct: `ret` (u64 at 32), `value` (u64 at 40), `sealed` (u64 at 48). */
export const ACME_SEAL_LAYOUT = {
  ret: { offset: 32, size: 8 },
  value: { offset: 40, size: 8 },
  sealed: { offset: 48, size: 8 },
} as const;

@injectable()
export class AcmeSealLeaf implements LeafPlugin {
  readonly meta = {
    name: 'acme.seal',
    namespace: 'vendor',
    leaf: ACME_SEAL,
    exit: { reason: KVM_EXIT_ACME_SEAL, layout: ACME_SEAL_LAYOUT },
  } as const;

  readonly #key = Buffer.from('acme sealing key');

  /** Kernel half: R11 = value; 0 is refused in the kernel, anything else goes to the VMM. */
  kernel(ctx: LeafContext): number {
    const r = ctx.regs;
    if (r.isZero(R11)) {
      r.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
      return LEAF_RESUME;
    }
    const run = ctx.run;
    run.setU64Halves(ACME_SEAL_LAYOUT.ret.offset, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI); // preset: a VMM that ignores us refuses
    run.setU64Halves(ACME_SEAL_LAYOUT.value.offset, r.lo(R11), r.hi(R11));
    run.setU64Halves(ACME_SEAL_LAYOUT.sealed.offset, 0, 0);
    return LEAF_EXIT;
  }

  /** Userspace half: sealed = first 8 bytes of HMAC-SHA256(key, value). */
  user(ctx: UserExitContext): number {
    const value = ctx.run.getU64(ACME_SEAL_LAYOUT.value.offset);
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(value);
    const mac = createHmac('sha256', this.#key).update(v).digest();
    ctx.run.setU64(ACME_SEAL_LAYOUT.sealed.offset, mac.readBigUInt64LE(0));
    ctx.run.setU64(ACME_SEAL_LAYOUT.ret.offset, 0n);
    return VcpuEmulation.HANDLED;
  }

  /** Completion: R10 = ret, R11 = sealed. */
  complete(ctx: LeafContext): void {
    const run = ctx.run;
    ctx.regs.setHalves(R10, run.getU64Lo(ACME_SEAL_LAYOUT.ret.offset), run.getU64Hi(ACME_SEAL_LAYOUT.ret.offset));
    ctx.regs.setHalves(R11, run.getU64Lo(ACME_SEAL_LAYOUT.sealed.offset), run.getU64Hi(ACME_SEAL_LAYOUT.sealed.offset));
  }
}
