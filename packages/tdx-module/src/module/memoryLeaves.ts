import { type LogicalProcessor } from '@seamkit/seam-cpu';
import { PAGE_SIZE, R8, R9, RCX, RDX } from '@seamkit/seam-cpu/abi';
import { OP_STATE_INITIALIZED, OP_STATE_RUNNABLE, PT_EPT, PT_REG, SEPT_FREE, SEPT_MAPPED } from '../abi/states.js';
import * as S from '../abi/status.js';
import { MRTD_BLOCK_SIZE, MRTD_TAG_MR_EXTEND, MRTD_TAG_PAGE_ADD, MR_EXTEND_CHUNK } from '../abi/structures.js';
import { decodePageInfo } from './decodePageInfo.js';
import { tdForSept } from './septLeaves.js';
import { SecureEpt } from './SecureEpt.js';
import { fail, failSept, setStatus } from './status.js';
import type { Td } from './Td.js';
import type { TdxModule } from './TdxModule.js';

/** Architectural value of a FREE SEPT entry as reported in RCX: only SUPPRESS_VE (bit 63). */
const SEPT_ENTRY_FREE_ARCH = 1n << 63n;

/** Builds one 128-byte MRTD block: ASCII tag in bytes 0..15, GPA (LE u64) at 16..23. */
export function mrtdBlock(tag: string, gpa: number): Uint8Array {
  const block = new Uint8Array(MRTD_BLOCK_SIZE);
  block.set(Buffer.from(tag, 'ascii'));
  new DataView(block.buffer).setBigUint64(16, BigInt(gpa), true);
  return block;
}

function tdForMemory(m: TdxModule, lp: LogicalProcessor, states: readonly number[]): Td | undefined {
  return tdForSept(m, lp.regs, lp.regs.getNumber(RDX), states);
}

/**
 * TDH.MEM.SEPT.ADD (3): RCX = level | GPA, RDX = TDR PA, R8 = new SEPT page PA. Adds the SEPT
 * table that the level-`level` entry covering GPA points to (level 1..levels-1).
 */
export function tdhMemSeptAdd(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const info = decodePageInfo(r.get(RCX));
  if (info === undefined) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  const td = tdForMemory(m, lp, [OP_STATE_INITIALIZED, OP_STATE_RUNNABLE]);
  if (td === undefined) return;
  const sept = td.sept!;
  // The secure EPT maps the private half of the GPA space: no shared bit.
  if (info.level < 1 || info.level >= sept.levels || info.gpa >= 2 ** (td.gpaw - 1)) {
    return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  }
  const page = r.getNumber(R8);
  const badPage = m.checkFreePage(page, S.TDX_OPERAND_ID_R8);
  if (badPage !== undefined) return fail(r, badPage);
  const missing = sept.walk(info.gpa, info.level);
  if (missing >= 0) return failSept(r, S.TDX_EPT_WALK_FAILED, SEPT_ENTRY_FREE_ARCH, missing, SEPT_FREE);
  const idx = SecureEpt.index(info.gpa, info.level);
  if (sept.tables[info.level]!.has(idx)) {
    return failSept(r, S.TDX_EPT_ENTRY_NOT_FREE, BigInt(sept.tables[info.level]!.get(idx)!) | 7n, info.level, 0x84);
  }
  sept.tables[info.level]!.set(idx, page);
  m.assignPage(page, PT_EPT, td);
  r.set(RCX, 0n);
  r.set(RDX, 0n);
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.MEM.PAGE.ADD (2): RCX = level | GPA (4 KiB only), RDX = TDR PA, R8 = target page PA,
 * R9 = source page PA. Copies the source into a new private page mapped at GPA and extends
 * MRTD with a MEM.PAGE.ADD block. Build time only (OP_STATE INITIALIZED).
 */
export function tdhMemPageAdd(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const info = decodePageInfo(r.get(RCX));
  if (info === undefined || info.level !== 0) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  const td = tdForMemory(m, lp, [OP_STATE_INITIALIZED]);
  if (td === undefined) return;
  const sept = td.sept!;
  if (info.gpa >= 2 ** (td.gpaw - 1)) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  const target = r.getNumber(R8);
  const badPage = m.checkFreePage(target, S.TDX_OPERAND_ID_R8);
  if (badPage !== undefined) return fail(r, badPage);
  const source = r.getNumber(R9);
  if (source % PAGE_SIZE !== 0 || source + PAGE_SIZE > m.cpu.memory.size) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_R9);
  const missing = sept.walk(info.gpa, 0);
  if (missing >= 0) return failSept(r, S.TDX_EPT_WALK_FAILED, SEPT_ENTRY_FREE_ARCH, missing, SEPT_FREE);
  const gfn = info.gpa / PAGE_SIZE;
  const existing = sept.leaves.get(gfn);
  if (existing !== undefined && existing.state !== SEPT_FREE) {
    return failSept(r, S.TDX_EPT_ENTRY_NOT_FREE, BigInt(existing.hpa) | 7n, 0, existing.state);
  }
  const content = new Uint8Array(PAGE_SIZE);
  m.cpu.memory.read(source, content, 0);
  m.cpu.memory.write(target, content, td.hkid);
  sept.leaves.set(gfn, { state: SEPT_MAPPED, hpa: target });
  m.pamt.set(target, PT_REG, td.tdrPa);
  td.childCount++;
  td.mrtdHash!.update(mrtdBlock(MRTD_TAG_PAGE_ADD, info.gpa));
  r.set(RCX, 0n);
  r.set(RDX, 0n);
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.MR.EXTEND (16): RCX = GPA (256-byte aligned, inside a PAGE.ADDed page), RDX = TDR PA.
 * Extends MRTD with a MR.EXTEND header block and the 256 bytes at GPA (three blocks).
 */
export function tdhMrExtend(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const gpaBig = r.get(RCX);
  if ((gpaBig & 0xffn) !== 0n || gpaBig >= 1n << 52n) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  const gpa = Number(gpaBig);
  const td = tdForMemory(m, lp, [OP_STATE_INITIALIZED]);
  if (td === undefined) return;
  const sept = td.sept!;
  const missing = sept.walk(gpa, 0);
  if (missing >= 0) return failSept(r, S.TDX_EPT_WALK_FAILED, SEPT_ENTRY_FREE_ARCH, missing, SEPT_FREE);
  const leaf = sept.leaves.get(Math.floor(gpa / PAGE_SIZE));
  if (leaf === undefined || leaf.state !== SEPT_MAPPED) {
    return failSept(r, S.TDX_EPT_ENTRY_FREE, SEPT_ENTRY_FREE_ARCH, 0, leaf?.state ?? SEPT_FREE);
  }
  const chunk = new Uint8Array(MR_EXTEND_CHUNK);
  m.cpu.memory.read(leaf.hpa + (gpa % PAGE_SIZE), chunk, td.hkid);
  td.mrtdHash!.update(mrtdBlock(MRTD_TAG_MR_EXTEND, gpa));
  td.mrtdHash!.update(chunk);
  r.set(RCX, 0n);
  r.set(RDX, 0n);
  setStatus(r, S.TDX_SUCCESS);
}
