import { EptViolation } from '@seamkit/seam-cpu';
import { EXIT_REASON_EPT_VIOLATION } from '@seamkit/seam-cpu/abi';
import type { TdVcpu } from '../TdVcpu.js';
import type { TdxModule } from '../TdxModule.js';

/** What a TDCALL handler returns to go on with the guest (no TD exit). */
export const TDCALL_RESUME = 0;

/**
 * The module's `check_gpa_validity` for a TDCALL memory operand: the GPA must lie below 2^GPAW,
 * and, when `privateOnly`, must not have the shared bit (GPAW - 1) set.
 */
export function guestGpaValid(vcpu: TdVcpu, gpa: bigint, privateOnly: boolean): boolean {
  const gpaw = BigInt(vcpu.td.gpaw);
  if (gpa >= 1n << gpaw) return false;
  return !privateOnly || (gpa & (1n << (gpaw - 1n))) === 0n;
}

/**
 * Accesses guest memory on behalf of a TDCALL (the module's `check_walk_and_map_guest_side_gpa`).
 * A GPA with no usable EPT mapping makes the TDCALL an EPT-violation TD exit to the host: the LP's
 * exit GPA and qualification (bit 0 read, bit 1 write) are set and the exit reason (48) is
 * returned, to be returned by the handler; {@link TDCALL_RESUME} (0) otherwise. The simulator
 * never injects a #VE here (a PENDING page exits to the host like an unmapped one).
 */
function access(m: TdxModule, vcpu: TdVcpu, gpa: number, buf: Uint8Array, write: boolean): number {
  const mem = vcpu.td.memory!;
  try {
    if (write) mem.write(gpa, buf);
    else mem.read(gpa, buf);
    return TDCALL_RESUME;
  } catch (err) {
    if (!(err instanceof EptViolation)) throw err;
    // The vCPU runs on (is associated with) the LP executing this TDH.VP.ENTER.
    const lp = m.cpu.lps[vcpu.lp]!;
    lp.exitGpa = err.gpa;
    lp.exitQualification = err.write ? 2 : 1;
    return EXIT_REASON_EPT_VIOLATION;
  }
}

/** Reads `dst.length` bytes of guest memory for a TDCALL; see {@link access}. */
export function guestRead(m: TdxModule, vcpu: TdVcpu, gpa: number, dst: Uint8Array): number {
  return access(m, vcpu, gpa, dst, false);
}

/** Writes `src` to guest memory for a TDCALL; see {@link access}. */
export function guestWrite(m: TdxModule, vcpu: TdVcpu, gpa: number, src: Uint8Array): number {
  return access(m, vcpu, gpa, src, true);
}
