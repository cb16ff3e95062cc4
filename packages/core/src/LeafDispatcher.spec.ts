import { describe, expect, it, vi } from 'vitest';
import { R10, R11, R12, R13, RegisterFile } from '@seamkit/seam-cpu';
import { ExitBuffer } from './ExitBuffer.js';
import type { ExitShape } from './ExitShape.js';
import type { LeafContext } from './LeafContext.js';
import { LeafDispatcher } from './LeafDispatcher.js';
import type { LeafHooks } from './LeafHooks.js';
import { LEAF_EXIT, LEAF_RESUME, type LeafPlugin } from './LeafPlugin.js';
import { LeafRegistry } from './LeafRegistry.js';
import type { VmmEvent } from './VmmEvent.js';

// Reference values (kvm-tdx-abi.md 1.1, 1.2, 1.8).
const SUBFUNC_UNSUPPORTED = 0x8000000000000003n;
const INVALID_OPERAND = 0x8000000000000000n;
const MINUS_KVM_ENOSYS = 0xfffffffffffffc18n; // -1000 as u64
const KVM_EXIT_TDX = 40;
const KVM_EXIT_SYSTEM_EVENT = 24;
const KVM_EXIT_HYPERCALL = 3;

const SHAPES: ExitShape[] = [
  { reason: KVM_EXIT_TDX, name: 'KVM_EXIT_TDX', headerEnd: 48, keyOffset: 40, keySize: 8 },
  { reason: KVM_EXIT_SYSTEM_EVENT, name: 'KVM_EXIT_SYSTEM_EVENT', headerEnd: 36, keyOffset: 32, keySize: 4 },
  { reason: KVM_EXIT_HYPERCALL, name: 'KVM_EXIT_HYPERCALL', headerEnd: 40, keyOffset: 32, keySize: 8 },
];

/** A GetQuote-like plugin: exits with KVM_EXIT_TDX, fills ret/gpa, completion copies ret to R10. */
class ExitLeaf implements LeafPlugin {
  readonly meta = {
    name: 'test.exit', namespace: 'ghci', leaf: 0x10002,
    exit: { reason: KVM_EXIT_TDX, key: 0x10002, layout: { ret: { offset: 48, size: 8 }, gpa: { offset: 56, size: 8 } } },
  } as const;

  kernelCalls = 0;
  completeCalls = 0;

  kernel(ctx: LeafContext): number {
    this.kernelCalls++;
    // A misbehaving plugin scribbles over the header: the dispatcher must win.
    ctx.run.setU64Halves(32, 0xdeadbeef, 0xdeadbeef);
    ctx.run.setU64Halves(40, 0xdeadbeef, 0xdeadbeef);
    ctx.run.setU64Halves(48, 3, 0x8000_0000);
    ctx.run.setU64Halves(56, ctx.regs.lo(R12), ctx.regs.hi(R12));
    return LEAF_EXIT;
  }

  complete(ctx: LeafContext): void {
    this.completeCalls++;
    ctx.regs.setHalves(R10, ctx.run.getU64Lo(48), ctx.run.getU64Hi(48));
  }
}

interface Bed {
  readonly regs: RegisterFile;
  readonly run: ExitBuffer;
  readonly events: VmmEvent[];
  readonly d: LeafDispatcher;
}

function bed(plugins: LeafPlugin[]): Bed {
  const registry = new LeafRegistry(SHAPES);
  registry.registerAll(plugins);
  registry.freeze();
  const regs = new RegisterFile();
  const run = new ExitBuffer();
  const events: VmmEvent[] = [];
  const ctx: LeafContext = { regs, run, sharedBit: 2 ** 47, gpaw: 48, vcpuIndex: 0 };
  return { regs, run, events, d: new LeafDispatcher(registry, ctx, (e) => events.push(e)) };
}

/** A standard TDVMCALL as the argument block holds it after the exit: R10 = 0, R11 = leaf. */
function tdvmcall(regs: RegisterFile, leaf: bigint, r12 = 0n): void {
  regs.set(R10, 0n);
  regs.set(R11, leaf);
  regs.set(R12, r12);
}

