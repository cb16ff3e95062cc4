/**
 * @seamkit/tdx-module: the simulated Intel TDX module. SEAMCALL (TDH.*) and TDCALL (TDG.*)
 * leaves with their real numbers, registers and status codes; the platform, TD and vCPU state
 * machines; TD entry and exit by the GHCI rules; the Linux-shaped host wrappers; and a guest
 * GHCI library for both guest forms.
 * @packageDocumentation
 */
export * from './abi/leaves.js';
export * from './abi/states.js';
export * from './abi/status.js';
export * from './abi/structures.js';
export { MODULE_ERRORS, moduleError } from './errors.js';
export type { ModuleErrorCode } from './errors.js';
export * as ghci from './guest/ghci.js';
export { prepareTdvmcall, FATAL_MESSAGE_REGS } from './guest/ghci.js';
export type { TdvmcallArgs, TdVmCallInfo, TdInfo } from './guest/ghci.js';
export { seamcall, seamcallRet, seamcallSavedRet } from './host/seamcall.js';
export { TdxHost } from './host/TdxHost.js';
export type { SeamcallResult } from './host/TdxHost.js';
export { mrtdBlock } from './module/memoryLeaves.js';
export { Pamt } from './module/Pamt.js';
export type { PamtEntry } from './module/Pamt.js';
export { SecureEpt } from './module/SecureEpt.js';
export type { SeptLeaf } from './module/SecureEpt.js';
export { Td } from './module/Td.js';
export { TdVcpu } from './module/TdVcpu.js';
export { TdxModule } from './module/TdxModule.js';
export type { SeamcallHandler, TdcallHandler, TdxModuleOptions } from './module/TdxModule.js';
export { INITIAL_RIP, INITIAL_CPUID_1_EAX } from './module/vcpuLeaves.js';
