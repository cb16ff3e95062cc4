/**
 * @seamkit/seam-cpu: the simulated SEAM-capable CPU. Register files as typed views over one
 * buffer, CPU modes and the SEAMCALL / SEAMRET / TDCALL / TD-entry instructions, key-tagged
 * physical memory with real encryption, and the two forms of guest code.
 * @packageDocumentation
 * @mergeModuleWith <project>
 */
export * from './abi/registers.js';
export * from './abi/vmx.js';
export { CpuFault } from './CpuFault.js';
export { CpuMode, CPU_MODE_NAMES } from './CpuMode.js';
export { CPU_ERRORS, cpuError } from './errors.js';
export type { CpuErrorCode } from './errors.js';
export { EptViolation } from './EptViolation.js';
export { fromGenerator } from './fromGenerator.js';
export { GuestCpu, VirtualApic } from './GuestCpu.js';
export { GuestMemory } from './GuestMemory.js';
export { LogicalProcessor } from './LogicalProcessor.js';
export { NATIVE_CPUID, nativeCpuid } from './nativeCpuid.js';
export type { CpuidRegs, NativeCpuidLeaf } from './nativeCpuid.js';
export { PhysicalMemory } from './PhysicalMemory.js';
export { RegisterFile } from './RegisterFile.js';
export { SeamCpu } from './SeamCpu.js';
export { SeamkitError, errorFactory } from './SeamkitError.js';
export type { Ept } from './Ept.js';
export type { GuestCode, GuestGenerator, GuestProgram } from './GuestCode.js';
export type { SeamCpuOptions } from './SeamCpu.js';
export type { SeamModule } from './SeamModule.js';
export * from './abi/ghci.js';
