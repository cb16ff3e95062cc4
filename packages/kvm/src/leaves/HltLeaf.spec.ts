import { describe, expect, it } from 'vitest';
import { createVmm, VcpuEmulation, VcpuRunState } from '@seamkit/core';
import { fromGenerator, R10, SeamkitError, type GuestCpu, type GuestGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { kvmModule } from '../kvmModule.js';
import { KVM_EXIT_INTR, KVM_EXIT_IO, KVM_EXIT_SHUTDOWN } from '../uapi/exits.js';
import {
  KVM_MP_STATE_AP_RESET_HOLD, KVM_MP_STATE_HALTED, KVM_MP_STATE_INIT_RECEIVED, KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_SIPI_RECEIVED,
  KVM_MP_STATE_UNINITIALIZED,
} from '../uapi/x86.js';
import type { Vm } from '../Vm.js';

/** MSI address/data for a fixed interrupt `vector` to APIC ID `apicId` (QEMU's layout). */
const msi = (apicId: number, vector: number): { addressLo: number; data: number } => ({ addressLo: 0xfee0_0000 | (apicId << 12), data: vector });

function intr(fn: () => unknown): SeamkitError {
  try {
    fn();
  } catch (err) {
    if (SeamkitError.is(err)) return err;
    throw err;
  }
  throw new Error('KVM_RUN did not fail');
}

function boot(fn: GuestGenerator, vcpus = 1): { vm: Vm; run: (i?: number) => number } {
  const vmm = createVmm({ modules: [kvmModule()] });
  const td = vmm.createTd({ guest: fromGenerator(fn), memoryBytes: 1 << 20, vcpus });
  return { vm: td.memory as Vm, run: (i = 0) => td.vcpus[i]!.run() };
}

describe('HltLeaf (TDVMCALL<Instruction.HLT>, 12)', () => {
  it('should halt with nothing pending: KVM_RUN fails with EINTR and exit_reason KVM_EXIT_INTR, mp_state HALTED, until userspace sets RUNNABLE', () => {
    const seen: bigint[] = [];
    const { vm, run } = boot(function* (cpu) {
      seen.push(yield* ghci.hlt(cpu));
      seen.push(cpu.regs.get(R10));
    });
    const vcpu = vm.vcpus[0]!;
    expect(vcpu.getMpState()).toBe(KVM_MP_STATE_RUNNABLE);
    const err = intr(run);
    expect([err.code, err.errno]).toEqual(['SEAMKIT_ERR_KVM_INTR', 4]);
    expect(vcpu.kvmRun.exitReason).toBe(KVM_EXIT_INTR);
    expect(vcpu.getMpState()).toBe(KVM_MP_STATE_HALTED);
    expect(seen).toEqual([]);
    // Still nothing to wake it.
    expect(intr(run).errno).toBe(4);
    vcpu.setMpState(KVM_MP_STATE_RUNNABLE);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0n, 0n]); // the guest continues after its HLT, R10 = SUCCESS
  });

  it('should wake a halted vCPU on KVM_SIGNAL_MSI (mp_state RUNNABLE at once) and deliver the vector into its virtual APIC', () => {
    const taken: number[] = [];
    const { vm, run } = boot(function* (cpu) {
      taken.push(cpu.apic.takeInterrupt());
      yield* ghci.hlt(cpu);
      taken.push(cpu.apic.takeInterrupt(), cpu.apic.takeInterrupt());
    });
    const vcpu = vm.vcpus[0]!;
    expect(intr(run).errno).toBe(4);
    expect(vm.signalMsi(msi(0, 0x41))).toBe(1);
    expect(vcpu.getMpState()).toBe(KVM_MP_STATE_RUNNABLE);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(taken).toEqual([-1, 0x41, -1]);
  });

  it('should not halt when an interrupt is already pending and not blocked (posted before the HLT, or in the virtual APIC)', () => {
    const seen: number[] = [];
    const { vm, run } = boot(function* (cpu: GuestCpu) {
      yield* ghci.ioWrite(cpu, 0x80, 1, 1); // sync with the VMM
      // The MSI was posted while the vCPU was out: it reached the virtual APIC at this entry.
      seen.push(cpu.apic.highestPending());
      yield* ghci.hlt(cpu); // RVI pending, R12 = 0: no halt
      seen.push(cpu.apic.takeInterrupt());
    });
    expect(run()).toBe(KVM_EXIT_IO);
    vm.signalMsi(msi(0, 0x30));
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0x30, 0x30]);
    expect(vm.vcpus[0]!.getMpState()).toBe(KVM_MP_STATE_RUNNABLE);
  });

  it('should halt with interrupts blocked (R12 = 1) even with one pending, and an MSI does not wake it', () => {
    const seen: number[] = [];
    const { vm, run } = boot(function* (cpu) {
      yield* ghci.ioWrite(cpu, 0x80, 1, 1);
      yield* ghci.hlt(cpu, true);
      seen.push(cpu.apic.takeInterrupt(), cpu.apic.takeInterrupt());
    });
    const vcpu = vm.vcpus[0]!;
    expect(run()).toBe(KVM_EXIT_IO);
    vm.signalMsi(msi(0, 0x30));
    expect(intr(run).errno).toBe(4);
    expect(vcpu.getMpState()).toBe(KVM_MP_STATE_HALTED);
    vm.signalMsi(msi(0, 0x31));
    expect(vcpu.getMpState()).toBe(KVM_MP_STATE_HALTED);
    expect(intr(run).errno).toBe(4);
    vcpu.setMpState(KVM_MP_STATE_RUNNABLE);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0x31, 0x30]);
  });

  it('should let a vCPU set to HALTED by userspace wait for an interrupt', () => {
    const { vm, run } = boot(function* (cpu) {
      yield* ghci.ioWrite(cpu, 0x80, 1, 1);
    });
    const vcpu = vm.vcpus[0]!;
    vcpu.setMpState(KVM_MP_STATE_HALTED);
    expect(intr(run).errno).toBe(4);
    vm.signalMsi(msi(0, 0x22));
    expect(vcpu.getMpState()).toBe(KVM_MP_STATE_RUNNABLE);
    expect(run()).toBe(KVM_EXIT_IO);
  });

  it('should pause the core run loop (EINTR) and run on after the wake-up', () => {
    const vmm = createVmm({ modules: [kvmModule()] });
    const td = vmm.createTd({
      guest: fromGenerator(function* (cpu) {
        yield* ghci.hlt(cpu);
      }),
      memoryBytes: 1 << 20,
      handlers: { [KVM_EXIT_SHUTDOWN]: () => VcpuEmulation.STOPPED },
    });
    const runner = td.runners[0]!;
    expect(intr(() => runner.run()).errno).toBe(4);
    expect(runner.state).toBe(VcpuRunState.PAUSED);
    (td.memory as Vm).signalMsi(msi(0, 0x40));
    expect(runner.run()).toBe(VcpuRunState.FINISHED);
  });
});

