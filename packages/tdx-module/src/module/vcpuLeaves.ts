import { nativeCpuid, type LogicalProcessor } from '@seamkit/seam-cpu';
import { R8, RBX, RCX, RDX, RIP, RSI } from '@seamkit/seam-cpu/abi';
import { LEAF_VERSION_SHIFT } from '../abi/leaves.js';
import { OP_STATE_INITIALIZED, PT_TDCX, PT_TDVPR, VCPU_READY, VCPU_UNINITIALIZED } from '../abi/states.js';
import * as S from '../abi/status.js';
import { TDVPS_PAGES } from '../abi/structures.js';
import { CPUID_SUBLEAF_NA, cpuidLookupIndex } from './cpuidConfig.js';
import { fail, setStatus } from './status.js';
import { TdVcpu } from './TdVcpu.js';
import type { TdxModule } from './TdxModule.js';

/** Reset vector: the initial guest RIP after TDH.VP.INIT. */
export const INITIAL_RIP = 0xffff_fff0;
/**
 * CPUID(1).EAX reported in the initial RDX of a TD without CPUID values: the simulated CPU's
 * native family/model/stepping (family 6, model 0x8F, stepping 8).
 */
export const INITIAL_CPUID_1_EAX = nativeCpuid(1)[0];

/** TDH.VP.CREATE (10): RCX = TDVPR page PA, RDX = TDR PA. Creates an uninitialized vCPU. */
export function tdhVpCreate(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const td = m.tdOf(r.getNumber(RDX));
  if (td === undefined) return fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RDX);
  const bad = m.checkTdcs(td);
  if (bad !== undefined) return fail(r, bad);
  if (td.opState !== OP_STATE_INITIALIZED) return fail(r, S.TDX_OP_STATE_INCORRECT, S.TDX_OPERAND_ID_OP_STATE);
  const pa = r.getNumber(RCX);
  const badPage = m.checkFreePage(pa, S.TDX_OPERAND_ID_RCX);
  if (badPage !== undefined) return fail(r, badPage);
  m.assignPage(pa, PT_TDVPR, td);
  m.vcpus.set(pa, new TdVcpu(pa, td));
  setStatus(r, S.TDX_SUCCESS);
}

/** TDH.VP.ADDCX (4): RCX = TDCX page PA, RDX = TDVPR PA. Adds one TDVPS page. */
export function tdhVpAddcx(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const vcpu = m.vcpuOf(r.getNumber(RDX));
  if (vcpu === undefined) return fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RDX);
  const td = vcpu.td;
  const bad = m.checkTdcs(td);
  if (bad !== undefined) return fail(r, bad);
  if (td.opState !== OP_STATE_INITIALIZED) return fail(r, S.TDX_OP_STATE_INCORRECT, S.TDX_OPERAND_ID_OP_STATE);
  if (vcpu.state !== VCPU_UNINITIALIZED) return fail(r, S.TDX_VCPU_STATE_INCORRECT);
  if (vcpu.tdcxPages.length >= TDVPS_PAGES - 1) return fail(r, S.TDX_TDCX_NUM_INCORRECT, S.TDX_OPERAND_ID_RDX);
  const pa = r.getNumber(RCX);
  const badPage = m.checkFreePage(pa, S.TDX_OPERAND_ID_RCX);
  if (badPage !== undefined) return fail(r, badPage);
  m.assignPage(pa, PT_TDCX, td);
  vcpu.tdcxPages.push(pa);
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.VP.INIT (22): RCX = TDVPR PA, RDX = initial guest RCX (version 1: R8 = x2APIC ID).
 * Assigns the next vCPU index, sets the initial registers as the module does (RIP = reset
 * vector, RBX = GPAW, RCX = R8 = RDX input, RDX = CPUID(1).EAX, RSI = vCPU index), makes the
 * vCPU READY and associates it with this LP.
 */
export function tdhVpInit(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const version = (r.lo(0) >>> LEAF_VERSION_SHIFT) & 0xff;
  const vcpu = m.vcpuOf(r.getNumber(RCX));
  if (vcpu === undefined) return fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RCX);
  const td = vcpu.td;
  const bad = m.checkTdcs(td);
  if (bad !== undefined) return fail(r, bad);
  if (td.opState !== OP_STATE_INITIALIZED) return fail(r, S.TDX_OP_STATE_INCORRECT, S.TDX_OPERAND_ID_OP_STATE);
  if (vcpu.state !== VCPU_UNINITIALIZED) return fail(r, S.TDX_VCPU_STATE_INCORRECT);
  if (vcpu.tdcxPages.length !== TDVPS_PAGES - 1) return fail(r, S.TDX_TDCX_NUM_INCORRECT, S.TDX_OPERAND_ID_RCX);
  if (td.numVcpus >= td.maxVcpus) return fail(r, S.TDX_MAX_VCPUS_EXCEEDED);
  if (version === 1 && (r.hi(R8) !== 0)) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_R8);
  const initRcx = r.get(RDX);
  vcpu.index = td.numVcpus++;
  const g = vcpu.regs;
  g.clear();
  g.setNumber(RIP, INITIAL_RIP);
  g.setNumber(RBX, td.gpaw);
  g.set(RCX, initRcx);
  g.set(R8, initRcx);
  // CPUID(1).EAX of the TD's virtual CPUID (TD_PARAMS.CPUID_CONFIG of leaf 1, or the native value).
  g.setNumber(RDX, td.cpuidValues?.[cpuidLookupIndex(1, CPUID_SUBLEAF_NA) * 4] ?? INITIAL_CPUID_1_EAX);
  g.setNumber(RSI, vcpu.index);
  vcpu.attach(td.memory!);
  vcpu.state = VCPU_READY;
  vcpu.lp = lp.index;
  td.numAssocVcpus++;
  setStatus(r, S.TDX_SUCCESS);
}
