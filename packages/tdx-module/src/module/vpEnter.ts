import {
  type GuestCode, type GuestCpu, type GuestProgram, type LogicalProcessor, type RegisterFile,
} from '@seamkit/seam-cpu';
import {
  EXIT_REASON_EPT_VIOLATION, EXIT_REASON_TDCALL, EXIT_REASON_TRIPLE_FAULT, R10, R11, R8, R9, RAX, RBP, RCX, RDX, RIP,
  TDVMCALL_EXPOSE_REGS_MASK, TDVMCALL_FORBIDDEN_REGS_MASK, TDVMCALL_RBP_BIT,
} from '@seamkit/seam-cpu/abi';
import { LEAF_VERSION_SHIFT, TDG_VM_RD, TDG_VP_VMCALL } from '../abi/leaves.js';
import {
  LAST_EXIT_ASYNC_FAULT, LAST_EXIT_TDVMCALL, OP_STATE_RUNNABLE, TD_KEYS_CONFIGURED, VCPU_ACTIVE, VCPU_READY,
} from '../abi/states.js';
import * as S from '../abi/status.js';
import { TDCS_PAGES } from '../abi/structures.js';
import { pendingExtExitQual } from './septExits.js';
import { fail } from './status.js';
import type { TdVcpu } from './TdVcpu.js';
import type { TdxModule } from './TdxModule.js';

/** Length of the TDCALL instruction (66 0F 01 CC). */
const TDCALL_LENGTH = 4;
/** High half of TDX_OPERAND_INVALID; the operand id RCX (1) goes in the low half. */
const OPERAND_INVALID_HI = 0xc000_0100;
const OPERAND_ID_RCX = 1;

/**
 * TDH.VP.ENTER (0): RCX = TDVPR PA; every other GPR of the caller's register file is the
 * per-vCPU argument block (`tdx_module_args`), used in place.
 *
 * If the vCPU's last exit was a TDVMCALL, the GPRs the guest selected in its RCX bitmap are
 * copied from the argument block into the guest, guest RAX = 0 and guest RCX = the bitmap. The
 * guest then runs. TDCALL leaves other than VP.VMCALL are answered here and the guest goes on;
 * a TDG.VP.VMCALL with a bad bitmap gets TDX_OPERAND_INVALID | RCX with no exit. On a TD exit:
 * - TDVMCALL: RAX = 77 (TDCALL exit reason), RCX = GPR/XMM selection, the selected GPRs copied
 *   to the argument block and the unselected ones zeroed (RBP untouched under NO_RBP_MOD);
 * - asynchronous exits: RAX = exit reason, RCX = exit qualification, RDX = extended exit
 *   qualification, R8 = GPA, R9 = interruption info, the other GPRs zeroed.
 */
export function tdhVpEnter(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const vcpu = m.vcpuOfHalves(r.u32[RCX * 2]!, r.u32[RCX * 2 + 1]!);
  // One combined test for the common case; `admit` redoes the checks in the module's order.
  if (vcpu === undefined || vcpu.state !== VCPU_READY || vcpu.lp !== lp.index || !tdRunnable(vcpu.td)) {
    if (!admit(m, lp, vcpu)) return;
  }
  const g = vcpu!.regs;
  if (vcpu!.lastExit === LAST_EXIT_TDVMCALL) resumeAfterTdvmcall(vcpu!, r, g);
  vcpu!.state = VCPU_ACTIVE;
  runGuest(m, lp, vcpu!, r, g);
  vcpu!.state = VCPU_READY;
}

/** The TD is in a state TDH.VP.ENTER accepts: keys configured, not fatal, TDCS allocated, RUNNABLE. */
function tdRunnable(td: TdVcpu['td']): boolean {
  return td.lifecycle === TD_KEYS_CONFIGURED && td.fatal === false && td.opState === OP_STATE_RUNNABLE && td.tdcsPages.length >= TDCS_PAGES;
}

/**
 * TDH.VP.ENTER's checks in the module's order, for an entry the fast test did not pass: writes
 * the failing status and returns false, or associates the vCPU with this LP (its first entry)
 * and returns true.
 */
