import { SeamkitError } from '@seamkit/seam-cpu';
import { coreError } from './errors.js';
import { handleExit, type ExitHandlers } from './handleExit.js';
import type { HypervisorVcpu } from './Hypervisor.js';
import type { LeafRegistry } from './LeafRegistry.js';
import type { SharedMemory, UserExitContext } from './UserExitContext.js';
import { VcpuEmulation } from './VcpuEmulation.js';
import type { EventSink } from './VmmEvent.js';

/** EINTR (Linux include/uapi/asm-generic/errno-base.h): KVM_RUN was interrupted. */
const EINTR = 4;

/** State of a {@link VcpuRunner}. */
export const VcpuRunState = {
  /** Ready to run (initial, or after an interruption). */
  PAUSED: 'paused',
  /** Inside {@link VcpuRunner.run}. */
  RUNNING: 'running',
  /** The vCPU stopped for good (panic, shutdown, unhandled exit). */
  FINISHED: 'finished',
} as const;

/** One of the {@link VcpuRunState} values. */
export type VcpuRunState = (typeof VcpuRunState)[keyof typeof VcpuRunState];

/** Observes every exit that reaches userspace (before it is handled). */
export type UserExitHook = (vcpuIndex: number, reason: number, ctx: UserExitContext) => void;

/**
 * The userspace run loop of one vCPU, a small state machine: PAUSED -> RUNNING -> (PAUSED on
 * INTERRUPTED | FINISHED on STOPPED). While RUNNING it calls KVM_RUN and hands each exit to
 * {@link handleExit}; it allocates nothing per exit.
 */
export class VcpuRunner {
  /** Current state. */
  state: VcpuRunState = VcpuRunState.PAUSED;
  /** Exits handled so far. */
  exits = 0;
  /** KVM_EXIT_* reason of the last exit. */
  lastReason = -1;
  /** Hook called for every userspace exit (undefined = none). */
  onUserExit: UserExitHook | undefined;
  readonly #vcpu: HypervisorVcpu;
  readonly #registry: LeafRegistry;
  readonly #handlers: ExitHandlers;
  readonly #ctx: UserExitContext;

  /**
   * @param vcpu - the vCPU
   * @param registry - the VMM's registry
   * @param memory - the TD's memory, as userspace maps it
   * @param emit - event channel
   * @param handlers - the VMM's handlers for exits no plugin owns
   */
  constructor(vcpu: HypervisorVcpu, registry: LeafRegistry, memory: SharedMemory, emit: EventSink, handlers: ExitHandlers = {}) {
    this.#vcpu = vcpu;
    this.#registry = registry;
    this.#handlers = handlers;
    this.#ctx = { run: vcpu.kvmRun, vcpuIndex: vcpu.index, memory, emit, registry };
  }

  /**
   * Runs the vCPU until an exit handler returns INTERRUPTED or STOPPED, or `maxExits` exits
   * were handled (then the runner pauses).
   * @returns the state afterwards
   * @throws SEAMKIT_ERR_VMM_STATE when the runner is already running or finished
   * @throws whatever KVM_RUN throws; the runner is then FINISHED, except for EINTR
   *   (immediate_exit), after which it is PAUSED and can run again
   */
  run(maxExits = Infinity): VcpuRunState {
    if (this.state !== VcpuRunState.PAUSED) throw coreError('SEAMKIT_ERR_VMM_STATE', ['run', this.state]);
    this.state = VcpuRunState.RUNNING;
    const vcpu = this.#vcpu;
    const ctx = this.#ctx;
    let budget = maxExits;
    try {
      while (budget-- > 0) {
        const reason = vcpu.run();
        this.lastReason = reason;
        this.exits++;
        this.onUserExit?.(vcpu.index, reason, ctx);
        const outcome = handleExit(this.#registry, reason, ctx, this.#handlers);
        if (outcome === VcpuEmulation.HANDLED) continue;
        this.state = outcome === VcpuEmulation.STOPPED ? VcpuRunState.FINISHED : VcpuRunState.PAUSED;
        return this.state;
      }
      this.state = VcpuRunState.PAUSED;
      return this.state;
    } catch (err) {
      // KVM_RUN returning EINTR (immediate_exit, a kick) interrupts the loop; the vCPU can run again.
      this.state = SeamkitError.is(err) && err.errno === EINTR ? VcpuRunState.PAUSED : VcpuRunState.FINISHED;
      throw err;
    }
  }
}
