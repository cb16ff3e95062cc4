import type { LeafContext } from './LeafContext.js';
import type { UserExitContext } from './UserExitContext.js';

/** Return value of a kernel half: answer in the kernel model and resume the guest. */
export const LEAF_RESUME = 0;
/** Return value of a kernel half: exit to userspace with the plugin's declared exit. */
export const LEAF_EXIT = 1;

/**
 * Where a leaf lives:
 * - `ghci`: a standard TDVMCALL, R10 = 0, leaf number in R11 (GetQuote, MapGPA, ...), any
 *   32-bit value;
 * - `hypercall`: R10 != 0 is a KVM hypercall (Linux `tdx_emulate_vmcall`); the leaf is the
 *   hypercall number in R10, {@link HYPERCALL_LEAF_MIN}..{@link HYPERCALL_LEAF_MAX}, arguments in
 *   R11..R14, the result in R10;
 * - `vendor`: a vendor-specific TDVMCALL (GHCI: R10 != 0 selects a vendor-specific call). seamkit
 *   reserves R10 values {@link VENDOR_LEAF_MIN}..{@link VENDOR_LEAF_MAX} for them, so they never
 *   collide with KVM hypercall numbers; registers as the plugin defines them. Like any R10 != 0
 *   value KVM does not know, an unregistered one gets -KVM_ENOSYS in R10.
 */
export type LeafNamespace = 'ghci' | 'hypercall' | 'vendor';

/** Smallest KVM hypercall number a `hypercall` leaf may use. */
export const HYPERCALL_LEAF_MIN = 1;
/** Largest KVM hypercall number a `hypercall` leaf may use. */
export const HYPERCALL_LEAF_MAX = 0xffff;
/** Smallest R10 value of a `vendor` leaf. */
export const VENDOR_LEAF_MIN = 0x1_0000;
/** Largest R10 value of a `vendor` leaf. */
export const VENDOR_LEAF_MAX = 0xffff_ffff;

/** One member of an exit struct: absolute offset into kvm_run and size in bytes. */
export interface ExitField {
  /** Offset from the start of kvm_run. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
}

/** The userspace exit a plugin produces. */
export interface LeafExit {
  /** KVM_EXIT_* reason written to kvm_run.exit_reason. */
  readonly reason: number;
  /**
   * Key written by the kernel model into the exit header, e.g. `tdx.nr` (the leaf) for
   * KVM_EXIT_TDX or `system_event.type` for KVM_EXIT_SYSTEM_EVENT. Omit for an exit reason of
   * the plugin's own, which has no key.
   */
  readonly key?: number;
  /** The struct members the plugin fills (and userspace reads), by name. */
  readonly layout: Readonly<Record<string, ExitField>>;
  /**
   * The same exit (reason and key) may come from more than one leaf, as KVM_EXIT_HYPERCALL with
   * KVM_HC_MAP_GPA_RANGE comes from MapGPA (R10 = 0) and from the KVM hypercall (R10 = 12). When
   * every plugin declaring that exit sets `shared`, they may all register; userspace hands the
   * exit to the first one registered (its userspace half), while each plugin's own completion
   * runs for the exits it caused.
   */
  readonly shared?: boolean;
}

/** What a leaf plugin declares about itself; checked when it is registered. */
export interface LeafMeta {
  /** Unique plugin name, e.g. `tdx.get-quote`. */
  readonly name: string;
  /** Leaf namespace. */
  readonly namespace: LeafNamespace;
  /** Leaf number (R11 for `ghci`, R10 for `hypercall` and `vendor`). */
  readonly leaf: number;
  /** The exit this leaf can cause; absent for leaves answered only in the kernel model. */
  readonly exit?: LeafExit;
  /** Names of plugins that must be registered too. */
  readonly dependencies?: readonly string[];
  /**
   * Bits this leaf adds to GetTdVmCallInfo leaf 1 (R11) and to KVM_TDX_CAPABILITIES'
   * `user_tdvmcallinfo_1_r11` when it is handled in userspace.
   */
  readonly tdvmcallInfoR11?: number;
}

/**
 * A TDVMCALL leaf plugin: the only way a TDVMCALL can cause an exit to userspace.
 *
 * Plugins are injectable classes (inversify) bound to the {@link LEAF_PLUGIN} token by a
 * ContainerModule. The kernel half runs in the kernel model with the exposed guest registers;
 * it either answers the guest (writes R10/R11.. and returns {@link LEAF_RESUME}) or fills its
 * exit struct, presets `ret`, and returns {@link LEAF_EXIT}. The kernel model writes the exit
 * header (exit_reason and key) itself. On the next run, {@link LeafPlugin.complete} copies
 * userspace's reply into the registers. The optional userspace half handles the exit in the VMM.
 */
export interface LeafPlugin {
  /** Static description, validated at registration. */
  readonly meta: LeafMeta;
  /**
   * Kernel half. Must not allocate on its fast path; must not throw for any guest input (a
   * throw is treated as a plugin bug: the guest gets INVALID_OPERAND and the error is reported).
   * @returns {@link LEAF_RESUME} or {@link LEAF_EXIT}
   */
  kernel(ctx: LeafContext): number;
  /**
   * Completion on re-entry after this plugin's exit: reply from kvm_run into R10, R11, ....
   * Return nothing (or {@link LEAF_RESUME}) to enter the guest. Return {@link LEAF_EXIT} after
   * filling the exit struct again, to go back to userspace without entering the guest (Linux's
   * `complete_userspace_io` returning 0: for example the next 2 MiB chunk of a MapGPA). Return a
   * negative `-errno` when userspace's reply is invalid: KVM_RUN then fails with that errno
   * (`complete_userspace_io` returning < 0) and the guest is not entered.
   */
  complete?(ctx: LeafContext): number | void;
  /**
   * Userspace half: handles the exit in the VMM and writes the reply into kvm_run.
   * @returns a {@link VcpuEmulation} value
   */
  user?(ctx: UserExitContext): number;
}
