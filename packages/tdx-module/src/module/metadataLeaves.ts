import { type LogicalProcessor } from '@seamkit/seam-cpu';
import { R8, R9, RAX, RCX, RDX, RFLAGS, RIP, RSP } from '@seamkit/seam-cpu/abi';
import { LEAF_VERSION_SHIFT } from '../abi/leaves.js';
import * as M from '../abi/metadata.js';
import { OP_STATE_UNINITIALIZED, VCPU_DISABLED, VCPU_READY } from '../abi/states.js';
import * as S from '../abi/status.js';
import {
  EPTP_PWL_SHIFT, TD_ATTR_SEPT_VE_DISABLE, TDVPS_PAGES, TDX_CONFIG_FLAGS_FLEXIBLE_PENDING_VE,
} from '../abi/structures.js';
import { CPUID_SUBLEAF_NA, SIM_CPUID_LOOKUP } from './cpuidConfig.js';
import { ALL, isNullFieldId, MdTable, mdField, qwordOf, type MdField, type MdRefs } from './metadata.js';
import { fail, setStatus } from './status.js';
import type { Td } from './Td.js';
import type { TdVcpu } from './TdVcpu.js';
import type { TdxModule } from './TdxModule.js';

/**
 * Native TSC frequency of the simulated CPU (Hz). The module derives TSC_MULTIPLIER from it and
 * the TD's TSC_FREQUENCY: multiplier = virtual Hz * 2^48 / native Hz. The simulated TSC counts
 * from 0 when the TD is initialized, so TSC_OFFSET is 0.
 */
export const SIM_NATIVE_TSC_HZ = 2_000_000_000n;

const td = (r: MdRefs): Td => r.td!;
const vc = (r: MdRefs): TdVcpu => r.vcpu!;

/** TDCS.TD_CTLS as the TD sees it: the written value, or PENDING_VE_DISABLE = ATTRIBUTES.SEPT_VE_DISABLE. */
export function tdCtlsOf(t: Td): bigint {
  return t.tdCtls ?? ((t.attributes & TD_ATTR_SEPT_VE_DISABLE) !== 0n ? M.TD_CTLS_PENDING_VE_DISABLE : 0n);
}

/**
 * TD_CTLS write check (module `md_td_write_element`, MD_TDCS_TD_CTLS): PENDING_VE_DISABLE may only
 * change with CONFIG_FLAGS.FLEXIBLE_PENDING_VE, and ENUM_TOPOLOGY needs the topology configured
 * (never, in the simulator).
 */
function writeTdCtls(r: MdRefs, _i: number, value: bigint): bigint | undefined {
  const t = td(r);
  const changed = value ^ tdCtlsOf(t);
  if ((changed & M.TD_CTLS_PENDING_VE_DISABLE) !== 0n && (t.configFlags & TDX_CONFIG_FLAGS_FLEXIBLE_PENDING_VE) === 0n) {
    return S.TDX_METADATA_FIELD_VALUE_NOT_VALID;
  }
  if ((value & M.TD_CTLS_ENUM_TOPOLOGY) !== 0n) return S.TDX_METADATA_FIELD_VALUE_NOT_VALID;
  t.tdCtls = value;
  return undefined;
}

/**
 * The TDCS CPUID_VALUES fields (class 20): one field of two 8-byte elements (EBX:EAX, EDX:ECX) per
 * leaf the module virtualizes, in field-code order. Readable by the host (KVM's
 * KVM_TDX_GET_CPUID reads them with TDH.MNG.RD) and by the guest; a leaf the module does not
 * virtualize has no field (TDX_METADATA_FIELD_ID_INCORRECT).
 */
function cpuidValueFields(): MdField[] {
  return SIM_CPUID_LOOKUP.map((e, li) => ({ e, li, code: M.cpuidValuesFieldCode(e.leaf, e.subleaf === CPUID_SUBLEAF_NA ? undefined : e.subleaf, 0) }))
    .sort((a, b) => a.code - b.code)
    .map(({ e, li, code }) => mdField(`CPUID_VALUES(0x${e.leaf.toString(16)}${e.subleaf === CPUID_SUBLEAF_NA ? '' : `/${e.subleaf}`})`, M.MD_TDCS_CPUID_VALUES | BigInt(code), {
      hostRd: ALL, guestRd: ALL, numElems: 2,
      read: (r, i) => {
        const v = td(r).cpuidValues;
        if (v === undefined) return 0n;
        const o = li * 4 + i * 2;
        return (BigInt(v[o + 1]!) << 32n) | BigInt(v[o]!);
      },
    }));
}

