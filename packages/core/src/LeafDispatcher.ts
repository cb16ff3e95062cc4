import {
  R10, R11, TDVMCALL_STATUS_ERROR_HI, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO,
} from '@seamkit/seam-cpu/abi';
import { KVM_RUN_EXIT_REASON, KVM_RUN_EXIT_UNION } from './abi/kvmRun.js';
import type { LeafContext } from './LeafContext.js';
import type { LeafHooks } from './LeafHooks.js';
import { LEAF_EXIT, type LeafNamespace } from './LeafPlugin.js';
import type { CompiledLeaf, LeafRegistry } from './LeafRegistry.js';
import type { EventSink } from './VmmEvent.js';

/** -KVM_ENOSYS as a u64: the answer to an unknown KVM hypercall (R10 != 0). */
const ENOSYS_LO = (-1000 >>> 0);
const ENOSYS_HI = 0xffff_ffff;

/**
 * The per-vCPU leaf path: decides each TDVMCALL through the registry, with one context object
 * created up front and reused for every exit. The kernel model (kvm) calls {@link dispatch} for
 * a standard TDVMCALL (R10 = 0), {@link dispatchHypercall} for R10 != 0, and {@link complete}
 * at the start of the next run.
 *
 * Rules it enforces (Linux 6.16 `handle_tdvmcall`):
 * - an unregistered leaf: R10 = TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED, no exit;
 * - a registered leaf exits only through its declared exit; the exit header (exit_reason and
 *   key) is written here, never by the plugin;
 * - a kernel half that throws: R10 = INVALID_OPERAND, the guest resumes, and a `plugin-error`
 *   event is emitted.
 */
export class LeafDispatcher {
  /** The context handed to plugins. */
  readonly ctx: LeafContext;
  /** Observation hooks (undefined = none). */
  hooks: LeafHooks | undefined;
  readonly #registry: LeafRegistry;
  readonly #emit: EventSink;
  #pending: CompiledLeaf | undefined;

  /**
   * @param registry - the (frozen) registry
   * @param ctx - the vCPU's context: argument block, kvm_run, TD facts
   * @param emit - where plugin errors are reported
   */
  constructor(registry: LeafRegistry, ctx: LeafContext, emit: EventSink) {
    this.#registry = registry;
    this.ctx = ctx;
    this.#emit = emit;
  }

  /** The plugin whose exit is outstanding (its completion runs on the next entry), if any. */
  get pending(): CompiledLeaf | undefined {
    return this.#pending;
  }

  /**
   * A standard TDVMCALL (R10 = 0, leaf in R11).
   * @returns 0 to resume the guest, or the KVM_EXIT_* reason to return to userspace
   */
  dispatch(): number {
    // Register halves read straight from the u32 view (slot i is u32[2i], u32[2i + 1]): the hot
    // path stays small enough for V8 to inline whole.
    const u = this.ctx.regs.u32;
    const leaf = u[R11 * 2]!;
    const c = u[R11 * 2 + 1] === 0 ? this.#registry.ghci(leaf) : undefined;
    if (c === undefined) return this.#unknown('ghci', leaf, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO, TDVMCALL_STATUS_ERROR_HI);
    return this.#run(c, 'ghci', leaf);
  }

  /**
   * A TDVMCALL with R10 != 0: the KVM hypercall path, where vendor leaves live too. Unknown
   * numbers get -KVM_ENOSYS in R10, as KVM answers them.
   * @returns 0 to resume the guest, or the KVM_EXIT_* reason to return to userspace
   */
  dispatchHypercall(): number {
    const u = this.ctx.regs.u32;
    const nr = u[R10 * 2 + 1] === 0 ? u[R10 * 2]! : -1;
    const c = nr >= 0 ? this.#registry.hypercall(nr) : undefined;
    if (c === undefined) return this.#unknown('hypercall', nr, ENOSYS_LO, ENOSYS_HI);
    return this.#run(c, c.plugin.meta.namespace, nr);
  }

