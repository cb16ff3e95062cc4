/**
 * @seamkit/core: the framework. The TDVMCALL leaf plugin contract and the registry that is the
 * only way a leaf can reach userspace; the per-vCPU leaf dispatcher; the DI composition root;
 * the userspace run loop and exit dispatch.
 * @packageDocumentation
 * @mergeModuleWith <project>
 */
export * from './abi/kvmRun.js';
export { createVmm } from './createVmm.js';
export type { CreateVmmOptions } from './createVmm.js';
export { CORE_ERRORS, coreError } from './errors.js';
export type { CoreErrorCode } from './errors.js';
export { ExitBuffer } from './ExitBuffer.js';
export type { ExitShape } from './ExitShape.js';
export { handleExit } from './handleExit.js';
export type { ExitHandler, ExitHandlers } from './handleExit.js';
export type { Hypervisor, HypervisorTd, HypervisorVcpu, TdConfig } from './Hypervisor.js';
export type { LeafContext } from './LeafContext.js';
export { LeafDispatcher } from './LeafDispatcher.js';
export type { LeafHooks } from './LeafHooks.js';
export { HYPERCALL_LEAF_MAX, HYPERCALL_LEAF_MIN, LEAF_EXIT, LEAF_RESUME, VENDOR_LEAF_MAX, VENDOR_LEAF_MIN } from './LeafPlugin.js';
export type { ExitField, LeafExit, LeafMeta, LeafNamespace, LeafPlugin } from './LeafPlugin.js';
export { LeafRegistry } from './LeafRegistry.js';
export type { CompiledLeaf } from './LeafRegistry.js';
export { EXIT_SHAPES, HYPERVISOR, LEAF_PLUGIN } from './tokens.js';
export type { SharedMemory, UserExitContext } from './UserExitContext.js';
export { VcpuEmulation } from './VcpuEmulation.js';
export { VcpuRunner, VcpuRunState } from './VcpuRunner.js';
export type { UserExitHook } from './VcpuRunner.js';
export { Vmm } from './Vmm.js';
export type { CreateTdOptions, VmmTd } from './Vmm.js';
export type { EventSink, GuestCrashEvent, GuestPanicEvent, PluginErrorEvent, VmmEvent } from './VmmEvent.js';
