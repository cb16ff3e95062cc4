import { describe, expect, it } from 'vitest';
import { LEAF_EXIT, LeafRegistry, type LeafPlugin } from '@seamkit/core';
import { EXIT_REASON_TRIPLE_FAULT, SeamkitError, type GuestProgram } from '@seamkit/seam-cpu';
import { LINUX_EXIT_SHAPES } from './exitShapes.js';
import { Kvm, KVM_CAP_MAX_VCPUS, KVM_CAP_VM_TYPES } from './Kvm.js';
import { GetTdVmCallInfoLeaf } from './leaves/GetTdVmCallInfoLeaf.js';
import { KVM_MEM_GUEST_MEMFD, KVM_X86_TDX_VM } from './uapi/tdx.js';
import { TdState, type Vm } from './Vm.js';

const idle: GuestProgram = () => ({ step: () => EXIT_REASON_TRIPLE_FAULT });

/** The coded error `fn` throws. */
function ioctlError(fn: () => unknown): SeamkitError {
  try {
    fn();
  } catch (e) {
    if (SeamkitError.is(e)) return e;
    throw e;
  }
  throw new Error('the ioctl did not fail');
}

/** What userspace can observe about a VM. */
function vmState(vm: Vm): unknown {
  return { state: vm.state, tdr: vm.tdr, hkid: vm.hkid, gpaw: vm.gpaw, vcpus: vm.vcpus.map((v) => [v.id, v.tdvpr]), mask: vm.hypercallExitMask };
}

describe(Kvm, () => {
  describe('.checkExtension', () => {
    it('should report KVM_CAP_EXIT_HYPERCALL = BIT(12), VM types = BIT(5), max vCPUs, and 0 for anything else', () => {
      const kvm = new Kvm();
      expect(kvm.checkExtension(201)).toBe(0x1000);
      expect(kvm.checkExtension(KVM_CAP_VM_TYPES)).toBe(1 << 5);
      expect(kvm.checkExtension(KVM_CAP_MAX_VCPUS)).toBe(4096);
      expect(kvm.checkExtension(123456)).toBe(0);
    });
  });

  describe('.createVm', () => {
    it.each([0, 1, 2, 4, 6])('should refuse VM type %i with EINVAL (SEAMKIT_ERR_KVM_VM_TYPE)', (type) => {
      const e = ioctlError(() => new Kvm().createVm(type));
      expect(e.code).toBe('SEAMKIT_ERR_KVM_VM_TYPE');
      expect(e.errno).toBe(22);
    });

    it('should create a TDX VM (type 5) in state NONE with a frozen default registry', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      expect(vm.state).toBe(TdState.NONE);
      expect(vm.registry.frozen).toBe(true);
      expect(vm.registry.plugins()).toEqual([]);
    });
  });
});

