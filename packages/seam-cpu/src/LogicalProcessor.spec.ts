import { describe, expect, it } from 'vitest';
import { CpuFault } from './CpuFault.js';
import { CpuMode } from './CpuMode.js';
import { EptViolation } from './EptViolation.js';
import type { GuestCode } from './GuestCode.js';
import { GuestCpu } from './GuestCpu.js';
import { GuestMemory } from './GuestMemory.js';
import type { LogicalProcessor } from './LogicalProcessor.js';
import { PhysicalMemory } from './PhysicalMemory.js';
import { RegisterFile } from './RegisterFile.js';
import { SeamCpu } from './SeamCpu.js';
import { SeamkitError } from './SeamkitError.js';
import type { SeamModule } from './SeamModule.js';

const RAX = 0, RCX = 1, RDX = 2, R8 = 8, R15 = 15, RFLAGS = 17;
const CF = 1n, FIXED1 = 2n, ZF = 1n << 6n;
const UD = 6;
const EXIT_REASON_TRIPLE_FAULT = 2, EXIT_REASON_EPT_VIOLATION = 48, EXIT_REASON_TDCALL = 77;

/** A SEAM module whose SEAMCALL handler is `body`, ending with SEAMRET unless told not to. */
function fakeModule(body: (lp: LogicalProcessor) => void = () => undefined, seamret = true): SeamModule & { calls: number } {
  const m = {
    calls: 0,
    seamcall(lp: LogicalProcessor): void {
      m.calls++;
      body(lp);
      if (seamret) lp.seamret();
    },
  };
  return m;
}

function guestCpu(): GuestCpu {
  return new GuestCpu(new GuestMemory(new PhysicalMemory(), { translate: () => -1 }, 33, 47), 0);
}

