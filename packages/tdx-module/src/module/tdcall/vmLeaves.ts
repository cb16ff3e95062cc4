import { R10, R8, R9, RAX, RCX, RDX } from '@seamkit/seam-cpu/abi';
import { MD_FIELD_ID_NA } from '../../abi/metadata.js';
import * as S from '../../abi/status.js';
import { isNullFieldId, type MdRefs } from '../metadata.js';
import { TD_METADATA } from '../metadataLeaves.js';
import { SYS_METADATA } from '../platformInfoLeaves.js';
import { fail, setStatus } from '../status.js';
import type { TdVcpu } from '../TdVcpu.js';
import type { TdxModule } from '../TdxModule.js';
import { TDCALL_RESUME } from './guestAccess.js';

/** Version (RAX bits 23:16) of the TDCALL being handled. */
function versionOf(vcpu: TdVcpu): number {
  return (vcpu.regs.lo(RAX) >>> 16) & 0xff;
}

/**
 * TDG.VM.RD (7), versions 0 and 1: RCX = 0 (the L1 VM; else TDX_OPERAND_INVALID | RCX), RDX =
 * field id of TD-scope metadata. Returns R8 = the value (guest read mask applied; 0 on failure);
 * version 1 also RDX = the next guest-readable id, and answers a null id with
 * TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT. Fields a guest may not read:
 * TDX_METADATA_FIELD_NOT_READABLE; unknown ids: TDX_METADATA_FIELD_ID_INCORRECT.
 */
export function tdgVmRd(m: TdxModule, vcpu: TdVcpu): number {
  const g = vcpu.regs;
  const v1 = versionOf(vcpu) > 0;
  const id = g.get(RDX);
  if (v1) g.set(RDX, MD_FIELD_ID_NA);
  g.set(R8, 0n);
  if (!g.isZero(RCX)) {
    fail(g, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
    return TDCALL_RESUME;
  }
  const refs: MdRefs = { m, td: vcpu.td, vcpu, debug: false };
  if (v1 && isNullFieldId(id)) {
    g.set(RDX, TD_METADATA.first('guest', false));
    setStatus(g, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
    return TDCALL_RESUME;
  }
  const res = TD_METADATA.read(id, 'guest', refs);
  if (res.status === S.TDX_SUCCESS) {
    g.set(R8, res.value);
    if (v1) g.set(RDX, res.next);
  }
  setStatus(g, res.status);
  return TDCALL_RESUME;
}

/**
 * TDG.VM.WR (8): RCX = 0, RDX = field id, R8 = value, R9 = write mask. Changes the bits in
 * (guest write mask & R9) and returns R8 = the old value. A Linux guest clears NOTIFY_ENABLES at
 * boot with R8 = 0, R9 = -1. Read-only fields: TDX_METADATA_FIELD_NOT_WRITABLE; a bit outside the
 * write mask that would change, or a TD_CTLS value the TD may not set:
 * TDX_METADATA_FIELD_VALUE_NOT_VALID.
 */
export function tdgVmWr(m: TdxModule, vcpu: TdVcpu): number {
  const g = vcpu.regs;
  const id = g.get(RDX);
  const value = g.get(R8);
  const mask = g.get(R9);
  g.set(R8, 0n);
  if (!g.isZero(RCX)) {
    fail(g, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
    return TDCALL_RESUME;
  }
  const res = TD_METADATA.write(id, value, mask, 'guest', { m, td: vcpu.td, vcpu, debug: false });
  if (res.status === S.TDX_SUCCESS) g.set(R8, res.old);
  setStatus(g, res.status);
  return TDCALL_RESUME;
}

/**
 * TDG.SYS.RD (11): RDX = global metadata field id. Returns R8 = the value and RDX = the next
 * guest-readable id (MD_FIELD_ID_NA on failure or after the last); a null id returns
 * TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT with RDX = the first id. Guest-readable:
 * VENDOR_ID, MINOR_VERSION, MAJOR_VERSION, SYS_ATTRIBUTES, NUM_TDX_FEATURES, TDX_FEATURES0.
 */
export function tdgSysRd(m: TdxModule, vcpu: TdVcpu): number {
  const g = vcpu.regs;
  const id = g.get(RDX);
  g.set(RDX, MD_FIELD_ID_NA);
  g.set(R8, 0n);
  if (isNullFieldId(id)) {
    g.set(RDX, SYS_METADATA.first('guest', false));
    setStatus(g, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
    return TDCALL_RESUME;
  }
  const res = SYS_METADATA.read(id, 'guest', { m, debug: false });
  g.set(R8, res.value);
  if (res.status === S.TDX_SUCCESS) g.set(RDX, res.next);
  setStatus(g, res.status);
  return TDCALL_RESUME;
}

/**
 * TDG.VP.VEINFO.GET (3): returns the #VE information of the last #VE (RCX = exit reason,
 * RDX = exit qualification, R8 = GLA, R9 = GPA, R10 = instruction length | information << 32)
 * and marks it consumed; TDX_NO_VALID_VE_INFO when there is none (RCX, RDX, R8..R10 = 0).
 */
export function tdgVpVeinfoGet(_m: TdxModule, vcpu: TdVcpu): number {
  const g = vcpu.regs;
  for (const reg of [RCX, RDX, R8, R9, R10]) g.setHalves(reg, 0, 0);
  const ve = vcpu.veInfo;
  if (!ve.valid) {
    setStatus(g, S.TDX_NO_VALID_VE_INFO);
    return TDCALL_RESUME;
  }
  g.setHalves(RCX, ve.exitReason >>> 0, 0);
  g.set(RDX, ve.exitQualification);
  g.set(R8, ve.gla);
  g.set(R9, ve.gpa);
  g.set(R10, ve.instrInfo);
  ve.valid = false;
  setStatus(g, S.TDX_SUCCESS);
  return TDCALL_RESUME;
}

/**
 * TDG.VP.CPUIDVE.SET (5): RCX bit 0 = #VE on CPUID at CPL 0, bit 1 = at CPL > 0; other bits
 * reserved (TDX_OPERAND_INVALID | RCX). Stored per vCPU (TDVPS CPUID_SUPERVISOR_VE /
 * CPUID_USER_VE); the simulated CPU has no CPUID instruction, so nothing else changes.
 */
export function tdgVpCpuidveSet(_m: TdxModule, vcpu: TdVcpu): number {
  const g = vcpu.regs;
  if (g.hi(RCX) !== 0 || (g.lo(RCX) & ~3) !== 0) {
    fail(g, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
    return TDCALL_RESUME;
  }
  vcpu.cpuidVe = g.lo(RCX) & 3;
  setStatus(g, S.TDX_SUCCESS);
  return TDCALL_RESUME;
}