/**
 * The TD-scope (TDR and TDCS) fields the simulated module implements, in the order of the
 * module's `tdr_tdcs_lookup`, with its masks. Host-writable: none besides NOTIFY_ENABLES bit 0
 * in a DEBUG TD. Guest-writable (TDG.VM.WR): NOTIFY_ENABLES bit 0 and TD_CTLS bits 2:0.
 */
export const TD_METADATA = new MdTable([
  mdField('FATAL', M.MD_TDR_FATAL, { hostRd: ALL, read: (r) => (td(r).fatal ? 1n : 0n) }),
  mdField('NUM_TDCX', M.MD_TDR_NUM_TDCX, { hostRd: ALL, read: (r) => BigInt(td(r).tdcsPages.length) }),
  mdField('CHLDCNT', M.MD_TDR_CHLDCNT, { hostRd: ALL, read: (r) => BigInt(td(r).childCount) }),
  mdField('LIFECYCLE_STATE', M.MD_TDR_LIFECYCLE_STATE, { hostRd: ALL, read: (r) => BigInt(td(r).lifecycle) }),
  mdField('TDCX_PA', M.MD_TDR_TDCX_PA, { hostRd: ALL, numFields: 9, read: (r, i) => BigInt(td(r).tdcsPages[i] ?? 0) }),
  mdField('HKID', M.MD_TDR_HKID, { hostRd: ALL, read: (r) => BigInt(td(r).hkid) }),
  mdField('NUM_VCPUS', M.MD_TDCS_NUM_VCPUS, { hostRd: ALL, guestRd: ALL, read: (r) => BigInt(td(r).numVcpus) }),
  mdField('NUM_ASSOC_VCPUS', M.MD_TDCS_NUM_ASSOC_VCPUS, { hostRd: ALL, read: (r) => BigInt(td(r).numAssocVcpus) }),
  mdField('OP_STATE', M.MD_TDCS_OP_STATE, { hostRd: ALL, read: (r) => BigInt(td(r).opState) }),
  mdField('ATTRIBUTES', M.MD_TDCS_ATTRIBUTES, { hostRd: ALL, guestRd: ALL, read: (r) => td(r).attributes }),
  mdField('XFAM', M.MD_TDCS_XFAM, { hostRd: ALL, guestRd: ALL, read: (r) => td(r).xfam }),
  mdField('MAX_VCPUS', M.MD_TDCS_MAX_VCPUS, { hostRd: ALL, guestRd: ALL, read: (r) => BigInt(td(r).maxVcpus) }),
  mdField('GPAW', M.MD_TDCS_GPAW, { hostRd: ALL, guestRd: ALL, read: (r) => (td(r).gpaw === 52 ? 1n : 0n) }),
  mdField('EPTP', M.MD_TDCS_EPTP, {
    hostRd: ALL,
    // The SEPT root is TDCS page 3; page-walk length in bits 5:3, memory type WB (6).
    read: (r) => {
      const t = td(r);
      const levels = t.sept?.levels ?? (t.gpaw === 52 ? 5 : 4);
      return BigInt(t.tdcsPages[3] ?? 0) | (BigInt(levels - 1) << EPTP_PWL_SHIFT) | 6n;
    },
  }),
  mdField('TSC_OFFSET', M.MD_TDCS_TSC_OFFSET, { hostRd: ALL, read: () => 0n }),
  mdField('TSC_MULTIPLIER', M.MD_TDCS_TSC_MULTIPLIER, {
    hostRd: ALL,
    read: (r) => (BigInt(td(r).tscFrequency) * 25_000_000n << 48n) / SIM_NATIVE_TSC_HZ,
  }),
  mdField('TSC_FREQUENCY', M.MD_TDCS_TSC_FREQUENCY, { hostRd: ALL, guestRd: ALL, read: (r) => BigInt(td(r).tscFrequency) }),
  mdField('NOTIFY_ENABLES', M.MD_TDCS_NOTIFY_ENABLES, {
    debugRd: ALL, debugWr: 1n, guestRd: 1n, guestWr: 1n,
    read: (r) => td(r).notifyEnables,
    write: (r, _i, v) => { td(r).notifyEnables = v; return undefined; },
  }),
  mdField('CONFIG_FLAGS', M.MD_TDCS_CONFIG_FLAGS, { hostRd: ALL, guestRd: ALL, read: (r) => td(r).configFlags }),
  mdField('TD_CTLS', M.MD_TDCS_TD_CTLS, { debugRd: ALL, guestRd: ALL, guestWr: 7n, read: (r) => tdCtlsOf(td(r)), write: writeTdCtls }),
  mdField('TOPOLOGY_ENUM_CONFIGURED', M.MD_TDCS_TOPOLOGY_ENUM_CONFIGURED, { hostRd: ALL, guestRd: ALL, read: () => 0n }),
  mdField('MRTD', M.MD_TDCS_MRTD, { hostRd: ALL, guestRd: ALL, numElems: 6, read: (r, i) => qwordOf(td(r).mrtd, i) }),
  mdField('MRCONFIGID', M.MD_TDCS_MRCONFIGID, { hostRd: ALL, guestRd: ALL, numElems: 6, read: (r, i) => qwordOf(td(r).mrConfigId, i) }),
  mdField('MROWNER', M.MD_TDCS_MROWNER, { hostRd: ALL, guestRd: ALL, numElems: 6, read: (r, i) => qwordOf(td(r).mrOwner, i) }),
  mdField('MROWNERCONFIG', M.MD_TDCS_MROWNERCONFIG, { hostRd: ALL, guestRd: ALL, numElems: 6, read: (r, i) => qwordOf(td(r).mrOwnerConfig, i) }),
  mdField('RTMR', M.MD_TDCS_RTMR, {
    debugRd: ALL, guestRd: ALL, numFields: 4, numElems: 6,
    read: (r, i) => qwordOf(td(r).rtmr[Math.floor(i / 6)]!, i % 6),
  }),
  ...cpuidValueFields(),
]);

