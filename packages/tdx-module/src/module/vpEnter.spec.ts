import {
  R10, R11, R12, R13, R14, R15, R8, R9, RAX, RBP, RBX, RCX, RDI, RDX, RIP, RSI, RSP, RegisterFile, fromGenerator,
  type GuestCpu, type GuestProgram, type RegisterName,
} from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import * as ghci from '../guest/ghci.js';
import {
  ATTR_DEBUG, ATTR_SEPT_VE_DISABLE, bootPlatform, buildTd, createTd, createVcpu, hex, mngInit, moduleSnapshot, vpInit,
  type BuildTdOptions, type BuiltTd, type Platform,
} from '../testing/buildTd.js';
import { EXIT, OPERAND, REF, TDG, withOperand } from '../testing/reference.js';

const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
/** A distinct value the guest keeps in GPR i (high and low halves both distinct). */
const guestValue = (i: number): bigint => 0x6000_0000_0000_0000n | (BigInt(0x100 + i) << 32n) | BigInt(0x6000 + i);
/** A distinct value the host leaves in its argument block slot i before entering. */
const hostJunk = (i: number): bigint => 0xdead_0000_0000_0000n | BigInt(0xd00 + i);
/** What the VMM writes back into slot i before resuming the guest. */
const hostReply = (i: number): bigint => 0x0bee_f000_0000_0000n | BigInt(0xb00 + i);

const OPERAND_INVALID_RCX = withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RCX);
const OPERAND_INVALID_RAX = withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RAX);

/** Fills every GPR of the guest with its value, then RAX = TDG.VP.VMCALL and RCX = `bitmap`. */
function prepareVmcall(cpu: GuestCpu, bitmap: bigint): void {
  for (let i = 0; i < 16; i++) cpu.regs.set(i, guestValue(i));
  cpu.regs.set(RAX, BigInt(TDG.VP_VMCALL));
  cpu.regs.set(RCX, bitmap);
}

interface Running {
  readonly p: Platform;
  readonly built: BuiltTd;
  readonly tdvpr: number;
  /** The host's per-vCPU argument block. */
  readonly args: RegisterFile;
  /** TDH.VP.ENTER on the vCPU's LP; returns RAX (status / exit reason). */
  enter(): bigint;
}

function runTd(program: GuestProgram, options: BuildTdOptions = {}): Running {
  const p = bootPlatform();
  const built = buildTd(p, { ...options, program });
  const tdvpr = built.tdvprs[0]!;
  const lp = built.vcpuLps[0]!;
  const args = new RegisterFile();
  return {
    p, built, tdvpr, args,
    enter: () => {
      p.host.tdhVpEnter(lp, tdvpr, args);
      return args.get(RAX);
    },
  };
}

function fillHostJunk(args: RegisterFile): void {
  for (let i = 0; i < 16; i++) args.set(i, hostJunk(i));
}

