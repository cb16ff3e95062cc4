import { type GuestCpu, type RegisterFile } from '@seamkit/seam-cpu';
import {
  R10, R11, R12, R13, R14, R15, R8, R9, RAX, RBX, RCX, RDI, RDX, RSI, EXIT_REASON_TDCALL, TDVMCALL_EXPOSE_REGS_MASK,
  TDVMCALL_GET_QUOTE, TDVMCALL_GET_TD_VM_CALL_INFO, TDVMCALL_REPORT_FATAL_ERROR, TDVMCALL_MAP_GPA, TDVMCALL_CPUID,
  TDVMCALL_HLT, TDVMCALL_IO, TDVMCALL_RDMSR, TDVMCALL_WRMSR, TDVMCALL_REQUEST_MMIO,
  TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT, TDVMCALL_SERVICE, TDVMCALL_WBINVD, TDVMCALL_PCONFIG,
} from '@seamkit/seam-cpu/abi';
import { EptViolation } from '@seamkit/seam-cpu';
import { EXIT_REASON_EPT_VIOLATION } from '@seamkit/seam-cpu/abi';
import {
  LEAF_VERSION_SHIFT, TDG_MEM_PAGE_ACCEPT, TDG_MR_REPORT, TDG_MR_RTMR_EXTEND, TDG_MR_VERIFYREPORT, TDG_SYS_RD,
  TDG_VM_RD, TDG_VM_WR, TDG_VP_CPUIDVE_SET, TDG_VP_INFO, TDG_VP_VEINFO_GET, TDG_VP_VMCALL,
} from '../abi/leaves.js';

/**
 * Step form: sets up the registers of a standard TDG.VP.VMCALL (RAX = 0, RCX = bitmap,
 * R10 = 0, R11 = leaf) and returns the TDCALL exit reason, so step code can
 * `return prepareTdvmcall(cpu.regs, leaf)` after writing R12.. itself. Allocates nothing.
 */
export function prepareTdvmcall(regs: RegisterFile, leaf: number, bitmap = TDVMCALL_EXPOSE_REGS_MASK): number {
  const u = regs.u32;
  u[RAX * 2] = TDG_VP_VMCALL; u[RAX * 2 + 1] = 0;
  u[RCX * 2] = bitmap; u[RCX * 2 + 1] = 0;
  u[R10 * 2] = 0; u[R10 * 2 + 1] = 0;
  u[R11 * 2] = leaf; u[R11 * 2 + 1] = 0;
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
 * TDVMCALL status; other outputs stay in `cpu.regs` (R11.., as the leaf defines). `bitmap` bits
 * 15:0 select GPRs, bits 31:16 XMM0..15: the module accepts XMM bits and reports them to the VMM
 * in the exit qualification, but the simulated CPU has no XMM state, so no XMM value moves.
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
  /** R10 bit 0: TDG.SYS.RD is available. */ readonly sysRdAvailable: boolean;
}

/** TDG.VP.INFO (TDCALL leaf 1): answered by the TDX module, no VMM exit. */
export function* tdgVpInfo(cpu: GuestCpu): Generator<number, TdInfo, void> {
  const r = cpu.regs;
  r.setHalves(RAX, TDG_VP_INFO, 0);
  yield EXIT_REASON_TDCALL;
  return {
    status: r.get(RAX), gpaw: r.lo(RCX) & 0x3f, attributes: r.get(RDX),
    numVcpus: r.lo(R8), maxVcpus: r.hi(R8), vcpuIndex: r.lo(R9), sysRdAvailable: (r.lo(R10) & 1) === 1,
  };
}


/**
 * Step form: sets RAX = `leaf` | `version` << 16 for a TDCALL the TDX module answers itself and
 * returns the TDCALL exit reason. Write the leaf's input registers first. Allocates nothing.
 */
export function prepareTdcall(regs: RegisterFile, leaf: number, version = 0): number {
  regs.setHalves(RAX, (leaf | (version << LEAF_VERSION_SHIFT)) >>> 0, 0);
  return EXIT_REASON_TDCALL;
}

