import { createHash } from 'node:crypto';
import { ContainerModule, injectable } from 'inversify';
import { LEAF_EXIT, LEAF_PLUGIN, VcpuEmulation, type LeafContext, type LeafPlugin, type UserExitContext } from '@seamkit/core';
import { fromGenerator } from '@seamkit/seam-cpu';
import { R10, R11, R12, TDVMCALL_STATUS_ERROR_HI, TDVMCALL_STATUS_INVALID_OPERAND_LO } from '@seamkit/seam-cpu/abi';
import { ghci } from '@seamkit/tdx-module';
import type { Scenario } from './Scenario.js';

/** R10 value of the demo vendor leaf ('SK' + 1, in the vendor range). */
export const DEMO_VENDOR_LEAF = 0x534b_0001;
/** The demo leaf's own exit reason. */
export const KVM_EXIT_SEAMKIT_DEMO = 0x5300;

/**
 * A vendor leaf with an exit of its own (not KVM_EXIT_TDX): the guest passes a GPA and a length
 * of shared memory in R11/R12; the VMM hashes that memory (SHA-384) and returns the first 8
 * bytes of the digest in R11.
 */
@injectable()
export class DemoDigestLeaf implements LeafPlugin {
  /** Metadata: vendor namespace, its own exit reason and struct. */
  readonly meta = {
    name: 'seamkit.demo-digest',
    namespace: 'vendor',
    leaf: DEMO_VENDOR_LEAF,
    exit: {
      reason: KVM_EXIT_SEAMKIT_DEMO,
      layout: { ret: { offset: 32, size: 8 }, gpa: { offset: 40, size: 8 }, len: { offset: 48, size: 8 }, digest: { offset: 56, size: 8 } },
    },
  } as const;

  /** Kernel half: the region must be shared and at most 4 KiB; the shared bit is stripped. */
  kernel(ctx: LeafContext): number {
    const r = ctx.regs;
    const bitHi = ctx.sharedBit / 0x1_0000_0000;
    if ((r.hi(R11) & bitHi) === 0 || r.hi(R12) !== 0 || r.lo(R12) === 0 || r.lo(R12) > 4096) {
      r.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
      return 0;
    }
    const run = ctx.run;
    run.setU64Halves(32, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
    run.setU64Halves(40, r.lo(R11), r.hi(R11) & ~bitHi);
    run.setU64Halves(48, r.lo(R12), 0);
    run.setU64Halves(56, 0, 0);
    return LEAF_EXIT;
  }

  /** Userspace half: hash the guest memory. */
  user(ctx: UserExitContext): number {
    const gpa = ctx.run.getU64Number(40);
    const len = ctx.run.getU64Number(48);
    if (!ctx.memory.contains(gpa, len)) return VcpuEmulation.HANDLED; // ret stays INVALID_OPERAND
    const bytes = new Uint8Array(len);
    ctx.memory.read(gpa, bytes);
    ctx.run.setU64(56, createHash('sha384').update(bytes).digest().readBigUInt64LE(0));
    ctx.run.setU64(32, 0n);
    return VcpuEmulation.HANDLED;
  }

  /** Completion: R10 = ret, R11 = digest. */
  complete(ctx: LeafContext): void {
    ctx.regs.setHalves(R10, ctx.run.getU64Lo(32), ctx.run.getU64Hi(32));
    ctx.regs.setHalves(R11, ctx.run.getU64Lo(56), ctx.run.getU64Hi(56));
  }
}

/** DI module of the demo vendor leaf. */
export const demoVendorModule = new ContainerModule(({ bind }) => {
  bind(LEAF_PLUGIN).to(DemoDigestLeaf).inSingletonScope();
});

/** The guest calls the vendor leaf twice: once right, once with a private GPA (refused in the kernel). */
export const vendorLeaf: Scenario = {
  name: 'vendor-leaf',
  description: 'a vendor-specific leaf with its own exit reason and struct, registered as a plugin',
  modules: [demoVendorModule],
  guest: fromGenerator(function* (cpu) {
    const buf = 0x40_0000 + cpu.mem.sharedBit;
    yield* ghci.mapGpa(cpu, buf, 0x1000);
    cpu.mem.write(buf, Buffer.from('hello from the TD', 'ascii'));
    yield* ghci.kvmHypercall(cpu, BigInt(DEMO_VENDOR_LEAF), BigInt(buf), 17n);
    yield* ghci.kvmHypercall(cpu, BigInt(DEMO_VENDOR_LEAF), 0x40_0000n, 17n);
  }),
};
