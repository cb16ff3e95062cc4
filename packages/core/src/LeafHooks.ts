import type { LeafContext } from './LeafContext.js';
import type { LeafNamespace, LeafPlugin } from './LeafPlugin.js';

/**
 * Observation hooks on the leaf path (tracing, metrics, record/replay). Absent hooks cost one
 * `undefined` check per dispatch.
 */
export interface LeafHooks {
  /**
   * After a TDVMCALL was dispatched in the kernel model. `plugin` is undefined for an
   * unregistered leaf; `exitReason` is 0 when the guest resumes without a userspace exit (the
   * guest-visible result is then already in `ctx.regs`).
   */
  onDispatch?(ctx: LeafContext, namespace: LeafNamespace, leaf: number, plugin: LeafPlugin | undefined, exitReason: number): void;
  /** After a plugin's completion wrote userspace's reply into the registers. */
  onComplete?(ctx: LeafContext, plugin: LeafPlugin): void;
}
