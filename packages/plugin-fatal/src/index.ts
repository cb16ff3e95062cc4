/**
 * @seamkit/plugin-fatal: the ReportFatalError TDVMCALL leaf (0x10003) for seamkit VMMs,
 * KVM_EXIT_SYSTEM_EVENT / KVM_SYSTEM_EVENT_TDX_FATAL with QEMU's decoding.
 * @packageDocumentation
 */
export { decodeFatalError, FATAL_GPA_VALID, FATAL_MESSAGE_SLOTS } from './decodeFatalError.js';
export type { FatalError } from './decodeFatalError.js';
export { fatalModule } from './fatalModule.js';
export { readFatalInfoPage, ReportFatalErrorLeaf } from './ReportFatalErrorLeaf.js';
export type { TdxGuestPanicEvent } from './ReportFatalErrorLeaf.js';
