import { ContainerModule } from 'inversify';
import { EXIT_SHAPES, HYPERVISOR, LEAF_PLUGIN } from '@seamkit/core';
import { LINUX_EXIT_SHAPES } from './exitShapes.js';
import type { KvmOptions } from './Kvm.js';
import { KVM_OPTIONS, KvmHypervisor } from './KvmHypervisor.js';
import { CpuidLeaf } from './leaves/CpuidLeaf.js';
import { GetTdVmCallInfoLeaf } from './leaves/GetTdVmCallInfoLeaf.js';
import { HltLeaf } from './leaves/HltLeaf.js';
import { MapGpaLeaf, MapGpaRangeHypercallLeaf } from './leaves/MapGpaLeaf.js';
import { IoLeaf } from './leaves/IoLeaf.js';
import { RdmsrLeaf, WrmsrLeaf } from './leaves/MsrLeaves.js';
import { RequestMmioLeaf } from './leaves/RequestMmioLeaf.js';

/**
 * kvm's DI module: binds the simulated KVM as the {@link HYPERVISOR}, the Linux 6.16 exit
 * shapes, and the leaves KVM answers itself: Instruction.CPUID, HLT, IO (KVM_EXIT_IO),
 * RDMSR / WRMSR (KVM_EXIT_X86_RDMSR / WRMSR), #VE.RequestMMIO (KVM_EXIT_MMIO) and
 * GetTdVmCallInfo (KVM_EXIT_TDX for leaf 1), MapGPA (KVM_EXIT_HYPERCALL / KVM_HC_MAP_GPA_RANGE), and
 * KVM_HC_MAP_GPA_RANGE as a KVM hypercall (R10 = 12), which shares that exit.
 * @param options - options of the simulated kernel (CPU shape)
 */
export function kvmModule(options: KvmOptions = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(KVM_OPTIONS).toConstantValue(options);
    bind(HYPERVISOR).to(KvmHypervisor).inSingletonScope();
    bind(EXIT_SHAPES).toConstantValue(LINUX_EXIT_SHAPES);
    bind(LEAF_PLUGIN).to(GetTdVmCallInfoLeaf).inSingletonScope();
    bind(LEAF_PLUGIN).to(MapGpaLeaf).inSingletonScope();
    bind(LEAF_PLUGIN).to(MapGpaRangeHypercallLeaf).inSingletonScope();
    bind(LEAF_PLUGIN).to(CpuidLeaf).inSingletonScope();
    bind(LEAF_PLUGIN).to(HltLeaf).inSingletonScope();
    bind(LEAF_PLUGIN).to(IoLeaf).inSingletonScope();
    bind(LEAF_PLUGIN).to(RdmsrLeaf).inSingletonScope();
    bind(LEAF_PLUGIN).to(WrmsrLeaf).inSingletonScope();
    bind(LEAF_PLUGIN).to(RequestMmioLeaf).inSingletonScope();
  });
}
