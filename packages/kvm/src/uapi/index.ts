/**
 * @seamkit/kvm/uapi: the KVM userspace ABI as constants only (exit reasons, kvm_run layout, TDX
 * sub-commands, capabilities, errno values). Plugins import this subpath, never a running VM.
 * @packageDocumentation
 */
export { KVM_RUN_SIZE, KVM_RUN_EXIT_REASON, KVM_RUN_EXIT_UNION, KVM_RUN_EXIT_UNION_SIZE, KVM_RUN_IMMEDIATE_EXIT } from '@seamkit/core';
export * from './errno.js';
export * from './exits.js';
export * from './kvmRunLayout.js';
export * from './tdx.js';
export * from './x86.js';
