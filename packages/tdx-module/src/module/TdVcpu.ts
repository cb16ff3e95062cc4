import { GuestCpu, RegisterFile, type GuestCode, type GuestMemory } from '@seamkit/seam-cpu';
import { LAST_EXIT_ASYNC_FAULT, VCPU_UNINITIALIZED } from '../abi/states.js';
import type { Td } from './Td.js';

/** TDVPS.VE_INFO: the virtualization-exception information of the last #VE. */
export interface VeInfo {
  /** VALID: set when a #VE was delivered; cleared by TDG.VP.VEINFO.GET. */
  valid: boolean;
  /** Exit reason (32 bits). */
  exitReason: number;
  /** Exit qualification. */
  exitQualification: bigint;
  /** Guest linear address. */
  gla: bigint;
  /** Guest physical address. */
  gpa: bigint;
  /** Instruction length (bits 31:0) and instruction information (bits 63:32). */
  instrInfo: bigint;
}

/**
 * A TD vCPU as the TDX module tracks it (TDVPS): state, LP association, the guest's saved GPRs,
 * and what its last TD exit was.
 */
export class TdVcpu {
  /** Physical address of the TDVPR page (the vCPU's handle). */
  readonly tdvprPa: number;
  /** Owning TD. */
  readonly td: Td;
  /** TDVPS.MANAGEMENT.STATE (VCPU_*). */
  state = VCPU_UNINITIALIZED;
  /** TDVPS pages added by TDH.VP.ADDCX. */
  readonly tdcxPages: number[] = [];
  /** 0-based vCPU index, set by TDH.VP.INIT (-1 before). */
  index = -1;
  /** LP the vCPU is associated with, or -1. */
  lp = -1;
  /** last_td_exit (LAST_EXIT_*). */
  lastExit = LAST_EXIT_ASYNC_FAULT;
  /** The guest's GPR state (TDVPS guest state area). */
  readonly regs = new RegisterFile();
  /** Guest RCX bitmap of the TDVMCALL in progress. */
  savedBitmap = 0;
  /** What guest code sees; created by TDH.VP.INIT. */
  guest: GuestCpu | undefined;
  /** The running guest code; created at first entry. */
  code: GuestCode | undefined;
  /** TDVPS.MANAGEMENT.PEND_NMI (KVM writes 1 with TDH.VP.WR to inject an NMI). */
  pendNmi = 0;
  /** CPUID #VE controls set by TDG.VP.CPUIDVE.SET: bit 0 supervisor (CPL 0), bit 1 user. */
  cpuidVe = 0;
  /** TDVPS.VE_INFO, returned and invalidated by TDG.VP.VEINFO.GET. */
  readonly veInfo: VeInfo = { valid: false, exitReason: 0, exitQualification: 0n, gla: 0n, gpa: 0n, instrInfo: 0n };
  /** TD VMCS fields written with TDH.VP.WR, by VMCS encoding; absent ones hold their initial value. */
  readonly vmcs = new Map<number, bigint>();
  /**
   * Set when a TDCALL the module answers caused a TD exit instead (an EPT violation on one of its
   * memory operands): RIP was not advanced, and the next TDH.VP.ENTER executes that TDCALL again
   * before it resumes the guest code.
   */
  tdcallRestart = false;
  /** Set when TDH.PHYMEM.PAGE.RECLAIM frees the TDVPR: the handle no longer names this vCPU. */
  reclaimed = false;
  /** Bits 31:0 of {@link tdvprPa} as int32 (TDH.VP.ENTER matches RCX by halves, integer compares only). */
  readonly tdvprLo: number;
  /** Bits 63:32 of {@link tdvprPa} as int32. */
  readonly tdvprHi: number;
  /**
   * Extended exit qualification (RDX) of the EPT-violation TD exit a TDCALL is about to cause
   * (TDG.MEM.PAGE.ACCEPT: type ACCEPT with the SEPT details); consumed by that exit.
   */
  extExitQual = 0n;

  /**
   * @param tdvprPa - TDVPR page address
   * @param td - owning TD
   */
  constructor(tdvprPa: number, td: Td) {
    this.tdvprPa = tdvprPa;
    this.tdvprLo = tdvprPa | 0;
    this.tdvprHi = Math.floor(tdvprPa / 0x1_0000_0000) | 0;
    this.td = td;
  }

  /** Creates the guest view once the vCPU index and the TD's memory are known. */
  attach(memory: GuestMemory): void {
    this.guest = new GuestCpu(memory, this.index, this.regs);
  }
}
