import { describe, expect, it, vi } from 'vitest';
import { ExitBuffer } from './ExitBuffer.js';
import type { ExitShape } from './ExitShape.js';
import { handleExit, type ExitHandler } from './handleExit.js';
import { LEAF_EXIT, type LeafPlugin } from './LeafPlugin.js';
import { LeafRegistry } from './LeafRegistry.js';
import type { SharedMemory, UserExitContext } from './UserExitContext.js';
import { VcpuEmulation } from './VcpuEmulation.js';
import type { VmmEvent } from './VmmEvent.js';

const SHAPES: ExitShape[] = [
  { reason: 40, name: 'KVM_EXIT_TDX', headerEnd: 48, keyOffset: 40, keySize: 8 },
  { reason: 24, name: 'KVM_EXIT_SYSTEM_EVENT', headerEnd: 36, keyOffset: 32, keySize: 4 },
];

const noMemory: SharedMemory = {
  read: () => { throw new Error('no memory'); },
  write: () => { throw new Error('no memory'); },
  contains: () => false,
};

function setup(plugins: LeafPlugin[]): { ctx: UserExitContext; events: VmmEvent[]; registry: LeafRegistry } {
  const registry = new LeafRegistry(SHAPES);
  registry.registerAll(plugins);
  registry.freeze();
  const events: VmmEvent[] = [];
  const ctx: UserExitContext = { run: new ExitBuffer(), vcpuIndex: 3, memory: noMemory, emit: (e) => events.push(e), registry };
  return { ctx, events, registry };
}

/** Writes a synthetic KVM_EXIT_TDX with tdx.nr = `nr` into kvm_run. */
function tdxExit(run: ExitBuffer, nr: bigint): number {
  run.setU32(8, 40);
  run.setU64(32, 0n);
  run.setU64(40, nr);
  return 40;
}

const quoteUser = vi.fn<(ctx: UserExitContext) => number>();
const quote: LeafPlugin = {
  meta: { name: 'quote', namespace: 'ghci', leaf: 0x10002, exit: { reason: 40, key: 0x10002, layout: { ret: { offset: 48, size: 8 } } } },
  kernel: () => LEAF_EXIT,
  user(this: LeafPlugin, ctx: UserExitContext): number {
    return quoteUser.call(this, ctx);
  },
};
const info: LeafPlugin = {
  meta: { name: 'info', namespace: 'ghci', leaf: 0x10000, exit: { reason: 40, key: 0x10000, layout: { ret: { offset: 48, size: 8 } } } },
  kernel: () => LEAF_EXIT,
};
const fatal: LeafPlugin = {
  meta: { name: 'fatal', namespace: 'ghci', leaf: 0x10003, exit: { reason: 24, key: 7, layout: { ndata: { offset: 36, size: 4 } } } },
  kernel: () => LEAF_EXIT,
  user: () => VcpuEmulation.STOPPED,
};

