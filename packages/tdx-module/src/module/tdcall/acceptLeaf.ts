import { EXIT_REASON_EPT_VIOLATION, PAGE_SIZE, RAX, RCX } from '@seamkit/seam-cpu/abi';
import {
  EXT_EXIT_QUAL_TYPE_ACCEPT, SEPT_FREE, SEPT_MAPPED, SEPT_NL_BLOCKED, SEPT_NL_MAPPED, SEPT_PENDING,
} from '../../abi/states.js';
import * as S from '../../abi/status.js';
import { decodePageInfo } from '../decodePageInfo.js';
import type { TdVcpu } from '../TdVcpu.js';
import type { TdxModule } from '../TdxModule.js';

/** EPT-violation exit qualification bit 1: data write (ACCEPT counts as a write). */
const EPT_QUAL_WRITE = 2;

/**
 * TDG.MEM.PAGE.ACCEPT (TDCALL leaf 6): RCX = level | GPA, level 0 (4 KiB) or 1 (2 MiB), as the
 * TDX module 1.5.01 handler `tdg_mem_page_accept` decides it:
 *
 * - bad page info (reserved bits, level > 1, misaligned) or a GPA that is not private:
 *   TDX_OPERAND_INVALID (RCX);
 * - a PENDING 4 KiB leaf at the requested level: the page is zeroed with the TD's key and becomes
 *   MAPPED; RAX = TDX_SUCCESS;
 * - a MAPPED leaf there: the warning TDX_PAGE_ALREADY_ACCEPTED with the level as operand
 *   (0x00000B0A00000000 for 4 KiB);
 * - a non-leaf entry at a 2 MiB request (the range is mapped with 4 KiB pages):
 *   TDX_PAGE_SIZE_MISMATCH with the level (1); the guest then accepts 4 KiB at a time;
 * - anything else (no SEPT table or leaf yet, a blocked entry): an EPT-violation TD exit to the
 *   host with exit qualification "write", extended exit qualification type ACCEPT (1) and, in bits
 *   63:32, the requested level, the level and state where the walk stopped and whether that entry
 *   is a leaf. RIP stays on the TDCALL, which runs again at the next TD entry (after KVM has added
 *   the page with TDH.MEM.PAGE.AUG).
 *
 * Private memory is mapped at 4 KiB only in this model, so a 2 MiB PENDING leaf never exists.
 * @returns 0 to resume the guest, or EXIT_REASON_EPT_VIOLATION for the TD exit
 */
export function tdgMemPageAccept(m: TdxModule, vcpu: TdVcpu): number {
  const g = vcpu.regs;
  const td = vcpu.td;
  const info = decodePageInfo(g.get(RCX));
  if (info === undefined || info.level > 1 || info.gpa % 2 ** (12 + 9 * info.level) !== 0 || info.gpa >= 2 ** (td.gpaw - 1)) {
    g.set(RAX, S.TDX_OPERAND_INVALID + S.TDX_OPERAND_ID_RCX);
    return 0;
  }
  const sept = td.sept!;
  const stopped = sept.walk(info.gpa, info.level);
  if (stopped >= 0) return acceptViolation(m, vcpu, info.gpa, info.level, stopped, SEPT_FREE, false);
  const state = sept.entryState(info.gpa, info.level);
  if (state === SEPT_NL_MAPPED || state === SEPT_NL_BLOCKED) {
    g.set(RAX, S.TDX_PAGE_SIZE_MISMATCH + BigInt(info.level));
    return 0;
  }
  if (state === SEPT_MAPPED) {
    g.set(RAX, S.TDX_PAGE_ALREADY_ACCEPTED + BigInt(info.level));
    return 0;
  }
  if (state !== SEPT_PENDING) return acceptViolation(m, vcpu, info.gpa, info.level, info.level, state, state !== SEPT_FREE);
  const leaf = sept.leaves.get(info.gpa / PAGE_SIZE)!;
  m.cpu.memory.clearPage(leaf.hpa, td.hkid);
  leaf.state = SEPT_MAPPED;
  g.setHalves(RAX, 0, 0);
  return 0;
}

/**
 * `async_tdexit_ept_violation(..., VMX_EEQ_ACCEPT)`: the TDCALL becomes an EPT-violation TD exit.
 * Extended exit qualification: type ACCEPT in bits 3:0; info in bits 63:32 = requested level
 * (2:0), error level (5:3), error entry state (13:6), error entry is a leaf (14).
 */
function acceptViolation(m: TdxModule, vcpu: TdVcpu, gpa: number, reqLevel: number, errLevel: number, state: number, leaf: boolean): number {
  const lp = m.cpu.lps[vcpu.lp]!;
  lp.exitGpa = gpa;
  lp.exitQualification = EPT_QUAL_WRITE;
  const info = reqLevel | (errLevel << 3) | (state << 6) | ((leaf ? 1 : 0) << 14);
  vcpu.extExitQual = BigInt(EXT_EXIT_QUAL_TYPE_ACCEPT) | (BigInt(info) << 32n);
  return EXIT_REASON_EPT_VIOLATION;
}
