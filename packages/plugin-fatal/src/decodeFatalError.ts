import { R12, R13, RBX, RCX, RDI, RDX, RSI, R8, R9, R14, R15 } from '@seamkit/seam-cpu/abi';

/** Message registers in QEMU's order: R14, R15, RBX, RDI, RSI, R8, R9, RDX. */
export const FATAL_MESSAGE_SLOTS = [R14, R15, RBX, RDI, RSI, R8, R9, RDX] as const;
/** R12 bit 63: R13 holds the GPA of a page with more information. */
export const FATAL_GPA_VALID = 1n << 63n;

/** A decoded ReportFatalError. */
export interface FatalError {
  /** False when QEMU rejects the error code (low 16 bits non-zero): no panic info. */
  readonly valid: boolean;
  /** Error code as QEMU keeps it (low 32 bits of R12). */
  readonly errorCode: number;
  /** Full R12. */
  readonly rawErrorCode: bigint;
  /** Message bytes (up to 64, up to the first NUL). */
  readonly messageBytes: Uint8Array;
  /** The message as QEMU prints it: text if every byte is printable ASCII, else hex bytes. */
  readonly message: string;
  /** GPA from R13 when R12 bit 63 is set. */
  readonly gpa?: number;
  /** QEMU's log line(s). */
  readonly log: string;
}

/**
 * Decodes a KVM_SYSTEM_EVENT_TDX_FATAL register dump the way QEMU 10.1 does: error code =
 * data[12]; a code with non-zero low 16 bits is invalid ("invalid error code", the VM stops
 * without panic information); the message is built from the registers selected in the RCX
 * bitmap (data[1]) in the order R14, R15, RBX, RDI, RSI, R8, R9, RDX, skipping unselected ones;
 * bit 63 of the code makes data[13] the GPA of a page with more information.
 * @param data - system_event.data[0..15]
 */
export function decodeFatalError(data: readonly bigint[]): FatalError {
  const raw = data[R12] ?? 0n;
  const errorCode = Number(raw & 0xffff_ffffn);
  const mask = Number((data[RCX] ?? 0n) & 0xffffn);
  const bytes: number[] = [];
  if (mask !== 0) {
    for (const reg of FATAL_MESSAGE_SLOTS) {
      if (((mask >>> reg) & 1) === 0) continue;
      let v = data[reg] ?? 0n;
      for (let b = 0; b < 8; b++) {
        bytes.push(Number(v & 0xffn));
        v >>= 8n;
      }
    }
  }
  const nul = bytes.indexOf(0);
  const messageBytes = Uint8Array.from(nul >= 0 ? bytes.slice(0, nul) : bytes.slice(0, 64));
  const printable = messageBytes.every((b) => b >= 0x20 && b <= 0x7e);
  const message = printable
    ? Buffer.from(messageBytes).toString('latin1')
    : [...messageBytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const hasGpa = (raw & FATAL_GPA_VALID) !== 0n;
  const gpa = hasGpa ? Number(data[R13] ?? 0n) : undefined;
  const valid = (raw & 0xffffn) === 0n;
  let log = valid
    ? `TDX guest reports fatal error. error code: 0x${errorCode.toString(16)} error message:"${message}"`
    : `TDX guest reports fatal error with invalid error code: 0x${raw.toString(16)}`;
  if (valid && gpa !== undefined) log += `\nAdditional error information can be found at gpa page: 0x${gpa.toString(16)}`;
  return { valid, errorCode, rawErrorCode: raw, messageBytes, message, log, ...(gpa !== undefined ? { gpa } : {}) };
}
