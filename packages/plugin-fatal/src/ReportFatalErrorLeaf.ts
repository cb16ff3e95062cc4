import { injectable } from 'inversify';
import { LEAF_EXIT, VcpuEmulation, type LeafContext, type LeafPlugin, type UserExitContext } from '@seamkit/core';
import { KVM_EXIT_SYSTEM_EVENT, KVM_RUN_LAYOUT as L, KVM_SYSTEM_EVENT_TDX_FATAL } from '@seamkit/kvm/uapi';
import { RBP, RSP, TDVMCALL_REPORT_FATAL_ERROR } from '@seamkit/seam-cpu';
import { decodeFatalError } from './decodeFatalError.js';

const NDATA = L['system_event.ndata'].offset;
const DATA = L['system_event.data'].offset;

/**
 * ReportFatalError (0x10003), as Linux 6.16 and QEMU 10.1 handle it.
 *
 * Kernel half (KVM `tdx_report_fatal_error`): forwarded unconditionally as KVM_EXIT_SYSTEM_EVENT
 * with type KVM_SYSTEM_EVENT_TDX_FATAL (7), ndata 16 and data[i] = GPR i in SDM order straight
 * from the TDH.VP.ENTER argument block: data[0] is the TDH.VP.ENTER return (not guest RAX), the
 * RSP and RBP slots are 0. There is no completion: if the VMM runs the vCPU again, the guest
 * resumes after its TDCALL with R10 unchanged (0, success).
 *
 * Userspace half (QEMU `tdx_handle_report_fatal_error`): decodes the error code, the message and
 * the optional GPA ({@link decodeFatalError}), emits a `guest-panic` event with QEMU's log line,
 * and stops the vCPU.
 */
@injectable()
export class ReportFatalErrorLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = {
    name: 'tdx.report-fatal-error',
    namespace: 'ghci',
    leaf: TDVMCALL_REPORT_FATAL_ERROR,
    exit: {
      reason: KVM_EXIT_SYSTEM_EVENT,
      key: KVM_SYSTEM_EVENT_TDX_FATAL,
      layout: {
        /** `system_event.ndata`: 16. */
        ndata: L['system_event.ndata'],
        /** `system_event.data[0..15]`: the GPRs in SDM order. */
        data: L['system_event.data'],
      },
    },
  } as const;

  /** Kernel half: dumps the 16 GPR slots into system_event.data. */
  kernel(ctx: LeafContext): number {
    const run = ctx.run;
    const u = ctx.regs.u32;
    run.setU32(NDATA, 16);
    for (let i = 0; i < 16; i++) {
      if (i === RSP || i === RBP) run.setU64Halves(DATA + 8 * i, 0, 0);
      else run.setU64Halves(DATA + 8 * i, u[i * 2]!, u[i * 2 + 1]!);
    }
    return LEAF_EXIT;
  }

  /** Userspace half: decode, report, stop. */
  user(ctx: UserExitContext): number {
    const data: bigint[] = [];
    for (let i = 0; i < 16; i++) data.push(ctx.run.getU64(DATA + 8 * i));
    const d = decodeFatalError(data);
    if (d.valid) {
      ctx.emit({
        type: 'guest-panic', vcpuIndex: ctx.vcpuIndex, errorCode: d.errorCode, message: d.message, log: d.log,
        ...(d.gpa !== undefined ? { gpa: d.gpa } : {}),
      });
    }
    return VcpuEmulation.STOPPED;
  }
}
