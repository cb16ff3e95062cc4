import { type RegisterFile } from '@seamkit/seam-cpu';
import { RAX, RCX, RDX } from '@seamkit/seam-cpu/abi';

/** Writes a completion status into RAX. */
export function setStatus(regs: RegisterFile, status: bigint): void {
  regs.set(RAX, status);
}

/** Writes a status with an operand id (`status + operand`) into RAX. */
export function fail(regs: RegisterFile, status: bigint, operand = 0n): void {
  regs.set(RAX, status + operand);
}

/**
 * Writes a SEPT error: the status with operand RCX, RCX = the architectural SEPT entry and
 * RDX = level (bits 2:0) | entry state (bits 15:8), as TDX extended error information.
 */
export function failSept(regs: RegisterFile, status: bigint, entry: bigint, level: number, state: number): void {
  regs.set(RAX, status + 1n);
  regs.set(RCX, entry);
  regs.setNumber(RDX, level | (state << 8));
}
