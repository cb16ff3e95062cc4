import { describe, expect, it } from 'vitest';
import { ExitBuffer, LEAF_EXIT, LeafDispatcher, LeafRegistry, VcpuEmulation, type LeafPlugin, type UserExitContext } from '@seamkit/core';
import { fromGenerator, R10, R11, R12, R13, R14, R15, RegisterFile } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { LINUX_EXIT_SHAPES } from '../exitShapes.js';
import { Kvm } from '../Kvm.js';
import { KVM_MEM_GUEST_MEMFD, KVM_X86_TDX_VM } from '../uapi/tdx.js';
import { GetTdVmCallInfoLeaf } from './GetTdVmCallInfoLeaf.js';

const INVALID_OPERAND = 0x8000000000000000n;

/** An optional leaf handled in userspace, advertising R11 bit 1 (SetupEventNotifyInterrupt). */
const notify: LeafPlugin = {
  meta: { name: 'notify', namespace: 'ghci', leaf: 0x10004, tdvmcallInfoR11: 1 << 1, exit: { reason: 40, key: 0x10004, layout: { ret: { offset: 48, size: 8 } } } },
  kernel: () => LEAF_EXIT,
};

function setup(plugins: LeafPlugin[] = []): { regs: RegisterFile; run: ExitBuffer; d: LeafDispatcher; leaf: GetTdVmCallInfoLeaf; registry: LeafRegistry } {
  const leaf = new GetTdVmCallInfoLeaf();
  const registry = new LeafRegistry(LINUX_EXIT_SHAPES);
  registry.registerAll([leaf, ...plugins]);
  registry.freeze();
  const regs = new RegisterFile();
  const run = new ExitBuffer();
  const d = new LeafDispatcher(registry, { regs, run, sharedBit: 2 ** 47, gpaw: 48, vcpuIndex: 0 }, () => undefined);
  return { regs, run, d, leaf, registry };
}

/** The exposed registers of GetTdVmCallInfo(R12 = leaf), with junk in R13..R15 to catch missing writes. */
function call(regs: RegisterFile, leaf: bigint): void {
  regs.set(R10, 0n);
  regs.set(R11, 0x10000n);
  regs.set(R12, leaf);
  regs.set(R13, 0x1313n);
  regs.set(R14, 0x1414n);
  regs.set(R15, 0x1515n);
}