/** Initial values of the TD VMCS fields the simulator keeps, by encoding. */
const VMCS_INITIAL = new Map<number, bigint>([
  // POSTED_INTERRUPT_NOTFICATION_VECTOR_INIT: 0xFFFF, an illegal vector until the VMM writes one.
  [M.VMCS_POSTED_INTR_NV, 0xffffn],
  [M.VMCS_POSTED_INTR_DESC_ADDR, 0n],
  [M.VMCS_SHARED_EPT_POINTER, 0n],
  // External-interrupt exiting, NMI exiting, virtual NMIs (simulator choice); bit 7 clear.
  [M.VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x29n],
]);

/** A TD VMCS field id as the module's `td_vmcs_lookup` spells it (context VP, inc_size). */
function vmcsId(encoding: number, sizeCode: number): bigint {
  return M.mdFieldId(M.MD_TDVPS_VMCS_CLASS, encoding, M.MD_CTX_VP, sizeCode) | M.MD_INC_SIZE;
}

function vmcsStored(encoding: number): (r: MdRefs) => bigint {
  return (r) => vc(r).vmcs.get(encoding) ?? VMCS_INITIAL.get(encoding) ?? 0n;
}

function vmcsStore(encoding: number, check?: (v: bigint) => boolean): (r: MdRefs, i: number, v: bigint) => bigint | undefined {
  return (r, _i, v) => {
    if (check !== undefined && !check(v)) return S.TDX_METADATA_FIELD_VALUE_NOT_VALID;
    vc(r).vmcs.set(encoding, v);
    return undefined;
  };
}