describe('Vm', () => {
  describe('.tdxCapabilities (KVM_TDX_CAPABILITIES)', () => {
    it('should report SEPT_VE_DISABLE as the only attribute and derive user_tdvmcallinfo_1_r11 from the registry', () => {
      const registry = new LeafRegistry(LINUX_EXIT_SHAPES);
      const notify: LeafPlugin = {
        meta: { name: 'notify', namespace: 'ghci', leaf: 0x10004, tdvmcallInfoR11: 1 << 1, exit: { reason: 40, key: 0x10004, layout: { vector: { offset: 56, size: 8 } } } },
        kernel: () => LEAF_EXIT,
      };
      registry.registerAll([new GetTdVmCallInfoLeaf(), notify]);
      registry.freeze();
      const caps = new Kvm().createVm(KVM_X86_TDX_VM, { registry }).tdxCapabilities();
      expect(caps).toEqual({
        supportedAttrs: 0x10000000n,
        supportedXfam: 0x7n,
        kernelTdvmcallinfo1R11: 0n,
        userTdvmcallinfo1R11: 2n,
        kernelTdvmcallinfo1R12: 0n,
        userTdvmcallinfo1R12: 0n,
        cpuid: expect.objectContaining({ nent: 4 }), // the module's CPUID_CONFIG table (tdxCpuid.spec.ts)
      });
    });

    it('should report no user bits when no optional leaf is registered', () => {
      expect(new Kvm().createVm(KVM_X86_TDX_VM).tdxCapabilities().userTdvmcallinfo1R11).toBe(0n);
    });
  });

  describe('.enableCap', () => {
    it('should store the KVM_CAP_EXIT_HYPERCALL mask', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.enableCap(201, [0x1000]);
      expect(vm.hypercallExitMask).toBe(0x1000);
      vm.enableCap(201, [0]);
      expect(vm.hypercallExitMask).toBe(0);
    });

    it.each([
      ['a mask with a bit other than BIT(12)', 201, [0x1001]],
      ['a mask of BIT(13)', 201, [0x2000]],
      ['an unknown capability', 7, [0]],
    ])('should fail %s with EINVAL and keep the previous mask', (_what, cap, args) => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.enableCap(201, [0x1000]);
      const e = ioctlError(() => vm.enableCap(cap, args));
      expect(e.code).toBe('SEAMKIT_ERR_KVM_ARG');
      expect(e.errno).toBe(22);
      expect(vm.hypercallExitMask).toBe(0x1000);
    });
  });

  describe('.setUserMemoryRegion2', () => {
    it('should refuse an overlapping slot with EEXIST and keep the existing layout', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.setUserMemoryRegion2({ slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0, memorySize: 0x100000 });
      const e = ioctlError(() => vm.setUserMemoryRegion2({ slot: 1, flags: 0, guestPhysAddr: 0x80000, memorySize: 0x100000 }));
      expect(e.code).toBe('SEAMKIT_ERR_KVM_EXISTS');
      expect(e.errno).toBe(17);
      expect(vm.contains(0x100000, 0x1000)).toBe(false);
      expect(vm.contains(0, 0x100000)).toBe(true);
      // Slot 1 is still free, and the range right after slot 0 can be added.
      vm.setUserMemoryRegion2({ slot: 1, flags: 0, guestPhysAddr: 0x100000, memorySize: 0x1000 });
      expect(vm.contains(0, 0x101000)).toBe(false); // two slots, not one range
      expect(vm.contains(0x100000, 0x1000)).toBe(true);
    });

    it('should refuse a slot id in use with EEXIST', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.setUserMemoryRegion2({ slot: 3, flags: 0, guestPhysAddr: 0, memorySize: 0x1000 });
      const e = ioctlError(() => vm.setUserMemoryRegion2({ slot: 3, flags: 0, guestPhysAddr: 0x10000, memorySize: 0x1000 }));
      expect(e.errno).toBe(17);
      expect(vm.contains(0x10000, 1)).toBe(false);
    });

    it.each([
      ['a misaligned GPA', { slot: 0, flags: 0, guestPhysAddr: 0x800, memorySize: 0x1000 }, 22],
      ['a misaligned size', { slot: 0, flags: 0, guestPhysAddr: 0, memorySize: 0x1800 }, 22],
      ['a range reaching the shared bit', { slot: 0, flags: 0, guestPhysAddr: 2 ** 47 - 0x1000, memorySize: 0x1000 }, 22],
      ['unknown flags', { slot: 0, flags: 1 << 1, guestPhysAddr: 0, memorySize: 0x1000 }, 22],
      ['a negative slot', { slot: -1, flags: 0, guestPhysAddr: 0, memorySize: 0x1000 }, 22],
    ])('should refuse %s with errno %i and add nothing', (_what, region, errno) => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      expect(ioctlError(() => vm.setUserMemoryRegion2(region)).errno).toBe(errno);
      expect(vm.contains(region.guestPhysAddr, 1)).toBe(false);
    });

    it('should delete a slot with size 0', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.setUserMemoryRegion2({ slot: 0, flags: 0, guestPhysAddr: 0, memorySize: 0x1000 });
      vm.setUserMemoryRegion2({ slot: 0, flags: 0, guestPhysAddr: 0, memorySize: 0 });
      expect(vm.contains(0, 1)).toBe(false);
      expect(ioctlError(() => vm.read(0, new Uint8Array(1))).code).toBe('SEAMKIT_ERR_KVM_FAULT');
    });
  });

  describe('.tdxInitVm (KVM_TDX_INIT_VM)', () => {
    it('should initialize the TD once, with the first free HKID and GPAW 48 by default', () => {
      const kvm = new Kvm();
      const vm = kvm.createVm(KVM_X86_TDX_VM);
      vm.tdxInitVm();
      expect(vm.state).toBe(TdState.INITIALIZED);
      expect(vm.hkid).toBe(kvm.module.tdxKeyIdStart + 1);
      expect(vm.sharedBit).toBe(2 ** 47);
      expect(vm.td?.noRbpMod).toBe(true);
    });

    it('should use shared bit 51 for GPAW 52', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.tdxInitVm({ gpaw: 52 });
      expect(vm.sharedBit).toBe(2 ** 51);
    });

    it('should refuse a second KVM_TDX_INIT_VM with EINVAL and keep the TD', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.tdxInitVm();
      const before = vmState(vm);
      const e = ioctlError(() => vm.tdxInitVm({ gpaw: 52 }));
      expect(e.code).toBe('SEAMKIT_ERR_KVM_STATE');
      expect(e.errno).toBe(22);
      expect(vmState(vm)).toEqual(before);
    });

    it.each([
      ['ATTR.DEBUG (bit 0), which KVM does not support', { attributes: 1n }],
      ['SEPT_VE_DISABLE | DEBUG', { attributes: (1n << 28n) | 1n }],
      ['PERFMON (bit 63)', { attributes: 1n << 63n }],
      ['an XFAM bit outside x87/SSE/AVX', { xfam: 1n << 9n }],
      ['a 49-byte MRCONFIGID', { mrConfigId: new Uint8Array(49) }],
    ])('should refuse %s with EINVAL, change nothing and consume no HKID', (_what, params) => {
      const kvm = new Kvm();
      const vm = kvm.createVm(KVM_X86_TDX_VM);
      const before = vmState(vm);
      const e = ioctlError(() => vm.tdxInitVm(params));
      expect(e.code).toBe('SEAMKIT_ERR_KVM_ARG');
      expect(e.errno).toBe(22);
      expect(vmState(vm)).toEqual(before);
      vm.tdxInitVm();
      expect(vm.hkid).toBe(kvm.module.tdxKeyIdStart + 1);
    });
  });

  describe('.createVcpu (KVM_CREATE_VCPU)', () => {
    it('should fail with EIO before KVM_TDX_INIT_VM and create nothing', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      const e = ioctlError(() => vm.createVcpu(0));
      expect(e.code).toBe('SEAMKIT_ERR_KVM_STATE');
      expect(e.errno).toBe(5);
      expect(vm.vcpus).toEqual([]);
      vm.tdxInitVm();
      expect(vm.createVcpu(0).id).toBe(0);
    });

    it('should refuse an id in use with EEXIST, a bad id with EINVAL, and any vCPU after finalization with EINVAL', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.tdxInitVm();
      vm.setGuestProgram(idle);
      vm.createVcpu(0).tdxInitVcpu();
      expect(ioctlError(() => vm.createVcpu(0)).errno).toBe(17);
      expect(ioctlError(() => vm.createVcpu(-1)).errno).toBe(22);
      expect(ioctlError(() => vm.createVcpu(4096)).errno).toBe(22);
      vm.tdxFinalizeVm();
      expect(ioctlError(() => vm.createVcpu(1)).errno).toBe(22);
      expect(vm.vcpus.map((v) => v.id)).toEqual([0]);
    });
  });

  describe('.tdxFinalizeVm (KVM_TDX_FINALIZE_VM)', () => {
    it('should refuse before KVM_TDX_INIT_VM, with no vCPU, with an uninitialized vCPU, and twice (all EINVAL)', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      expect(ioctlError(() => vm.tdxFinalizeVm()).errno).toBe(22);
      vm.tdxInitVm();
      expect(ioctlError(() => vm.tdxFinalizeVm()).errno).toBe(22);
      const v = vm.createVcpu(0);
      expect(ioctlError(() => vm.tdxFinalizeVm()).errno).toBe(22);
      expect(vm.state).toBe(TdState.INITIALIZED);
      v.tdxInitVcpu();
      vm.tdxFinalizeVm();
      expect(vm.state).toBe(TdState.RUNNABLE);
      expect(ioctlError(() => vm.tdxFinalizeVm()).errno).toBe(22);
      expect(vm.state).toBe(TdState.RUNNABLE);
    });

    it('should fix an MRTD that depends on the measured image', () => {
      const mrtdOf = (image: Uint8Array): Uint8Array => {
        const vm = new Kvm().createVm(KVM_X86_TDX_VM);
        vm.tdxInitVm();
        vm.setGuestProgram(idle);
        const v = vm.createVcpu(0);
        v.tdxInitVcpu();
        v.tdxInitMemRegion({ source: image, gpa: 0, nrPages: 1, flags: 1 });
        vm.tdxFinalizeVm();
        return vm.mrtd;
      };
      const a = mrtdOf(Uint8Array.of(1, 2, 3));
      expect(a).toHaveLength(48);
      expect(a).toEqual(mrtdOf(Uint8Array.of(1, 2, 3)));
      expect(a).not.toEqual(mrtdOf(Uint8Array.of(1, 2, 4)));
    });
  });

  describe('.setGuestProgram', () => {
    it('should be allowed only between KVM_TDX_INIT_VM and finalization', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      expect(ioctlError(() => vm.setGuestProgram(idle)).errno).toBe(22);
      vm.tdxInitVm();
      vm.setGuestProgram(idle);
      vm.createVcpu(0).tdxInitVcpu();
      vm.tdxFinalizeVm();
      expect(ioctlError(() => vm.setGuestProgram(idle)).errno).toBe(22);
    });
  });
});
