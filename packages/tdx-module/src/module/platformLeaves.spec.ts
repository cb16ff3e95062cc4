import { R8, RCX, RDX, RegisterFile } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import { seamcallRet } from '../host/seamcall.js';
import {
  GIB, bringUp, bootPlatform, hex, initTdmr, installPlatform, moduleSnapshot, writeTdmrList, type Platform,
} from '../testing/buildTd.js';
import { LEAF, OPERAND, REF, withOperand } from '../testing/reference.js';

/** SYS.INIT + LP.INIT on every LP. */
function initAllLps(p: Platform): void {
  expect(hex(p.host.tdhSysInit(p.lp0))).toBe(hex(0n));
  for (const lp of p.lps) expect(hex(p.host.tdhSysLpInit(lp))).toBe(hex(0n));
}

/**
 * Prepares TDH.SYS.CONFIG (writes the TDMR_INFO list into host memory now) and returns the call.
 * Default: one TDMR over all memory and the first TDX key id as global HKID.
 */
function configCall(p: Platform, tdmrs: readonly (readonly [number, number])[] = [[0, p.cpu.memory.size]], hkid = p.module.tdxKeyIdStart, count = tdmrs.length, listOffset = 0): () => bigint {
  const list = writeTdmrList(p, tdmrs) + listOffset;
  return () => p.host.tdhSysConfig(p.lp0, list, count, hkid);
}

/** TDH.SYS.CONFIG, prepared and issued. */
function config(p: Platform, tdmrs?: readonly (readonly [number, number])[]): bigint {
  return configCall(p, tdmrs)();
}

/** Calls `fn`, expects `status`, and checks that the module state is exactly as before. */
function expectRefused(p: Platform, fn: () => bigint, status: bigint): void {
  const before = moduleSnapshot(p);
  expect(hex(fn())).toBe(hex(status));
  expect(moduleSnapshot(p)).toEqual(before);
}

/** A TD leaf the platform must refuse until it is ready: TDH.MNG.CREATE on a fresh page. */
function tryCreateTd(p: Platform): bigint {
  return p.host.tdhMngCreate(p.lp0, p.cpu.memory.allocPage(), p.module.tdxKeyIdStart + 1);
}

