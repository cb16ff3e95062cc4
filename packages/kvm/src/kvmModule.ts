import { ContainerModule } from 'inversify';
import { EXIT_SHAPES, HYPERVISOR, LEAF_PLUGIN } from '@seamkit/core';
import { LINUX_EXIT_SHAPES } from './exitShapes.js';
import type { KvmOptions } from './Kvm.js';
import { KVM_OPTIONS, KvmHypervisor } from './KvmHypervisor.js';
import { GetTdVmCallInfoLeaf } from './leaves/GetTdVmCallInfoLeaf.js';

/**
 * kvm's DI module: binds the simulated KVM as the {@link HYPERVISOR}, the Linux 6.16 exit
 * shapes, and the leaves KVM answers itself (GetTdVmCallInfo).
 * @param options - options of the simulated kernel (CPU shape)
 */
export function kvmModule(options: KvmOptions = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(KVM_OPTIONS).toConstantValue(options);
    bind(HYPERVISOR).to(KvmHypervisor).inSingletonScope();
    bind(EXIT_SHAPES).toConstantValue(LINUX_EXIT_SHAPES);
    bind(LEAF_PLUGIN).to(GetTdVmCallInfoLeaf).inSingletonScope();
  });
}