function admit(m: TdxModule, lp: LogicalProcessor, vcpu: TdVcpu | undefined): boolean {
  const r = lp.regs;
  if (vcpu === undefined) {
    fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RCX);
    return false;
  }
  const td = vcpu.td;
  const bad = m.checkTdcs(td);
  if (bad !== undefined) {
    fail(r, bad);
    return false;
  }
  if (td.opState !== OP_STATE_RUNNABLE) {
    fail(r, S.TDX_OP_STATE_INCORRECT, S.TDX_OPERAND_ID_OP_STATE);
    return false;
  }
  if (vcpu.state !== VCPU_READY) {
    fail(r, S.TDX_VCPU_STATE_INCORRECT);
    return false;
  }
  if (vcpu.lp !== lp.index) {
    if (vcpu.lp >= 0) {
      fail(r, S.TDX_VCPU_ASSOCIATED);
      return false;
    }
    vcpu.lp = lp.index;
    td.numAssocVcpus++;
  }
  return true;
}

/** Runs the guest until a TD exit: TDCALLs the module answers go on, VP.VMCALL or a fault exits. */
function runGuest(m: TdxModule, lp: LogicalProcessor, vcpu: TdVcpu, r: RegisterFile, g: RegisterFile): void {
  const guest = vcpu.guest!;
  if (vcpu.code === undefined && vcpu.td.program !== undefined) vcpu.code = instantiate(vcpu.td.program, guest, lp);
  const code = vcpu.code;
  for (;;) {
    let reason: number;
    if (vcpu.tdcallRestart) {
      // The TDCALL that ended the last entry with a TD exit runs again (RIP still points at it).
      vcpu.tdcallRestart = false;
      reason = EXIT_REASON_TDCALL;
    } else {
      reason = code === undefined ? 2 : lp.tdEnter(guest, code);
    }
    if (reason !== EXIT_REASON_TDCALL) {
      asyncExit(lp, r, reason, vcpu);
      vcpu.lastExit = LAST_EXIT_ASYNC_FAULT;
      return;
    }
    const gu = g.u32;
    // RAX: bits 15:0 leaf, 23:16 version, 63:24 reserved.
    const rax = gu[0]!;
    if ((rax >>> 24) !== 0 || gu[1] !== 0) {
      g.setHalves(RAX, 0, OPERAND_INVALID_HI);
    } else if (rax === TDG_VP_VMCALL) {
      // Leaf 0, version 0: TDG.VP.VMCALL has no other versions (those go to tdcallInModule and fail).
      if (tdvmcallExit(vcpu, r, g)) return;
    } else if (tdcallExit(m, lp, vcpu, r, rax)) {
      return;
    }
    advanceRip(g);
  }
}

/**
 * A TDCALL leaf other than VP.VMCALL, answered in the module; returns true when it became an
 * asynchronous TD exit instead (an EPT violation on an operand: no RIP advance, redone later).
 */
function tdcallExit(m: TdxModule, lp: LogicalProcessor, vcpu: TdVcpu, r: RegisterFile, rax: number): boolean {
  const exit = tdcallInModule(m, vcpu, rax & 0xffff, (rax >>> LEAF_VERSION_SHIFT) & 0xff);
  if (exit === 0) return false;
  asyncExit(lp, r, exit, vcpu);
  vcpu.lastExit = LAST_EXIT_ASYNC_FAULT;
  vcpu.tdcallRestart = true;
  return true;
}

/**
 * Instantiates the guest program at the vCPU's first entry. Creating it runs guest code, so an
 * error there is a guest failure, not a module one: the vCPU triple faults (now and on every later
 * entry) and the error is kept in `lp.lastGuestError`, as for an error thrown by a step.
 */
function instantiate(program: GuestProgram, guest: GuestCpu, lp: LogicalProcessor): GuestCode {
  try {
    return program(guest);
  } catch (err) {
    lp.lastGuestError = err;
    return { step: () => EXIT_REASON_TRIPLE_FAULT };
  }
}

