import type { LeafRegistry } from './LeafRegistry.js';
import type { UserExitContext } from './UserExitContext.js';
import { VcpuEmulation } from './VcpuEmulation.js';

/** A VMM's handler for exits no plugin owns (IO, MMIO, SHUTDOWN, ...), by KVM_EXIT_* reason. */
export type ExitHandler = (ctx: UserExitContext) => number;

/** Handlers by KVM_EXIT_* reason. */
export type ExitHandlers = Readonly<Record<number, ExitHandler>>;

/**
 * Exit dispatch in userspace, testable with synthetic exits: given the exit reason in
 * `ctx.run`, hands the exit to the plugin that owns it (reason + key), else to the VMM's handler
 * for that reason. A plugin exit with no userspace half goes to the VMM's handler for its reason
 * if there is one, and is otherwise HANDLED as is (its `ret` was preset, so ignoring it is
 * correct). An exit nobody handles stops the vCPU.
 */
export function handleExit(registry: LeafRegistry, reason: number, ctx: UserExitContext, handlers: ExitHandlers = {}): number {
  const shape = registry.shape(reason);
  let key = 0;
  if (shape !== undefined) {
    key = shape.keySize === 8 ? ctx.run.getU64Number(shape.keyOffset) : ctx.run.getU32(shape.keyOffset);
  }
  const owner = registry.exitOwner(reason, key);
  if (owner !== undefined) {
    const user = owner.plugin.user;
    if (user === undefined) {
      // A kernel-side plugin whose exit the VMM serves (e.g. KVM_EXIT_IO from the IO leaf), or a
      // preset `ret` that makes ignoring the exit correct.
      const h = handlers[reason];
      return h === undefined ? VcpuEmulation.HANDLED : h(ctx);
    }
    try {
      return user.call(owner.plugin, ctx);
    } catch (error) {
      ctx.emit({ type: 'plugin-error', plugin: owner.plugin.meta.name, half: 'user', error });
      return VcpuEmulation.HANDLED;
    }
  }
  const h = handlers[reason];
  return h === undefined ? VcpuEmulation.STOPPED : h(ctx);
}
