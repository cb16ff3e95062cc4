import { describe, expect, it } from 'vitest';
import { LeafRegistry } from '@seamkit/core';
import { SeamkitError, fromGenerator, type GuestCpu, type LogicalProcessor } from '@seamkit/seam-cpu';
import { ghci, type TdxModule } from '@seamkit/tdx-module';
import { LINUX_EXIT_SHAPES } from './exitShapes.js';
import { Kvm } from './Kvm.js';
import { KVM_MEM_GUEST_MEMFD, KVM_X86_TDX_VM } from './uapi/tdx.js';
import type { Vm } from './Vm.js';

/** Leaf numbers (tdx-module-abi.md §2.1). */
const LEAF = {
  SEPT_ADD: 3, PAGE_ADD: 2, PAGE_AUG: 6, BLOCK: 7, VP_FLUSH: 18, VPFLUSHDONE: 19, KEY_FREEID: 20, MNG_INIT: 21, VP_INIT: 22,
  VP_CREATE: 10, MNG_ADDCX: 1, MNG_CREATE: 9, KEY_CONFIG: 8, PAGE_REMOVE: 29, RECLAIM: 28, TRACK: 38, CACHE_WB: 40, WBINVD: 41,
} as const;
const TDX_OPERAND_BUSY = 0x8000020000000000n;
const PRIVATE = 1 << 3;
const MIB = 2 ** 20;

function ioctlError(fn: () => unknown): SeamkitError {
  try {
    fn();
  } catch (e) {
    if (SeamkitError.is(e)) return e;
    throw e;
  }
  throw new Error('the ioctl did not fail');
}

/** Logs every SEAMCALL leaf the module runs. */
function traceLeaves(m: TdxModule): number[] {
  const log: number[] = [];
  for (const [leaf, h] of [...m.seamcallLeaves]) {
    m.seamcallLeaves.set(leaf, (mm, lp) => {
      log.push(leaf);
      h(mm, lp);
    });
  }
  return log;
}

/** Fails the `nth` (1-based) SEAMCALL of `leaf` with TDX_OPERAND_BUSY (a test-only fault). */
function failNth(m: TdxModule, leaf: number, nth = 1): void {
  let count = 0;
  m.testHooks = { faultSeamcall: (l: number, _lp: LogicalProcessor) => (l === leaf && ++count === nth ? TDX_OPERAND_BUSY : undefined) };
}

/** What the module and KVM keep about TDs: PAMT, KOT, TD and vCPU records, KVM's free HKIDs, host pages in use. */
function state(kvm: Kvm): unknown {
  const m = kvm.module;
  return {
    pamt: [...m.pamt.entries()].map(([hpa, e]) => [hpa, e.type, e.owner]),
    kot: [...m.kot], wbinvd: [...m.kotWbinvd], tds: [...m.tds.keys()], vcpus: [...m.vcpus.keys()],
    touched: kvm.cpu.memory.touchedPages,
  };
}

function vmWithSlot(kvm: Kvm): Vm {
  const registry = new LeafRegistry(LINUX_EXIT_SHAPES);
  registry.freeze();
  const vm = kvm.createVm(KVM_X86_TDX_VM, { registry });
  vm.setUserMemoryRegion2({ slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0, memorySize: 8 * MIB });
  vm.setMemoryAttributes({ address: 0, size: 8 * MIB, attributes: PRIVATE, flags: 0 });
  return vm;
}

/** A running two-vCPU TD with a measured image page and a page the guest accepted (AUG). */
function runningTd(kvm: Kvm): Vm {
  const vm = vmWithSlot(kvm);
  vm.tdxInitVm();
  vm.setGuestProgram(fromGenerator(function* (cpu: GuestCpu) {
    yield* ghci.acceptPage(cpu, 0x20_0000 + cpu.vcpuIndex * 0x1000);
    yield* ghci.memWriteU32(cpu, 0x20_0000 + cpu.vcpuIndex * 0x1000, 7);
  }));
  for (const id of [0, 1]) vm.createVcpu(id).tdxInitVcpu();
  vm.vcpus[0]!.tdxInitMemRegion({ source: new Uint8Array([1, 2, 3]), gpa: 0, nrPages: 1, flags: 1 });
  vm.tdxFinalizeVm();
  for (const v of vm.vcpus) v.run();
  return vm;
}