function gprField(n: number): ReturnType<typeof mdField> {
  const names = ['RAX', 'RCX', 'RDX', 'RBX', 'RSP_PLACEHOLDER', 'RBP', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15'];
  // RSP is reached through the VMCS guest RSP field; its GPR slot is a placeholder nobody can access.
  const access = n === RSP ? 0n : ALL;
  return mdField(names[n]!, M.MD_TDVPS_GPR_BASE + BigInt(n), {
    debugRd: access, debugWr: access,
    read: (r) => vc(r).regs.get(n),
    write: (r, _i, v) => { vc(r).regs.set(n, v); return undefined; },
  });
}

function regField(name: string, encoding: number, slot: number): ReturnType<typeof mdField> {
  return mdField(name, vmcsId(encoding, 3), {
    debugRd: ALL, debugWr: ALL,
    read: (r) => vc(r).regs.get(slot),
    write: (r, _i, v) => { vc(r).regs.set(slot, v); return undefined; },
  });
}

/**
 * The vCPU-scope (TD VMCS, then TDVPS) fields the simulated module implements, in the order of
 * the module's `td_vmcs_lookup` and `tdvps_lookup`, with its masks:
 * - VMCS fields KVM 6.16 writes: POSTED_INTR_NV (0..255), POSTED_INTR_DESC_ADDR (64-byte
 *   aligned), SHARED_EPT_POINTER (bits 51:12), PIN_BASED_VM_EXEC_CONTROL (bit 7 only); guest RSP,
 *   RIP and RFLAGS for a DEBUG TD;
 * - VE_INFO (debug reads), the guest GPRs (class 16, field n = GPR n; DEBUG TD only; RSP's slot is
 *   a placeholder), VCPU_STATE_DETAILS (VMXIP, always 0: no virtual interrupts are modelled);
 * - management: VCPU_STATE (debug), VCPU_INDEX, CPUID_SUPERVISOR_VE / CPUID_USER_VE, PEND_NMI
 *   (host read/write; KVM writes 1 to inject an NMI).
 * A production TD's GPRs read as TDX_METADATA_FIELD_NOT_READABLE and write as
 * TDX_METADATA_FIELD_NOT_WRITABLE: the module's masks for them are zero outside debug.
 */
export const VP_METADATA = new MdTable([
  mdField('POSTED_INTR_NV', vmcsId(M.VMCS_POSTED_INTR_NV, 1), {
    hostRd: ALL, hostWr: ALL, read: vmcsStored(M.VMCS_POSTED_INTR_NV), write: vmcsStore(M.VMCS_POSTED_INTR_NV, (v) => v <= 255n),
  }),
  mdField('POSTED_INTR_DESC_ADDR', vmcsId(M.VMCS_POSTED_INTR_DESC_ADDR, 3), {
    hostRd: ALL, hostWr: ~0x3fn, read: vmcsStored(M.VMCS_POSTED_INTR_DESC_ADDR), write: vmcsStore(M.VMCS_POSTED_INTR_DESC_ADDR),
  }),
  mdField('SHARED_EPT_POINTER', vmcsId(M.VMCS_SHARED_EPT_POINTER, 3), {
    hostRd: 0x000f_ffff_ffff_f000n, hostWr: 0x000f_ffff_ffff_f000n, debugRd: ALL,
    read: vmcsStored(M.VMCS_SHARED_EPT_POINTER), write: vmcsStore(M.VMCS_SHARED_EPT_POINTER),
  }),
  mdField('PIN_BASED_VM_EXEC_CONTROL', vmcsId(M.VMCS_PIN_BASED_VM_EXEC_CONTROL, 2), {
    hostRd: BigInt(M.PIN_BASED_POSTED_INTR), hostWr: BigInt(M.PIN_BASED_POSTED_INTR), debugRd: ALL,
    read: vmcsStored(M.VMCS_PIN_BASED_VM_EXEC_CONTROL), write: vmcsStore(M.VMCS_PIN_BASED_VM_EXEC_CONTROL),
  }),
  regField('GUEST_RSP', M.VMCS_GUEST_RSP, RSP),
  regField('GUEST_RIP', M.VMCS_GUEST_RIP, RIP),
  regField('GUEST_RFLAGS', M.VMCS_GUEST_RFLAGS, RFLAGS),
  mdField('VE_INFO.EXIT_REASON', 0x0220_0002_0000_0000n, { debugRd: ALL, read: (r) => BigInt(vc(r).veInfo.exitReason) }),
  mdField('VE_INFO.VALID', 0x0220_0002_0000_0001n, { debugRd: ALL, read: (r) => (vc(r).veInfo.valid ? 0xffff_ffffn : 0n) }),
  mdField('VE_INFO.EXIT_QUALIFICATION', 0x0220_0003_0000_0002n, { debugRd: ALL, read: (r) => vc(r).veInfo.exitQualification }),
  mdField('VE_INFO.GLA', 0x0220_0003_0000_0003n, { debugRd: ALL, read: (r) => vc(r).veInfo.gla }),
  mdField('VE_INFO.GPA', 0x0220_0003_0000_0004n, { debugRd: ALL, read: (r) => vc(r).veInfo.gpa }),
  ...Array.from({ length: 16 }, (_, i) => gprField(i)),
  mdField('VCPU_STATE_DETAILS', M.MD_TDVPS_VCPU_STATE_DETAILS, { hostRd: ALL, read: () => 0n }),
  mdField('VCPU_STATE', M.MD_TDVPS_VCPU_STATE, { debugRd: ALL, read: (r) => BigInt(vc(r).state) }),
  mdField('VCPU_INDEX', M.MD_TDVPS_VCPU_INDEX, { hostRd: ALL, guestRd: ALL, read: (r) => BigInt(vc(r).index) }),
  mdField('CPUID_SUPERVISOR_VE', M.MD_TDVPS_CPUID_SUPERVISOR_VE, {
    hostRd: ALL, guestRd: ALL, read: (r) => BigInt(vc(r).cpuidVe & 1),
  }),
  mdField('CPUID_USER_VE', M.MD_TDVPS_CPUID_USER_VE, {
    hostRd: ALL, guestRd: ALL, read: (r) => BigInt((vc(r).cpuidVe >> 1) & 1),
  }),
  mdField('PEND_NMI', M.MD_TDVPS_PEND_NMI, {
    hostRd: ALL, hostWr: ALL, read: (r) => BigInt(vc(r).pendNmi),
    write: (r, _i, v) => { vc(r).pendNmi = Number(v); return undefined; },
  }),
]);

/** Version field (RAX bits 23:16) of the SEAMCALL being handled. */
function versionOf(lp: LogicalProcessor): number {
  return (lp.regs.lo(RAX) >>> LEAF_VERSION_SHIFT) & 0xff;
}

/** The TD of a TDR operand in RCX, checked as TDH.MNG.RD/WR do; undefined after writing the failing status. */
function tdForMetadata(m: TdxModule, lp: LogicalProcessor): Td | undefined {
  const r = lp.regs;
  const t = m.tdOf(r.getNumber(RCX));
  if (t === undefined) {
    fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RCX);
    return undefined;
  }
  const bad = m.checkTdcs(t);
  if (bad !== undefined) {
    fail(r, bad);
    return undefined;
  }
  // OP_STATE rows of TDH.MNG.RD/WR, TDH.VP.RD/WR: every state but UNINITIALIZED (and the export
  // states the simulator does not have).
  if (t.opState === OP_STATE_UNINITIALIZED) {
    fail(r, S.TDX_OP_STATE_INCORRECT, S.TDX_OPERAND_ID_OP_STATE);
    return undefined;
  }
  return t;
}

