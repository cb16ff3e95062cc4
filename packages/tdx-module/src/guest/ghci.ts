import {
  R10, R11, R12, R13, R14, R15, R8, R9, RAX, RBX, RCX, RDI, RDX, RSI, EXIT_REASON_TDCALL,
  TDVMCALL_EXPOSE_REGS_MASK, TDVMCALL_GET_QUOTE, TDVMCALL_GET_TD_VM_CALL_INFO, TDVMCALL_REPORT_FATAL_ERROR,
  TDVMCALL_MAP_GPA, TDVMCALL_CPUID, TDVMCALL_HLT, TDVMCALL_IO, TDVMCALL_RDMSR, TDVMCALL_WRMSR,
  TDVMCALL_REQUEST_MMIO, TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT, type GuestCpu, type RegisterFile,
} from '@seamkit/seam-cpu';
import { TDG_VP_INFO, TDG_VP_VMCALL } from '../abi/leaves.js';

/**
 * Step form: sets up the registers of a standard TDG.VP.VMCALL (RAX = 0, RCX = bitmap,
 * R10 = 0, R11 = leaf) and returns the TDCALL exit reason, so step code can
 * `return prepareTdvmcall(cpu.regs, leaf)` after writing R12.. itself. Allocates nothing.
 */
export function prepareTdvmcall(regs: RegisterFile, leaf: number, bitmap = TDVMCALL_EXPOSE_REGS_MASK): number {
  regs.setHalves(RAX, TDG_VP_VMCALL, 0);
  regs.setHalves(RCX, bitmap, 0);
  regs.setHalves(R10, 0, 0);
  regs.setHalves(R11, leaf, 0);
  return EXIT_REASON_TDCALL;
}

/** Arguments R12..R15 of a TDVMCALL (missing ones are 0). */
export interface TdvmcallArgs {
  /** R12 */ readonly r12?: bigint;
  /** R13 */ readonly r13?: bigint;
  /** R14 */ readonly r14?: bigint;
  /** R15 */ readonly r15?: bigint;
}

/**
 * Ergonomic form: one standard TDVMCALL (`yield*` it from a guest generator). Returns R10, the
 * TDVMCALL status; other outputs stay in `cpu.regs` (R11.., as the leaf defines).
 */
export function* tdvmcall(cpu: GuestCpu, leaf: number, args: TdvmcallArgs = {}, bitmap = TDVMCALL_EXPOSE_REGS_MASK): Generator<number, bigint, void> {
  const r = cpu.regs;
  r.set(R12, args.r12 ?? 0n);
  r.set(R13, args.r13 ?? 0n);
  r.set(R14, args.r14 ?? 0n);
  r.set(R15, args.r15 ?? 0n);
  yield prepareTdvmcall(r, leaf, bitmap);
  return r.get(R10);
}

/** A KVM hypercall through TDG.VP.VMCALL with R10 = `nr` != 0 and args in R11..R14; returns R10. */
export function* kvmHypercall(cpu: GuestCpu, nr: bigint, a0 = 0n, a1 = 0n, a2 = 0n, a3 = 0n): Generator<number, bigint, void> {
  const r = cpu.regs;
  r.setHalves(RAX, TDG_VP_VMCALL, 0);
  r.setHalves(RCX, TDVMCALL_EXPOSE_REGS_MASK, 0);
  r.set(R10, nr);
  r.set(R11, a0);
  r.set(R12, a1);
  r.set(R13, a2);
  r.set(R14, a3);
  yield EXIT_REASON_TDCALL;
  return r.get(R10);
}

/** GetQuote (0x10002): R12 = shared GPA of the buffer, R13 = its size. Returns R10. */
export function* getQuote(cpu: GuestCpu, gpa: number, size: number): Generator<number, bigint, void> {
  return yield* tdvmcall(cpu, TDVMCALL_GET_QUOTE, { r12: BigInt(gpa), r13: BigInt(size) });
}

/** SetupEventNotifyInterrupt (0x10004): R12 = vector. Returns R10. */
export function* setupEventNotifyInterrupt(cpu: GuestCpu, vector: number): Generator<number, bigint, void> {
  return yield* tdvmcall(cpu, TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT, { r12: BigInt(vector) });
}

/** Result of GetTdVmCallInfo. */
export interface TdVmCallInfo {
  /** R10 status. */ readonly status: bigint;
  /** R11 */ readonly r11: bigint;
  /** R12 */ readonly r12: bigint;
  /** R13 */ readonly r13: bigint;
  /** R14 */ readonly r14: bigint;
}

/** GetTdVmCallInfo (0x10000): R12 = leaf (0 or 1). */
export function* getTdVmCallInfo(cpu: GuestCpu, leaf: number): Generator<number, TdVmCallInfo, void> {
  const status = yield* tdvmcall(cpu, TDVMCALL_GET_TD_VM_CALL_INFO, { r12: BigInt(leaf) });
  const r = cpu.regs;
  return { status, r11: r.get(R11), r12: r.get(R12), r13: r.get(R13), r14: r.get(R14) };
}

/** MapGPA (0x10001): R12 = GPA (shared bit selects the direction), R13 = size. Returns R10; R11 holds the retry GPA. */
export function* mapGpa(cpu: GuestCpu, gpa: number, size: number): Generator<number, bigint, void> {
  return yield* tdvmcall(cpu, TDVMCALL_MAP_GPA, { r12: BigInt(gpa), r13: BigInt(size) });
}