  /**
   * Runs the outstanding plugin's completion (at the start of the next run).
   * @returns 0 to enter the guest; the KVM_EXIT_* reason when the completion exits to userspace
   *   again (it returned LEAF_EXIT; the header is rewritten and the plugin stays pending); or a
   *   negative -errno when it rejected userspace's reply (KVM_RUN must fail with that errno)
   */
  complete(): number {
    const c = this.#pending;
    if (c === undefined) return 0;
    this.#pending = undefined;
    const p = c.plugin;
    let verdict: number | void = undefined;
    if (p.complete !== undefined) {
      try {
        verdict = p.complete(this.ctx);
      } catch (error) {
        this.#completeThrew(c, error);
      }
    }
    if (this.hooks !== undefined) this.hooks.onComplete?.(this.ctx, p);
    if (typeof verdict !== 'number') return 0;
    if (verdict === LEAF_EXIT && c.reason >= 0) return this.#exit(c);
    return verdict < 0 ? verdict : 0;
  }

  /** A completion threw: INVALID_OPERAND for the guest and a `plugin-error` event. */
  #completeThrew(c: CompiledLeaf, error: unknown): void {
    this.ctx.regs.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
    this.#emit({ type: 'plugin-error', plugin: c.plugin.meta.name, half: 'complete', error });
  }

  /** Drops an outstanding completion (the VM is being torn down or reset). */
  cancel(): void {
    this.#pending = undefined;
  }

  #run(c: CompiledLeaf, ns: LeafNamespace, leaf: number): number {
    let verdict: number;
    try {
      verdict = c.plugin.kernel(this.ctx);
    } catch (error) {
      return this.#kernelThrew(c, ns, leaf, error);
    }
    if (verdict !== LEAF_EXIT || c.reason < 0) {
      if (this.hooks !== undefined) this.#onDispatch(ns, leaf, c, 0);
      return 0;
    }
    this.#exit(c);
    if (this.hooks !== undefined) this.#onDispatch(ns, leaf, c, c.reason);
    return c.reason;
  }

  /** No plugin for the leaf: R10 = the status (lo, hi) the kernel answers with, no exit. */
  #unknown(ns: LeafNamespace, leaf: number, lo: number, hi: number): number {
    this.ctx.regs.setHalves(R10, lo, hi);
    this.hooks?.onDispatch?.(this.ctx, ns, leaf, undefined, 0);
    return 0;
  }

  /** A kernel half threw: INVALID_OPERAND for the guest, a `plugin-error` event, no exit. */
  #kernelThrew(c: CompiledLeaf, ns: LeafNamespace, leaf: number, error: unknown): number {
    this.ctx.regs.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
    this.#emit({ type: 'plugin-error', plugin: c.plugin.meta.name, half: 'kernel', error });
    this.#onDispatch(ns, leaf, c, 0);
    return 0;
  }

  /** Calls the `onDispatch` hook, if one is installed (kept out of the hot methods). */
  #onDispatch(ns: LeafNamespace, leaf: number, c: CompiledLeaf, reason: number): void {
    this.hooks?.onDispatch?.(this.ctx, ns, leaf, c.plugin, reason);
  }

  /** Writes the exit header of `c` (exit_reason, zeroed header, key) and makes it pending. */
  #exit(c: CompiledLeaf): number {
    const u32 = this.ctx.run.u32;
    u32[KVM_RUN_EXIT_REASON >>> 2] = c.reason;
    for (let o = KVM_RUN_EXIT_UNION; o < c.headerEnd; o += 4) u32[o >>> 2] = 0;
    if (c.keyOffset >= 0) {
      u32[c.keyOffset >>> 2] = c.keyLo;
      if (c.keySize === 8) u32[(c.keyOffset >>> 2) + 1] = c.keyHi;
    }
    this.#pending = c;
    return c.reason;
  }
}
