import { GuestCpu, RegisterFile, type GuestCode, type GuestMemory } from '@seamkit/seam-cpu';
import { LAST_EXIT_ASYNC_FAULT, VCPU_UNINITIALIZED } from '../abi/states.js';
import type { Td } from './Td.js';

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

  /**
   * @param tdvprPa - TDVPR page address
   * @param td - owning TD
   */
  constructor(tdvprPa: number, td: Td) {
    this.tdvprPa = tdvprPa;
    this.td = td;
  }

  /** Creates the guest view once the vCPU index and the TD's memory are known. */
  attach(memory: GuestMemory): void {
    this.guest = new GuestCpu(memory, this.index, this.regs);
  }
}