describe(LeafDispatcher, () => {
  describe('.dispatch', () => {
    describe('having an unregistered leaf', () => {
      it.each([
        ['an unknown GHCI leaf', 0x12345n],
        ['WBINVD (54), which KVM does not handle', 54n],
        ['Service (0x10005)', 0x10005n],
        ['a registered leaf number with R11 bits 63:32 set', 0x1_0001_0002n],
        ['R11 = 2^63 | registered leaf', (1n << 63n) | 0x10002n],
      ])('should answer %s with R10 = SUBFUNC_UNSUPPORTED and no exit', (_what, leaf) => {
        const b = bed([new ExitLeaf()]);
        b.run.bytes.fill(0xab);
        tdvmcall(b.regs, leaf);
        expect(b.d.dispatch()).toBe(0);
        expect(b.regs.get(R10)).toBe(SUBFUNC_UNSUPPORTED);
        expect(b.regs.get(R11)).toBe(leaf);
        expect(b.d.pending).toBeUndefined();
        expect(b.run.bytes.every((x) => x === 0xab)).toBe(true);
      });
    });

    describe('having a registered leaf that exits', () => {
      it('should return the exit reason, write exit_reason at offset 8 and the key itself, and zero the rest of the header', () => {
        const p = new ExitLeaf();
        const b = bed([p]);
        b.run.bytes.fill(0xff);
        tdvmcall(b.regs, 0x10002n, 0x1000n);
        expect(b.d.dispatch()).toBe(KVM_EXIT_TDX);
        expect(p.kernelCalls).toBe(1);
        expect(b.run.getU32(8)).toBe(KVM_EXIT_TDX);
        expect(b.run.getU64(32)).toBe(0n); // tdx.flags: zeroed although the plugin wrote it
        expect(b.run.getU64(40)).toBe(0x10002n); // tdx.nr: the key, not what the plugin wrote
        expect(b.run.getU64(48)).toBe(SUBFUNC_UNSUPPORTED); // plugin field
        expect(b.run.getU64(56)).toBe(0x1000n); // plugin field
        expect(b.run.bytes[64]).toBe(0xff); // nothing beyond the plugin's fields is touched
        expect(b.run.bytes[0]).toBe(0xff);
        expect(b.d.pending?.plugin).toBe(p);
      });

      it('should write a 4-byte key without touching the next field', () => {
        const fatal: LeafPlugin = {
          meta: { name: 'fatal', namespace: 'ghci', leaf: 0x10003, exit: { reason: KVM_EXIT_SYSTEM_EVENT, key: 7, layout: { ndata: { offset: 36, size: 4 } } } },
          kernel(ctx) {
            ctx.run.setU32(36, 16);
            return LEAF_EXIT;
          },
        };
        const b = bed([fatal]);
        b.run.bytes.fill(0xff);
        tdvmcall(b.regs, 0x10003n);
        expect(b.d.dispatch()).toBe(KVM_EXIT_SYSTEM_EVENT);
        expect(b.run.getU32(8)).toBe(24);
        expect(b.run.getU32(32)).toBe(7);
        expect(b.run.getU32(36)).toBe(16);
      });

      it('should leave R10 alone until the completion runs', () => {
        const b = bed([new ExitLeaf()]);
        tdvmcall(b.regs, 0x10002n);
        b.d.dispatch();
        expect(b.regs.get(R10)).toBe(0n);
      });
    });

    describe('having a registered leaf answered in the kernel', () => {
      it('should return 0 and keep what the kernel half wrote', () => {
        const k: LeafPlugin = {
          meta: { name: 'k', namespace: 'ghci', leaf: 10 },
          kernel(ctx) {
            ctx.regs.set(R12, 0x1234n);
            return LEAF_RESUME;
          },
        };
        const b = bed([k]);
        b.run.setU32(8, 99);
        tdvmcall(b.regs, 10n);
        expect(b.d.dispatch()).toBe(0);
        expect(b.regs.get(R12)).toBe(0x1234n);
        expect(b.regs.get(R10)).toBe(0n);
        expect(b.run.getU32(8)).toBe(99);
        expect(b.d.pending).toBeUndefined();
      });

      it('should not exit when a plugin without a declared exit returns LEAF_EXIT', () => {
        const b = bed([{ meta: { name: 'k', namespace: 'ghci', leaf: 10 }, kernel: () => LEAF_EXIT }]);
        b.run.setU32(8, 99);
        tdvmcall(b.regs, 10n);
        expect(b.d.dispatch()).toBe(0);
        expect(b.run.getU32(8)).toBe(99);
        expect(b.d.pending).toBeUndefined();
      });

      it('should not exit when an exit plugin decides to resume', () => {
        const p: LeafPlugin = {
          meta: { name: 'p', namespace: 'ghci', leaf: 0x10002, exit: { reason: 40, key: 0x10002, layout: {} } },
          kernel(ctx) {
            ctx.regs.set(R10, INVALID_OPERAND);
            return LEAF_RESUME;
          },
          complete: () => {
            throw new Error('must not run');
          },
        };
        const b = bed([p]);
        tdvmcall(b.regs, 0x10002n);
        expect(b.d.dispatch()).toBe(0);
        expect(b.regs.get(R10)).toBe(INVALID_OPERAND);
        b.d.complete();
        expect(b.events).toEqual([]);
      });
    });

    describe('having a kernel half that throws', () => {
      it('should give the guest INVALID_OPERAND, resume, and emit a plugin-error event', () => {
        const boom = new Error('boom');
        const p: LeafPlugin = {
          meta: { name: 'broken', namespace: 'ghci', leaf: 0x10002, exit: { reason: 40, key: 0x10002, layout: {} } },
          kernel: () => {
            throw boom;
          },
        };
        const b = bed([p]);
        b.run.setU32(8, 0);
        tdvmcall(b.regs, 0x10002n);
        expect(b.d.dispatch()).toBe(0);
        expect(b.regs.get(R10)).toBe(INVALID_OPERAND);
        expect(b.events).toEqual([{ type: 'plugin-error', plugin: 'broken', half: 'kernel', error: boom }]);
        expect(b.run.getU32(8)).toBe(0);
        expect(b.d.pending).toBeUndefined();
      });
    });
  });

  describe('.complete', () => {
    it('should run the outstanding completion exactly once', () => {
      const p = new ExitLeaf();
      const b = bed([p]);
      tdvmcall(b.regs, 0x10002n);
      b.d.dispatch();
      b.run.setU64(48, 0x1n); // userspace reply: RETRY
      b.d.complete();
      expect(p.completeCalls).toBe(1);
      expect(b.regs.get(R10)).toBe(1n);
      expect(b.d.pending).toBeUndefined();
      b.regs.set(R10, 0n);
      b.d.complete();
      expect(p.completeCalls).toBe(1);
      expect(b.regs.get(R10)).toBe(0n);
    });

    it('should do nothing when no exit is outstanding', () => {
      const p = new ExitLeaf();
      const b = bed([p]);
      b.regs.set(R10, 5n);
      b.d.complete();
      expect(p.completeCalls).toBe(0);
      expect(b.regs.get(R10)).toBe(5n);
    });

    it('should report a completion that throws and give the guest INVALID_OPERAND', () => {
      const boom = new Error('late');
      const p: LeafPlugin = {
        meta: { name: 'late', namespace: 'ghci', leaf: 0x10002, exit: { reason: 40, key: 0x10002, layout: {} } },
        kernel: () => LEAF_EXIT,
        complete: () => {
          throw boom;
        },
      };
      const b = bed([p]);
      tdvmcall(b.regs, 0x10002n);
      b.d.dispatch();
      b.d.complete();
      expect(b.regs.get(R10)).toBe(INVALID_OPERAND);
      expect(b.events).toEqual([{ type: 'plugin-error', plugin: 'late', half: 'complete', error: boom }]);
      expect(b.d.pending).toBeUndefined();
    });

    it('should leave registers alone for an exit plugin without a completion', () => {
      const p: LeafPlugin = { meta: { name: 'nocomp', namespace: 'ghci', leaf: 0x10003, exit: { reason: 24, key: 7, layout: {} } }, kernel: () => LEAF_EXIT };
      const b = bed([p]);
      tdvmcall(b.regs, 0x10003n, 0x55n);
      expect(b.d.dispatch()).toBe(24);
      b.d.complete();
      expect(b.regs.get(R10)).toBe(0n);
      expect(b.regs.get(R12)).toBe(0x55n);
      expect(b.d.pending).toBeUndefined();
    });

    it('should return 0 when the completion resumes the guest', () => {
      const b = bed([new ExitLeaf()]);
      tdvmcall(b.regs, 0x10002n);
      b.d.dispatch();
      expect(b.d.complete()).toBe(0);
    });

    describe('having a completion that exits again (a chunked request such as MapGPA)', () => {
      /** Exits with KVM_EXIT_HYPERCALL nr 12 twice: the completion of the first chunk fills the second. */
      function chunked(): { plugin: LeafPlugin; chunks: bigint[] } {
        const chunks: bigint[] = [];
        let next = 0;
        const plugin: LeafPlugin = {
          meta: { name: 'chunks', namespace: 'ghci', leaf: 0x10001, exit: { reason: KVM_EXIT_HYPERCALL, key: 12, layout: { arg0: { offset: 40, size: 8 }, ret: { offset: 88, size: 8 } } } },
          kernel: (ctx) => {
            next = 0;
            ctx.run.setU64(40, 0x1000n);
            return LEAF_EXIT;
          },
          complete: (ctx) => {
            chunks.push(ctx.run.getU64(40));
            if (ctx.run.getU64(88) !== 0n) return -22;
            if (++next === 2) return LEAF_RESUME;
            ctx.run.setU64(32, 0xdeadn); // scribbled header: the dispatcher rewrites it
            ctx.run.setU64(40, 0x2000n);
            return LEAF_EXIT;
          },
        };
        return { plugin, chunks };
      }

      it('should return the exit reason, rewrite the header and keep the plugin pending', () => {
        const { plugin, chunks } = chunked();
        const b = bed([plugin]);
        tdvmcall(b.regs, 0x10001n);
        expect(b.d.dispatch()).toBe(KVM_EXIT_HYPERCALL);
        b.run.setU32(8, 0);
        expect(b.d.complete()).toBe(KVM_EXIT_HYPERCALL);
        expect(b.run.getU32(8)).toBe(KVM_EXIT_HYPERCALL);
        expect(b.run.getU64(32)).toBe(12n);
        expect(b.run.getU64(40)).toBe(0x2000n);
        expect(b.d.pending?.plugin).toBe(plugin);
        expect(b.d.complete()).toBe(0);
        expect(chunks).toEqual([0x1000n, 0x2000n]);
        expect(b.d.pending).toBeUndefined();
      });

      it('should return a negative errno when the completion rejects the reply, and drop the exit', () => {
        const { plugin } = chunked();
        const b = bed([plugin]);
        tdvmcall(b.regs, 0x10001n);
        b.d.dispatch();
        b.run.setU64(88, 5n);
        expect(b.d.complete()).toBe(-22);
        expect(b.d.pending).toBeUndefined();
      });
    });
  });

  describe('.cancel', () => {
    it('should drop the outstanding completion', () => {
      const p = new ExitLeaf();
      const b = bed([p]);
      tdvmcall(b.regs, 0x10002n);
      b.d.dispatch();
      b.d.cancel();
      b.d.complete();
      expect(p.completeCalls).toBe(0);
    });
  });

  describe('.dispatchHypercall', () => {
    it.each([
      ['an unknown number', 0x99n],
      ['KVM_HC_MAP_GPA_RANGE (12) with no plugin', 12n],
      ['a number with bits 63:32 set', 0x1_0000_0005n],
    ])('should answer %s with R10 = -KVM_ENOSYS (0xFFFFFFFFFFFFFC18), never a GHCI status', (_what, nr) => {
      const b = bed([{ meta: { name: 'hc5', namespace: 'hypercall', leaf: 5 }, kernel: () => 0 }]);
      b.regs.set(R10, nr);
      expect(b.d.dispatchHypercall()).toBe(0);
      expect(b.regs.get(R10)).toBe(MINUS_KVM_ENOSYS);
      expect(b.regs.get(R10)).toBe(BigInt.asUintN(64, -1000n));
    });

    it('should run a registered hypercall plugin and write hypercall.nr as the key', () => {
      const p: LeafPlugin = {
        meta: { name: 'map-gpa', namespace: 'hypercall', leaf: 12, exit: { reason: KVM_EXIT_HYPERCALL, key: 12, layout: { args: { offset: 40, size: 48 } } } },
        kernel(ctx) {
          ctx.run.setU64Halves(40, ctx.regs.lo(R11), ctx.regs.hi(R11));
          return LEAF_EXIT;
        },
      };
      const b = bed([p]);
      b.run.bytes.fill(0xee);
      b.regs.set(R10, 12n);
      b.regs.set(R11, 0x200000n);
      expect(b.d.dispatchHypercall()).toBe(KVM_EXIT_HYPERCALL);
      expect(b.run.getU32(8)).toBe(3);
      expect(b.run.getU64(32)).toBe(12n);
      expect(b.run.getU64(40)).toBe(0x200000n);
      expect(b.d.pending?.plugin).toBe(p);
    });

    it('should not route a hypercall number to a ghci leaf of the same number', () => {
      const b = bed([{ meta: { name: 'ghci12', namespace: 'ghci', leaf: 12 }, kernel: () => 0 }]);
      b.regs.set(R10, 12n);
      b.d.dispatchHypercall();
      expect(b.regs.get(R10)).toBe(MINUS_KVM_ENOSYS);
    });
  });

  describe('.hooks', () => {
    it('should report each dispatch and completion when hooks are set', () => {
      const p = new ExitLeaf();
      const b = bed([p, { meta: { name: 'hc5', namespace: 'hypercall', leaf: 5 }, kernel: () => 0 }]);
      const onDispatch = vi.fn<NonNullable<LeafHooks['onDispatch']>>();
      const onComplete = vi.fn<NonNullable<LeafHooks['onComplete']>>();
      b.d.hooks = { onDispatch, onComplete };

      tdvmcall(b.regs, 0x777n);
      b.d.dispatch();
      tdvmcall(b.regs, 0x10002n);
      b.d.dispatch();
      b.d.complete();
      b.regs.set(R10, 5n);
      b.d.dispatchHypercall();
      b.regs.set(R10, 6n);
      b.d.dispatchHypercall();

      expect(onDispatch.mock.calls.map(([c, ns, leaf, plug, reason]) => [c, ns, leaf, plug?.meta.name, reason])).toEqual([
        [b.d.ctx, 'ghci', 0x777, undefined, 0],
        [b.d.ctx, 'ghci', 0x10002, 'test.exit', KVM_EXIT_TDX],
        [b.d.ctx, 'hypercall', 5, 'hc5', 0],
        [b.d.ctx, 'hypercall', 6, undefined, 0],
      ]);
      expect(onComplete).toHaveBeenCalledTimes(1);
      expect(onComplete).toHaveBeenCalledWith(b.d.ctx, p);
    });

    it('should report the guest-visible result already in the registers when the hook runs', () => {
      const b = bed([]);
      let seen = -1n;
      b.d.hooks = { onDispatch: (ctx) => (seen = ctx.regs.get(R10)) };
      tdvmcall(b.regs, 0x777n);
      b.d.dispatch();
      expect(seen).toBe(SUBFUNC_UNSUPPORTED);
    });

    it('should report a throwing kernel half as a resume with exit reason 0', () => {
      const b = bed([{ meta: { name: 'x', namespace: 'ghci', leaf: 1 }, kernel: () => { throw new Error('x'); } }]);
      const onDispatch = vi.fn<NonNullable<LeafHooks['onDispatch']>>();
      b.d.hooks = { onDispatch };
      tdvmcall(b.regs, 1n);
      b.d.dispatch();
      expect(onDispatch.mock.calls[0]?.[4]).toBe(0);
      expect(onDispatch.mock.calls[0]?.[3]?.meta.name).toBe('x');
    });

    it('should work with hooks that implement only one callback', () => {
      const b = bed([new ExitLeaf()]);
      b.d.hooks = {};
      tdvmcall(b.regs, 0x10002n);
      expect(b.d.dispatch()).toBe(KVM_EXIT_TDX);
      b.d.complete();
      expect(b.regs.get(R10)).toBe(SUBFUNC_UNSUPPORTED);
    });
  });

  it('should expose the context it was built with to plugins', () => {
    const seen: LeafContext[] = [];
    const b = bed([{ meta: { name: 'k', namespace: 'ghci', leaf: 1 }, kernel: (c) => { seen.push(c); return 0; } }]);
    tdvmcall(b.regs, 1n);
    b.d.dispatch();
    tdvmcall(b.regs, 1n);
    b.d.dispatch();
    expect(seen[0]).toBe(b.d.ctx);
    expect(seen[1]).toBe(b.d.ctx);
    expect(b.d.ctx.regs).toBe(b.regs);
    expect(b.d.ctx.regs.get(R13)).toBe(0n);
  });
});
