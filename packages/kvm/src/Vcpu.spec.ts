import { describe, expect, it } from 'vitest';
import { LeafRegistry, type LeafPlugin, type VmmEvent } from '@seamkit/core';
import {
  EXIT_REASON_TRIPLE_FAULT, fromGenerator, R10, R11, R12, R8, RDX, SeamkitError, type GuestGenerator, type GuestProgram,
} from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { LINUX_EXIT_SHAPES } from './exitShapes.js';
import { Kvm } from './Kvm.js';
import { GetTdVmCallInfoLeaf } from './leaves/GetTdVmCallInfoLeaf.js';
import { KVM_MEM_GUEST_MEMFD, KVM_X86_TDX_VM } from './uapi/tdx.js';
import type { Vcpu } from './Vcpu.js';
import type { Vm } from './Vm.js';

const SUBFUNC_UNSUPPORTED = 0x8000000000000003n;

function ioctlError(fn: () => unknown): SeamkitError {
  try {
    fn();
  } catch (e) {
    if (SeamkitError.is(e)) return e;
    throw e;
  }
  throw new Error('the ioctl did not fail');
}

/** A TD built with the QEMU ioctl sequence, with the given leaves registered. */
function boot(guest: GuestProgram, plugins: LeafPlugin[] = [new GetTdVmCallInfoLeaf()], events: VmmEvent[] = []): { vm: Vm; vcpu: Vcpu } {
  const registry = new LeafRegistry(LINUX_EXIT_SHAPES);
  registry.registerAll(plugins);
  registry.freeze();
  const vm = new Kvm().createVm(KVM_X86_TDX_VM, { registry, emit: (e) => events.push(e) });
  vm.setUserMemoryRegion2({ slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0, memorySize: 1 << 20 });
  vm.tdxInitVm();
  vm.setGuestProgram(guest);
  const vcpu = vm.createVcpu(0);
  vcpu.tdxInitVcpu();
  vm.tdxFinalizeVm();
  return { vm, vcpu };
}

const gen = (fn: GuestGenerator): GuestProgram => fromGenerator(fn);

