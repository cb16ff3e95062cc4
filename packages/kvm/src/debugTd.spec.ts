import { describe, expect, it } from 'vitest';
import { createVmm } from '@seamkit/core';
import { fromGenerator, R12, RBP, SeamkitError } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { Kvm, type KvmOptions } from './Kvm.js';
import { kvmModule } from './kvmModule.js';
import { KVM_X86_TDX_VM } from './uapi/tdx.js';
import type { KvmRegs, Vcpu } from './Vcpu.js';
import type { Vm } from './Vm.js';

const DEBUG = 1n;
const SEPT_VE_DISABLE = 1n << 28n;

describe('KVM_TDX_INIT_VM and ATTRIBUTES.DEBUG', () => {
  it('should refuse DEBUG with EINVAL, as Linux 6.16 does (KVM_SUPPORTED_TDX_TD_ATTRS = SEPT_VE_DISABLE)', () => {
    const vm = new Kvm().createVm(KVM_X86_TDX_VM);
    let err: unknown;
    try {
      vm.tdxInitVm({ attributes: SEPT_VE_DISABLE | DEBUG });
    } catch (e) {
      err = e;
    }
    expect(SeamkitError.is(err) && err.code).toBe('SEAMKIT_ERR_KVM_ARG');
    expect((err as SeamkitError).errno).toBe(22);
  });

  it('should build a DEBUG TD behind the simulatorAllowDebug opt-in; the module then reports ATTRIBUTES.DEBUG', () => {
    const kvm = new Kvm();
    const vm = kvm.createVm(KVM_X86_TDX_VM);
    vm.tdxInitVm({ attributes: SEPT_VE_DISABLE | DEBUG, simulatorAllowDebug: true });
    expect(vm.td!.debug).toBe(true);
    expect(vm.td!.attributes).toBe(SEPT_VE_DISABLE | DEBUG);
  });
});

describe('KvmOptions.simulatorAllowDebug and KVM_GET_REGS / KVM_SET_REGS of a DEBUG TD', () => {
  const KVM_EXIT_IO = 2;

  /** A TD built by a VMM on kvmModule(options) whose guest stops in one IO write (port 0x31) with RBP and R12 set. */
  function debugTd(options: KvmOptions, attributes: bigint): { vcpu: Vcpu; seen: { rbp: bigint; r12: bigint; info: bigint }; run: () => number } {
    const vmm = createVmm({ modules: [kvmModule(options)] });
    const seen = { rbp: -1n, r12: -1n, info: -1n };
    const td = vmm.createTd({
      attributes,
      memoryBytes: 1 << 20,
      guest: fromGenerator(function* (cpu) {
        seen.info = (yield* ghci.tdgVpInfo(cpu)).attributes;
        cpu.regs.set(RBP, 0x5eed_0001n);
        yield* ghci.ioWrite(cpu, 0x31, 4, 1); // R12 = size 4, exposed (bitmap 0xffcc); RBP is not
        seen.rbp = cpu.regs.get(RBP);
        seen.r12 = cpu.regs.get(R12);
      }),
    });
    const vm = td.memory as Vm;
    return { vcpu: vm.vcpus[0]!, seen, run: () => td.vcpus[0]!.run() };
  }

  it('should accept ATTRIBUTES.DEBUG for every VM of a kernel built with the option; the default still refuses it', () => {
    const vm = new Kvm({ simulatorAllowDebug: true }).createVm(KVM_X86_TDX_VM);
    vm.tdxInitVm({ attributes: SEPT_VE_DISABLE | DEBUG });
    expect(vm.td!.debug).toBe(true);
    // The per-call field wins over the kernel option.
    const refused = new Kvm({ simulatorAllowDebug: true }).createVm(KVM_X86_TDX_VM);
    expect(() => refused.tdxInitVm({ attributes: SEPT_VE_DISABLE | DEBUG, simulatorAllowDebug: false })).toThrow(/KVM_TDX_INIT_VM: invalid argument/);
    expect(() => createVmm({ modules: [kvmModule()] }).createTd({ attributes: SEPT_VE_DISABLE | DEBUG, guest: fromGenerator(function* () {}) }))
      .toThrow(/attributes 0x10000001/);
  });

  it('should let the VMM read the stopped guest\'s registers and change the ones the guest did not expose', () => {
    const t = debugTd({ simulatorAllowDebug: true }, SEPT_VE_DISABLE | DEBUG);
    expect(t.run()).toBe(KVM_EXIT_IO);
    expect(t.seen.info).toBe(SEPT_VE_DISABLE | DEBUG);
    const regs = t.vcpu.getRegs();
    expect(regs).toMatchObject({ rbp: 0x5eed_0001n, r10: 0n, r11: 30n, r12: 4n, r13: 1n, r14: 0x31n, r15: 1n, rcx: 0xffccn });
    expect(regs.rip).toBeGreaterThan(0n);
    t.vcpu.setRegs({ ...regs, rbp: 0xd0d0n, r12: 0x1234n });
    expect(t.vcpu.getRegs()).toMatchObject({ rbp: 0xd0d0n, r12: 0x1234n });
    expect(t.run()).toBe(8); // KVM_EXIT_SHUTDOWN: the guest ran to its end
    // RBP keeps the VMM's value; R12 was exposed, so the TD entry loaded it from the TDVMCALL's outputs.
    expect(t.seen).toMatchObject({ rbp: 0xd0d0n, r12: 4n });
  });

  it('should refuse KVM_GET_REGS / KVM_SET_REGS of a production TD with EINVAL, as Linux 6.16 does', () => {
    const t = debugTd({ simulatorAllowDebug: true }, SEPT_VE_DISABLE);
    expect(t.run()).toBe(KVM_EXIT_IO);
    for (const call of [() => t.vcpu.getRegs(), () => t.vcpu.setRegs({} as KvmRegs)]) {
      let err: unknown;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(SeamkitError.is(err) && [err.code, err.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', 22]);
    }
    expect(t.run()).toBe(8);
    expect(t.seen.rbp).toBe(0x5eed_0001n);
  });
});
