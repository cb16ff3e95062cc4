import { GuestMemory, type LogicalProcessor } from '@seamkit/seam-cpu';
import { RCX, RDX } from '@seamkit/seam-cpu/abi';
import {
  HKID_ASSIGNED, HKID_FREE, OP_STATE_INITIALIZED, OP_STATE_RUNNABLE, OP_STATE_UNINITIALIZED,
  PT_TDCX, PT_TDR, TD_HKID_ASSIGNED, TD_KEYS_CONFIGURED,
} from '../abi/states.js';
import * as S from '../abi/status.js';
import * as P from '../abi/structures.js';
import { virtualizeCpuid } from './cpuidConfig.js';
import { SecureEpt } from './SecureEpt.js';
import { fail, setStatus } from './status.js';
import { Td } from './Td.js';
import type { TdxModule } from './TdxModule.js';

/** TDH.MNG.CREATE (9): RCX = TDR page PA, RDX = HKID. Creates a TD in TD_HKID_ASSIGNED. */
export function tdhMngCreate(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const tdrPa = r.getNumber(RCX);
  const bad = m.checkFreePage(tdrPa, S.TDX_OPERAND_ID_RCX);
  if (bad !== undefined) return fail(r, bad);
  if (r.hi(RDX) !== 0 || r.lo(RDX) > 0xffff) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RDX);
  const hkid = r.lo(RDX);
  if (!m.isTdxKeyId(hkid)) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RDX);
  // The global private HKID is HKID_RESERVED in the KOT, so it is refused as not free below.
  if (m.kot[hkid - m.tdxKeyIdStart] !== HKID_FREE) return fail(r, S.TDX_HKID_NOT_FREE);
  m.kot[hkid - m.tdxKeyIdStart] = HKID_ASSIGNED;
  m.pamt.set(tdrPa, PT_TDR, tdrPa);
  m.cpu.memory.clearPage(tdrPa, m.globalHkid);
  m.tds.set(tdrPa, new Td(tdrPa, hkid));
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.MNG.KEY.CONFIG (8): RCX = TDR PA. Programs the TD's key on this LP's package; after the
 * last package the TD is TD_KEYS_CONFIGURED. Again on a configured package: TDX_KEY_CONFIGURED.
 */
export function tdhMngKeyConfig(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const td = m.tdOf(r.getNumber(RCX));
  if (td === undefined) return fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RCX);
  if (td.lifecycle !== TD_HKID_ASSIGNED) return fail(r, S.TDX_LIFECYCLE_STATE_INCORRECT);
  if (td.keyConfiguredPackages.has(lp.packageId)) return fail(r, S.TDX_KEY_CONFIGURED);
  td.keyConfiguredPackages.add(lp.packageId);
  if (td.keyConfiguredPackages.size === m.cpu.packages) td.lifecycle = TD_KEYS_CONFIGURED;
  setStatus(r, S.TDX_SUCCESS);
}

/** TDH.MNG.ADDCX (1): RCX = new TDCX page PA, RDX = TDR PA. Adds one TDCS page. */
export function tdhMngAddcx(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const td = m.tdOf(r.getNumber(RDX));
  if (td === undefined) return fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RDX);
  if (td.lifecycle !== TD_KEYS_CONFIGURED) return fail(r, S.TDX_TD_KEYS_NOT_CONFIGURED);
  if (td.fatal) return fail(r, S.TDX_TD_FATAL);
  if (td.opState !== OP_STATE_UNINITIALIZED) return fail(r, S.TDX_OP_STATE_INCORRECT, S.TDX_OPERAND_ID_OP_STATE);
  if (td.tdcsPages.length >= P.TDCS_PAGES) return fail(r, S.TDX_TDCX_NUM_INCORRECT, S.TDX_OPERAND_ID_RDX);
  const page = r.getNumber(RCX);
  const bad = m.checkFreePage(page, S.TDX_OPERAND_ID_RCX);
  if (bad !== undefined) return fail(r, bad);
  m.assignPage(page, PT_TDCX, td);
  td.tdcsPages.push(page);
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.MNG.INIT (21): RCX = TDR PA, RDX = PA of TD_PARAMS (1024 bytes, 1024-aligned). Validates
 * and records the TD's parameters, then the CPUID configuration (`virtualizeCpuid`: a bit the
 * VMM may not set is `TDX_OPERAND_INVALID | CPUID_CONFIG` with RCX = the leaf / subleaf as
 * extended error information; RCX is 0 otherwise); OP_STATE becomes INITIALIZED.
 */
