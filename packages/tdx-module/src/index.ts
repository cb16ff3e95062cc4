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
export * from './abi/metadata.js';
export * from './abi/tdreport.js';
export { MODULE_ERRORS, moduleError } from './errors.js';
export type { ModuleErrorCode } from './errors.js';
export * as ghci from './guest/ghci.js';
export { prepareTdvmcall, prepareTdcall, FATAL_MESSAGE_REGS } from './guest/ghci.js';
export type { TdvmcallArgs, TdVmCallInfo, TdInfo, VeInfoResult, MetadataRead, MetadataWrite } from './guest/ghci.js';
export { parseTdReport } from './measurement/parseTdReport.js';
export type { TdReport } from './measurement/parseTdReport.js';
export {
  buildTdReport, extendRtmr, reportMac, tdInfoOf, teeTcbInfo, verifyReportMacStruct, REPORT_MAC_KEY_SIZE,
  SIM_CPUSVN, SIM_MODULE_IDENTITY, SIM_MRSEAM, SIM_TEE_TCB_INFO_VALID, SIM_TEE_TCB_SVN,
} from './measurement/tdreport.js';
export { ALL as MD_MASK_ALL, MdTable, elementSizeMask, isNullFieldId, mdField } from './module/metadata.js';
export type { MdAccessor, MdField, MdFieldSpec, MdReadResult, MdRefs, MdTableReadResult, MdWriteResult } from './module/metadata.js';
export { SIM_NATIVE_TSC_HZ, TD_METADATA, VP_METADATA, tdCtlsOf } from './module/metadataLeaves.js';
export {
  CMR_INFO_ENTRY_SIZE, MAX_CMR, SIM_MODULE_INFO, SYS_METADATA, TDSYSINFO, TDSYSINFO_CPUID_CONFIG_SIZE, TDSYSINFO_STRUCT_SIZE, cmrsOf,
} from './module/platformInfoLeaves.js';
export {
  CPUID_SUBLEAF_NA, SIM_CPUID_CONFIGURABLE, SIM_CPUID_LOOKUP, cpuidConfigValue, cpuidLeafSubleaf, cpuidLookupIndex,
  virtualizeCpuid, xsaveAreaMaxSize,
} from './module/cpuidConfig.js';
export type { CpuidConfigurable, CpuidLookupEntry, CpuidRegs, CpuidVirtualization } from './module/cpuidConfig.js';
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
export type { VeInfo } from './module/TdVcpu.js';
export { TdxModule } from './module/TdxModule.js';
export type { CacheWbState, SeamcallHandler, TdcallHandler, TdxModuleOptions, TdxModuleTestHooks } from './module/TdxModule.js';
export { INITIAL_RIP, INITIAL_CPUID_1_EAX } from './module/vcpuLeaves.js';
