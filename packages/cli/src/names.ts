import { KVM_EXIT_NAMES, KVM_SYSTEM_EVENT_TDX_FATAL } from '@seamkit/kvm/uapi';
import {
  TDVMCALL_CPUID, TDVMCALL_GET_QUOTE, TDVMCALL_GET_TD_VM_CALL_INFO, TDVMCALL_HLT, TDVMCALL_IO, TDVMCALL_MAP_GPA,
  TDVMCALL_PCONFIG, TDVMCALL_RDMSR, TDVMCALL_REPORT_FATAL_ERROR, TDVMCALL_REQUEST_MMIO, TDVMCALL_SERVICE,
  TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT, TDVMCALL_STATUS_ALIGN_ERROR, TDVMCALL_STATUS_GPA_INUSE,
  TDVMCALL_STATUS_INVALID_OPERAND, TDVMCALL_STATUS_RETRY, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED,
  TDVMCALL_STATUS_SUCCESS, TDVMCALL_WBINVD, TDVMCALL_WRMSR,
} from '@seamkit/seam-cpu/abi';
import {
  EXIT_REASON_CPUID, EXIT_REASON_EPT_MISCONFIG, EXIT_REASON_EPT_VIOLATION, EXIT_REASON_EXCEPTION_NMI,
  EXIT_REASON_EXTERNAL_INTERRUPT, EXIT_REASON_HLT, EXIT_REASON_IO_INSTRUCTION, EXIT_REASON_MSR_READ,
  EXIT_REASON_MSR_WRITE, EXIT_REASON_TDCALL, EXIT_REASON_TRIPLE_FAULT, EXIT_REASON_VMCALL,
} from '@seamkit/seam-cpu/abi';

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

const VMX_EXIT_NAMES = new Map<number, string>([
  [EXIT_REASON_EXCEPTION_NMI, 'EXCEPTION_NMI'],
  [EXIT_REASON_EXTERNAL_INTERRUPT, 'EXTERNAL_INTERRUPT'],
  [EXIT_REASON_TRIPLE_FAULT, 'TRIPLE_FAULT'],
  [EXIT_REASON_CPUID, 'CPUID'],
  [EXIT_REASON_HLT, 'HLT'],
  [EXIT_REASON_VMCALL, 'VMCALL'],
  [EXIT_REASON_IO_INSTRUCTION, 'IO_INSTRUCTION'],
  [EXIT_REASON_MSR_READ, 'MSR_READ'],
  [EXIT_REASON_MSR_WRITE, 'MSR_WRITE'],
  [EXIT_REASON_EPT_VIOLATION, 'EPT_VIOLATION'],
  [EXIT_REASON_EPT_MISCONFIG, 'EPT_MISCONFIG'],
  [EXIT_REASON_TDCALL, 'TDCALL'],
]);

/** Name of a VMX basic exit reason (the low 16 bits of a TD exit), e.g. TDCALL for 77, or its number. */
export function vmxExitName(reason: number): string {
  return VMX_EXIT_NAMES.get(reason) ?? String(reason);
}
