import { R8, RAX, RCX, RDX } from '@seamkit/seam-cpu/abi';
import * as R from '../../abi/tdreport.js';
import * as S from '../../abi/status.js';
import { buildTdReport, extendRtmr, verifyReportMacStruct } from '../../measurement/tdreport.js';
import { fail } from '../status.js';
import type { TdVcpu } from '../TdVcpu.js';
import type { TdxModule } from '../TdxModule.js';
import { guestGpaValid, guestRead, guestWrite, TDCALL_RESUME } from './guestAccess.js';

/** Alignment of the RTMR extension data. */
const RTMR_EXTEND_ALIGN = 64n;

/**
 * TDG.MR.RTMR.EXTEND (2): RCX = GPA of the 48-byte extension (64-byte aligned, private), RDX =
 * RTMR index 0..3. RTMR[index] = SHA-384(RTMR[index] || extension). Statuses, in the module's
 * order: misaligned or invalid GPA (beyond GPAW, or shared) TDX_OPERAND_INVALID | RCX; an
 * unmapped GPA is an EPT-violation TD exit (the TDCALL runs again on the next entry); index >= 4
 * TDX_OPERAND_INVALID | RDX.
 */
export function tdgMrRtmrExtend(m: TdxModule, vcpu: TdVcpu): number {
  const g = vcpu.regs;
  const gpa = g.get(RCX);
  if (gpa % RTMR_EXTEND_ALIGN !== 0n || !guestGpaValid(vcpu, gpa, true)) {
    fail(g, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
    return TDCALL_RESUME;
  }
  const data = new Uint8Array(R.TDREPORT_MEASUREMENT_SIZE);
  const exit = guestRead(m, vcpu, Number(gpa), data);
  if (exit !== TDCALL_RESUME) return exit;
  const index = g.get(RDX);
  if (index >= BigInt(R.NUM_RTMRS)) {
    fail(g, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RDX);
    return TDCALL_RESUME;
  }
  extendRtmr(vcpu.td.rtmr[Number(index)]!, data);
  g.setHalves(RAX, 0, 0);
  return TDCALL_RESUME;
}

/**
 * TDG.MR.REPORT (4): RCX = GPA of the 1024-byte TDREPORT_STRUCT output (1024-aligned), RDX = GPA
 * of the 64-byte REPORTDATA (64-aligned), R8 = report subtype (must be 0); both GPAs may be
 * private or shared. Writes the TDREPORT (see `measurement/tdreport.ts`). Statuses, in the module's
 * order: TDX_OPERAND_INVALID | RCX (alignment), | RDX (alignment, GPA beyond GPAW), an
 * EPT-violation TD exit for an unmapped REPORTDATA, | R8 (subtype), | RCX (GPA beyond GPAW), an
 * EPT-violation TD exit for an unmapped output.
 */
export function tdgMrReport(m: TdxModule, vcpu: TdVcpu): number {
  const g = vcpu.regs;
  const reportGpa = g.get(RCX);
  const dataGpa = g.get(RDX);
  if (reportGpa % BigInt(R.TDREPORT_SIZE) !== 0n) {
    fail(g, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
    return TDCALL_RESUME;
  }
  if (dataGpa % BigInt(R.TDREPORT_REPORTDATA_SIZE) !== 0n || !guestGpaValid(vcpu, dataGpa, false)) {
    fail(g, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RDX);
    return TDCALL_RESUME;
  }
  const reportData = new Uint8Array(R.TDREPORT_REPORTDATA_SIZE);
  const exit = guestRead(m, vcpu, Number(dataGpa), reportData);
  if (exit !== TDCALL_RESUME) return exit;
  if (g.get(R8) !== BigInt(R.TDX_REPORT_SUBTYPE)) {
    fail(g, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_R8);
    return TDCALL_RESUME;
  }
  const report = buildTdReport(m.reportMacKey, vcpu.td, reportData);
  if (!guestGpaValid(vcpu, reportGpa, false)) {
    fail(g, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
    return TDCALL_RESUME;
  }
  const exit2 = guestWrite(m, vcpu, Number(reportGpa), report);
  if (exit2 !== TDCALL_RESUME) return exit2;
  g.setHalves(RAX, 0, 0);
  return TDCALL_RESUME;
}

/**
 * TDG.MR.VERIFYREPORT (22): RCX = GPA of a 256-byte REPORTMACSTRUCT (256-aligned, private).
 * Checks that this platform made it: TDX_SUCCESS, TDX_INVALID_CPUSVN (another CPUSVN) or
 * TDX_INVALID_REPORTMACSTRUCT (MAC mismatch). A misaligned or invalid GPA is
 * TDX_OPERAND_INVALID | RCX; an unmapped one an EPT-violation TD exit.
 */
export function tdgMrVerifyReport(m: TdxModule, vcpu: TdVcpu): number {
  const g = vcpu.regs;
  const gpa = g.get(RCX);
  if (gpa % BigInt(R.TDREPORT_REPORTMACSTRUCT_SIZE) !== 0n || !guestGpaValid(vcpu, gpa, true)) {
    fail(g, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
    return TDCALL_RESUME;
  }
  const mac = new Uint8Array(R.TDREPORT_REPORTMACSTRUCT_SIZE);
  const exit = guestRead(m, vcpu, Number(gpa), mac);
  if (exit !== TDCALL_RESUME) return exit;
  g.set(RAX, verifyReportMacStruct(m.reportMacKey, mac));
  return TDCALL_RESUME;
}
