import { inject, injectable, optional } from 'inversify';
import { LEAF_EXIT, LEAF_RESUME, VcpuEmulation, type LeafContext, type LeafPlugin, type UserExitContext } from '@seamkit/core';
import { KVM_EXIT_TDX, KVM_RUN_LAYOUT as L } from '@seamkit/kvm/uapi';
import {
  R10, R12, TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT, TDVMCALL_STATUS_ERROR_HI, TDVMCALL_STATUS_INVALID_OPERAND,
  TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO, TDVMCALL_STATUS_SUCCESS,
} from '@seamkit/seam-cpu/abi';
import { EventNotifier } from './EventNotifier.js';

const RET = L['tdx.setup_event_notify.ret'].offset;
const VECTOR = L['tdx.setup_event_notify.vector'].offset;

/** GetTdVmCallInfo leaf 1, R11 bit 1: SetupEventNotifyInterrupt is supported. */
export const TDG_VP_VMCALL_SUBFUNC_SET_EVENT_NOTIFY_INTERRUPT = 1 << 1;

/**
 * SetupEventNotifyInterrupt (0x10004).
 *
 * Kernel half (Linux 6.16 `tdx_setup_event_notify_interrupt`): R12 is the vector; one outside
 * 32..255 gets INVALID_OPERAND in the kernel, with no exit. Otherwise KVM_EXIT_TDX with nr
 * 0x10004 and setup_event_notify {ret preset SUBFUNC_UNSUPPORTED, vector}. KVM keeps no state.
 * Completion (`tdx_complete_simple`): R10 = ret.
 *
 * Userspace half (QEMU 10.1 `tdx_handle_setup_event_notify_interrupt`): a vector in 32..255 is
 * remembered for the TD together with the APIC ID of the calling vCPU, and ret = SUCCESS;
 * anything else gets ret = INVALID_OPERAND. Each later GetQuote completion of the TD injects
 * that vector as an MSI ({@link EventNotifier}).
 *
 * Declares GetTdVmCallInfo leaf 1 R11 bit 1, so GetTdVmCallInfo(1) and KVM_TDX_CAPABILITIES'
 * `user_tdvmcallinfo_1_r11` report it while it is registered.
 */
@injectable()
export class SetupEventNotifyInterruptLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = {
    name: 'tdx.setup-event-notify-interrupt',
    namespace: 'ghci',
    leaf: TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT,
    tdvmcallInfoR11: TDG_VP_VMCALL_SUBFUNC_SET_EVENT_NOTIFY_INTERRUPT,
    exit: {
      reason: KVM_EXIT_TDX,
      key: TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT,
      layout: {
        /** `tdx.setup_event_notify.ret`: the TDVMCALL status for R10 (preset SUBFUNC_UNSUPPORTED). */
        ret: L['tdx.setup_event_notify.ret'],
        /** `tdx.setup_event_notify.vector`: the vector (R12), 32..255. */
        vector: L['tdx.setup_event_notify.vector'],
      },
    },
  } as const;

  /** The per-TD registrations, shared with GetQuote. */
  readonly notifier: EventNotifier;

  /** @param notifier - where registrations are kept (shared with GetQuote; a new one if omitted) */
  constructor(@inject(EventNotifier) @optional() notifier?: EventNotifier) {
    this.notifier = notifier ?? new EventNotifier();
  }

  /** Kernel half: vector check, then the exit with `ret` preset. */
  kernel(ctx: LeafContext): number {
    const r = ctx.regs;
    const lo = r.lo(R12);
    if (r.hi(R12) !== 0 || lo < 32 || lo > 255) {
      r.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
      return LEAF_RESUME;
    }
    const run = ctx.run;
    run.setU64Halves(RET, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO, TDVMCALL_STATUS_ERROR_HI);
    run.setU64Halves(VECTOR, lo, 0);
    return LEAF_EXIT;
  }

  /** Completion: R10 = ret. */
  complete(ctx: LeafContext): void {
    ctx.regs.setHalves(R10, ctx.run.getU64Lo(RET), ctx.run.getU64Hi(RET));
  }

  /**
   * Userspace half: remembers the vector and the caller's APIC ID for the TD. The APIC ID of a
   * seamkit vCPU is its index (KVM_CREATE_VCPU id = index, as QEMU numbers them without a
   * custom topology).
   */
  user(ctx: UserExitContext): number {
    const run = ctx.run;
    const vector = run.getU64(VECTOR);
    if (vector >= 32n && vector < 256n) {
      this.notifier.register(ctx.memory, Number(vector), ctx.vcpuIndex);
      run.setU64(RET, TDVMCALL_STATUS_SUCCESS);
    } else {
      run.setU64(RET, TDVMCALL_STATUS_INVALID_OPERAND);
    }
    return VcpuEmulation.HANDLED;
  }
}
