import { injectable } from 'inversify';
import { LEAF_EXIT, LEAF_RESUME, VcpuEmulation, type LeafContext, type LeafPlugin, type UserExitContext } from '@seamkit/core';
import {
  R10, R11, R12, R13, R14, TDVMCALL_GET_TD_VM_CALL_INFO, TDVMCALL_STATUS_ERROR_HI,
  TDVMCALL_STATUS_INVALID_OPERAND_LO,
} from '@seamkit/seam-cpu/abi';
import { KVM_EXIT_TDX } from '../uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from '../uapi/kvmRunLayout.js';

const RET = L['tdx.get_tdvmcall_info.ret'].offset;
const LEAF = L['tdx.get_tdvmcall_info.leaf'].offset;
const OUT = [L['tdx.get_tdvmcall_info.r11'].offset, L['tdx.get_tdvmcall_info.r12'].offset, L['tdx.get_tdvmcall_info.r13'].offset, L['tdx.get_tdvmcall_info.r14'].offset];
const REGS = [R11, R12, R13, R14];

/**
 * GetTdVmCallInfo (0x10000), as Linux 6.16 handles it: R12 = 0 is answered in the kernel
 * (R10 = SUCCESS, R11..R14 = 0: every base GHCI call is supported); R12 = 1 exits with
 * KVM_EXIT_TDX, `ret` preset SUCCESS and r11..r14 preset 0, and the completion copies ret to R10
 * and r11..r14 to R11..R14; any other R12 is INVALID_OPERAND. The userspace half answers leaf 1
 * as QEMU does: R11 = the optional-leaf bits of what is registered.
 */
@injectable()
export class GetTdVmCallInfoLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = {
    name: 'tdx.get-td-vm-call-info',
    namespace: 'ghci',
    leaf: TDVMCALL_GET_TD_VM_CALL_INFO,
    exit: {
      reason: KVM_EXIT_TDX,
      key: TDVMCALL_GET_TD_VM_CALL_INFO,
      layout: {
        /** `tdx.get_tdvmcall_info.ret`: the TDVMCALL status for R10. */
        ret: L['tdx.get_tdvmcall_info.ret'],
        /** `tdx.get_tdvmcall_info.leaf`: the GetTdVmCallInfo leaf (R12), always 1 here. */
        leaf: L['tdx.get_tdvmcall_info.leaf'],
        /** `tdx.get_tdvmcall_info.r11`: returned in R11. */
        r11: L['tdx.get_tdvmcall_info.r11'],
        /** `tdx.get_tdvmcall_info.r12`: returned in R12. */
        r12: L['tdx.get_tdvmcall_info.r12'],
        /** `tdx.get_tdvmcall_info.r13`: returned in R13. */
        r13: L['tdx.get_tdvmcall_info.r13'],
        /** `tdx.get_tdvmcall_info.r14`: returned in R14. */
        r14: L['tdx.get_tdvmcall_info.r14'],
      },
    },
  } as const;

  /** Kernel half: leaf 0 in kernel, leaf 1 to userspace, else INVALID_OPERAND. */
  kernel(ctx: LeafContext): number {
    const r = ctx.regs;
    const u = r.u32;
    if ((u[R12 * 2]! | u[R12 * 2 + 1]!) === 0) {
      // R10 = SUCCESS, R11..R14 = 0 (u32 view: slot i is u32[2i], u32[2i + 1]).
      u[R10 * 2] = 0; u[R10 * 2 + 1] = 0;
      u[R11 * 2] = 0; u[R11 * 2 + 1] = 0;
      u[R12 * 2] = 0; u[R12 * 2 + 1] = 0;
      u[R13 * 2] = 0; u[R13 * 2 + 1] = 0;
      u[R14 * 2] = 0; u[R14 * 2 + 1] = 0;
      return LEAF_RESUME;
    }
    if (r.hi(R12) === 0 && r.lo(R12) === 1) {
      const run = ctx.run;
      run.setU64Halves(RET, 0, 0);
      run.setU64Halves(LEAF, 1, 0);
      for (let i = 0; i < OUT.length; i++) run.setU64Halves(OUT[i]!, 0, 0);
      return LEAF_EXIT;
    }
    r.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
    return LEAF_RESUME;
  }

  /** Completion: R10 = ret, R11..R14 = r11..r14. */
  complete(ctx: LeafContext): void {
    const run = ctx.run;
    const r = ctx.regs;
    r.setHalves(R10, run.getU64Lo(RET), run.getU64Hi(RET));
    for (let i = 0; i < 4; i++) r.setHalves(REGS[i]!, run.getU64Lo(OUT[i]!), run.getU64Hi(OUT[i]!));
  }

  /** Userspace half (QEMU's tdx_handle_get_tdvmcall_info): r11 = registered optional-leaf bits. */
  user(ctx: UserExitContext): number {
    ctx.run.setU64Number(OUT[0]!, ctx.registry.userTdvmcallInfoR11());
    ctx.run.setU64Halves(RET, 0, 0);
    return VcpuEmulation.HANDLED;
  }
}