describe(handleExit, () => {
  describe('having an exit owned by a plugin with a userspace half', () => {
    it('should hand the context to that half (with `this` bound) and return its outcome', () => {
      const { ctx } = setup([quote, info]);
      let self: unknown;
      quoteUser.mockImplementationOnce(function (this: unknown) {
        self = this;
        return VcpuEmulation.INTERRUPTED;
      });
      expect(handleExit(ctx.registry, tdxExit(ctx.run, 0x10002n), ctx)).toBe(VcpuEmulation.INTERRUPTED);
      expect(quoteUser).toHaveBeenCalledWith(ctx);
      expect(self).toBe(quote);
    });

    it('should read a 4-byte key (system_event.type) without the neighbouring ndata', () => {
      const { ctx } = setup([fatal]);
      ctx.run.setU32(32, 7);
      ctx.run.setU32(36, 16);
      expect(handleExit(ctx.registry, 24, ctx)).toBe(VcpuEmulation.STOPPED);
    });

    it('should not match a key whose bits 63:32 differ', () => {
      const { ctx } = setup([quote]);
      const handler = vi.fn<ExitHandler>(() => VcpuEmulation.HANDLED);
      quoteUser.mockClear();
      expect(handleExit(ctx.registry, tdxExit(ctx.run, 0x1_0001_0002n), ctx, { 40: handler })).toBe(VcpuEmulation.HANDLED);
      expect(quoteUser).not.toHaveBeenCalled();
      expect(handler).toHaveBeenCalledWith(ctx);
    });
  });

  describe('having an exit owned by a plugin without a userspace half', () => {
    it('should return HANDLED and leave kvm_run untouched when the VMM has no handler (the preset ret is the answer)', () => {
      const { ctx } = setup([info]);
      tdxExit(ctx.run, 0x10000n);
      ctx.run.setU64(48, 0n);
      const before = ctx.run.bytes.slice();
      expect(handleExit(ctx.registry, 40, ctx, {})).toBe(VcpuEmulation.HANDLED);
      expect(ctx.run.bytes).toEqual(before);
    });

    it("should hand the exit to the VMM's handler for its reason (e.g. KVM_EXIT_IO from kvm's IO leaf)", () => {
      const { ctx } = setup([info]);
      tdxExit(ctx.run, 0x10000n);
      const vmm = vi.fn<ExitHandler>(() => VcpuEmulation.INTERRUPTED);
      expect(handleExit(ctx.registry, 40, ctx, { 40: vmm })).toBe(VcpuEmulation.INTERRUPTED);
      expect(vmm).toHaveBeenCalledWith(ctx);
    });
  });

  describe('having an exit no plugin owns', () => {
    it('should call the VMM handler for that reason and return its outcome', () => {
      const { ctx } = setup([quote]);
      const io = vi.fn<ExitHandler>(() => VcpuEmulation.INTERRUPTED);
      const other = vi.fn<ExitHandler>(() => VcpuEmulation.HANDLED);
      ctx.run.setU32(8, 2);
      expect(handleExit(ctx.registry, 2, ctx, { 2: io, 6: other })).toBe(VcpuEmulation.INTERRUPTED);
      expect(io).toHaveBeenCalledWith(ctx);
      expect(other).not.toHaveBeenCalled();
    });

    it('should fall back to the VMM handler for a shaped reason whose key nobody owns (e.g. SYSTEM_EVENT SHUTDOWN)', () => {
      const { ctx } = setup([fatal]);
      ctx.run.setU32(32, 1);
      const h = vi.fn<ExitHandler>(() => VcpuEmulation.HANDLED);
      expect(handleExit(ctx.registry, 24, ctx, { 24: h })).toBe(VcpuEmulation.HANDLED);
      expect(h).toHaveBeenCalledOnce();
    });

    it('should return STOPPED when nobody handles it', () => {
      const { ctx } = setup([quote]);
      expect(handleExit(ctx.registry, 8, ctx)).toBe(VcpuEmulation.STOPPED);
      expect(handleExit(ctx.registry, tdxExit(ctx.run, 0x10004n), ctx, { 8: () => VcpuEmulation.HANDLED })).toBe(VcpuEmulation.STOPPED);
    });
  });

  describe('having a userspace half that throws', () => {
    it('should emit a plugin-error event and return HANDLED', () => {
      const { ctx, events } = setup([quote]);
      const boom = new Error('boom');
      quoteUser.mockImplementationOnce(() => {
        throw boom;
      });
      expect(handleExit(ctx.registry, tdxExit(ctx.run, 0x10002n), ctx)).toBe(VcpuEmulation.HANDLED);
      expect(events).toEqual([{ type: 'plugin-error', plugin: 'quote', half: 'user', error: boom }]);
    });
  });

  it('should let a VMM handler\'s exception propagate (it is the VMM\'s own bug)', () => {
    const { ctx } = setup([]);
    expect(() => handleExit(ctx.registry, 2, ctx, { 2: () => { throw new Error('vmm'); } })).toThrow('vmm');
  });
});