describe('Vcpu.getMpState / setMpState (KVM_GET_MP_STATE / KVM_SET_MP_STATE)', () => {
  it('should start an AP uninitialized and make it runnable at KVM_TDX_INIT_VCPU', () => {
    const { vm } = boot(function* () { /* nothing */ }, 2);
    expect(vm.vcpus.map((v) => v.getMpState())).toEqual([KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_RUNNABLE]);
  });

  it('should accept RUNNABLE, UNINITIALIZED, HALTED, AP_RESET_HOLD and refuse INIT/SIPI_RECEIVED and unknown states with EINVAL', () => {
    const { vm, run } = boot(function* () { /* nothing */ });
    const v = vm.vcpus[0]!;
    for (const s of [KVM_MP_STATE_UNINITIALIZED, KVM_MP_STATE_HALTED, KVM_MP_STATE_AP_RESET_HOLD, KVM_MP_STATE_RUNNABLE]) {
      v.setMpState(s);
      expect(v.getMpState()).toBe(s);
    }
    for (const s of [KVM_MP_STATE_INIT_RECEIVED, KVM_MP_STATE_SIPI_RECEIVED, 5, 10, -1]) {
      const err = intr(() => v.setMpState(s));
      expect([err.code, err.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', 22]);
      expect(v.getMpState()).toBe(KVM_MP_STATE_RUNNABLE);
    }
    // UNINITIALIZED never wakes on an interrupt (INIT is blocked for a TD).
    v.setMpState(KVM_MP_STATE_UNINITIALIZED);
    vm.signalMsi(msi(0, 0x40));
    expect(intr(run).errno).toBe(4);
    expect(v.getMpState()).toBe(KVM_MP_STATE_UNINITIALIZED);
  });
});