/** One TDCALL answered by the module (no VMM exit): yields it and returns the RAX status. */
function* moduleCall(cpu: GuestCpu, leaf: number, version = 0): Generator<number, bigint, void> {
  yield prepareTdcall(cpu.regs, leaf, version);
  return cpu.regs.get(RAX);
}

/**
 * Step form of TDG.MR.REPORT: RCX = TDREPORT output GPA (1024-aligned), RDX = REPORTDATA GPA
 * (64-aligned), R8 = subtype. Returns the TDCALL exit reason.
 */
export function prepareTdReport(regs: RegisterFile, reportGpa: number, reportDataGpa: number, subtype = 0): number {
  regs.setNumber(RCX, reportGpa);
  regs.setNumber(RDX, reportDataGpa);
  regs.setNumber(R8, subtype);
  return prepareTdcall(regs, TDG_MR_REPORT);
}

/**
 * TDG.MR.REPORT (TDCALL 4), as Linux's `tdx_mcall_get_report0`: the module writes the 1024-byte
 * TDREPORT_STRUCT at `reportGpa` for the 64 bytes of REPORTDATA at `reportDataGpa`. Returns RAX.
 */
export function* tdReport(cpu: GuestCpu, reportGpa: number, reportDataGpa: number, subtype = 0): Generator<number, bigint, void> {
  yield prepareTdReport(cpu.regs, reportGpa, reportDataGpa, subtype);
  return cpu.regs.get(RAX);
}

/** Step form of TDG.MR.RTMR.EXTEND: RCX = GPA of the 48-byte digest (64-aligned), RDX = RTMR index. */
export function prepareRtmrExtend(regs: RegisterFile, digestGpa: number, index: number): number {
  regs.setNumber(RCX, digestGpa);
  regs.setNumber(RDX, index);
  return prepareTdcall(regs, TDG_MR_RTMR_EXTEND);
}

/**
 * TDG.MR.RTMR.EXTEND (TDCALL 2), as Linux's `tdx_mcall_extend_rtmr`: RTMR[index] =
 * SHA-384(RTMR[index] || the 48 bytes at `digestGpa`). Returns RAX.
 */
export function* rtmrExtend(cpu: GuestCpu, digestGpa: number, index: number): Generator<number, bigint, void> {
  yield prepareRtmrExtend(cpu.regs, digestGpa, index);
  return cpu.regs.get(RAX);
}

/** TDG.MR.VERIFYREPORT (TDCALL 22): RCX = GPA of a REPORTMACSTRUCT (256-aligned, private). Returns RAX. */
export function* verifyReport(cpu: GuestCpu, reportMacStructGpa: number): Generator<number, bigint, void> {
  cpu.regs.setNumber(RCX, reportMacStructGpa);
  return yield* moduleCall(cpu, TDG_MR_VERIFYREPORT);
}

/** Result of TDG.VP.VEINFO.GET. */
export interface VeInfoResult {
  /** RAX: TDX_SUCCESS or TDX_NO_VALID_VE_INFO. */ readonly status: bigint;
  /** RCX bits 31:0: exit reason. */ readonly exitReason: number;
  /** RDX: exit qualification. */ readonly exitQualification: bigint;
  /** R8: guest linear address. */ readonly gla: bigint;
  /** R9: guest physical address. */ readonly gpa: bigint;
  /** R10 bits 31:0: instruction length. */ readonly instructionLength: number;
  /** R10 bits 63:32: instruction information. */ readonly instructionInfo: number;
}

/** TDG.VP.VEINFO.GET (TDCALL 3), as Linux's `tdx_get_ve_info`. */
export function* veInfoGet(cpu: GuestCpu): Generator<number, VeInfoResult, void> {
  const status = yield* moduleCall(cpu, TDG_VP_VEINFO_GET);
  const r = cpu.regs;
  return {
    status, exitReason: r.lo(RCX), exitQualification: r.get(RDX), gla: r.get(R8), gpa: r.get(R9),
    instructionLength: r.lo(R10), instructionInfo: r.hi(R10),
  };
}