/** Instruction.CPUID (10): returns [status, eax, ebx, ecx, edx] from R10, R12..R15. */
export function* cpuid(cpu: GuestCpu, leaf: number, subleaf = 0): Generator<number, [bigint, number, number, number, number], void> {
  const status = yield* tdvmcall(cpu, TDVMCALL_CPUID, { r12: BigInt(leaf), r13: BigInt(subleaf) });
  const r = cpu.regs;
  return [status, r.lo(R12), r.lo(R13), r.lo(R14), r.lo(R15)];
}

/** Instruction.HLT (12): R12 = 1 if interrupts are blocked. Returns R10. */
export function* hlt(cpu: GuestCpu, interruptsBlocked = false): Generator<number, bigint, void> {
  return yield* tdvmcall(cpu, TDVMCALL_HLT, { r12: interruptsBlocked ? 1n : 0n });
}

/** Instruction.IO (30) write: R12 = size, R13 = 1, R14 = port, R15 = value. Returns R10. */
export function* ioWrite(cpu: GuestCpu, port: number, size: number, value: number): Generator<number, bigint, void> {
  return yield* tdvmcall(cpu, TDVMCALL_IO, { r12: BigInt(size), r13: 1n, r14: BigInt(port), r15: BigInt(value >>> 0) });
}

/** Instruction.IO (30) read: returns [status, value from R11]. */
export function* ioRead(cpu: GuestCpu, port: number, size: number): Generator<number, [bigint, bigint], void> {
  const status = yield* tdvmcall(cpu, TDVMCALL_IO, { r12: BigInt(size), r13: 0n, r14: BigInt(port) });
  return [status, cpu.regs.get(R11)];
}

/** #VE.RequestMMIO (48) read: returns [status, value from R11]. */
export function* mmioRead(cpu: GuestCpu, gpa: number, size: number): Generator<number, [bigint, bigint], void> {
  const status = yield* tdvmcall(cpu, TDVMCALL_REQUEST_MMIO, { r12: BigInt(size), r13: 0n, r14: BigInt(gpa) });
  return [status, cpu.regs.get(R11)];
}

/** #VE.RequestMMIO (48) write. Returns R10. */
export function* mmioWrite(cpu: GuestCpu, gpa: number, size: number, value: bigint): Generator<number, bigint, void> {
  return yield* tdvmcall(cpu, TDVMCALL_REQUEST_MMIO, { r12: BigInt(size), r13: 1n, r14: BigInt(gpa), r15: value });
}

/** Instruction.RDMSR (31): returns [status, value from R11]. */
export function* rdmsr(cpu: GuestCpu, index: number): Generator<number, [bigint, bigint], void> {
  const status = yield* tdvmcall(cpu, TDVMCALL_RDMSR, { r12: BigInt(index) });
  return [status, cpu.regs.get(R11)];
}

/** Instruction.WRMSR (32). Returns R10. */
export function* wrmsr(cpu: GuestCpu, index: number, value: bigint): Generator<number, bigint, void> {
  return yield* tdvmcall(cpu, TDVMCALL_WRMSR, { r12: BigInt(index), r13: value });
}

/** Registers carrying the ReportFatalError message, 8 bytes each, in order. */
export const FATAL_MESSAGE_REGS = [R14, R15, RBX, RDI, RSI, R8, R9, RDX] as const;

/**
 * ReportFatalError (0x10003), as a Linux guest issues it: R12 = error code (bit 63 set when a
 * GPA is given, in R13), and up to 64 bytes of message packed little-endian into R14, R15, RBX,
 * RDI, RSI, R8, R9, RDX; RCX exposes all of them. Returns R10 if the VMM resumes the guest.
 */
export function* reportFatalError(cpu: GuestCpu, errorCode: bigint, message = '', gpa?: number): Generator<number, bigint, void> {
  const r = cpu.regs;
  const bytes = new Uint8Array(64);
  bytes.set(Buffer.from(message, 'utf8').subarray(0, 64));
  const view = new DataView(bytes.buffer);
  FATAL_MESSAGE_REGS.forEach((reg, i) => r.set(reg, view.getBigUint64(i * 8, true)));
  r.set(R12, gpa === undefined ? errorCode : errorCode | (1n << 63n));
  r.set(R13, gpa === undefined ? 0n : BigInt(gpa));
  yield prepareTdvmcall(r, TDVMCALL_REPORT_FATAL_ERROR);
  return r.get(R10);
}

/** Result of TDG.VP.INFO. */
export interface TdInfo {
  /** TDCALL status (RAX). */ readonly status: bigint;
  /** Guest physical address width (48 or 52). */ readonly gpaw: number;
  /** TD attributes. */ readonly attributes: bigint;
  /** vCPUs initialized. */ readonly numVcpus: number;
  /** MAX_VCPUS. */ readonly maxVcpus: number;
  /** This vCPU's index. */ readonly vcpuIndex: number;
}

/** TDG.VP.INFO (TDCALL leaf 1): answered by the TDX module, no VMM exit. */
export function* tdgVpInfo(cpu: GuestCpu): Generator<number, TdInfo, void> {
  const r = cpu.regs;
  r.setHalves(RAX, TDG_VP_INFO, 0);
  yield EXIT_REASON_TDCALL;
  return {
    status: r.get(RAX), gpaw: r.lo(RCX) & 0x3f, attributes: r.get(RDX),
    numVcpus: r.lo(R8), maxVcpus: r.hi(R8), vcpuIndex: r.lo(R9),
  };
}
