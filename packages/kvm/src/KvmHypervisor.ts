import { inject, injectable } from 'inversify';
import type { EventSink, Hypervisor, HypervisorTd, LeafRegistry, TdConfig } from '@seamkit/core';
import { PAGE_SIZE } from '@seamkit/seam-cpu';
import { Kvm, type KvmOptions } from './Kvm.js';
import { KVM_CAP_EXIT_HYPERCALL, KVM_EXIT_HYPERCALL_VALID_MASK, KVM_MEM_GUEST_MEMFD, KVM_TDX_MEASURE_MEMORY_REGION, KVM_X86_TDX_VM } from './uapi/tdx.js';

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
    vm.tdxInitVm({
      ...(config.attributes !== undefined ? { attributes: config.attributes } : {}),
      ...(config.mrConfigId !== undefined ? { mrConfigId: config.mrConfigId } : {}),
      gpaw: config.gpaw ?? 48,
    });
    vm.setGuestProgram(config.guest);
    const vcpus = Array.from({ length: config.vcpus ?? 1 }, (_, i) => {
      const v = vm.createVcpu(i);
      v.tdxInitVcpu(0n);
      return v;
    });
    if (config.image !== undefined && config.image.length > 0) {
      vcpus[0]!.tdxInitMemRegion({
        source: config.image, gpa: 0, nrPages: Math.ceil(config.image.length / PAGE_SIZE), flags: KVM_TDX_MEASURE_MEMORY_REGION,
      });
    }
    vm.tdxFinalizeVm();
    return {
      vcpus: vcpus.map((v) => ({ index: v.index, kvmRun: v.kvmRun, dispatcher: v.dispatcher, run: () => v.run() })),
      memory: vm,
      sharedBit: vm.sharedBit,
      mrtd: vm.mrtd,
    };
  }
}