/** Advances guest RIP past the TDCALL. */
function advanceRip(g: RegisterFile): void {
  const u = g.u32;
  // Int32 arithmetic: the low half wraps, and a wrapped result below the length is the carry.
  const lo = ((u[RIP * 2]! | 0) + TDCALL_LENGTH) | 0;
  u[RIP * 2] = lo;
  if (lo >= 0 && lo < TDCALL_LENGTH) u[RIP * 2 + 1] = ((u[RIP * 2 + 1]! | 0) + 1) | 0;
}

/**
 * TDG.VP.VMCALL: validates the bitmap and either refuses it in the guest (returns false, the
 * guest continues) or performs the TD exit into the argument block (returns true).
 */
function tdvmcallExit(vcpu: TdVcpu, host: RegisterFile, g: RegisterFile): boolean {
  const gu = g.u32;
  const bitmap = gu[RCX * 2]!;
  const hu = host.u32;
  const noRbpMod = vcpu.td.noRbpMod === true;
  const forbidden = TDVMCALL_FORBIDDEN_REGS_MASK | (noRbpMod ? TDVMCALL_RBP_BIT : 0);
  if (gu[RCX * 2 + 1] !== 0 || (bitmap & forbidden) !== 0) {
    g.setHalves(RAX, OPERAND_ID_RCX, OPERAND_INVALID_HI);
    return false;
  }
  const gprs = bitmap & 0xffff;
  // RDX (2) .. R15 (15); RSP (4) is never exposed, RBP (5) only without NO_RBP_MOD.
  if (gprs === TDVMCALL_EXPOSE_REGS_MASK) {
    // The mask Linux guests use for every TDVMCALL: straight-line copy (literal offsets: slot i
    // is u32[2i], u32[2i+1]), RBP zeroed.
    hu[4] = gu[4]!; hu[5] = gu[5]!; // RDX
    hu[6] = gu[6]!; hu[7] = gu[7]!; // RBX
    hu[12] = gu[12]!; hu[13] = gu[13]!; // RSI
    hu[14] = gu[14]!; hu[15] = gu[15]!; // RDI
    hu[16] = gu[16]!; hu[17] = gu[17]!; // R8
    hu[18] = gu[18]!; hu[19] = gu[19]!; // R9
    hu[20] = gu[20]!; hu[21] = gu[21]!; // R10
    hu[22] = gu[22]!; hu[23] = gu[23]!; // R11
    hu[24] = gu[24]!; hu[25] = gu[25]!; // R12
    hu[26] = gu[26]!; hu[27] = gu[27]!; // R13
    hu[28] = gu[28]!; hu[29] = gu[29]!; // R14
    hu[30] = gu[30]!; hu[31] = gu[31]!; // R15
    if (!noRbpMod) { hu[10] = 0; hu[11] = 0; }
  } else {
    exposeGprs(hu, gu, gprs, noRbpMod);
  }
  hu[RAX * 2] = EXIT_REASON_TDCALL;
  hu[RAX * 2 + 1] = 0;
  // Exit qualification: bits 15:0 GPR select, 31:16 XMM select, 33:32 VM index (L1 = 0).
  hu[RCX * 2] = bitmap;
  hu[RCX * 2 + 1] = 0;
  vcpu.savedBitmap = bitmap;
  vcpu.lastExit = LAST_EXIT_TDVMCALL;
  advanceRip(g);
  return true;
}