export function tdhMngInit(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const tdrPa = r.getNumber(RCX);
  // No extended error information unless a CPUID configuration is refused.
  r.set(RCX, 0n);
  const td = m.tdOf(tdrPa);
  if (td === undefined) return fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RCX);
  const bad = m.checkTdcs(td);
  if (bad !== undefined) return fail(r, bad);
  if (td.opState !== OP_STATE_UNINITIALIZED) return fail(r, S.TDX_OP_STATE_INCORRECT, S.TDX_OPERAND_ID_OP_STATE);
  const pa = r.getNumber(RDX);
  if (pa % P.TD_PARAMS_SIZE !== 0 || pa + P.TD_PARAMS_SIZE > m.cpu.memory.size) {
    return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RDX);
  }
  const raw = new Uint8Array(P.TD_PARAMS_SIZE);
  m.cpu.memory.read(pa, raw);
  const v = new DataView(raw.buffer);
  const attributes = v.getBigUint64(P.TD_PARAMS_ATTRIBUTES, true);
  const xfam = v.getBigUint64(P.TD_PARAMS_XFAM, true);
  const maxVcpus = v.getUint16(P.TD_PARAMS_MAX_VCPUS, true);
  const eptp = v.getBigUint64(P.TD_PARAMS_EPTP_CONTROLS, true);
  const flags = v.getBigUint64(P.TD_PARAMS_CONFIG_FLAGS, true);
  const tsc = v.getUint16(P.TD_PARAMS_TSC_FREQUENCY, true);
  if ((attributes & ~P.TD_ATTR_SUPPORTED) !== 0n) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_ATTRIBUTES);
  // XFAM: x87 and SSE (bits 0, 1) are mandatory.
  if ((xfam & 3n) !== 3n) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_XFAM);
  if (maxVcpus === 0) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_MAX_VCPUS);
  if ((flags & ~P.TDX_CONFIG_FLAGS_SUPPORTED) !== 0n) return fail(r, S.TDX_OPERAND_INVALID, 66n);
  const levels = Number((eptp >> P.EPTP_PWL_SHIFT) & 7n) + 1;
  const maxGpaw = (flags & P.TDX_CONFIG_FLAGS_MAX_GPAW) !== 0n;
  if (levels !== (maxGpaw ? 5 : 4)) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_EPTP_CONTROLS);
  if (tsc < P.TSC_FREQUENCY_MIN || tsc > P.TSC_FREQUENCY_MAX) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_TSC_FREQUENCY);
  const cpuid = virtualizeCpuid(raw, attributes, xfam);
  if (!cpuid.ok) {
    r.set(RCX, cpuid.rcx);
    return fail(r, cpuid.status);
  }
  td.cpuidValues = cpuid.values;
  td.attributes = attributes;
  td.xfam = xfam;
  td.maxVcpus = maxVcpus;
  td.configFlags = flags;
  td.tscFrequency = tsc;
  td.gpaw = maxGpaw ? 52 : 48;
  td.noRbpMod = (flags & P.TDX_CONFIG_FLAGS_NO_RBP_MOD) !== 0n;
  td.debug = (attributes & P.TD_ATTR_DEBUG) !== 0n;
  td.mrConfigId.set(raw.subarray(P.TD_PARAMS_MRCONFIGID, P.TD_PARAMS_MRCONFIGID + 48));
  td.mrOwner.set(raw.subarray(P.TD_PARAMS_MROWNER, P.TD_PARAMS_MROWNER + 48));
  td.mrOwnerConfig.set(raw.subarray(P.TD_PARAMS_MROWNERCONFIG, P.TD_PARAMS_MROWNERCONFIG + 48));
  for (const rtmr of td.rtmr) rtmr.fill(0);
  td.sept = new SecureEpt(levels);
  td.memory = new GuestMemory(m.cpu.memory, td.sept, td.hkid, td.sharedBitPosition);
  td.opState = OP_STATE_INITIALIZED;
  setStatus(r, S.TDX_SUCCESS);
}

/** TDH.MR.FINALIZE (17): RCX = TDR PA. Finalizes MRTD; OP_STATE becomes RUNNABLE. */
export function tdhMrFinalize(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const td = m.tdOf(r.getNumber(RCX));
  if (td === undefined) return fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RCX);
  const bad = m.checkTdcs(td);
  if (bad !== undefined) return fail(r, bad);
  if (td.opState !== OP_STATE_INITIALIZED) return fail(r, S.TDX_OP_STATE_INCORRECT, S.TDX_OPERAND_ID_OP_STATE);
  if (td.numVcpus === 0) return fail(r, S.TDX_NO_VCPUS);
  td.mrtd.set(td.mrtdHash!.digest());
  td.mrtdHash = undefined;
  td.opState = OP_STATE_RUNNABLE;
  setStatus(r, S.TDX_SUCCESS);
}