describe('VM teardown', () => {
  it('should run the full teardown on destroy: remove private pages, release the HKID, reclaim every page with the TDR last', () => {
    const kvm = new Kvm({ cpu: { logicalProcessors: 2, packages: 2 } });
    const before = state(kvm);
    const vm = runningTd(kvm);
    const hkid = vm.hkid;
    expect(vm.mmu.privatePages.size).toBe(3);
    const log = traceLeaves(kvm.module);
    vm.destroy();
    // Private pages while the HKID is assigned: BLOCK, TRACK, REMOVE, WBINVD each (guest_memfd close).
    expect(log.slice(0, 12)).toEqual([7, 38, 29, 41, 7, 38, 29, 41, 7, 38, 29, 41]);
    // tdx_mmu_release_hkid: VP.FLUSH x2, VPFLUSHDONE, CACHE.WB on each package, KEY.FREEID.
    expect(log.slice(12, 18)).toEqual([LEAF.VP_FLUSH, LEAF.VP_FLUSH, LEAF.VPFLUSHDONE, LEAF.CACHE_WB, LEAF.CACHE_WB, LEAF.KEY_FREEID]);
    // Then RECLAIM of every page, the TDR last, then WBINVD of the TDR.
    const rest = log.slice(18);
    expect(rest.slice(0, -1).every((l) => l === LEAF.RECLAIM)).toBe(true);
    expect(rest.at(-1)).toBe(LEAF.WBINVD);
    expect(state(kvm)).toEqual(before);
    expect(kvm.module.pamt.usedPages).toBe(0);
    // The HKID is KVM's to give again.
    const next = vmWithSlot(kvm);
    next.tdxInitVm();
    expect(next.hkid).toBe(hkid);
  });

  it('should make every later VM and vCPU ioctl fail with EIO (SEAMKIT_ERR_KVM_VM_DEAD); destroying again does nothing', () => {
    const kvm = new Kvm();
    const vm = runningTd(kvm);
    vm.destroy();
    for (const fn of [
      () => vm.vcpus[0]!.run(), () => vm.createVcpu(5), () => vm.enableCap(201, [0x1000]), () => vm.tdxFinalizeVm(),
      () => vm.setMemoryAttributes({ address: 0, size: 0x1000, attributes: 0, flags: 0 }), () => vm.tdxTerminateVm(),
    ]) {
      const e = ioctlError(fn);
      expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_VM_DEAD', 5]);
    }
    expect(() => vm.destroy()).not.toThrow();
  });

  describe('KVM_TDX_TERMINATE_VM', () => {
    it('should release the HKID at once and let destroy reclaim private pages without removing them one by one', () => {
      const kvm = new Kvm();
      const before = state(kvm);
      const vm = runningTd(kvm);
      const log = traceLeaves(kvm.module);
      vm.tdxTerminateVm();
      expect(log).toEqual([LEAF.VP_FLUSH, LEAF.VP_FLUSH, LEAF.VPFLUSHDONE, LEAF.CACHE_WB, LEAF.KEY_FREEID]);
      expect(vm.td!.lifecycle).toBe(3); // TD_TEARDOWN
      expect(kvm.module.kot[vm.hkid - kvm.module.tdxKeyIdStart]).toBe(0); // HKID_FREE
      expect(vm.hkidAssigned).toBe(false);
      const e = ioctlError(() => vm.vcpus[0]!.run());
      expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_VM_DEAD', 5]);
      log.length = 0;
      vm.destroy();
      expect(log.filter((l) => l === LEAF.BLOCK || l === LEAF.PAGE_REMOVE)).toEqual([]);
      expect(state(kvm)).toEqual(before);
    });

    it('should work on a VM that never ran KVM_TDX_INIT_VM (nothing to release)', () => {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.tdxTerminateVm();
      expect(ioctlError(() => vm.tdxInitVm()).code).toBe('SEAMKIT_ERR_KVM_VM_DEAD');
    });
  });
});

describe('rollback of a failed KVM_TDX_INIT_VM', () => {
  it.each([
    ['TDH.MNG.CREATE', LEAF.MNG_CREATE, 1],
    ['TDH.MNG.KEY.CONFIG', LEAF.KEY_CONFIG, 1],
    ['the third TDH.MNG.ADDCX', LEAF.MNG_ADDCX, 3],
    ['TDH.MNG.INIT', LEAF.MNG_INIT, 1],
  ])('should undo everything when %s fails (EIO), then succeed when retried', (_what, leaf, nth) => {
    const kvm = new Kvm();
    const vm = vmWithSlot(kvm);
    const before = state(kvm);
    failNth(kvm.module, leaf, nth);
    const e = ioctlError(() => vm.tdxInitVm());
    expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_TDX_FAILED', 5]);
    expect(state(kvm)).toEqual(before);
    expect([vm.state, vm.tdr, vm.hkid, vm.hkidAssigned, vm.dead]).toEqual(['none', -1, -1, false, undefined]);
    kvm.module.testHooks = undefined;
    vm.tdxInitVm();
    expect(vm.state).toBe('initialized');
  });

  it('should refuse with ENOSPC and change nothing when no HKID is free', () => {
    const kvm = new Kvm({ module: { tdxKeyIds: 2 } });
    vmWithSlot(kvm).tdxInitVm();
    const vm = vmWithSlot(kvm);
    const before = state(kvm);
    const e = ioctlError(() => vm.tdxInitVm());
    expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_NOMEM', 28]);
    expect(state(kvm)).toEqual(before);
  });
});

