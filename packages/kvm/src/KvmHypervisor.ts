import { inject, injectable } from 'inversify';
import type { EventSink, Hypervisor, HypervisorTd, LeafRegistry, TdConfig } from '@seamkit/core';
import { SeamkitError } from '@seamkit/seam-cpu';
import { PAGE_SIZE } from '@seamkit/seam-cpu/abi';
import type { KvmCpuidEntry2 } from './devices/Cpuid.js';
import { Kvm, type KvmOptions } from './Kvm.js';
import { cpuidWithApicId, filterTdxCpuid, tdxSetGuestPhysAddrBits } from './tdxCpuid.js';
import { KVM_EXIT_MEMORY_FAULT } from './uapi/exits.js';
import {
  KVM_CAP_EXIT_HYPERCALL, KVM_EXIT_HYPERCALL_VALID_MASK, KVM_MEM_GUEST_MEMFD, KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_TDX_MEASURE_MEMORY_REGION,
  KVM_X86_TDX_VM,
} from './uapi/tdx.js';
import type { Vcpu } from './Vcpu.js';

/** DI token of the {@link KvmOptions} used by {@link KvmHypervisor}. */
export const KVM_OPTIONS = Symbol.for('@seamkit/kvm/KvmOptions');

/** Default guest memory of a TD built by {@link KvmHypervisor}: 64 MiB (sparse). */
export const DEFAULT_TD_MEMORY = 64 * 2 ** 20;

/**
 * The core {@link Hypervisor} on the simulated KVM: builds a TD with the same ioctl sequence a
 * VMM such as QEMU uses (KVM_CREATE_VM(KVM_X86_TDX_VM), KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL),
 * KVM_SET_USER_MEMORY_REGION2 with guest_memfd, KVM_TDX_INIT_VM, KVM_CREATE_VCPU +
 * KVM_TDX_INIT_VCPU, KVM_TDX_INIT_MEM_REGION, KVM_TDX_FINALIZE_VM).
 */
@injectable()
export class KvmHypervisor implements Hypervisor {
  /** The kernel (one per hypervisor; several TDs share it). */
  readonly kvm: Kvm;

  /** @param options - kernel options */
  constructor(@inject(KVM_OPTIONS) options: KvmOptions) {
    this.kvm = new Kvm(options);
  }

  /** {@inheritDoc @seamkit/core!Hypervisor.createTd} */
  createTd(config: TdConfig, registry: LeafRegistry, emit: EventSink): HypervisorTd {
    const vm = this.kvm.createVm(KVM_X86_TDX_VM, { registry, emit });
    vm.enableCap(KVM_CAP_EXIT_HYPERCALL, [KVM_EXIT_HYPERCALL_VALID_MASK]);
    const bytes = Math.ceil((config.memoryBytes ?? DEFAULT_TD_MEMORY) / PAGE_SIZE) * PAGE_SIZE;
    vm.setUserMemoryRegion2({ slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0, memorySize: bytes });
    // QEMU makes guest_memfd-backed RAM private when it registers the memslot.
    vm.setMemoryAttributes({ address: 0, size: bytes, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, flags: 0 });
    // QEMU's CPUID flow with `-cpu host`: the supported CPUID, filtered through the configurable
    // leaves and bits of KVM_TDX_CAPABILITIES for KVM_TDX_INIT_VM (GPAW in 0x80000008), and the
    // whole supported table for each vCPU with KVM_SET_CPUID2 (what TDVMCALL<CPUID> answers from).
    const supported = this.kvm.getSupportedCpuid();
    const gpaw = config.gpaw ?? 48;
    vm.tdxInitVm({
      ...(config.attributes !== undefined ? { attributes: config.attributes } : {}),
      ...(config.mrConfigId !== undefined ? { mrConfigId: config.mrConfigId } : {}),
      cpuid: filterTdxCpuid(supported, vm.tdxCapabilities().cpuid.entries, gpaw),
    });
    vm.setGuestProgram(config.guest);
    const vcpus = Array.from({ length: config.vcpus ?? 1 }, (_, i) => {
      const v = vm.createVcpu(i);
      v.setCpuid2(vcpuCpuid(supported, i, gpaw));
      v.tdxInitVcpu(0n);
      return v;
    });
    if (config.image !== undefined && config.image.length > 0) {
      vcpus[0]!.tdxInitMemRegion({
        source: config.image, gpa: 0, nrPages: Math.ceil(config.image.length / PAGE_SIZE), flags: KVM_TDX_MEASURE_MEMORY_REGION,
      });
    }
    vm.tdxFinalizeVm();
    for (const [gpa, size] of config.sharedMemory ?? []) vm.convertMemory(gpa, size, false);
    return {
      vcpus: vcpus.map((v) => ({ index: v.index, kvmRun: v.kvmRun, dispatcher: v.dispatcher, run: () => runVcpu(v) })),
      memory: vm,
      sharedBit: vm.sharedBit,
      mrtd: vm.mrtd,
    };
  }
}

/**
 * KVM_RUN as a VMM's run loop sees it: KVM_EXIT_MEMORY_FAULT comes with -EFAULT from the ioctl
 * (the only exit that does); QEMU checks for exactly that pair and handles it as an exit, so the
 * adapter returns KVM_EXIT_MEMORY_FAULT for it and rethrows every other error.
 */
function runVcpu(v: Vcpu): number {
  try {
    return v.run();
  } catch (err) {
    if (SeamkitError.is(err) && err.code === 'SEAMKIT_ERR_KVM_MEMORY_FAULT' && v.kvmRun.exitReason === KVM_EXIT_MEMORY_FAULT) return KVM_EXIT_MEMORY_FAULT;
    throw err;
  }
}

/**
 * A vCPU's KVM_SET_CPUID2 table as QEMU builds it from the supported CPUID: its initial APIC ID
 * (the vCPU index) in CPUID.1:EBX[31:24], and GuestPhysBits = the TD's GPAW in 0x80000008.
 */
function vcpuCpuid(supported: readonly KvmCpuidEntry2[], index: number, gpaw: 48 | 52): KvmCpuidEntry2[] {
  return cpuidWithApicId(supported, index).map((e) => (e.function === 0x8000_0008 ? { ...e, eax: tdxSetGuestPhysAddrBits(e.eax, gpaw) } : e));
}
