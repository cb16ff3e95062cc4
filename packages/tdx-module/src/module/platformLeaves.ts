import { type LogicalProcessor } from '@seamkit/seam-cpu';
import { PAGE_SIZE, R8, RCX, RDX } from '@seamkit/seam-cpu/abi';
import { SYSCONFIG_DONE, SYSINIT_DONE, SYSINIT_PENDING, SYS_READY, HKID_RESERVED } from '../abi/states.js';
import * as S from '../abi/status.js';
import { TDMR_ALIGNMENT, TDMR_INFO_BASE, TDMR_INFO_SIZE } from '../abi/structures.js';
import { fail, setStatus } from './status.js';
import type { TdxModule } from './TdxModule.js';

/** TDH.SYS.INIT (33): global initialization; RCX = attributes (all reserved, must be 0). */
export function tdhSysInit(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  if (m.sysState !== SYSINIT_PENDING) return fail(r, S.TDX_SYS_INIT_NOT_PENDING);
  if (!r.isZero(RCX)) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  m.sysState = SYSINIT_DONE;
  setStatus(r, S.TDX_SUCCESS);
}

/** TDH.SYS.LP.INIT (35): per-LP initialization, after TDH.SYS.INIT, once on every LP. */
export function tdhSysLpInit(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  if (m.sysState === SYSINIT_PENDING) return fail(r, S.TDX_SYS_LP_INIT_NOT_PENDING);
  if (m.lpInitDone[lp.index] === true) return fail(r, S.TDX_SYS_LP_INIT_DONE);
  m.lpInitDone[lp.index] = true;
  r.set(RCX, 0n);
  r.set(RDX, 0n);
  r.set(R8, 0n);
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.SYS.CONFIG (45): RCX = PA of an array of TDMR_INFO PAs, RDX = number of entries,
 * R8 = the global private HKID. Requires every LP initialized.
 */
export function tdhSysConfig(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  if (m.sysState !== SYSINIT_DONE) return fail(r, S.TDX_SYS_CONFIG_NOT_PENDING);
  if (m.lpInitDone.some((d) => !d)) return fail(r, S.TDX_SYS_LP_INIT_NOT_DONE);
  const arrayPa = r.getNumber(RCX);
  const count = r.getNumber(RDX);
  const hkid = r.getNumber(R8);
  if (arrayPa % 512 !== 0 || arrayPa + count * 8 > m.cpu.memory.size) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  if (count < 1 || count > 64) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RDX);
  if (!m.isTdxKeyId(hkid)) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_R8);
  const tdmrs: [number, number][] = [];
  const buf = new Uint8Array(16);
  const view = new DataView(buf.buffer);
  for (let i = 0; i < count; i++) {
    m.cpu.memory.read(arrayPa + i * 8, buf.subarray(0, 8));
    const infoPa = Number(view.getBigUint64(0, true));
    if (infoPa % 512 !== 0 || infoPa + 16 > m.cpu.memory.size || infoPa % PAGE_SIZE > PAGE_SIZE - 16) {
      return fail(r, S.TDX_INVALID_TDMR);
    }
    m.cpu.memory.read(infoPa, buf);
    const base = Number(view.getBigUint64(TDMR_INFO_BASE, true));
    const size = Number(view.getBigUint64(TDMR_INFO_SIZE, true));
    if (base % TDMR_ALIGNMENT !== 0 || size === 0 || size % TDMR_ALIGNMENT !== 0 || base + size > m.cpu.memory.size) {
      return fail(r, S.TDX_INVALID_TDMR);
    }
    for (const [b, s] of tdmrs) if (base < b + s && b < base + size) return fail(r, S.TDX_INVALID_TDMR);
    tdmrs.push([base, size]);
  }
  for (const [b, s] of tdmrs) m.pamt.addTdmr(b, s);
  m.globalHkid = hkid;
  m.kot[hkid - m.tdxKeyIdStart] = HKID_RESERVED;
  m.sysState = SYSCONFIG_DONE;
  setStatus(r, S.TDX_SUCCESS);
}

/** TDH.SYS.KEY.CONFIG (31): configures the global key on this LP's package. */
export function tdhSysKeyConfig(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  if (m.sysState !== SYSCONFIG_DONE) return fail(r, S.TDX_SYS_KEY_CONFIG_NOT_PENDING);
  if (m.keyConfiguredPackages.has(lp.packageId)) return fail(r, S.TDX_KEY_CONFIGURED);
  m.keyConfiguredPackages.add(lp.packageId);
  if (m.keyConfiguredPackages.size === m.cpu.packages) m.sysState = SYS_READY;
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.SYS.TDMR.INIT (36): RCX = TDMR base. Initializes the next 1 GiB of that TDMR's PAMT and
 * returns in RDX the next address to initialize; call until RDX reaches the TDMR end.
 */
export function tdhSysTdmrInit(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const base = r.getNumber(RCX);
  const tdmr = m.pamt.tdmrAt(base);
  if (tdmr === undefined) return fail(r, S.TDX_INVALID_TDMR);
  if (tdmr.initialized) {
    r.setNumber(RDX, tdmr.end);
    return fail(r, S.TDX_TDMR_ALREADY_INITIALIZED);
  }
  const next = Math.min(m.tdmrProgress(base) + TDMR_ALIGNMENT, tdmr.end);
  m.setTdmrProgress(base, next);
  if (next >= tdmr.end) tdmr.initialized = true;
  r.setNumber(RDX, next);
  setStatus(r, S.TDX_SUCCESS);
}