describe('TDH.VP.ENTER', () => {
  describe('preconditions', () => {
    it('should be refused before TDH.MR.FINALIZE with TDX_OP_STATE_INCORRECT|OP_STATE', () => {
      const p = bootPlatform();
      const built = buildTd(p, { finalize: false, program: fromGenerator(function* () { yield; }) });
      const before = moduleSnapshot(p);
      const args = new RegisterFile();
      p.host.tdhVpEnter(built.vcpuLps[0]!, built.tdvprs[0]!, args);
      expect(hex(args.get(RAX))).toBe('0xc0000608000000ac');
      expect(moduleSnapshot(p)).toEqual(before);
    });

    it('should refuse an address that is not a TDVPR with TDX_PAGE_METADATA_INCORRECT|RCX', () => {
      const t = runTd(fromGenerator(function* () { yield; }));
      for (const notTdvpr of [t.built.tdr, t.p.cpu.memory.allocPage()]) {
        const before = moduleSnapshot(t.p);
        t.p.host.tdhVpEnter(t.p.lp0, notTdvpr, t.args);
        expect(hex(t.args.get(RAX))).toBe(hex(withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RCX)));
        expect(moduleSnapshot(t.p)).toEqual(before);
      }
    });

    it('should refuse a vCPU associated with another LP with TDX_VCPU_ASSOCIATED (0x8000070100000000)', () => {
      let ran = 0;
      const t = runTd(fromGenerator(function* () { ran++; yield; }));
      const other = t.p.lps[1]!;
      expect(t.built.vcpuLps[0]).not.toBe(other);
      const before = moduleSnapshot(t.p);
      t.p.host.tdhVpEnter(other, t.tdvpr, t.args);
      expect(hex(t.args.get(RAX))).toBe('0x8000070100000000');
      expect(moduleSnapshot(t.p)).toEqual(before);
      expect(ran).toBe(0);
      expect(t.enter()).toBe(BigInt(EXIT.TDCALL));
    });

    it('should refuse a vCPU that was never initialized with TDX_VCPU_STATE_INCORRECT', () => {
      const p = bootPlatform();
      const { tdr } = createTd(p);
      mngInit(p, tdr);
      const uninit = createVcpu(p, tdr);
      vpInit(p, createVcpu(p, tdr));
      expect(hex(p.host.tdhMrFinalize(p.lp0, tdr))).toBe(hex(REF.TDX_SUCCESS));
      const before = moduleSnapshot(p);
      const args = new RegisterFile();
      p.host.tdhVpEnter(p.lp0, uninit, args);
      expect(hex(args.get(RAX))).toBe(hex(REF.TDX_VCPU_STATE_INCORRECT));
      expect(moduleSnapshot(p)).toEqual(before);
    });

    it('should keep the vCPU ACTIVE (0x4) while it runs, so it cannot be entered twice, and READY (0x2) after', () => {
      let t: Running | undefined;
      let inside: { state: number; nested: bigint } | undefined;
      t = runTd(fromGenerator(function* () {
        const nested = new RegisterFile();
        t!.p.host.tdhVpEnter(t!.p.lps[1]!, t!.tdvpr, nested);
        inside = { state: t!.p.module.vcpus.get(t!.tdvpr)!.state, nested: nested.get(RAX) };
        yield;
      }));
      expect(t.enter()).toBe(BigInt(EXIT.TDCALL));
      expect(inside).toEqual({ state: 0x4, nested: REF.TDX_VCPU_STATE_INCORRECT });
      expect(t.p.module.vcpus.get(t.tdvpr)!.state).toBe(0x2);
    });

    it('should triple fault a vCPU whose TD has no guest program', () => {
      const p = bootPlatform();
      const built = buildTd(p);
      const args = new RegisterFile();
      p.host.tdhVpEnter(built.vcpuLps[0]!, built.tdvprs[0]!, args);
      expect(args.get(RAX)).toBe(BigInt(EXIT.TRIPLE_FAULT));
    });
  });

  describe('TDG.VP.VMCALL exit (GHCI)', () => {
    describe.each([
      ['Linux\'s 0xFFCC', 0xffccn],
      ['RBX, R9, R12, R15', (1n << 3n) | (1n << 9n) | (1n << 12n) | (1n << 15n)],
      ['nothing', 0n],
      ['RDX only', 1n << 2n],
      ['R10, R11 and XMM0, XMM1', (1n << 10n) | (1n << 11n) | (3n << 16n)],
    ])('having a bitmap exposing %s', (_name, bitmap) => {
      function exitWith(): Running {
        const t = runTd(fromGenerator(function* (cpu) {
          prepareVmcall(cpu, bitmap);
          yield;
        }));
        fillHostJunk(t.args);
        expect(t.enter()).toBe(BigInt(EXIT.TDCALL));
        return t;
      }

      it('should give the host RAX = 77 and RCX = the bitmap (GPR and XMM select)', () => {
        const t = exitWith();
        expect(t.args.get(RAX)).toBe(77n);
        expect(t.args.get(RCX)).toBe(bitmap);
      });

      it('should copy exactly the selected GPRs of RDX..R15 and zero the unselected ones', () => {
        const t = exitWith();
        for (const i of [RDX, RBX, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15]) {
          const selected = ((bitmap >> BigInt(i)) & 1n) === 1n;
          expect(`${GPR_NAMES[i]}=${hex(t.args.get(i))}`).toBe(`${GPR_NAMES[i]}=${hex(selected ? guestValue(i) : 0n)}`);
        }
      });

      it('should leave the host\'s RSP and (NO_RBP_MOD) RBP alone', () => {
        const t = exitWith();
        expect(t.args.get(RSP)).toBe(hostJunk(RSP));
        expect(t.args.get(RBP)).toBe(hostJunk(RBP));
      });

      it('should show the host no guest value the guest did not select', () => {
        const t = exitWith();
        const visible = new Set(Array.from({ length: 18 }, (_, i) => t.args.get(i)));
        for (let i = 0; i < 16; i++) {
          if (((bitmap >> BigInt(i)) & 1n) === 0n) expect(visible.has(guestValue(i))).toBe(false);
        }
      });
    });

    describe('having a TD without NO_RBP_MOD', () => {
      it.each([
        ['selected', 1n << 5n, guestValue(RBP)],
        ['not selected', 1n << 12n, 0n],
        ['not selected by Linux\'s 0xFFCC (the straight-line copy)', 0xffccn, 0n],
      ])('should treat RBP like any other GPR when %s', (_name, bitmap, expected) => {
        const t = runTd(fromGenerator(function* (cpu) {
          prepareVmcall(cpu, bitmap);
          yield;
        }), { params: { configFlags: 0n } });
        fillHostJunk(t.args);
        expect(t.enter()).toBe(BigInt(EXIT.TDCALL));
        expect(t.args.get(RBP)).toBe(expected);
      });
    });

    describe('having a bitmap the module must refuse', () => {
      it.each([
        ['RAX (bit 0)', 1n << 0n],
        ['RCX (bit 1)', 1n << 1n],
        ['RSP (bit 4)', 1n << 4n],
        ['RBP (bit 5) with NO_RBP_MOD', 1n << 5n],
        ['bit 32', 1n << 32n],
        ['bit 63', 1n << 63n],
        ['0xFFCC plus RAX', 0xffcdn],
      ])('should refuse %s with TDX_OPERAND_INVALID|RCX in guest RAX and no exit: the guest goes on', (_name, bad) => {
        const seen: { rax: bigint; rip: bigint }[] = [];
        const t = runTd(fromGenerator(function* (cpu) {
          prepareVmcall(cpu, bad);
          yield;
          seen.push({ rax: cpu.regs.get(RAX), rip: cpu.regs.get(RIP) });
          cpu.regs.set(RAX, 0n);
          cpu.regs.set(RCX, 1n << 12n);
          cpu.regs.set(R12, 0x600dn);
          yield;
        }));
        fillHostJunk(t.args);
        expect(t.enter()).toBe(BigInt(EXIT.TDCALL));
        // The first exit the host sees is the second, valid TDVMCALL.
        expect(t.args.get(RCX)).toBe(1n << 12n);
        expect(t.args.get(R12)).toBe(0x600dn);
        expect(seen).toEqual([{ rax: 0xc000010000000001n, rip: 0xffff_fff4n }]);
        expect(hex(OPERAND_INVALID_RCX)).toBe('0xc000010000000001');
      });

      it('should accept RBP (bit 5) in a TD without NO_RBP_MOD', () => {
        const t = runTd(fromGenerator(function* (cpu) {
          prepareVmcall(cpu, 1n << 5n);
          yield;
        }), { params: { configFlags: 0n } });
        expect(t.enter()).toBe(BigInt(EXIT.TDCALL));
        expect(t.args.get(RCX)).toBe(1n << 5n);
      });
    });

    describe.each([
      ['RBX, R8, R10, R11, R12', (1n << 3n) | (1n << 8n) | (1n << 10n) | (1n << 11n) | (1n << 12n)],
      ['Linux\'s 0xFFCC (the straight-line copy)', 0xffccn],
    ])('when the host resumes a guest that exposed %s', (_name, bitmap) => {
      const selected = (i: number): boolean => ((bitmap >> BigInt(i)) & 1n) === 1n;

      function resume(): { after: Record<RegisterName, bigint>; t: Running; second: bigint } {
        let after: Record<RegisterName, bigint> | undefined;
        const t = runTd(fromGenerator(function* (cpu) {
          prepareVmcall(cpu, bitmap);
          yield;
          after = cpu.regs.snapshot();
          cpu.regs.set(RCX, 0n);
          yield;
        }));
        expect(t.enter()).toBe(BigInt(EXIT.TDCALL));
        for (let i = 0; i < 16; i++) t.args.set(i, hostReply(i));
        const second = t.enter();
        return { after: after!, t, second };
      }

      it('should copy back only the bitmap-selected GPRs from the argument block', () => {
        const { after } = resume();
        for (const i of [RDX, RBX, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15].filter(selected)) {
          expect(`${GPR_NAMES[i]}=${hex(after[GPR_NAMES[i]!])}`).toBe(`${GPR_NAMES[i]}=${hex(hostReply(i))}`);
        }
      });

      it('should keep the guest\'s own value in every unselected GPR', () => {
        const { after } = resume();
        for (const i of [RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15].filter((i) => !selected(i))) {
          expect(`${GPR_NAMES[i]}=${hex(after[GPR_NAMES[i]!])}`).toBe(`${GPR_NAMES[i]}=${hex(guestValue(i))}`);
        }
      });

      it('should set guest RAX = 0 and guest RCX = the bitmap (not the host\'s RCX)', () => {
        const { after } = resume();
        expect(after.rax).toBe(0n);
        expect(after.rcx).toBe(bitmap);
      });

      it('should give back the full bitmap, XMM select included', () => {
        let rcx: bigint | undefined;
        const withXmm = (1n << 12n) | (1n << 17n);
        const t = runTd(fromGenerator(function* (cpu) {
          prepareVmcall(cpu, withXmm);
          yield;
          rcx = cpu.regs.get(RCX);
        }));
        t.enter();
        t.enter();
        expect(rcx).toBe(withXmm);
      });

      it('should run the guest on to its next TDCALL', () => {
        const { second, t } = resume();
        expect(second).toBe(BigInt(EXIT.TDCALL));
        expect(t.args.get(RCX)).toBe(0n);
      });

      it('should not copy anything into the guest when re-entering after an asynchronous exit', () => {
        let steps = 0;
        let regsOnRetry: Record<RegisterName, bigint> | undefined;
        const t = runTd(() => ({
          step(cpu: GuestCpu): number {
            steps++;
            if (steps === 1) {
              prepareVmcall(cpu, 0xffccn);
              cpu.mem.readU64(0x4000_0000); // not mapped: EPT violation
            }
            regsOnRetry = cpu.regs.snapshot();
            return 2;
          },
        }));
        expect(t.enter()).toBe(BigInt(EXIT.EPT_VIOLATION));
        for (let i = 0; i < 16; i++) t.args.set(i, hostReply(i));
        t.enter();
        expect(steps).toBe(2);
        for (let i = 2; i < 16; i++) expect(regsOnRetry![GPR_NAMES[i]!]).toBe(guestValue(i));
      });
    });
  });

  describe('asynchronous exits', () => {
    it('should report a guest that has nothing left to run as a triple fault (2), again on every entry', () => {
      const t = runTd(fromGenerator(function* () { /* returns at once */ }));
      for (let n = 0; n < 3; n++) {
        fillHostJunk(t.args);
        expect(t.enter()).toBe(BigInt(EXIT.TRIPLE_FAULT));
        for (const i of [RCX, RDX, RBX, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15]) expect(t.args.get(i)).toBe(0n);
      }
    });

    it('should report a read of an unmapped private GPA as EPT violation (48), RCX = read qualification, R8 = GPA', () => {
      const t = runTd(() => ({ step: (cpu) => { cpu.mem.readU32(0x4000_0040); return 77; } }));
      fillHostJunk(t.args);
      expect(t.enter()).toBe(BigInt(EXIT.EPT_VIOLATION));
      expect(t.args.get(RCX)).toBe(1n);
      expect(t.args.get(R8)).toBe(0x4000_0040n);
      for (const i of [RDX, RBX, RSI, RDI, R9, R10, R11, R12, R13, R14, R15]) expect(t.args.get(i)).toBe(0n);
    });

    it('should report a write to an unmapped shared GPA with the write qualification and the shared bit in R8', () => {
      const shared = 2 ** 47 + 0x10_0000;
      const t = runTd(() => ({ step: (cpu) => { cpu.mem.writeU32(shared, 1); return 77; } }));
      expect(t.enter()).toBe(BigInt(EXIT.EPT_VIOLATION));
      expect(t.args.get(RCX)).toBe(2n);
      expect(t.args.get(R8)).toBe(BigInt(shared));
    });

    it('should let the guest read its measured image from private memory', () => {
      const image = Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff);
      let word: bigint | undefined;
      const t = runTd(fromGenerator(function* (cpu) {
        word = cpu.mem.readU64(0x2008);
        cpu.regs.set(RCX, 0n);
        yield;
      }), { pages: [{ gpa: 0x2000, content: image, measure: true }] });
      expect(t.enter()).toBe(BigInt(EXIT.TDCALL));
      expect(word).toBe(0x0f0e0d0c0b0a0908n);
    });

    it('should turn an error thrown by guest code into a triple fault', () => {
      const t = runTd(fromGenerator(function* () { throw new Error('guest panic'); }));
      expect(t.enter()).toBe(BigInt(EXIT.TRIPLE_FAULT));
      expect((t.built.vcpuLps[0]!.lastGuestError as Error).message).toBe('guest panic');
    });

    it('should triple fault, not throw into the host, when the guest program fails to start, and stay enterable', () => {
      const boom = new Error('guest setup failed');
      const t = runTd(() => { throw boom; });
      for (let n = 0; n < 2; n++) {
        fillHostJunk(t.args);
        expect(t.enter()).toBe(BigInt(EXIT.TRIPLE_FAULT));
        expect(t.args.get(R12)).toBe(0n);
        expect(t.p.module.vcpus.get(t.tdvpr)!.state).toBe(0x2); // VCPU_READY, not stuck ACTIVE
        expect(t.built.vcpuLps[0]!.mode).toBe(0); // back in VMX root
      }
      expect(t.built.vcpuLps[0]!.lastGuestError).toBe(boom);
    });
  });

  describe('TDCALLs the module answers itself', () => {
    it('should answer TDG.VP.INFO with GPAW, attributes, vCPU counts and index, without a VM exit', () => {
      const infos: ghci.TdInfo[] = [];
      const program = fromGenerator(function* (cpu) {
        infos.push(yield* ghci.tdgVpInfo(cpu));
        cpu.regs.set(RCX, 0n);
        yield;
      });
      const p = bootPlatform();
      const attributes = ATTR_SEPT_VE_DISABLE | ATTR_DEBUG;
      const built = buildTd(p, { vcpus: 2, params: { maxVcpus: 5, attributes }, program });
      const args = new RegisterFile();
      p.host.tdhVpEnter(built.vcpuLps[1]!, built.tdvprs[1]!, args);
      expect(args.get(RAX)).toBe(BigInt(EXIT.TDCALL));
      expect(infos).toEqual([{ status: 0n, gpaw: 48, attributes, numVcpus: 2, maxVcpus: 5, vcpuIndex: 1, sysRdAvailable: true }]);
    });

    it('should report GPAW 52 for a TD with MAX_GPAW, R10 = 1 (TDG.SYS.RD available) and R11 = 0', () => {
      let info: ghci.TdInfo | undefined;
      let r10r11: bigint[] = [];
      const t = runTd(fromGenerator(function* (cpu) {
        cpu.regs.set(R10, 5n);
        cpu.regs.set(R11, 6n);
        info = yield* ghci.tdgVpInfo(cpu);
        r10r11 = [cpu.regs.get(R10), cpu.regs.get(R11)];
      }), { params: { gpaw: 52 } });
      t.enter();
      expect(info).toMatchObject({ status: 0n, gpaw: 52, numVcpus: 1, vcpuIndex: 0 });
      expect(r10r11).toEqual([1n, 0n]);
    });

    it.each([
      ['an unknown leaf (100)', 100n],
      ['TDG.VP.INFO with version 1', BigInt(TDG.VP_INFO) | (1n << 16n)],
      ['TDG.VP.INFO with reserved bit 24', BigInt(TDG.VP_INFO) | (1n << 24n)],
      ['TDG.VP.INFO with reserved bit 40', BigInt(TDG.VP_INFO) | (1n << 40n)],
      ['TDG.VP.VMCALL with reserved bit 32', 1n << 32n],
      ['TDG.VP.VMCALL with version 1 (only TDG.VM.RD has versions)', 1n << 16n],
    ])('should answer %s with TDX_OPERAND_INVALID|RAX in guest RAX and no VM exit', (_name, rax) => {
      const seen: bigint[] = [];
      const t = runTd(fromGenerator(function* (cpu) {
        cpu.regs.set(RAX, rax);
        cpu.regs.set(RCX, 0n);
        yield;
        seen.push(cpu.regs.get(RAX));
        cpu.regs.set(RAX, 0n);
        cpu.regs.set(RCX, 1n << 13n);
        cpu.regs.set(R13, 0xabcn);
        yield;
      }));
      expect(t.enter()).toBe(BigInt(EXIT.TDCALL));
      expect(t.args.get(R13)).toBe(0xabcn);
      expect(seen).toEqual([OPERAND_INVALID_RAX]);
    });

    it('should advance guest RIP by 4 (the TDCALL length) per TDCALL, carrying into bit 32', () => {
      const rips: bigint[] = [];
      const t = runTd(fromGenerator(function* (cpu) {
        for (let i = 0; i < 5; i++) {
          cpu.regs.set(RAX, BigInt(TDG.VP_INFO));
          yield;
          rips.push(cpu.regs.get(RIP));
        }
        cpu.regs.set(RAX, 0n);
        cpu.regs.set(RCX, 0n);
        yield;
        rips.push(cpu.regs.get(RIP));
      }));
      t.enter();
      expect(t.p.module.vcpus.get(t.tdvpr)!.regs.get(RIP)).toBe(0x1_0000_0008n);
      t.enter();
      expect(rips).toEqual([0xffff_fff4n, 0xffff_fff8n, 0xffff_fffcn, 0x1_0000_0000n, 0x1_0000_0004n, 0x1_0000_0008n]);
    });
  });
});
