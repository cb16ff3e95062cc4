import { describe, expect, it } from 'vitest';
import { RegisterFile } from './RegisterFile.js';

// GPR encodings from the SDM (RAX=0 .. R15=15), RIP and RFLAGS after them.
const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
const R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;
const RIP = 16, RFLAGS = 17;

/** A distinct 64-bit value per slot, with different high and low halves. */
const valueOf = (slot: number): bigint => (BigInt(0x1000_0000 + slot * 0x1111) << 32n) | BigInt(0x8000_0000 + slot);

describe('RegisterFile', () => {
  describe('when created', () => {
    it('should have every GPR and RIP zero and RFLAGS = 2 (reserved bit 1 reads as 1)', () => {
      const r = new RegisterFile();
      for (let i = 0; i < 17; i++) expect(r.get(i)).toBe(0n);
      expect(r.get(RFLAGS)).toBe(2n);
    });

    it('should hold 18 64-bit slots (16 GPRs, RIP, RFLAGS) in one 144-byte buffer', () => {
      const r = new RegisterFile();
      expect(r.buffer.byteLength).toBe(144);
      expect(r.u32.buffer).toBe(r.buffer);
      expect(r.u64.buffer).toBe(r.buffer);
      expect(r.u64.length).toBe(18);
    });
  });

  describe('views over one buffer', () => {
    it('should show a BigInt write as little-endian 32-bit halves', () => {
      const r = new RegisterFile();
      r.set(R8, 0x1122_3344_5566_7788n);
      expect(r.lo(R8)).toBe(0x5566_7788);
      expect(r.hi(R8)).toBe(0x1122_3344);
      expect(r.u32[R8 * 2]).toBe(0x5566_7788);
      expect(r.u32[R8 * 2 + 1]).toBe(0x1122_3344);
      expect(new DataView(r.buffer).getBigUint64(R8 * 8, true)).toBe(0x1122_3344_5566_7788n);
    });

    it('should show halves written through u32 / setHalves in the BigInt accessors and the u64 view', () => {
      const r = new RegisterFile();
      r.setHalves(R15, 0xdead_beef, 0xcafe_f00d);
      expect(r.get(R15)).toBe(0xcafe_f00d_dead_beefn);
      expect(r.u64[R15]).toBe(0xcafe_f00d_dead_beefn);
      r.u32[RBX * 2 + 1] = 0x8000_0000;
      expect(r.get(RBX)).toBe(0x8000_0000_0000_0000n);
    });

    it('should keep every slot independent', () => {
      const r = new RegisterFile();
      for (let i = 0; i < 18; i++) r.set(i, valueOf(i));
      for (let i = 0; i < 18; i++) {
        expect(r.get(i)).toBe(valueOf(i));
        expect(r.lo(i)).toBe(Number(valueOf(i) & 0xffff_ffffn));
        expect(r.hi(i)).toBe(Number(valueOf(i) >> 32n));
      }
    });

    it('should take BigInt writes modulo 2^64', () => {
      const r = new RegisterFile();
      r.set(RDX, -1n);
      expect(r.get(RDX)).toBe(0xffff_ffff_ffff_ffffn);
      expect(r.lo(RDX)).toBe(0xffff_ffff);
      expect(r.hi(RDX)).toBe(0xffff_ffff);
      r.set(RDX, (1n << 64n) + 5n);
      expect(r.get(RDX)).toBe(5n);
    });

    it('should round-trip numbers up to 2^53 - 1 without BigInt', () => {
      const r = new RegisterFile();
      for (const v of [0, 1, 0xffff_ffff, 0x1_0000_0000, 0x000f_ffff_ffff_f000, Number.MAX_SAFE_INTEGER]) {
        r.setNumber(R9, v);
        expect(r.getNumber(R9)).toBe(v);
        expect(r.get(R9)).toBe(BigInt(v));
      }
    });

    it('should report zero only when both halves are zero', () => {
      const r = new RegisterFile();
      expect(r.isZero(R10)).toBe(true);
      r.setHalves(R10, 0, 1);
      expect(r.isZero(R10)).toBe(false);
      r.setHalves(R10, 1, 0);
      expect(r.isZero(R10)).toBe(false);
      r.setHalves(R10, 0, 0);
      expect(r.isZero(R10)).toBe(true);
    });
  });

  describe('struct tdx_module_args view', () => {
    // Linux arch/x86/include/asm/shared/tdx.h: rcx, rdx, r8, r9, r10, r11, r12, r13, r14, r15, rbx, rdi, rsi.
    const LINUX_ORDER = [RCX, RDX, R8, R9, R10, R11, R12, R13, R14, R15, RBX, RDI, RSI];

    it('should map field k to the register Linux puts at field k', () => {
      const r = new RegisterFile();
      LINUX_ORDER.forEach((slot) => r.set(slot, valueOf(slot)));
      LINUX_ORDER.forEach((slot, k) => expect(r.arg(k)).toBe(valueOf(slot)));
    });

    it('should write field k into that register and touch nothing else (no copy)', () => {
      LINUX_ORDER.forEach((slot, k) => {
        const r = new RegisterFile();
        r.setArg(k, 0xabcd_0000_0000_1234n);
        expect(r.get(slot)).toBe(0xabcd_0000_0000_1234n);
        for (let i = 0; i < 17; i++) if (i !== slot) expect(r.get(i)).toBe(0n);
      });
    });

    it('should never expose RAX, RSP, RBP, RIP or RFLAGS as an argument', () => {
      const r = new RegisterFile();
      for (const slot of [RAX, RSP, RBP, RIP, RFLAGS]) r.set(slot, 0x77n);
      const fields = Array.from({ length: 13 }, (_, k) => r.arg(k));
      expect(fields).toEqual(Array(13).fill(0n));
    });

    it('should ignore fields outside 0..12 instead of corrupting a register', () => {
      const r = new RegisterFile();
      r.setArg(13, 1n);
      r.setArg(-1, 1n);
      expect(r.arg(13)).toBe(0n);
      expect(Object.values(r.snapshot())).toEqual([...Array(17).fill(0n), 2n]);
    });
  });

  describe('.clear', () => {
    it('should zero all GPRs and RIP and reset RFLAGS to 2', () => {
      const r = new RegisterFile();
      for (let i = 0; i < 18; i++) r.set(i, valueOf(i));
      r.clear();
      expect(Object.values(r.snapshot())).toEqual([...Array(17).fill(0n), 2n]);
    });
  });

  describe('.copyFrom', () => {
    it('should copy every slot but keep its own buffer', () => {
      const a = new RegisterFile();
      const b = new RegisterFile();
      for (let i = 0; i < 18; i++) a.set(i, valueOf(i));
      b.copyFrom(a);
      expect(b.snapshot()).toEqual(a.snapshot());
      a.set(RAX, 0n);
      expect(b.get(RAX)).toBe(valueOf(RAX));
    });
  });

  describe('.snapshot', () => {
    it('should name the slots in SDM order', () => {
      const r = new RegisterFile();
      for (let i = 0; i < 18; i++) r.set(i, BigInt(i));
      expect(r.snapshot()).toEqual({
        rax: 0n, rcx: 1n, rdx: 2n, rbx: 3n, rsp: 4n, rbp: 5n, rsi: 6n, rdi: 7n,
        r8: 8n, r9: 9n, r10: 10n, r11: 11n, r12: 12n, r13: 13n, r14: 14n, r15: 15n, rip: 16n, rflags: 17n,
      });
    });
  });
});