/** Copies the GPRs selected by `gprs` from the guest into the argument block and zeroes the rest. */
function exposeGprs(hu: Uint32Array, gu: Uint32Array, gprs: number, noRbpMod: boolean): void {
  if ((gprs & 0x4) !== 0) { hu[4] = gu[4]!; hu[5] = gu[5]!; } else { hu[4] = 0; hu[5] = 0; }
  if ((gprs & 0x8) !== 0) { hu[6] = gu[6]!; hu[7] = gu[7]!; } else { hu[6] = 0; hu[7] = 0; }
  if (!noRbpMod) {
    if ((gprs & 0x20) !== 0) { hu[10] = gu[10]!; hu[11] = gu[11]!; } else { hu[10] = 0; hu[11] = 0; }
  }
  if ((gprs & 0x40) !== 0) { hu[12] = gu[12]!; hu[13] = gu[13]!; } else { hu[12] = 0; hu[13] = 0; }
  if ((gprs & 0x80) !== 0) { hu[14] = gu[14]!; hu[15] = gu[15]!; } else { hu[14] = 0; hu[15] = 0; }
  if ((gprs & 0x100) !== 0) { hu[16] = gu[16]!; hu[17] = gu[17]!; } else { hu[16] = 0; hu[17] = 0; }
  if ((gprs & 0x200) !== 0) { hu[18] = gu[18]!; hu[19] = gu[19]!; } else { hu[18] = 0; hu[19] = 0; }
  if ((gprs & 0x400) !== 0) { hu[20] = gu[20]!; hu[21] = gu[21]!; } else { hu[20] = 0; hu[21] = 0; }
  if ((gprs & 0x800) !== 0) { hu[22] = gu[22]!; hu[23] = gu[23]!; } else { hu[22] = 0; hu[23] = 0; }
  if ((gprs & 0x1000) !== 0) { hu[24] = gu[24]!; hu[25] = gu[25]!; } else { hu[24] = 0; hu[25] = 0; }
  if ((gprs & 0x2000) !== 0) { hu[26] = gu[26]!; hu[27] = gu[27]!; } else { hu[26] = 0; hu[27] = 0; }
  if ((gprs & 0x4000) !== 0) { hu[28] = gu[28]!; hu[29] = gu[29]!; } else { hu[28] = 0; hu[29] = 0; }
  if ((gprs & 0x8000) !== 0) { hu[30] = gu[30]!; hu[31] = gu[31]!; } else { hu[30] = 0; hu[31] = 0; }
}

/**
 * On re-entry after a TDVMCALL: copies the selected GPRs from the argument block back into the
 * guest; guest RAX = TDX_SUCCESS, guest RCX = the bitmap.
 */
function resumeAfterTdvmcall(vcpu: TdVcpu, host: RegisterFile, g: RegisterFile): void {
  const gu = g.u32;
  const hu = host.u32;
  const gprs = vcpu.savedBitmap & 0xffff;
  if (gprs === TDVMCALL_EXPOSE_REGS_MASK) {
    // The mask Linux guests use: straight-line copy (literal offsets: slot i is u32[2i], u32[2i+1]).
    gu[4] = hu[4]!; gu[5] = hu[5]!; // RDX
    gu[6] = hu[6]!; gu[7] = hu[7]!; // RBX
    gu[12] = hu[12]!; gu[13] = hu[13]!; // RSI
    gu[14] = hu[14]!; gu[15] = hu[15]!; // RDI
    gu[16] = hu[16]!; gu[17] = hu[17]!; // R8
    gu[18] = hu[18]!; gu[19] = hu[19]!; // R9
    gu[20] = hu[20]!; gu[21] = hu[21]!; // R10
    gu[22] = hu[22]!; gu[23] = hu[23]!; // R11
    gu[24] = hu[24]!; gu[25] = hu[25]!; // R12
    gu[26] = hu[26]!; gu[27] = hu[27]!; // R13
    gu[28] = hu[28]!; gu[29] = hu[29]!; // R14
    gu[30] = hu[30]!; gu[31] = hu[31]!; // R15
  } else {
    restoreGprs(gu, hu, gprs);
  }
  gu[RAX * 2] = 0;
  gu[RAX * 2 + 1] = 0;
  gu[RCX * 2] = vcpu.savedBitmap;
  gu[RCX * 2 + 1] = 0;
  vcpu.lastExit = LAST_EXIT_ASYNC_FAULT;
}