/** Catches what `fn` throws (undefined if nothing). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

function expectUD(err: unknown): void {
  expect(err).toBeInstanceOf(CpuFault);
  const f = err as CpuFault;
  expect(f.vector).toBe(UD);
  expect(f.code).toBe('SEAMKIT_ERR_CPU_FAULT_UD');
  expect(f.isUD).toBe(true);
  expect(f.isGP).toBe(false);
  expect(SeamkitError.is(f)).toBe(true);
}

describe('SeamCpu', () => {
  it('should have 2 LPs on one package by default', () => {
    const cpu = new SeamCpu();
    expect(cpu.lps.map((lp) => [lp.index, lp.packageId])).toEqual([[0, 0], [1, 0]]);
    expect(cpu.packages).toBe(1);
  });

  it('should spread the LPs evenly over the packages, in order', () => {
    expect(new SeamCpu({ logicalProcessors: 4, packages: 2 }).lps.map((lp) => lp.packageId)).toEqual([0, 0, 1, 1]);
    expect(new SeamCpu({ logicalProcessors: 6, packages: 3 }).lps.map((lp) => lp.packageId)).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it.each([[4, 3], [6, 4], [7, 3], [5, 5], [3, 2]])('should give every package an LP, in contiguous blocks (%i LPs, %i packages)', (n, packages) => {
    const ids = new SeamCpu({ logicalProcessors: n, packages }).lps.map((lp) => lp.packageId);
    expect(new Set(ids)).toEqual(new Set(Array.from({ length: packages }, (_, i) => i)));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('should start every LP in VMX root operation', () => {
    for (const lp of new SeamCpu({ logicalProcessors: 3 }).lps) expect(lp.mode).toBe(CpuMode.VMX_ROOT);
  });

  it('should hand out LPs by index and refuse unknown ones with SEAMKIT_ERR_CPU_BAD_LP', () => {
    const cpu = new SeamCpu({ logicalProcessors: 3 });
    expect(cpu.lp(2)).toBe(cpu.lps[2]);
    for (const bad of [3, -1, 1.5]) {
      const err = thrown(() => cpu.lp(bad));
      expect(SeamkitError.is(err) && err.code).toBe('SEAMKIT_ERR_CPU_BAD_LP');
    }
  });

  it('should size physical memory from the options', () => {
    expect(new SeamCpu({ memoryBytes: 2 ** 30 }).memory.size).toBe(2 ** 30);
  });

  describe('.loadSeamModule', () => {
    it('should refuse a second module with SEAMKIT_ERR_CPU_MODULE_LOADED and keep the first', () => {
      const cpu = new SeamCpu();
      const first = fakeModule();
      const second = fakeModule();
      cpu.loadSeamModule(first);
      const err = thrown(() => cpu.loadSeamModule(second));
      expect(SeamkitError.is(err) && err.code).toBe('SEAMKIT_ERR_CPU_MODULE_LOADED');
      expect(cpu.seamModule).toBe(first);
      cpu.lps[0]!.seamcall(new RegisterFile());
      expect([first.calls, second.calls]).toEqual([1, 0]);
    });
  });
});

describe('LogicalProcessor', () => {
  describe('.seamcall', () => {
    describe('having no SEAM module loaded', () => {
      it('should fail with VMfailInvalid: RFLAGS.CF = 1, ZF = 0, RAX and every GPR unchanged', () => {
        const lp = new SeamCpu().lps[0]!;
        const regs = new RegisterFile();
        for (let i = 0; i < 16; i++) regs.set(i, 0x5ea0_0000n + BigInt(i));
        regs.set(RFLAGS, FIXED1 | ZF);
        const before = regs.snapshot();
        lp.seamcall(regs);
        expect(regs.get(RFLAGS)).toBe(FIXED1 | CF);
        expect({ ...regs.snapshot(), rflags: 0n }).toEqual({ ...before, rflags: 0n });
        expect(lp.mode).toBe(CpuMode.VMX_ROOT);
      });
    });

    describe('having a SEAM module loaded', () => {
      it('should run the module in SEAM VMX root on the caller\'s register file itself (no copy)', () => {
        const cpu = new SeamCpu();
        const seen: { mode: CpuMode; sameFile: boolean; rax: bigint; rcx: bigint }[] = [];
        const regs = new RegisterFile();
        cpu.loadSeamModule(fakeModule((lp) => {
          seen.push({ mode: lp.mode, sameFile: lp.regs === regs, rax: lp.regs.get(RAX), rcx: lp.regs.get(RCX) });
          lp.regs.set(RAX, 0xc000_0100_0000_0000n);
          lp.regs.set(R15, 0x1234n);
        }));
        const lp = cpu.lps[1]!;
        const own = lp.regs;
        regs.set(RAX, 33n);
        regs.set(RCX, 0xabcn);
        lp.seamcall(regs);
        expect(seen).toEqual([{ mode: CpuMode.SEAM_ROOT, sameFile: true, rax: 33n, rcx: 0xabcn }]);
        expect(regs.get(RAX)).toBe(0xc000_0100_0000_0000n);
        expect(regs.get(R15)).toBe(0x1234n);
        expect(lp.regs).toBe(own);
        expect(lp.mode).toBe(CpuMode.VMX_ROOT);
      });

      it('should clear RFLAGS.CF and ZF on return (VMsucceed) and keep bit 1', () => {
        const cpu = new SeamCpu();
        cpu.loadSeamModule(fakeModule());
        const regs = new RegisterFile();
        regs.set(RFLAGS, FIXED1 | CF | ZF | (1n << 9n));
        cpu.lps[0]!.seamcall(regs);
        expect(regs.get(RFLAGS)).toBe(FIXED1 | (1n << 9n));
      });

      it('should throw SEAMKIT_ERR_CPU_NO_SEAMRET when the module returns without SEAMRET, and recover the LP', () => {
        const cpu = new SeamCpu();
        let seamret = false;
        cpu.loadSeamModule({ seamcall: (lp) => { if (seamret) lp.seamret(); } });
        const lp = cpu.lps[0]!;
        const own = lp.regs;
        const err = thrown(() => lp.seamcall(new RegisterFile()));
        expect(SeamkitError.is(err) && err.code).toBe('SEAMKIT_ERR_CPU_NO_SEAMRET');
        expect(err).not.toBeInstanceOf(CpuFault);
        expect(lp.mode).toBe(CpuMode.VMX_ROOT);
        expect(lp.regs).toBe(own);
        seamret = true;
        expect(() => lp.seamcall(new RegisterFile())).not.toThrow();
      });

      it('should give the LP back to the host and let a module\'s own error through when the module throws', () => {
        const cpu = new SeamCpu();
        const bug = new Error('module bug');
        cpu.loadSeamModule({ seamcall: () => { throw bug; } });
        const lp = cpu.lps[0]!;
        const own = lp.regs;
        expect(thrown(() => lp.seamcall(new RegisterFile()))).toBe(bug);
        expect(lp.mode).toBe(CpuMode.VMX_ROOT);
        expect(lp.regs).toBe(own);
      });

      it('should raise #UD when executed in SEAM VMX root (by the module itself)', () => {
        const cpu = new SeamCpu();
        const inner = new RegisterFile();
        inner.set(RAX, 7n);
        let fault: unknown;
        let modeAfter: CpuMode | undefined;
        cpu.loadSeamModule(fakeModule((lp) => {
          fault = thrown(() => lp.seamcall(inner));
          modeAfter = lp.mode;
        }));
        cpu.lps[0]!.seamcall(new RegisterFile());
        expectUD(fault);
        expect(modeAfter).toBe(CpuMode.SEAM_ROOT);
        expect(inner.get(RAX)).toBe(7n);
        expect(inner.get(RFLAGS)).toBe(FIXED1);
      });

      it('should raise #UD when executed inside a TD (SEAM VMX non-root)', () => {
        const cpu = new SeamCpu();
        let fault: unknown;
        const code: GuestCode = {
          step: (g) => {
            fault = thrown(() => g.lp!.seamcall(new RegisterFile()));
            return g.tdcall();
          },
        };
        cpu.loadSeamModule(fakeModule((lp) => lp.tdEnter(guestCpu(), code)));
        cpu.lps[0]!.seamcall(new RegisterFile());
        expectUD(fault);
      });
    });
  });

  describe('.seamret', () => {
    it('should raise #UD in VMX root and leave the mode alone', () => {
      const lp = new SeamCpu().lps[0]!;
      expectUD(thrown(() => lp.seamret()));
      expect(lp.mode).toBe(CpuMode.VMX_ROOT);
    });

    it('should raise #UD inside a TD', () => {
      const cpu = new SeamCpu();
      let fault: unknown;
      cpu.loadSeamModule(fakeModule((lp) => lp.tdEnter(guestCpu(), {
        step: (g) => {
          fault = thrown(() => g.lp!.seamret());
          return EXIT_REASON_TDCALL;
        },
      })));
      cpu.lps[0]!.seamcall(new RegisterFile());
      expectUD(fault);
    });
  });

  describe('.tdEnter', () => {
    it('should raise #UD outside SEAM VMX root without running the guest', () => {
      const lp = new SeamCpu().lps[0]!;
      let steps = 0;
      expectUD(thrown(() => lp.tdEnter(guestCpu(), { step: () => ++steps })));
      expect(steps).toBe(0);
      expect(lp.mode).toBe(CpuMode.VMX_ROOT);
    });

    describe('when called in SEAM VMX root', () => {
      function enter(step: GuestCode['step'], guest = guestCpu()): { reason: number; lp: LogicalProcessor; modeAfter: CpuMode } {
        const cpu = new SeamCpu();
        const out = { reason: -1, lp: cpu.lps[1]!, modeAfter: CpuMode.VMX_ROOT as CpuMode };
        cpu.loadSeamModule(fakeModule((lp) => {
          out.reason = lp.tdEnter(guest, { step });
          out.modeAfter = lp.mode;
        }));
        cpu.lps[1]!.seamcall(new RegisterFile());
        return out;
      }

      it('should run the guest in SEAM VMX non-root on this LP and return its exit reason', () => {
        const guest = guestCpu();
        let modeInGuest: CpuMode | undefined;
        let lpInGuest: LogicalProcessor | undefined;
        const out = enter((g) => {
          modeInGuest = g.lp!.mode;
          lpInGuest = g.lp;
          return g.tdcall();
        }, guest);
        expect(out.reason).toBe(EXIT_REASON_TDCALL);
        expect(modeInGuest).toBe(CpuMode.SEAM_NONROOT);
        expect(lpInGuest).toBe(out.lp);
        expect(guest.lp).toBeUndefined(); // cleared on exit: guest code outside the TD has no LP
        expect(out.modeAfter).toBe(CpuMode.SEAM_ROOT);
      });

      it('should turn an EptViolation on a read into exit 48 with the GPA and qualification bit 0', () => {
        const out = enter(() => { throw new EptViolation(0x8000_1234_5000, false); });
        expect(out.reason).toBe(EXIT_REASON_EPT_VIOLATION);
        expect(out.lp.exitGpa).toBe(0x8000_1234_5000);
        expect(out.lp.exitQualification).toBe(1);
        expect(out.modeAfter).toBe(CpuMode.SEAM_ROOT);
      });

      it('should turn an EptViolation on a write into exit 48 with qualification bit 1', () => {
        const out = enter(() => { throw new EptViolation(0x3000, true); });
        expect(out.reason).toBe(EXIT_REASON_EPT_VIOLATION);
        expect(out.lp.exitGpa).toBe(0x3000);
        expect(out.lp.exitQualification).toBe(2);
      });

      it('should turn any other guest error into a triple fault (exit 2) and keep the error', () => {
        const boom = new Error('guest bug');
        const out = enter(() => { throw boom; });
        expect(out.reason).toBe(EXIT_REASON_TRIPLE_FAULT);
        expect(out.lp.lastGuestError).toBe(boom);
        expect(out.modeAfter).toBe(CpuMode.SEAM_ROOT);
      });
    });
  });
});

describe('GuestCpu', () => {
  it('should keep the register file it is given', () => {
    const regs = new RegisterFile();
    const g = new GuestCpu(guestCpu().mem, 3, regs);
    expect(g.regs).toBe(regs);
    expect(g.vcpuIndex).toBe(3);
  });

  describe('.tdcall', () => {
    it('should raise #UD before the vCPU ever ran', () => {
      expectUD(thrown(() => guestCpu().tdcall()));
    });

    it('should raise #UD once the vCPU has exited (LP back in SEAM root, then VMX root)', () => {
      const cpu = new SeamCpu();
      const guest = guestCpu();
      let inRoot: unknown;
      cpu.loadSeamModule(fakeModule((lp) => {
        lp.tdEnter(guest, { step: (g) => g.tdcall() });
        inRoot = thrown(() => guest.tdcall());
      }));
      cpu.lps[0]!.seamcall(new RegisterFile());
      expectUD(inRoot);
      expectUD(thrown(() => guest.tdcall()));
    });

    it('should return exit reason 77 (TDCALL) inside a TD without touching the registers', () => {
      const cpu = new SeamCpu();
      const guest = guestCpu();
      guest.regs.set(RAX, 1n);
      guest.regs.set(RDX, 2n);
      guest.regs.set(R8, 3n);
      const before = guest.regs.snapshot();
      let reason = 0;
      cpu.loadSeamModule(fakeModule((lp) => { reason = lp.tdEnter(guest, { step: (g) => g.tdcall() }); }));
      cpu.lps[0]!.seamcall(new RegisterFile());
      expect(reason).toBe(EXIT_REASON_TDCALL);
      expect(guest.regs.snapshot()).toEqual(before);
    });
  });
});