describe('TDX module platform state machine', () => {
  describe('TDH.SYS.INIT', () => {
    it('should succeed once and then fail with TDX_SYS_INIT_NOT_PENDING, changing nothing', () => {
      const p = installPlatform();
      expect(hex(p.host.tdhSysInit(p.lp0))).toBe(hex(REF.TDX_SUCCESS));
      expectRefused(p, () => p.host.tdhSysInit(p.lp0), REF.TDX_SYS_INIT_NOT_PENDING);
      expectRefused(p, () => p.host.tdhSysInit(p.lps[1]!), REF.TDX_SYS_INIT_NOT_PENDING);
    });

    it('should refuse reserved attribute bits in RCX with TDX_OPERAND_INVALID|RCX and stay pending', () => {
      const p = installPlatform();
      expectRefused(p, () => p.host.tdhSysInit(p.lp0, 1n), withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RCX));
      expect(hex(p.host.tdhSysInit(p.lp0))).toBe(hex(REF.TDX_SUCCESS));
    });
  });

  describe('TDH.SYS.LP.INIT', () => {
    it('should be refused before TDH.SYS.INIT with TDX_SYS_LP_INIT_NOT_PENDING', () => {
      const p = installPlatform();
      expectRefused(p, () => p.host.tdhSysLpInit(p.lp0), REF.TDX_SYS_LP_INIT_NOT_PENDING);
    });

    it('should run once per LP: again on the same LP is TDX_SYS_LP_INIT_DONE, other LPs still succeed', () => {
      const p = installPlatform({ logicalProcessors: 3 });
      p.host.tdhSysInit(p.lp0);
      expect(hex(p.host.tdhSysLpInit(p.lps[1]!))).toBe(hex(REF.TDX_SUCCESS));
      expectRefused(p, () => p.host.tdhSysLpInit(p.lps[1]!), REF.TDX_SYS_LP_INIT_DONE);
      expect(hex(p.host.tdhSysLpInit(p.lps[0]!))).toBe(hex(REF.TDX_SUCCESS));
      expect(hex(p.host.tdhSysLpInit(p.lps[2]!))).toBe(hex(REF.TDX_SUCCESS));
    });

    it('should return RCX = RDX = R8 = 0', () => {
      const p = installPlatform();
      p.host.tdhSysInit(p.lp0);
      const args = new RegisterFile();
      for (const r of [RCX, RDX, R8]) args.set(r, 0xdead_beefn);
      expect(hex(seamcallRet(p.lp0, LEAF.TDH_SYS_LP_INIT, args))).toBe(hex(REF.TDX_SUCCESS));
      expect([args.get(RCX), args.get(RDX), args.get(R8)]).toEqual([0n, 0n, 0n]);
    });
  });

  describe('TDH.SYS.CONFIG', () => {
    it('should be refused with TDX_SYS_LP_INIT_NOT_DONE until every LP ran TDH.SYS.LP.INIT', () => {
      const p = installPlatform({ logicalProcessors: 2 });
      p.host.tdhSysInit(p.lp0);
      p.host.tdhSysLpInit(p.lp0);
      const list = writeTdmrList(p, [[0, p.cpu.memory.size]]);
      expectRefused(p, () => p.host.tdhSysConfig(p.lp0, list, 1, p.module.tdxKeyIdStart), REF.TDX_SYS_LP_INIT_NOT_DONE);
      expectRefused(p, () => p.host.tdhSysConfig(p.lps[1]!, list, 1, p.module.tdxKeyIdStart), REF.TDX_SYS_LP_INIT_NOT_DONE);
      p.host.tdhSysLpInit(p.lps[1]!);
      expect(hex(p.host.tdhSysConfig(p.lp0, list, 1, p.module.tdxKeyIdStart))).toBe(hex(REF.TDX_SUCCESS));
    });

    it('should be refused before TDH.SYS.INIT with TDX_SYS_LP_INIT_NOT_DONE or CONFIG_NOT_PENDING, and a second time with TDX_SYS_CONFIG_NOT_PENDING', () => {
      const p = installPlatform();
      const list = writeTdmrList(p, [[0, p.cpu.memory.size]]);
      const early = p.host.tdhSysConfig(p.lp0, list, 1, p.module.tdxKeyIdStart);
      expect([REF.TDX_SYS_LP_INIT_NOT_DONE, REF.TDX_SYS_CONFIG_NOT_PENDING].map(hex)).toContain(hex(early));
      initAllLps(p);
      expect(hex(p.host.tdhSysConfig(p.lp0, list, 1, p.module.tdxKeyIdStart))).toBe(hex(REF.TDX_SUCCESS));
      expectRefused(p, () => p.host.tdhSysConfig(p.lp0, list, 1, p.module.tdxKeyIdStart), REF.TDX_SYS_CONFIG_NOT_PENDING);
    });

    describe('having bad inputs', () => {
      const cases: [string, (p: Platform) => () => bigint, bigint][] = [
        ['a global HKID below the TDX key ids', (p) => configCall(p, undefined, p.module.tdxKeyIdStart - 1), withOperand(REF.TDX_OPERAND_INVALID, OPERAND.R8)],
        ['a global HKID above the TDX key ids', (p) => configCall(p, undefined, p.module.tdxKeyIdStart + p.module.kot.length), withOperand(REF.TDX_OPERAND_INVALID, OPERAND.R8)],
        ['no TDMR at all', (p) => configCall(p, [[0, GIB]], undefined, 0), withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RDX)],
        ['a TDMR list that is not 512-byte aligned', (p) => configCall(p, [[0, GIB]], undefined, 1, 8), withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RCX)],
        ['a TDMR base that is not 1 GiB aligned', (p) => configCall(p, [[0x20_0000, GIB]]), REF.TDX_INVALID_TDMR],
        ['a TDMR size that is not a multiple of 1 GiB', (p) => configCall(p, [[0, GIB + 0x1000]]), REF.TDX_INVALID_TDMR],
        ['an empty TDMR', (p) => configCall(p, [[0, 0]]), REF.TDX_INVALID_TDMR],
        ['a TDMR beyond physical memory', (p) => configCall(p, [[0, p.cpu.memory.size + GIB]]), REF.TDX_INVALID_TDMR],
        ['overlapping TDMRs', (p) => configCall(p, [[0, 2 * GIB], [GIB, GIB]]), REF.TDX_INVALID_TDMR],
      ];
      it.each(cases)('should refuse %s and change nothing (a good CONFIG still works)', (_name, prepare, status) => {
        const p = installPlatform();
        initAllLps(p);
        const good = configCall(p);
        expectRefused(p, prepare(p), status);
        expect(hex(good())).toBe(hex(REF.TDX_SUCCESS));
      });
    });
  });

  describe('TDH.SYS.KEY.CONFIG', () => {
    it('should be refused before TDH.SYS.CONFIG with TDX_SYS_KEY_CONFIG_NOT_PENDING', () => {
      const p = installPlatform();
      initAllLps(p);
      expectRefused(p, () => p.host.tdhSysKeyConfig(p.lp0), REF.TDX_SYS_KEY_CONFIG_NOT_PENDING);
    });

    it('should make the platform ready only after one LP of every package ran it', () => {
      const p = installPlatform({ logicalProcessors: 4, packages: 2 });
      initAllLps(p);
      expect(hex(config(p))).toBe(hex(REF.TDX_SUCCESS));
      expect(hex(p.host.tdhSysKeyConfig(p.lps[0]!))).toBe(hex(REF.TDX_SUCCESS));
      expectRefused(p, () => tryCreateTd(p), REF.TDX_SYS_NOT_READY);
      // Same package again (another LP of package 0): a warning, not progress.
      expectRefused(p, () => p.host.tdhSysKeyConfig(p.lps[1]!), REF.TDX_KEY_CONFIGURED);
      expectRefused(p, () => tryCreateTd(p), REF.TDX_SYS_NOT_READY);
      expect(hex(p.host.tdhSysKeyConfig(p.lps[3]!))).toBe(hex(REF.TDX_SUCCESS));
      expectRefused(p, () => p.host.tdhSysKeyConfig(p.lps[2]!), REF.TDX_SYS_KEY_CONFIG_NOT_PENDING);
      initTdmr(p, 0, p.cpu.memory.size);
      expect(hex(tryCreateTd(p))).toBe(hex(REF.TDX_SUCCESS));
    });
  });

  describe('having packages of unequal size', () => {
    it('should become ready once TDH.SYS.KEY.CONFIG ran on one LP of each package (4 LPs on 3 packages)', () => {
      const p = bootPlatform({ logicalProcessors: 4, packages: 3 });
      expect(hex(tryCreateTd(p))).toBe(hex(REF.TDX_SUCCESS));
    });
  });

  describe('before SYS_READY', () => {
    it('should refuse TD leaves with TDX_SYS_NOT_READY at every stage of the bring-up', () => {
      const p = installPlatform();
      const stages: [string, () => void][] = [
        ['fresh', () => undefined],
        ['after SYS.INIT', () => p.host.tdhSysInit(p.lp0)],
        ['after LP.INIT', () => p.lps.forEach((lp) => p.host.tdhSysLpInit(lp))],
        ['after CONFIG', () => config(p)],
      ];
      for (const [stage, advance] of stages) {
        advance();
        const tdr = p.cpu.memory.allocPage();
        const params = p.cpu.memory.allocPage();
        for (const call of [
          () => p.host.tdhMngCreate(p.lp0, tdr, p.module.tdxKeyIdStart + 1),
          () => p.host.tdhMngInit(p.lp0, tdr, params).status,
          () => p.host.tdhMrFinalize(p.lp0, tdr),
          () => p.host.tdhSysTdmrInit(p.lp0, 0).status,
        ]) {
          const before = moduleSnapshot(p);
          expect(`${stage}: ${hex(call())}`).toBe(`${stage}: ${hex(REF.TDX_SYS_NOT_READY)}`);
          expect(moduleSnapshot(p)).toEqual(before);
        }
      }
    });
  });

  describe('TDH.SYS.TDMR.INIT', () => {
    it('should initialize 1 GiB per call, return the next address in RDX, then report TDX_TDMR_ALREADY_INITIALIZED', () => {
      const p = installPlatform({ memoryBytes: 3 * GIB });
      initAllLps(p);
      config(p, [[0, 3 * GIB]]);
      p.host.tdhSysKeyConfig(p.lp0);
      const steps = [1, 2, 3].map(() => p.host.tdhSysTdmrInit(p.lp0, 0));
      expect(steps.map((s) => [hex(s.status), s.rdx])).toEqual([
        [hex(REF.TDX_SUCCESS), BigInt(GIB)], [hex(REF.TDX_SUCCESS), BigInt(2 * GIB)], [hex(REF.TDX_SUCCESS), BigInt(3 * GIB)],
      ]);
      const again = p.host.tdhSysTdmrInit(p.lp0, 0);
      expect(hex(again.status)).toBe(hex(REF.TDX_TDMR_ALREADY_INITIALIZED));
      expect(again.rdx).toBe(BigInt(3 * GIB));
    });

    it('should refuse an address that is not a TDMR base with TDX_INVALID_TDMR', () => {
      const p = installPlatform({ memoryBytes: 2 * GIB });
      initAllLps(p);
      config(p, [[0, 2 * GIB]]);
      p.host.tdhSysKeyConfig(p.lp0);
      expectRefused(p, () => p.host.tdhSysTdmrInit(p.lp0, GIB).status, REF.TDX_INVALID_TDMR);
    });

    it('should keep pages out of TDs until their TDMR is initialized (TDX_OPERAND_ADDR_RANGE_ERROR|RCX)', () => {
      const p = installPlatform({ memoryBytes: 2 * GIB });
      initAllLps(p);
      config(p, [[0, GIB], [GIB, GIB]]);
      p.host.tdhSysKeyConfig(p.lp0);
      initTdmr(p, 0, GIB);
      const inSecond = GIB + 0x10_0000;
      expectRefused(p, () => p.host.tdhMngCreate(p.lp0, inSecond, p.module.tdxKeyIdStart + 1), withOperand(REF.TDX_OPERAND_ADDR_RANGE_ERROR, OPERAND.RCX));
      expect(hex(p.host.tdhMngCreate(p.lp0, 0x20_0000, p.module.tdxKeyIdStart + 1))).toBe(hex(REF.TDX_SUCCESS));
      initTdmr(p, GIB, GIB);
      expect(hex(p.host.tdhMngCreate(p.lp0, inSecond, p.module.tdxKeyIdStart + 2))).toBe(hex(REF.TDX_SUCCESS));
    });

    it('should keep pages outside every TDMR out of TDs', () => {
      const p = installPlatform({ memoryBytes: 2 * GIB });
      bringUp(p, [[0, GIB]]);
      expectRefused(p, () => p.host.tdhMngCreate(p.lp0, GIB + 0x1000, p.module.tdxKeyIdStart + 1), withOperand(REF.TDX_OPERAND_ADDR_RANGE_ERROR, OPERAND.RCX));
    });
  });

  describe('when SYS_READY', () => {
    it('should accept TD creation', () => {
      const p = bootPlatform();
      expect(hex(tryCreateTd(p))).toBe(hex(REF.TDX_SUCCESS));
    });

    it('should refuse the bring-up leaves again', () => {
      const p = bootPlatform();
      expectRefused(p, () => p.host.tdhSysInit(p.lp0), REF.TDX_SYS_INIT_NOT_PENDING);
      expectRefused(p, configCall(p), REF.TDX_SYS_CONFIG_NOT_PENDING);
      expectRefused(p, () => p.host.tdhSysKeyConfig(p.lp0), REF.TDX_SYS_KEY_CONFIG_NOT_PENDING);
      // LP.INIT again is refused; 1.5.01 says LP_INIT_NOT_PENDING (sys_state != SYSINIT_DONE), the
      // simulator LP_INIT_DONE: both leave the state alone.
      const before = moduleSnapshot(p);
      const s = p.host.tdhSysLpInit(p.lp0);
      expect([REF.TDX_SYS_LP_INIT_NOT_PENDING, REF.TDX_SYS_LP_INIT_DONE].map(hex)).toContain(hex(s));
      expect(moduleSnapshot(p)).toEqual(before);
    });
  });
});
