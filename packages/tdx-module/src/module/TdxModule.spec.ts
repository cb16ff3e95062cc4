import { RAX, RCX, RDX, RegisterFile, SeamCpu, SeamkitError, fromGenerator } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import { bootPlatform, hex, moduleSnapshot, type Platform } from '../testing/buildTd.js';
import { LEAF, OPERAND, REF, withOperand } from '../testing/reference.js';
import { TdxModule } from './TdxModule.js';

/** Raw SEAMCALL with a full 64-bit RAX (the host wrappers only take a leaf number). */
function rawSeamcall(p: Platform, rax: bigint, rcx = 0n, rdx = 0n): bigint {
  const regs = new RegisterFile();
  regs.set(RAX, rax);
  regs.set(RCX, rcx);
  regs.set(RDX, rdx);
  p.lp0.seamcall(regs);
  return regs.get(RAX);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return SeamkitError.is(err) ? err.code : String(err);
  }
  return undefined;
}

const INVALID_RAX = withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RAX);

describe('TdxModule', () => {
  describe('.install', () => {
    it('should load the module as the CPU\'s SEAM module, so SEAMCALL reaches it', () => {
      const cpu = new SeamCpu();
      const m = TdxModule.install(cpu);
      expect(cpu.seamModule).toBe(m);
      expect(m.cpu).toBe(cpu);
      const regs = new RegisterFile();
      regs.set(RAX, BigInt(LEAF.TDH_SYS_INIT));
      cpu.lps[0]!.seamcall(regs);
      expect(hex(regs.get(RAX))).toBe(hex(REF.TDX_SUCCESS));
    });

    it('should refuse a second module on the same CPU with SEAMKIT_ERR_CPU_MODULE_LOADED', () => {
      const cpu = new SeamCpu();
      const m = TdxModule.install(cpu);
      expect(codeOf(() => TdxModule.install(cpu))).toBe('SEAMKIT_ERR_CPU_MODULE_LOADED');
      expect(cpu.seamModule).toBe(m);
    });
  });

  describe('.seamcall (dispatcher)', () => {
    it.each([
      ['an unknown leaf number', 99n],
      ['the highest leaf number', 0xffffn],
      ['a leaf the module does not implement (TDH.MEM.SEPT.WR, 42)', 42n],
    ])('should answer %s with TDX_OPERAND_INVALID|RAX and change nothing', (_name, rax) => {
      const p = bootPlatform();
      const before = moduleSnapshot(p);
      expect(hex(rawSeamcall(p, rax))).toBe(hex(INVALID_RAX));
      expect(moduleSnapshot(p)).toEqual(before);
    });

    it.each([
      ['bit 24 (reserved 31:24)', 1n << 24n],
      ['bit 31', 1n << 31n],
      ['bit 32 (reserved 63:32)', 1n << 32n],
      ['bit 63', 1n << 63n],
      ['version 1 on a leaf without versions', 1n << 16n],
    ])('should refuse a valid TDH.MNG.CREATE with %s set in RAX (TDX_OPERAND_INVALID|RAX), creating no TD', (_name, bits) => {
      const p = bootPlatform();
      const tdr = p.cpu.memory.allocPage();
      const hkid = BigInt(p.module.tdxKeyIdStart + 1);
      const before = moduleSnapshot(p);
      expect(hex(rawSeamcall(p, BigInt(LEAF.TDH_MNG_CREATE) | bits, BigInt(tdr), hkid))).toBe(hex(INVALID_RAX));
      expect(moduleSnapshot(p)).toEqual(before);
      // The same call with a clean RAX works.
      expect(hex(rawSeamcall(p, BigInt(LEAF.TDH_MNG_CREATE), BigInt(tdr), hkid))).toBe(hex(REF.TDX_SUCCESS));
    });

    it('should return every SEAMCALL to VMX root (SEAMRET), successful or not', () => {
      const p = bootPlatform();
      rawSeamcall(p, 99n);
      rawSeamcall(p, BigInt(LEAF.TDH_SYS_INIT));
      expect(p.lp0.mode).toBe(0);
    });
  });

  describe('state snapshots used by the "state unchanged" checks', () => {
    it('should change when a SEAMCALL succeeds', () => {
      const p = bootPlatform();
      const tdr = p.cpu.memory.allocPage();
      const before = moduleSnapshot(p);
      expect(hex(p.host.tdhMngCreate(p.lp0, tdr, p.module.tdxKeyIdStart + 1))).toBe(hex(REF.TDX_SUCCESS));
      expect(moduleSnapshot(p)).not.toEqual(before);
    });
  });

  describe('.bindGuestProgram', () => {
    it('should refuse an address that is not a TDR with SEAMKIT_ERR_MODULE_NO_TD', () => {
      const p = bootPlatform();
      const program = fromGenerator(function* () { yield; });
      expect(codeOf(() => p.module.bindGuestProgram(0x12_3000, program))).toBe('SEAMKIT_ERR_MODULE_NO_TD');
    });
  });
});