describe('Vcpu', () => {
  describe('.tdxInitVcpu (KVM_TDX_INIT_VCPU)', () => {
    it('should refuse a second init and an init after finalization with EINVAL', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.tdxInitVm();
      const v = vm.createVcpu(0);
      v.tdxInitVcpu();
      const tdvpr = v.tdvpr;
      expect(ioctlError(() => v.tdxInitVcpu()).errno).toBe(22);
      expect(v.tdvpr).toBe(tdvpr);
      vm.tdxFinalizeVm();
      expect(ioctlError(() => v.tdxInitVcpu()).errno).toBe(22);
    });

    it('should have no dispatcher before init (EINVAL) and one with the TD facts after', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.tdxInitVm({ gpaw: 52 });
      const v = vm.createVcpu(0);
      expect(ioctlError(() => v.dispatcher).errno).toBe(22);
      v.tdxInitVcpu();
      expect(v.dispatcher.ctx).toMatchObject({ regs: v.args, run: v.kvmRun, sharedBit: 2 ** 51, gpaw: 52, vcpuIndex: 0 });
    });
  });

  describe('.run (KVM_RUN)', () => {
    it('should fail with EINVAL before KVM_TDX_FINALIZE_VM without entering the guest', () => {
      let steps = 0;
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.tdxInitVm();
      vm.setGuestProgram(() => ({ step: () => { steps++; return EXIT_REASON_TRIPLE_FAULT; } }));
      const v = vm.createVcpu(0);
      expect(ioctlError(() => v.run()).errno).toBe(22);
      v.tdxInitVcpu();
      const e = ioctlError(() => v.run());
      expect(e.code).toBe('SEAMKIT_ERR_KVM_STATE');
      expect(e.errno).toBe(22);
      expect(steps).toBe(0);
      vm.tdxFinalizeVm();
      expect(v.run()).toBe(8);
      expect(steps).toBe(1);
    });

    it('should return KVM_EXIT_SHUTDOWN (8) when the guest program ends, and again on every later run', () => {
      const { vcpu } = boot(gen(function* () { /* nothing */ }));
      expect(vcpu.run()).toBe(8);
      expect(vcpu.kvmRun.exitReason).toBe(8);
      expect(vcpu.run()).toBe(8);
    });

    it('should turn a guest that throws into a triple fault (KVM_EXIT_SHUTDOWN), not an exception in the VMM', () => {
      const { vcpu } = boot(gen(function* () {
        yield* ghci.tdvmcall(undefined as never, 1);
      }));
      expect(vcpu.run()).toBe(8);
    });

    it('should answer every unregistered leaf in the kernel: one run, no exit but the final shutdown', () => {
      const seen: bigint[] = [];
      const { vcpu } = boot(gen(function* (cpu) {
        for (const leaf of [0x12345, 54, 0x10001, 0x10002, 0x10003, 0x10004, 0x10005, 10, 30, 48]) seen.push(yield* ghci.tdvmcall(cpu, leaf));
      }));
      expect(vcpu.run()).toBe(8);
      expect(seen).toEqual(Array(10).fill(SUBFUNC_UNSUPPORTED));
    });

    it('should show the VMM only the GPRs the guest exposed in its RCX bitmap', () => {
      let exposedBack = -1n;
      const { vcpu } = boot(gen(function* (cpu) {
        cpu.regs.set(R8, 0x5ec12e7n);
        cpu.regs.set(RDX, 0xd0d0n);
        // Bitmap R10..R15 only (bits 10..15): R8 and RDX stay private.
        yield* ghci.tdvmcall(cpu, 0x10000, { r12: 1n }, 0xfc00);
        exposedBack = cpu.regs.get(R8);
      }));
      expect(vcpu.run()).toBe(40);
      expect(vcpu.args.get(R8)).toBe(0n);
      expect(vcpu.args.get(RDX)).toBe(0n);
      expect(vcpu.args.get(R12)).toBe(1n);
      vcpu.args.set(R8, 0xbadn); // the VMM cannot write what was not exposed either
      expect(vcpu.run()).toBe(8);
      expect(exposedBack).toBe(0x5ec12e7n);
    });

    describe('having immediate_exit set', () => {
      it('should fail with EINTR without entering the guest, and run normally once cleared', () => {
        let steps = 0;
        const { vcpu } = boot(() => ({ step: () => { steps++; return EXIT_REASON_TRIPLE_FAULT; } }));
        vcpu.kvmRun.immediateExit = 1;
        const before = vcpu.kvmRun.bytes.slice();
        const e = ioctlError(() => vcpu.run());
        expect(e.code).toBe('SEAMKIT_ERR_KVM_STATE');
        expect(e.errno).toBe(4);
        expect(steps).toBe(0);
        expect(vcpu.kvmRun.bytes).toEqual(before);
        vcpu.kvmRun.immediateExit = 0;
        expect(vcpu.run()).toBe(8);
        expect(steps).toBe(1);
      });

      it('should still complete the pending exit (api.rst: "complete pending operations without allowing any further instructions")', () => {
        const infos: ghci.TdVmCallInfo[] = [];
        let after = 0;
        const { vcpu } = boot(gen(function* (cpu) {
          infos.push(yield* ghci.getTdVmCallInfo(cpu, 1));
          after++;
        }));
        expect(vcpu.run()).toBe(40);
        vcpu.kvmRun.setU64(64, 0x42n); // userspace's reply: r11
        vcpu.kvmRun.immediateExit = 1;
        expect(ioctlError(() => vcpu.run()).errno).toBe(4);
        expect(after).toBe(0);
        expect(vcpu.dispatcher.pending).toBeUndefined();
        expect(vcpu.args.get(R11)).toBe(0x42n);
        expect(vcpu.args.get(R10)).toBe(0n);
        // The completion ran once: a later change of kvm_run no longer reaches the guest.
        vcpu.kvmRun.setU64(64, 0x99n);
        vcpu.kvmRun.immediateExit = 0;
        expect(vcpu.run()).toBe(8);
        expect(after).toBe(1);
        expect(infos[0]).toMatchObject({ status: 0n, r11: 0x42n });
      });
    });
  });
});
