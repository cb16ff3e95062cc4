/**
 * @seamkit/kvm: the simulated KVM for TDX. Kvm -> Vm (KVM_X86_TDX_VM) -> Vcpu with one method
 * per ioctl, a byte-exact reused kvm_run, TD exits decoded in real KVM's order, and the leaves
 * KVM answers in the kernel. `kvmModule()` plugs it into a seamkit VMM.
 * @packageDocumentation
 * @mergeModuleWith <project>
 */
export * from './uapi/index.js';
export { decodeTdExit } from './decodeTdExit.js';
export { KVM_ERRORS, kvmError } from './errors.js';
export type { KvmErrorCode } from './errors.js';
export { LINUX_EXIT_SHAPES } from './exitShapes.js';
export { Kvm, KVM_CAP_MAX_VCPUS, KVM_CAP_VM_TYPES, KVM_MAX_VCPUS } from './Kvm.js';
export type { CreateVmOptions, KvmOptions } from './Kvm.js';
export { DEFAULT_TD_MEMORY, KVM_OPTIONS, KvmHypervisor } from './KvmHypervisor.js';
export { kvmModule } from './kvmModule.js';
export { KvmRun } from './KvmRun.js';
export { GetTdVmCallInfoLeaf } from './leaves/GetTdVmCallInfoLeaf.js';
export { UserMemory } from './UserMemory.js';
export { Vcpu } from './Vcpu.js';
export type { TdxInitMemRegion } from './Vcpu.js';
export { KVM_SUPPORTED_XFAM, TdState, Vm } from './Vm.js';
export type { TdxCapabilities, TdxInitVm, UserMemoryRegion2 } from './Vm.js';