describe(GetTdVmCallInfoLeaf, () => {
  it('should declare leaf 0x10000 with a KVM_EXIT_TDX exit keyed by 0x10000 and the get_tdvmcall_info layout', () => {
    const { meta } = new GetTdVmCallInfoLeaf();
    expect(meta).toMatchObject({ namespace: 'ghci', leaf: 0x10000, exit: { reason: 40, key: 0x10000 } });
    expect(meta.exit.layout).toEqual({
      ret: { offset: 48, size: 8 }, leaf: { offset: 56, size: 8 }, r11: { offset: 64, size: 8 },
      r12: { offset: 72, size: 8 }, r13: { offset: 80, size: 8 }, r14: { offset: 88, size: 8 },
    });
  });

  describe('.kernel', () => {
    it('should answer leaf 0 in the kernel: R10 = SUCCESS, R11..R14 = 0, no exit', () => {
      const { regs, run, d } = setup();
      run.setU32(8, 0x77);
      call(regs, 0n);
      expect(d.dispatch()).toBe(0);
      expect([R10, R11, R12, R13, R14].map((r) => regs.get(r))).toEqual([0n, 0n, 0n, 0n, 0n]);
      expect(regs.get(R15)).toBe(0x1515n);
      expect(run.getU32(8)).toBe(0x77);
      expect(d.pending).toBeUndefined();
    });

    it('should exit with KVM_EXIT_TDX nr 0x10000 for leaf 1: ret preset SUCCESS, leaf 1 at 56, r11..r14 preset 0', () => {
      const { regs, run, d } = setup();
      run.bytes.fill(0xff);
      call(regs, 1n);
      expect(d.dispatch()).toBe(40);
      expect(run.getU32(8)).toBe(40);
      expect(run.getU64(32)).toBe(0n); // flags
      expect(run.getU64(40)).toBe(0x10000n); // nr
      expect(run.getU64(48)).toBe(0n); // ret
      expect(run.getU64(56)).toBe(1n); // leaf
      expect([64, 72, 80, 88].map((o) => run.getU64(o))).toEqual([0n, 0n, 0n, 0n]);
      expect(run.bytes[96]).toBe(0xff);
      expect(regs.get(R10)).toBe(0n);
    });

    it.each([2n, 0x1_0000_0000n, 0x1_0000_0001n, 1n << 63n])('should answer leaf %s with INVALID_OPERAND and no exit', (leaf) => {
      const { regs, d } = setup();
      call(regs, leaf);
      expect(d.dispatch()).toBe(0);
      expect(regs.get(R10)).toBe(INVALID_OPERAND);
      expect(d.pending).toBeUndefined();
    });
  });

  describe('.complete', () => {
    it('should copy ret to R10 and r11..r14 to R11..R14', () => {
      const { regs, run, d } = setup();
      call(regs, 1n);
      d.dispatch();
      run.setU64(48, 0x8000000000000000n);
      run.setU64(64, 0x11n);
      run.setU64(72, 0x12n);
      run.setU64(80, 0x13n);
      run.setU64(88, 0xffff_ffff_ffff_fff4n);
      d.complete();
      expect([R10, R11, R12, R13, R14].map((r) => regs.get(r))).toEqual([0x8000000000000000n, 0x11n, 0x12n, 0x13n, 0xffff_ffff_ffff_fff4n]);
      expect(regs.get(R15)).toBe(0x1515n);
    });

    it('should give the guest SUCCESS and zeros when userspace ignores the exit (presets)', () => {
      const { regs, d } = setup();
      call(regs, 1n);
      d.dispatch();
      d.complete();
      expect([R10, R11, R12, R13, R14].map((r) => regs.get(r))).toEqual([0n, 0n, 0n, 0n, 0n]);
    });
  });

  describe('.user', () => {
    it('should answer R11 with the optional-leaf bits of what is registered, SUCCESS, and r12..r14 untouched', () => {
      const { regs, run, d, leaf, registry } = setup([notify]);
      call(regs, 1n);
      d.dispatch();
      const ctx: UserExitContext = { run, vcpuIndex: 0, memory: { read: () => undefined, write: () => undefined, contains: () => false }, emit: () => undefined, registry };
      expect(leaf.user(ctx)).toBe(VcpuEmulation.HANDLED);
      expect(run.getU64(48)).toBe(0n);
      expect(run.getU64(64)).toBe(2n);
      expect([72, 80, 88].map((o) => run.getU64(o))).toEqual([0n, 0n, 0n]);
      d.complete();
      expect(regs.get(R11)).toBe(2n);
    });
  });

  describe('in a running TD', () => {
    it('should answer leaf 0 without an exit and leaf 1 through userspace, as the guest sees it', () => {
      const registry = new LeafRegistry(LINUX_EXIT_SHAPES);
      const leaf = new GetTdVmCallInfoLeaf();
      registry.registerAll([leaf, notify]);
      registry.freeze();
      const vm = new Kvm().createVm(KVM_X86_TDX_VM, { registry });
      vm.setUserMemoryRegion2({ slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0, memorySize: 1 << 20 });
      vm.tdxInitVm();
      const seen: ghci.TdVmCallInfo[] = [];
      vm.setGuestProgram(fromGenerator(function* (cpu) {
        // Leaf 0 with junk in R13/R14: the kernel answer zeroes R11..R14.
        const status = yield* ghci.tdvmcall(cpu, 0x10000, { r12: 0n, r13: 0x1313n, r14: 0x1414n });
        const r = cpu.regs;
        seen.push({ status, r11: r.get(R11), r12: r.get(R12), r13: r.get(R13), r14: r.get(R14) });
        seen.push(yield* ghci.getTdVmCallInfo(cpu, 1));
        seen.push(yield* ghci.getTdVmCallInfo(cpu, 7));
      }));
      const v = vm.createVcpu(0);
      v.tdxInitVcpu();
      vm.tdxFinalizeVm();
      expect(v.run()).toBe(40);
      expect(v.kvmRun.tdxNr).toBe(0x10000);
      expect(v.kvmRun.getU64(56)).toBe(1n);
      leaf.user({ run: v.kvmRun, vcpuIndex: 0, memory: vm, emit: () => undefined, registry });
      expect(v.run()).toBe(8);
      expect(seen).toEqual([
        { status: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n },
        { status: 0n, r11: 2n, r12: 0n, r13: 0n, r14: 0n },
        { status: INVALID_OPERAND, r11: 0x10000n, r12: 7n, r13: 0n, r14: 0n },
      ]);
    });
  });
});
