/**
 * @seamkit/kvm: the simulated KVM for TDX. Kvm -> Vm (KVM_X86_TDX_VM) -> Vcpu with one method
 * per ioctl, a byte-exact reused kvm_run, TD exits decoded in real KVM's order, and the leaves
 * KVM answers in the kernel. `kvmModule()` plugs it into a seamkit VMM.
 * @packageDocumentation
 * @mergeModuleWith <project>
 */
export * from './uapi/index.js';
export { decodeTdExit } from './decodeTdExit.js';
export type { TdExitFaults } from './decodeTdExit.js';
export { MemoryAttributes } from './MemoryAttributes.js';
export { TdxMmu } from './TdxMmu.js';
export { reclaimAll, reclaimPage, releaseHkid } from './tdxTeardown.js';
export { KvmCpuid } from './devices/Cpuid.js';
export type { KvmCpuidEntry2 } from './devices/Cpuid.js';
export { KVM_FAST_MMIO_BUS, KVM_MMIO_BUS, KVM_PIO_BUS, KvmIoBus, NR_IOBUS_DEVS } from './devices/IoBus.js';
export type { KvmIoDevice } from './devices/IoBus.js';
export * from './devices/LocalApic.js';
export * from './devices/Msrs.js';
export { VcpuArch } from './devices/VcpuArch.js';
export { KVM_ERRORS, kvmError, withTdxCmdOutputs } from './errors.js';
export type { KvmErrorCode, KvmTdxCmdError, KvmTdxCmdOutputs } from './errors.js';
export {
  KVM_TDX_CPUID_NO_SUBLEAF, TD_MD_FIELD_ID_CPUID_VALUES, findCpuidEntry2, readTdxCpuidConf, setupTdparamsCpuids, tdInitCpuidEntry2,
  cpuidWithApicId, filterTdxCpuid, tdxGpawFromCpuid, tdxGuestPhysAddrBits, tdxReadTdCpuid, tdxSetGuestPhysAddrBits,
} from './tdxCpuid.js';
export type { KvmCpuid2, TdxCpuidConf } from './tdxCpuid.js';
export { LINUX_EXIT_SHAPES } from './exitShapes.js';
export { Kvm, KVM_CAP_MAX_VCPUS, KVM_CAP_VM_TYPES, KVM_MAX_VCPUS } from './Kvm.js';
export type { CreateVmOptions, KvmOptions } from './Kvm.js';
export { DEFAULT_TD_MEMORY, KVM_OPTIONS, KvmHypervisor } from './KvmHypervisor.js';
export { handleMemoryFault } from './handleMemoryFault.js';
export { kvmModule } from './kvmModule.js';
export { KVM_RUN_MMAP_SIZE, KvmRun } from './KvmRun.js';
export { CpuidLeaf } from './leaves/CpuidLeaf.js';
export { GetTdVmCallInfoLeaf } from './leaves/GetTdVmCallInfoLeaf.js';
export { HltLeaf } from './leaves/HltLeaf.js';
export { MapGpaLeaf, MapGpaRangeHypercallLeaf } from './leaves/MapGpaLeaf.js';
export { IoLeaf, KVM_PIO_DATA_OFFSET } from './leaves/IoLeaf.js';
export { vcpuOf } from './leaves/KvmLeafContext.js';
export type { KvmLeafContext } from './leaves/KvmLeafContext.js';
export { RdmsrLeaf, WrmsrLeaf } from './leaves/MsrLeaves.js';
export { RequestMmioLeaf } from './leaves/RequestMmioLeaf.js';
export { UserMemory } from './UserMemory.js';
export { Vcpu } from './Vcpu.js';
export type { KvmMsrEntry, KvmRegs, TdxInitMemRegion } from './Vcpu.js';
export { KVM_SUPPORTED_XFAM, TdState, Vm } from './Vm.js';
export type { KvmMemoryAttributes, KvmMsi, TdxCapabilities, TdxInitVm, UserMemoryRegion2 } from './Vm.js';