/** TDG.VP.CPUIDVE.SET (TDCALL 5): RCX bit 0 = #VE on CPUID at CPL 0, bit 1 = at CPL > 0. Returns RAX. */
export function* cpuidVeSet(cpu: GuestCpu, supervisor: boolean, user: boolean): Generator<number, bigint, void> {
  cpu.regs.setNumber(RCX, (supervisor ? 1 : 0) | (user ? 2 : 0));
  return yield* moduleCall(cpu, TDG_VP_CPUIDVE_SET);
}

/** TDG.MEM.PAGE.ACCEPT (TDCALL 6): RCX = GPA | level (0 = 4 KiB, 1 = 2 MiB). Returns RAX. */
export function* acceptPage(cpu: GuestCpu, gpa: number, level = 0): Generator<number, bigint, void> {
  cpu.regs.setNumber(RCX, gpa + level);
  return yield* moduleCall(cpu, TDG_MEM_PAGE_ACCEPT);
}

/** Result of a metadata read TDCALL (TDG.VM.RD, TDG.SYS.RD). */
export interface MetadataRead {
  /** RAX. */ readonly status: bigint;
  /** R8: the value (0 on failure). */ readonly value: bigint;
  /** RDX: the next field id (TDG.VM.RD version 1, TDG.SYS.RD), or the field id as passed. */ readonly next: bigint;
}

/** Step form of TDG.VM.RD: RCX = 0, RDX = field id. */
export function prepareVmRead(regs: RegisterFile, fieldId: bigint, version = 0): number {
  regs.setHalves(RCX, 0, 0);
  regs.set(RDX, fieldId);
  return prepareTdcall(regs, TDG_VM_RD, version);
}

/** TDG.VM.RD (TDCALL 7), version 0 or 1, as Linux's `tdg_vm_rd`: reads TD-scope metadata. */
export function* vmRead(cpu: GuestCpu, fieldId: bigint, version = 0): Generator<number, MetadataRead, void> {
  yield prepareVmRead(cpu.regs, fieldId, version);
  const r = cpu.regs;
  return { status: r.get(RAX), value: r.get(R8), next: r.get(RDX) };
}

/** Step form of TDG.VM.WR: RCX = 0, RDX = field id, R8 = value, R9 = write mask. */
export function prepareVmWrite(regs: RegisterFile, fieldId: bigint, value: bigint, mask: bigint): number {
  regs.setHalves(RCX, 0, 0);
  regs.set(RDX, fieldId);
  regs.set(R8, value);
  regs.set(R9, mask);
  return prepareTdcall(regs, TDG_VM_WR);
}

/** Result of TDG.VM.WR. */
export interface MetadataWrite {
  /** RAX. */ readonly status: bigint;
  /** R8: the old value (0 on failure). */ readonly old: bigint;
}

/**
 * TDG.VM.WR (TDCALL 8), as Linux's `tdg_vm_wr`: writes the bits of `mask` (default all) of a
 * TD-scope field. Linux clears NOTIFY_ENABLES at boot with `vmWrite(cpu, TDCS_NOTIFY_ENABLES, 0n)`.
 */
export function* vmWrite(cpu: GuestCpu, fieldId: bigint, value: bigint, mask = 0xffff_ffff_ffff_ffffn): Generator<number, MetadataWrite, void> {
  yield prepareVmWrite(cpu.regs, fieldId, value, mask);
  return { status: cpu.regs.get(RAX), old: cpu.regs.get(R8) };
}

/** TDG.SYS.RD (TDCALL 11): reads guest-readable global metadata (RDX = field id). */
export function* sysRead(cpu: GuestCpu, fieldId: bigint): Generator<number, MetadataRead, void> {
  cpu.regs.set(RDX, fieldId);
  const status = yield* moduleCall(cpu, TDG_SYS_RD);
  return { status, value: cpu.regs.get(R8), next: cpu.regs.get(RDX) };
}