describe('a failed KVM_TDX_INIT_VCPU', () => {
  it('should change nothing when TDH.VP.CREATE fails', () => {
    const kvm = new Kvm();
    const vm = vmWithSlot(kvm);
    vm.tdxInitVm();
    const vcpu = vm.createVcpu(0);
    const before = state(kvm);
    failNth(kvm.module, LEAF.VP_CREATE);
    expect(ioctlError(() => vcpu.tdxInitVcpu()).code).toBe('SEAMKIT_ERR_KVM_TDX_FAILED');
    expect(state(kvm)).toEqual(before);
    expect([vcpu.initialized, vm.dead]).toEqual([false, undefined]);
    kvm.module.testHooks = undefined;
    vcpu.tdxInitVcpu();
    expect(vcpu.initialized).toBe(true);
  });

  it('should mark the VM dead when a later SEAMCALL fails (the TD owns the TDVPR), and reclaim its pages at destroy', () => {
    const kvm = new Kvm();
    const before = state(kvm);
    const vm = vmWithSlot(kvm);
    vm.tdxInitVm();
    const vcpu = vm.createVcpu(0);
    failNth(kvm.module, LEAF.VP_INIT);
    expect(ioctlError(() => vcpu.tdxInitVcpu()).code).toBe('SEAMKIT_ERR_KVM_TDX_FAILED');
    expect(vm.dead).toMatch(/KVM_TDX_INIT_VCPU/);
    expect(ioctlError(() => vcpu.tdxInitVcpu()).code).toBe('SEAMKIT_ERR_KVM_VM_DEAD');
    kvm.module.testHooks = undefined;
    vm.destroy();
    expect(state(kvm)).toEqual(before);
  });
});

describe('a failed KVM_TDX_INIT_MEM_REGION', () => {
  function initialized(): { kvm: Kvm; vm: Vm } {
    const kvm = new Kvm();
    const vm = vmWithSlot(kvm);
    vm.tdxInitVm();
    vm.createVcpu(0).tdxInitVcpu();
    return { kvm, vm };
  }

  it('should remove the SEPT tables it added and change nothing when a TDH.MEM.SEPT.ADD fails', () => {
    const { kvm, vm } = initialized();
    const before = state(kvm);
    const mrtd = vm.td!.mrtdHash!.copy().digest('hex');
    failNth(kvm.module, LEAF.SEPT_ADD, 3);
    const e = ioctlError(() => vm.vcpus[0]!.tdxInitMemRegion({ source: new Uint8Array(8192), gpa: 0x4000_0000, nrPages: 2, flags: 1 }));
    expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_TDX_FAILED', 5]);
    expect(state(kvm)).toEqual(before);
    expect(vm.td!.mrtdHash!.copy().digest('hex')).toBe(mrtd);
    expect(vm.mmu.septPages.size).toBe(0);
  });

  it('should keep the pages already added and measured when TDH.MEM.PAGE.ADD fails, as Linux does, and say how many', () => {
    const { kvm, vm } = initialized();
    failNth(kvm.module, LEAF.PAGE_ADD, 2);
    const e = ioctlError(() => vm.vcpus[0]!.tdxInitMemRegion({ source: new Uint8Array(3 * 4096), gpa: 0, nrPages: 3, flags: 1 }));
    expect(e.code).toBe('SEAMKIT_ERR_KVM_TDX_FAILED');
    expect(e.message).toMatch(/1 of 3 pages added/);
    expect([...vm.mmu.privatePages.keys()]).toEqual([0]);
    kvm.module.testHooks = undefined;
    vm.vcpus[0]!.tdxInitMemRegion({ source: new Uint8Array(2 * 4096), gpa: 0x1000, nrPages: 2, flags: 1 });
    expect([...vm.mmu.privatePages.keys()]).toEqual([0, 1, 2]);
  });
});
