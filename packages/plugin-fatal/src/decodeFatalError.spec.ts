import { describe, expect, it } from 'vitest';
import { decodeFatalError, FATAL_MESSAGE_SLOTS } from './decodeFatalError.js';

// system_event.data[i] = GPR i in SDM order (kvm-tdx-abi.md 1.7).
const RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7, R8 = 8, R9 = 9, R12 = 12, R13 = 13, R14 = 14, R15 = 15;
const FULL_MASK = 0xffccn; // TDVMCALL_EXPOSE_REGS_MASK, what a Linux guest puts in RCX

/** Packs up to 8 ASCII bytes little-endian (LSB first), as the guest does. */
function pack(s: string): bigint {
  let v = 0n;
  for (let i = Math.min(s.length, 8) - 1; i >= 0; i--) v = (v << 8n) | BigInt(s.charCodeAt(i));
  return v;
}

/** A 16-slot dump with the given registers set. */
function dump(regs: Partial<Record<number, bigint>>): bigint[] {
  const d = Array<bigint>(16).fill(0n);
  d[0] = 77n;
  for (const [i, v] of Object.entries(regs)) if (v !== undefined) d[Number(i)] = v;
  return d;
}

/** A dump carrying a message of up to 64 bytes in R14, R15, RBX, RDI, RSI, R8, R9, RDX. */
function withMessage(msg: string, extra: Partial<Record<number, bigint>> = {}): bigint[] {
  const regs: Partial<Record<number, bigint>> = { [RCX]: FULL_MASK, ...extra };
  [R14, R15, RBX, RDI, RSI, R8, R9, RDX].forEach((r, i) => (regs[r] = pack(msg.slice(i * 8, i * 8 + 8))));
  return dump(regs);
}

describe(decodeFatalError, () => {
  it('should take the message registers in QEMU\'s order: R14, R15, RBX, RDI, RSI, R8, R9, RDX', () => {
    expect([...FATAL_MESSAGE_SLOTS]).toEqual([R14, R15, RBX, RDI, RSI, R8, R9, RDX]);
  });

  it('should decode a 64-byte message spread over all eight registers, in order', () => {
    const msg = 'ABCDEFGHabcdefgh01234567IJKLMNOPijklmnop89!@#$%^QRSTUVWXqrstuvwx';
    expect(msg).toHaveLength(64);
    const d = decodeFatalError(withMessage(msg));
    expect(d.message).toBe(msg);
    expect(d.messageBytes).toHaveLength(64);
    expect(d.valid).toBe(true);
  });

  it('should stop the message at the first NUL', () => {
    expect(decodeFatalError(withMessage('kernel panic')).message).toBe('kernel panic');
  });

  it('should use only registers selected in the RCX bitmap, skipping (not zero-filling) the others', () => {
    const data = dump({ [RCX]: (1n << 14n) | (1n << 3n), [R14]: pack('AAAAAAAA'), [R15]: pack('BBBBBBBB'), [RBX]: pack('CCCC') });
    expect(decodeFatalError(data).message).toBe('AAAAAAAACCCC');
  });

  it('should have no message when RCX selects nothing', () => {
    const data = dump({ [RCX]: 0n, [R14]: pack('ignored!') });
    const d = decodeFatalError(data);
    expect(d.message).toBe('');
    expect(d.log).toBe('TDX guest reports fatal error. error code: 0x0 error message:""');
  });

  it('should print a message with a non-printable byte as space-separated hex bytes', () => {
    const data = dump({ [RCX]: 1n << 14n, [R14]: 0x0a_69_68n }); // "hi\n"
    const d = decodeFatalError(data);
    expect(d.message).toBe('68 69 0a');
    expect([...d.messageBytes]).toEqual([0x68, 0x69, 0x0a]);
    expect(d.log).toBe('TDX guest reports fatal error. error code: 0x0 error message:"68 69 0a"');
  });

  it('should treat 0x20 and 0x7e as printable and 0x7f as not', () => {
    expect(decodeFatalError(dump({ [RCX]: 1n << 14n, [R14]: 0x7e_20n })).message).toBe(' ~');
    expect(decodeFatalError(dump({ [RCX]: 1n << 14n, [R14]: 0x7f_41n })).message).toBe('41 7f');
  });

  it('should print QEMU\'s log line with the error code as a 32-bit hex value', () => {
    const d = decodeFatalError(withMessage('boom', { [R12]: 0x0000_0001_abcd_0000n }));
    expect(d.valid).toBe(true);
    expect(d.errorCode).toBe(0xabcd0000);
    expect(d.rawErrorCode).toBe(0x1_abcd_0000n);
    expect(d.log).toBe('TDX guest reports fatal error. error code: 0xabcd0000 error message:"boom"');
    expect(d.gpa).toBeUndefined();
    expect('gpa' in d).toBe(false);
  });

  it('should report the GPA from R13 when R12 bit 63 is set, on a second log line', () => {
    const d = decodeFatalError(withMessage('see page', { [R12]: (1n << 63n) | 0x0001_0000n, [R13]: 0x7fff_0000n }));
    expect(d.valid).toBe(true);
    expect(d.gpa).toBe(0x7fff0000);
    expect(d.errorCode).toBe(0x10000);
    expect(d.log).toBe(
      'TDX guest reports fatal error. error code: 0x10000 error message:"see page"\n' +
      'Additional error information can be found at gpa page: 0x7fff0000',
    );
  });

  it('should ignore R13 when bit 63 is clear', () => {
    const d = decodeFatalError(withMessage('x', { [R13]: 0x1000n }));
    expect(d.gpa).toBeUndefined();
    expect(d.log).not.toContain('gpa page');
  });

  it.each([0x1n, 0xffffn, 0x8000n, (1n << 63n) | 0x1n])('should reject error code 0x%s (low 16 bits non-zero) as invalid', (code) => {
    const d = decodeFatalError(withMessage('msg', { [R12]: code, [R13]: 0x1000n }));
    expect(d.valid).toBe(false);
    expect(d.log).not.toContain('error message');
  });

  it('should decode the selftest code 0x0BAAAAAD00000000 as QEMU does (32-bit code 0)', () => {
    const d = decodeFatalError(dump({ [R12]: 0x0baaaaad00000000n }));
    expect(d.valid).toBe(true);
    expect(d.errorCode).toBe(0);
    expect(d.rawErrorCode).toBe(0x0baaaaad00000000n);
  });
});
