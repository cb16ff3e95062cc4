import { RCX, RegisterFile, fromGenerator, type RegisterName } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import {
  bootPlatform, createTd, createVcpu, hex, mngInit, moduleSnapshot, vpInit, type Platform, type TdParamsInput,
} from '../testing/buildTd.js';
import { EXIT, OPERAND, REF, STATUS_MASK, withOperand } from '../testing/reference.js';

function expectRefused(p: Platform, fn: () => bigint, status: bigint): void {
  const before = moduleSnapshot(p);
  expect(hex(fn())).toBe(hex(status));
  expect(moduleSnapshot(p)).toEqual(before);
}

function expectRefusedClass(p: Platform, fn: () => bigint, status: bigint): void {
  const before = moduleSnapshot(p);
  expect(hex(fn() & STATUS_MASK)).toBe(hex(status));
  expect(moduleSnapshot(p)).toEqual(before);
}

/** A TD after TDH.MNG.INIT, ready for vCPUs. */
function initializedTd(params: TdParamsInput = {}): { p: Platform; tdr: number } {
  const p = bootPlatform();
  const { tdr } = createTd(p);
  mngInit(p, tdr, params);
  return { p, tdr };
}

describe('vCPU leaves', () => {
  describe('TDH.VP.CREATE', () => {
    it('should refuse a TDR operand that is not a TDR with TDX_PAGE_METADATA_INCORRECT|RDX', () => {
      const { p } = initializedTd();
      const [a, b] = [p.cpu.memory.allocPage(), p.cpu.memory.allocPage()];
      expectRefused(p, () => p.host.tdhVpCreate(p.lp0, a, b), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RDX));
    });

    it('should refuse a TDVPR page in use with TDX_PAGE_METADATA_INCORRECT|RCX', () => {
      const { p, tdr } = initializedTd();
      const tdvpr = createVcpu(p, tdr, p.lp0, 0);
      expectRefused(p, () => p.host.tdhVpCreate(p.lp0, tdr, tdvpr), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RCX));
      expectRefused(p, () => p.host.tdhVpCreate(p.lp0, tdr, tdr), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RCX));
    });
  });

  describe('TDH.VP.ADDCX', () => {
    it('should refuse a TDVPR operand that is not a TDVPR with TDX_PAGE_METADATA_INCORRECT|RDX', () => {
      const { p, tdr } = initializedTd();
      const page = p.cpu.memory.allocPage();
      expectRefused(p, () => p.host.tdhVpAddcx(p.lp0, tdr, page), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RDX));
    });

    it('should refuse a page in use with TDX_PAGE_METADATA_INCORRECT|RCX', () => {
      const { p, tdr } = initializedTd();
      const tdvpr = createVcpu(p, tdr, p.lp0, 0);
      expectRefused(p, () => p.host.tdhVpAddcx(p.lp0, tdvpr, tdvpr), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RCX));
    });

    it('should refuse a 6th TDVPS page (beyond the TDVPR + 5) with TDX_TDCX_NUM_INCORRECT', () => {
      const { p, tdr } = initializedTd();
      const tdvpr = createVcpu(p, tdr);
      const page = p.cpu.memory.allocPage();
      expectRefusedClass(p, () => p.host.tdhVpAddcx(p.lp0, tdvpr, page), REF.TDX_TDCX_NUM_INCORRECT);
    });

    it('should be refused after TDH.VP.INIT with TDX_VCPU_STATE_INCORRECT', () => {
      const { p, tdr } = initializedTd();
      const tdvpr = createVcpu(p, tdr);
      vpInit(p, tdvpr);
      const page = p.cpu.memory.allocPage();
      expectRefusedClass(p, () => p.host.tdhVpAddcx(p.lp0, tdvpr, page), REF.TDX_VCPU_STATE_INCORRECT);
    });
  });

  describe('TDH.VP.INIT', () => {
    it('should refuse an address that is not a TDVPR with TDX_PAGE_METADATA_INCORRECT|RCX', () => {
      const { p, tdr } = initializedTd();
      expectRefused(p, () => p.host.tdhVpInit(p.lp0, tdr, 0n), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RCX));
    });

    it('should refuse a vCPU without all its TDVPS pages with TDX_TDCX_NUM_INCORRECT', () => {
      const { p, tdr } = initializedTd();
      const tdvpr = createVcpu(p, tdr, p.lp0, 4);
      expectRefusedClass(p, () => p.host.tdhVpInit(p.lp0, tdvpr, 0n), REF.TDX_TDCX_NUM_INCORRECT);
    });

    it('should run once per vCPU: again is TDX_VCPU_STATE_INCORRECT', () => {
      const { p, tdr } = initializedTd();
      const tdvpr = createVcpu(p, tdr);
      vpInit(p, tdvpr);
      expectRefused(p, () => p.host.tdhVpInit(p.lp0, tdvpr, 0n), REF.TDX_VCPU_STATE_INCORRECT);
    });

    it.each([1, 3])('should refuse vCPU number MAX_VCPUS + 1 (MAX_VCPUS = %i) with TDX_MAX_VCPUS_EXCEEDED', (max) => {
      const { p, tdr } = initializedTd({ maxVcpus: max });
      for (let i = 0; i < max; i++) vpInit(p, createVcpu(p, tdr));
      const extra = createVcpu(p, tdr);
      expect(hex(REF.TDX_MAX_VCPUS_EXCEEDED)).toBe('0xc000070500000000');
      expectRefused(p, () => p.host.tdhVpInit(p.lp0, extra, 0n), REF.TDX_MAX_VCPUS_EXCEEDED);
      // Creating the vCPU was fine; only initializing one too many is refused.
      expect(p.module.tds.get(tdr)!.numVcpus).toBe(max);
    });
  });

  describe('initial vCPU state after TDH.VP.INIT', () => {
    /** Builds a TD with vCPUs created in order and initialized in `initOrder`; returns each vCPU's registers at its first entry. */
    function firstEntryRegs(initOrder: number[], initialRcx: bigint, params: TdParamsInput = {}): Record<RegisterName, bigint>[] {
      const { p, tdr } = initializedTd(params);
      const tdvprs = initOrder.map(() => createVcpu(p, tdr));
      for (const i of initOrder) vpInit(p, tdvprs[i]!, p.lp0, initialRcx);
      let last: Record<RegisterName, bigint> | undefined;
      p.module.bindGuestProgram(tdr, fromGenerator(function* (cpu) {
        last = cpu.regs.snapshot();
        cpu.regs.set(RCX, 0n); // a TDG.VP.VMCALL exposing nothing
        yield;
      }));
      expect(hex(p.host.tdhMrFinalize(p.lp0, tdr))).toBe(hex(REF.TDX_SUCCESS));
      // Enter each vCPU in creation order and keep what its guest saw first.
      const seen: Record<RegisterName, bigint>[] = [];
      for (const tdvpr of tdvprs) {
        last = undefined;
        const args = new RegisterFile();
        p.host.tdhVpEnter(p.lp0, tdvpr, args);
        expect(args.get(0)).toBe(BigInt(EXIT.TDCALL));
        seen.push(last!);
      }
      return seen;
    }

    it('should start at the reset vector with RBX = GPAW, RCX = R8 = the VMM\'s value, RSI = vCPU index, the rest 0', () => {
      const [regs] = firstEntryRegs([0], 0xfedc_ba98_7654_3210n);
      expect(regs).toMatchObject({
        rip: 0xffff_fff0n, rbx: 48n, rcx: 0xfedc_ba98_7654_3210n, r8: 0xfedc_ba98_7654_3210n, rsi: 0n,
        rsp: 0n, rbp: 0n, rdi: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
      });
      // RAX carries the TDCALL leaf the guest wrote; RFLAGS keeps only its fixed bit.
      expect(regs!.rflags).toBe(2n);
    });

    it('should put CPUID(1).EAX of an Intel family-6 CPU in RDX', () => {
      const [regs] = firstEntryRegs([0], 0n);
      expect((regs!.rdx >> 8n) & 0xfn).toBe(6n);
      expect(regs!.rdx >> 32n).toBe(0n);
    });

    it('should report GPAW 52 in RBX for a TD with MAX_GPAW', () => {
      const [regs] = firstEntryRegs([0], 0n, { gpaw: 52 });
      expect(regs!.rbx).toBe(52n);
    });

    it('should number vCPUs in TDH.VP.INIT order, not creation order (RSI)', () => {
      const regs = firstEntryRegs([2, 0, 1], 0x1234n);
      // vCPU created third was initialized first -> index 0, and so on.
      expect(regs.map((r) => r.rsi)).toEqual([1n, 2n, 0n]);
      expect(regs.map((r) => r.rcx)).toEqual([0x1234n, 0x1234n, 0x1234n]);
    });
  });
});
