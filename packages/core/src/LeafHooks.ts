import type { LeafContext } from './LeafContext.js';
import type { LeafNamespace, LeafPlugin } from './LeafPlugin.js';

/**
 * Observation hooks on the TD exit and leaf path (tracing, metrics, record/replay), installed per
 * vCPU on its {@link LeafDispatcher} (`Vmm.createTd({ hooks })` does it for every vCPU). Absent
 * hooks cost one `undefined` check per exit.
 */
export interface LeafHooks {
  /**
   * After every TD exit, before the kernel model decides it (TDVMCALLs and asynchronous exits
   * alike): `statusLo` / `statusHi` are the TDH.VP.ENTER return (status class in the high half,
   * VMX exit reason in the low half; 77 = TDCALL). `ctx.regs` holds what the module exposed.
   */
  onTdExit?(ctx: LeafContext, statusLo: number, statusHi: number): void;
  /**
   * After a TDVMCALL was dispatched in the kernel model. `plugin` is undefined for an
   * unregistered leaf; `exitReason` is 0 when the guest resumes without a userspace exit (the
   * guest-visible result is then already in `ctx.regs`).
   */
  onDispatch?(ctx: LeafContext, namespace: LeafNamespace, leaf: number, plugin: LeafPlugin | undefined, exitReason: number): void;
  /** After a plugin's completion wrote userspace's reply into the registers. */
  onComplete?(ctx: LeafContext, plugin: LeafPlugin): void;
}
