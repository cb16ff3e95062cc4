import { KVM_EXIT_NAMES, KVM_SYSTEM_EVENT_TDX_FATAL } from '@seamkit/kvm/uapi';
import {
  TDVMCALL_CPUID, TDVMCALL_GET_QUOTE, TDVMCALL_GET_TD_VM_CALL_INFO, TDVMCALL_HLT, TDVMCALL_IO, TDVMCALL_MAP_GPA,
  TDVMCALL_PCONFIG, TDVMCALL_RDMSR, TDVMCALL_REPORT_FATAL_ERROR, TDVMCALL_REQUEST_MMIO, TDVMCALL_SERVICE,
  TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT, TDVMCALL_STATUS_ALIGN_ERROR, TDVMCALL_STATUS_GPA_INUSE,
  TDVMCALL_STATUS_INVALID_OPERAND, TDVMCALL_STATUS_RETRY, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED,
  TDVMCALL_STATUS_SUCCESS, TDVMCALL_WBINVD, TDVMCALL_WRMSR,
} from '@seamkit/seam-cpu';

/** GHCI names of the standard TDVMCALL leaves. */
export const LEAF_NAMES: Readonly<Record<number, string>> = {
  [TDVMCALL_CPUID]: 'Instruction.CPUID',
  [TDVMCALL_HLT]: 'Instruction.HLT',
  [TDVMCALL_IO]: 'Instruction.IO',
  [TDVMCALL_RDMSR]: 'Instruction.RDMSR',
  [TDVMCALL_WRMSR]: 'Instruction.WRMSR',
  [TDVMCALL_REQUEST_MMIO]: '#VE.RequestMMIO',
  [TDVMCALL_WBINVD]: 'Instruction.WBINVD',
  [TDVMCALL_PCONFIG]: 'Instruction.PCONFIG',
  [TDVMCALL_GET_TD_VM_CALL_INFO]: 'GetTdVmCallInfo',
  [TDVMCALL_MAP_GPA]: 'MapGPA',
  [TDVMCALL_GET_QUOTE]: 'GetQuote',
  [TDVMCALL_REPORT_FATAL_ERROR]: 'ReportFatalError',
  [TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT]: 'SetupEventNotifyInterrupt',
  [TDVMCALL_SERVICE]: 'Service',
};

const STATUS_NAMES = new Map<bigint, string>([
  [TDVMCALL_STATUS_SUCCESS, 'SUCCESS'],
  [TDVMCALL_STATUS_RETRY, 'RETRY'],
  [TDVMCALL_STATUS_INVALID_OPERAND, 'INVALID_OPERAND'],
  [TDVMCALL_STATUS_GPA_INUSE, 'GPA_INUSE'],
  [TDVMCALL_STATUS_ALIGN_ERROR, 'ALIGN_ERROR'],
  [TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED, 'SUBFUNC_UNSUPPORTED'],
]);

/** `0x..` hex of a value. */
export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** Name of a standard TDVMCALL leaf, or its number in hex. */
export function leafName(leaf: number): string {
  return LEAF_NAMES[leaf] ?? `leaf ${hex(leaf)}`;
}

/** Name of a TDVMCALL status (R10), or its hex value. */
export function statusName(status: bigint): string {
  return STATUS_NAMES.get(status) ?? hex(status);
}

/** Name of a KVM_EXIT_* reason. */
export function exitName(reason: number): string {
  return KVM_EXIT_NAMES[reason] ?? `exit ${reason}`;
}

/** Name of a KVM_SYSTEM_EVENT_* type. */
export function systemEventName(type: number): string {
  return type === KVM_SYSTEM_EVENT_TDX_FATAL ? 'TDX_FATAL' : String(type);
}