/**
 * Service (TDVMCALL 0x10005, GHCI 1.5): R12 = command buffer GPA, R13 = response buffer GPA
 * (shared, 4 KiB aligned), R14 = notification vector (0 = none), R15 = timeout. Returns R10.
 */
export function* service(cpu: GuestCpu, commandGpa: number, responseGpa: number, notifyVector = 0, timeout = 0n): Generator<number, bigint, void> {
  return yield* tdvmcall(cpu, TDVMCALL_SERVICE, {
    r12: BigInt(commandGpa), r13: BigInt(responseGpa), r14: BigInt(notifyVector), r15: timeout,
  });
}

/** Instruction.WBINVD (TDVMCALL 54). Its register use is not confirmed by a public source; no arguments are passed. Returns R10. */
export function* wbinvd(cpu: GuestCpu): Generator<number, bigint, void> {
  return yield* tdvmcall(cpu, TDVMCALL_WBINVD);
}

/** Instruction.PCONFIG (TDVMCALL 65). Its register use is not confirmed by a public source; R12 = leaf is passed. Returns R10. */
export function* pconfig(cpu: GuestCpu, leaf = 0): Generator<number, bigint, void> {
  return yield* tdvmcall(cpu, TDVMCALL_PCONFIG, { r12: BigInt(leaf) });
}

/**
 * Runs the guest memory access `fn` as one instruction: if it faults (an EPT violation: no
 * private page yet, a PENDING page, a GPA whose memory attribute is of the other kind), the vCPU
 * takes an EPT-violation VM exit with the faulting GPA and access kind, and when the host resumes
 * it the same access runs again, as the CPU re-executes a faulting instruction. A plain
 * `cpu.mem` access that faults ends the guest program instead (it cannot be resumed). Returns
 * what `fn` returns.
 */
export function* memAccess<T>(cpu: GuestCpu, fn: () => T): Generator<number, T, void> {
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof EptViolation)) throw err;
      const lp = cpu.lp!;
      lp.exitGpa = err.gpa;
      lp.exitQualification = err.write ? EPT_QUAL_WRITE : EPT_QUAL_READ;
      yield EXIT_REASON_EPT_VIOLATION;
    }
  }
}

/** EPT-violation exit qualification: bit 0 data read, bit 1 data write (SDM Vol. 3 Table 28-7). */
const EPT_QUAL_READ = 1;
const EPT_QUAL_WRITE = 2;

/** Reads `dst.length` bytes of guest memory at `gpa` (shared bit selects the mapping), retrying after EPT violations. */
export function* memRead(cpu: GuestCpu, gpa: number, dst: Uint8Array): Generator<number, void, void> {
  yield* memAccess(cpu, () => cpu.mem.read(gpa, dst));
}

/** Writes `src` to guest memory at `gpa`, retrying after EPT violations. */
export function* memWrite(cpu: GuestCpu, gpa: number, src: Uint8Array): Generator<number, void, void> {
  yield* memAccess(cpu, () => cpu.mem.write(gpa, src));
}

/** Reads a little-endian u32 at `gpa`, retrying after EPT violations. */
export function* memReadU32(cpu: GuestCpu, gpa: number): Generator<number, number, void> {
  return yield* memAccess(cpu, () => cpu.mem.readU32(gpa));
}

/** Writes a little-endian u32 at `gpa`, retrying after EPT violations. */
export function* memWriteU32(cpu: GuestCpu, gpa: number, value: number): Generator<number, void, void> {
  yield* memAccess(cpu, () => cpu.mem.writeU32(gpa, value));
}

/** Reads a little-endian u64 at `gpa`, retrying after EPT violations. */
export function* memReadU64(cpu: GuestCpu, gpa: number): Generator<number, bigint, void> {
  return yield* memAccess(cpu, () => cpu.mem.readU64(gpa));
}

/** Writes a little-endian u64 at `gpa`, retrying after EPT violations. */
export function* memWriteU64(cpu: GuestCpu, gpa: number, value: bigint): Generator<number, void, void> {
  yield* memAccess(cpu, () => cpu.mem.writeU64(gpa, value));
}
