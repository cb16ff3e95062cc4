import { describe, expect, it } from 'vitest';
import { SeamkitError } from '@seamkit/seam-cpu';
import { Kvm } from './Kvm.js';
import { KVM_X86_TDX_VM } from './uapi/tdx.js';

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