/**
 * TDH.MNG.RD (11), versions 0 and 1: RCX = TDR PA, RDX = field id of TD-scope metadata
 * (TDR/TDCS). Returns R8 = the value (0 on failure); version 1 also returns RDX = the next
 * readable field id (MD_FIELD_ID_NA on failure), and answers a null field id with
 * TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT and RDX = the first id. A DEBUG TD is read with the
 * module's debug masks.
 */
export function tdhMngRd(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const v1 = versionOf(lp) > 0;
  const id = r.get(RDX);
  if (v1) r.set(RDX, M.MD_FIELD_ID_NA);
  r.set(R8, 0n);
  const t = tdForMetadata(m, lp);
  if (t === undefined) return;
  const refs: MdRefs = { m, td: t, debug: t.debug };
  if (v1 && isNullFieldId(id)) {
    r.set(RDX, TD_METADATA.first('host', t.debug));
    return setStatus(r, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
  }
  const res = TD_METADATA.read(id, 'host', refs);
  if (res.status !== S.TDX_SUCCESS) return fail(r, res.status);
  r.set(R8, res.value);
  if (v1) r.set(RDX, res.next);
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.MNG.WR (13): RCX = TDR PA, RDX = field id, R8 = value, R9 = write mask. Changes only the
 * bits in (field write mask & R9) and returns R8 = the old value (0 on failure).
 */
export function tdhMngWr(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const id = r.get(RDX);
  const value = r.get(R8);
  const mask = r.get(R9);
  r.set(R8, 0n);
  const t = tdForMetadata(m, lp);
  if (t === undefined) return;
  const res = TD_METADATA.write(id, value, mask, 'host', { m, td: t, debug: t.debug });
  if (res.status !== S.TDX_SUCCESS) return fail(r, res.status);
  r.set(R8, res.old);
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * The vCPU of a TDVPR operand in RCX, checked as TDH.VP.RD/WR do: a TDVPR page, the TD's TDCS
 * usable and not UNINITIALIZED, every TDVPS page added (else TDX_TDCX_NUM_INCORRECT), the vCPU
 * READY (or DISABLED, for a read; else TDX_VCPU_STATE_INCORRECT) and not associated with another
 * LP (TDX_VCPU_ASSOCIATED).
 */
function vcpuForMetadata(m: TdxModule, lp: LogicalProcessor, write: boolean): TdVcpu | undefined {
  const r = lp.regs;
  const v = m.vcpuOf(r.getNumber(RCX));
  if (v === undefined) {
    fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RCX);
    return undefined;
  }
  const bad = m.checkTdcs(v.td);
  if (bad !== undefined) {
    fail(r, bad);
    return undefined;
  }
  if (v.td.opState === OP_STATE_UNINITIALIZED) {
    fail(r, S.TDX_OP_STATE_INCORRECT, S.TDX_OPERAND_ID_OP_STATE);
    return undefined;
  }
  if (v.tdcxPages.length !== TDVPS_PAGES - 1) {
    fail(r, S.TDX_TDCX_NUM_INCORRECT);
    return undefined;
  }
  if (!(v.state === VCPU_READY || (!write && v.state === VCPU_DISABLED))) {
    fail(r, S.TDX_VCPU_STATE_INCORRECT);
    return undefined;
  }
  if (v.lp >= 0 && v.lp !== lp.index) {
    fail(r, S.TDX_VCPU_ASSOCIATED);
    return undefined;
  }
  return v;
}

/** Associates `v` with `lp` (after a successful access), as `check_and_associate_vcpu` does. */
function associate(v: TdVcpu, lp: LogicalProcessor): void {
  if (v.lp < 0) {
    v.lp = lp.index;
    v.td.numAssocVcpus++;
  }
}

/**
 * TDH.VP.RD (26), versions 0 and 1: RCX = TDVPR PA, RDX = field id of vCPU-scope metadata
 * (TD VMCS or TDVPS). Returns R8 = the value; version 1 also RDX = the next readable id (null
 * field id: TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT). The guest GPRs (class 16) are readable only
 * in a DEBUG TD; a production TD gets TDX_METADATA_FIELD_NOT_READABLE. The vCPU becomes
 * associated with this LP.
 */
export function tdhVpRd(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const v1 = versionOf(lp) > 0;
  const id = r.get(RDX);
  if (v1) r.set(RDX, M.MD_FIELD_ID_NA);
  r.set(R8, 0n);
  const v = vcpuForMetadata(m, lp, false);
  if (v === undefined) return;
  const refs: MdRefs = { m, td: v.td, vcpu: v, debug: v.td.debug };
  if (v1 && isNullFieldId(id)) {
    associate(v, lp);
    r.set(RDX, VP_METADATA.first('host', v.td.debug));
    return setStatus(r, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
  }
  const res = VP_METADATA.read(id, 'host', refs);
  if (res.status !== S.TDX_SUCCESS) return fail(r, res.status);
  associate(v, lp);
  r.set(R8, res.value);
  if (v1) r.set(RDX, res.next);
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.VP.WR (43): RCX = TDVPR PA, RDX = field id, R8 = value, R9 = write mask; returns R8 = the
 * old value. In a DEBUG TD the VMM can change the guest's GPRs (class 16) and RIP/RSP/RFLAGS; a
 * production TD refuses with TDX_METADATA_FIELD_NOT_WRITABLE. The vCPU must be READY.
 */
export function tdhVpWr(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const id = r.get(RDX);
  const value = r.get(R8);
  const mask = r.get(R9);
  r.set(R8, 0n);
  const v = vcpuForMetadata(m, lp, true);
  if (v === undefined) return;
  const res = VP_METADATA.write(id, value, mask, 'host', { m, td: v.td, vcpu: v, debug: v.td.debug });
  if (res.status !== S.TDX_SUCCESS) return fail(r, res.status);
  associate(v, lp);
  r.set(R8, res.old);
  setStatus(r, S.TDX_SUCCESS);
}