/** Copies the GPRs selected by `gprs` from the argument block back into the guest. */
function restoreGprs(gu: Uint32Array, hu: Uint32Array, gprs: number): void {
  if ((gprs & 0x4) !== 0) { gu[4] = hu[4]!; gu[5] = hu[5]!; }
  if ((gprs & 0x8) !== 0) { gu[6] = hu[6]!; gu[7] = hu[7]!; }
  if ((gprs & 0x20) !== 0) { gu[10] = hu[10]!; gu[11] = hu[11]!; }
  if ((gprs & 0x40) !== 0) { gu[12] = hu[12]!; gu[13] = hu[13]!; }
  if ((gprs & 0x80) !== 0) { gu[14] = hu[14]!; gu[15] = hu[15]!; }
  if ((gprs & 0x100) !== 0) { gu[16] = hu[16]!; gu[17] = hu[17]!; }
  if ((gprs & 0x200) !== 0) { gu[18] = hu[18]!; gu[19] = hu[19]!; }
  if ((gprs & 0x400) !== 0) { gu[20] = hu[20]!; gu[21] = hu[21]!; }
  if ((gprs & 0x800) !== 0) { gu[22] = hu[22]!; gu[23] = hu[23]!; }
  if ((gprs & 0x1000) !== 0) { gu[24] = hu[24]!; gu[25] = hu[25]!; }
  if ((gprs & 0x2000) !== 0) { gu[26] = hu[26]!; gu[27] = hu[27]!; }
  if ((gprs & 0x4000) !== 0) { gu[28] = hu[28]!; gu[29] = hu[29]!; }
  if ((gprs & 0x8000) !== 0) { gu[30] = hu[30]!; gu[31] = hu[31]!; }
}

/** Fills the argument block for an asynchronous TD exit and zeroes the GPRs the VMM must not see. */
function asyncExit(lp: LogicalProcessor, host: RegisterFile, reason: number, vcpu: TdVcpu): void {
  const hu = host.u32;
  for (let i = 2; i < 16; i++) {
    if (i === 4 || i === RBP) continue;
    hu[i * 2] = 0;
    hu[i * 2 + 1] = 0;
  }
  host.setHalves(RAX, reason, 0);
  host.setHalves(RCX, reason === EXIT_REASON_EPT_VIOLATION ? lp.exitQualification : 0, 0);
  host.setHalves(RDX, 0, 0);
  if (reason === EXIT_REASON_EPT_VIOLATION) {
    host.setNumber(R8, lp.exitGpa);
    // Extended exit qualification: set by the TDCALL that exited (ACCEPT), else "pending" if the
    // guest touched a PENDING page of a TD with PENDING_VE_DISABLE (septExits.ts).
    host.set(RDX, vcpu.extExitQual !== 0n ? vcpu.extExitQual : pendingExtExitQual(vcpu.td, lp.exitGpa));
    vcpu.extExitQual = 0n;
  }
  host.setHalves(R9, 0, 0);
}

/** TDCALL leaves that accept a non-zero version (RAX bits 23:16), with their highest version. */
const TDCALL_MAX_VERSION = new Map<number, number>([[TDG_VM_RD, 1]]);

/**
 * A TDCALL leaf the module answers itself. Returns 0 when the guest continues with the result, or
 * the VMX exit reason of the TD exit the leaf caused instead.
 */
function tdcallInModule(m: TdxModule, vcpu: TdVcpu, leaf: number, version: number): number {
  const handler = m.tdcallLeaves.get(leaf);
  if (handler === undefined || version > (TDCALL_MAX_VERSION.get(leaf) ?? 0)) {
    vcpu.regs.set(RAX, S.TDX_OPERAND_INVALID + S.TDX_OPERAND_ID_RAX);
    return 0;
  }
  return handler(m, vcpu) ?? 0;
}

/**
 * TDG.VP.INFO (1): RCX = GPAW, RDX = attributes, R8 = num | max vCPUs, R9 = vCPU index,
 * R10 = TDG commands available (bit 0: TDG.SYS.RD), R11 = 0.
 */
export function tdgVpInfo(_m: TdxModule, vcpu: TdVcpu): void {
  const g = vcpu.regs;
  const td = vcpu.td;
  g.setNumber(RCX, td.gpaw);
  g.set(RDX, td.attributes);
  g.setHalves(R8, td.numVcpus, td.maxVcpus);
  g.setNumber(R9, vcpu.index);
  g.setHalves(R10, 1, 0);
  g.setHalves(R11, 0, 0);
  g.setHalves(RAX, 0, 0);
}

