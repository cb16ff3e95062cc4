import { RAX, RegisterFile } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import {
  ATTR_DEBUG, ATTR_SEPT_VE_DISABLE, CONFIG_MAX_GPAW, CONFIG_NO_RBP_MOD, addPage, addSeptTables, addTdcs, bootPlatform,
  buildTd, createTd, createVcpu, eptpFor, hex, keyConfig, mngCreate, mngInit, moduleSnapshot, vpInit, writeTdParams,
  type Platform, type TdParamsInput,
} from '../testing/buildTd.js';
import { OPERAND, REF, STATUS_MASK, withOperand } from '../testing/reference.js';

/** Calls `fn`, expects `status`, and checks that the module state is exactly as before. */
function expectRefused(p: Platform, fn: () => bigint, status: bigint): void {
  const before = moduleSnapshot(p);
  expect(hex(fn())).toBe(hex(status));
  expect(moduleSnapshot(p)).toEqual(before);
}

/** Like {@link expectRefused} for statuses whose operand id the reference does not pin down. */
function expectRefusedClass(p: Platform, fn: () => bigint, status: bigint): void {
  const before = moduleSnapshot(p);
  expect(hex(fn() & STATUS_MASK)).toBe(hex(status));
  expect(moduleSnapshot(p)).toEqual(before);
}

const OP_STATE_INCORRECT = withOperand(REF.TDX_OP_STATE_INCORRECT, OPERAND.OP_STATE);

describe('TD build', () => {
  it('should accept the KVM order: CREATE, KEY.CONFIG, ADDCX x6, MNG.INIT, VP.CREATE/ADDCX/INIT, SEPT.ADD, PAGE.ADD, MR.EXTEND, MR.FINALIZE', () => {
    const p = bootPlatform();
    const built = buildTd(p, { vcpus: 2, pages: [{ gpa: 0x10_0000, content: new Uint8Array([1, 2, 3]), measure: true }] });
    // Runnable: both vCPUs enter (and, with no guest program bound, triple fault at once).
    for (const [i, tdvpr] of built.tdvprs.entries()) {
      const args = new RegisterFile();
      p.host.tdhVpEnter(built.vcpuLps[i]!, tdvpr, args);
      expect(args.get(RAX)).toBe(2n);
    }
  });

  describe('TDH.MNG.CREATE', () => {
    it('should refuse an HKID another TD holds with TDX_HKID_NOT_FREE', () => {
      const p = bootPlatform();
      const { hkid } = mngCreate(p);
      const tdr = p.cpu.memory.allocPage();
      expectRefused(p, () => p.host.tdhMngCreate(p.lp0, tdr, hkid), REF.TDX_HKID_NOT_FREE);
      expect(hex(p.host.tdhMngCreate(p.lp0, tdr, hkid + 1))).toBe(hex(REF.TDX_SUCCESS));
    });

    it.each([
      ['HKID 0 (the host key)', (p: Platform) => 0],
      ['an MKTME key id below the TDX range', (p: Platform) => p.module.tdxKeyIdStart - 1],
      ['a key id above the TDX range', (p: Platform) => p.module.tdxKeyIdStart + p.module.kot.length],
      ['reserved bits above bit 15 of RDX', (p: Platform) => (p.module.tdxKeyIdStart + 1) + 0x1_0000],
    ])('should refuse %s with TDX_OPERAND_INVALID|RDX', (_name, hkidOf) => {
      const p = bootPlatform();
      const tdr = p.cpu.memory.allocPage();
      expectRefused(p, () => p.host.tdhMngCreate(p.lp0, tdr, hkidOf(p)), withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RDX));
    });

    it('should refuse a TDR page that is already a TDR or a TDCS page with TDX_PAGE_METADATA_INCORRECT|RCX', () => {
      const p = bootPlatform();
      const { tdr } = mngCreate(p);
      keyConfig(p, tdr);
      const [tdcx] = addTdcs(p, tdr, 1);
      const hkid = p.module.tdxKeyIdStart + 5;
      const status = withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RCX);
      expect(hex(status)).toBe('0xc000030000000001');
      expectRefused(p, () => p.host.tdhMngCreate(p.lp0, tdr, hkid), status);
      expectRefused(p, () => p.host.tdhMngCreate(p.lp0, tdcx!, hkid), status);
    });

    it('should refuse a TDR address that is not 4 KiB aligned with TDX_OPERAND_INVALID|RCX', () => {
      const p = bootPlatform();
      const tdr = p.cpu.memory.allocPage();
      expectRefused(p, () => p.host.tdhMngCreate(p.lp0, tdr + 0x800, p.module.tdxKeyIdStart + 1), withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RCX));
    });
  });

  describe('TDH.MNG.KEY.CONFIG', () => {
    it('should refuse an address that is not a TDR with TDX_PAGE_METADATA_INCORRECT|RCX', () => {
      const p = bootPlatform();
      const notTdr = p.cpu.memory.allocPage();
      expectRefused(p, () => p.host.tdhMngKeyConfig(p.lp0, notTdr), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RCX));
    });

    it('should be refused once the keys are configured with TDX_LIFECYCLE_STATE_INCORRECT', () => {
      const p = bootPlatform();
      const { tdr } = mngCreate(p);
      keyConfig(p, tdr);
      expectRefused(p, () => p.host.tdhMngKeyConfig(p.lp0, tdr), REF.TDX_LIFECYCLE_STATE_INCORRECT);
    });

    it('should configure the TD only after every package, and warn TDX_KEY_CONFIGURED on a package done already', () => {
      const p = bootPlatform({ logicalProcessors: 4, packages: 2 });
      const { tdr } = mngCreate(p);
      expect(hex(p.host.tdhMngKeyConfig(p.lps[0]!, tdr))).toBe(hex(REF.TDX_SUCCESS));
      const tdcx = p.cpu.memory.allocPage();
      expectRefused(p, () => p.host.tdhMngAddcx(p.lp0, tdr, tdcx), REF.TDX_TD_KEYS_NOT_CONFIGURED);
      expectRefused(p, () => p.host.tdhMngKeyConfig(p.lps[1]!, tdr), REF.TDX_KEY_CONFIGURED);
      expect(hex(p.host.tdhMngKeyConfig(p.lps[2]!, tdr))).toBe(hex(REF.TDX_SUCCESS));
      expect(hex(p.host.tdhMngAddcx(p.lp0, tdr, tdcx))).toBe(hex(REF.TDX_SUCCESS));
    });
  });

  describe('TDH.MNG.ADDCX', () => {
    it('should be refused before TDH.MNG.KEY.CONFIG with TDX_TD_KEYS_NOT_CONFIGURED', () => {
      const p = bootPlatform();
      const { tdr } = mngCreate(p);
      const page = p.cpu.memory.allocPage();
      expect(hex(REF.TDX_TD_KEYS_NOT_CONFIGURED)).toBe('0x8000081000000000');
      expectRefused(p, () => p.host.tdhMngAddcx(p.lp0, tdr, page), REF.TDX_TD_KEYS_NOT_CONFIGURED);
    });

    it('should refuse a TDR operand that is not a TDR with TDX_PAGE_METADATA_INCORRECT|RDX', () => {
      const p = bootPlatform();
      const [a, b] = [p.cpu.memory.allocPage(), p.cpu.memory.allocPage()];
      expectRefused(p, () => p.host.tdhMngAddcx(p.lp0, a, b), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RDX));
    });

    it('should refuse a page that is in use with TDX_PAGE_METADATA_INCORRECT|RCX', () => {
      const p = bootPlatform();
      const { tdr } = mngCreate(p);
      keyConfig(p, tdr);
      const [used] = addTdcs(p, tdr, 1);
      expectRefused(p, () => p.host.tdhMngAddcx(p.lp0, tdr, used!), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RCX));
      expectRefused(p, () => p.host.tdhMngAddcx(p.lp0, tdr, tdr), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RCX));
    });

    it('should refuse a 7th TDCS page with TDX_TDCX_NUM_INCORRECT', () => {
      const p = bootPlatform();
      const { tdr } = createTd(p);
      const page = p.cpu.memory.allocPage();
      expectRefusedClass(p, () => p.host.tdhMngAddcx(p.lp0, tdr, page), REF.TDX_TDCX_NUM_INCORRECT);
    });
  });

  describe('TDH.MNG.INIT', () => {
    it('should be refused before TDH.MNG.KEY.CONFIG with TDX_TD_KEYS_NOT_CONFIGURED', () => {
      const p = bootPlatform();
      const { tdr } = mngCreate(p);
      const params = writeTdParams(p);
      expectRefused(p, () => p.host.tdhMngInit(p.lp0, tdr, params).status, REF.TDX_TD_KEYS_NOT_CONFIGURED);
    });

    it('should be refused with fewer than 6 TDCS pages with TDX_TDCS_NOT_ALLOCATED', () => {
      const p = bootPlatform();
      const { tdr } = mngCreate(p);
      keyConfig(p, tdr);
      addTdcs(p, tdr, 5);
      const params = writeTdParams(p);
      expectRefused(p, () => p.host.tdhMngInit(p.lp0, tdr, params).status, REF.TDX_TDCS_NOT_ALLOCATED);
      addTdcs(p, tdr, 1);
      expect(hex(p.host.tdhMngInit(p.lp0, tdr, params).status)).toBe(hex(REF.TDX_SUCCESS));
    });

    it('should run only once: again is TDX_OP_STATE_INCORRECT|OP_STATE (0xC0000608000000AC)', () => {
      const p = bootPlatform();
      const { tdr } = createTd(p);
      mngInit(p, tdr);
      const params = writeTdParams(p);
      expectRefused(p, () => p.host.tdhMngInit(p.lp0, tdr, params).status, 0xc0000608000000acn);
    });

    it('should refuse TD_PARAMS that are not 1024-byte aligned with TDX_OPERAND_INVALID|RDX', () => {
      const p = bootPlatform();
      const { tdr } = createTd(p);
      const params = writeTdParams(p);
      expectRefused(p, () => p.host.tdhMngInit(p.lp0, tdr, params + 512).status, withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RDX));
    });

    describe('TD_PARAMS validation', () => {
      const cases: [string, TdParamsInput, bigint][] = [
        ['a reserved ATTRIBUTES bit (1)', { attributes: ATTR_SEPT_VE_DISABLE | 2n }, OPERAND.ATTRIBUTES],
        ['a reserved ATTRIBUTES bit (40)', { attributes: 1n << 40n }, OPERAND.ATTRIBUTES],
        ['MAX_VCPUS = 0', { maxVcpus: 0 }, OPERAND.MAX_VCPUS],
        ['TSC_FREQUENCY below 100 MHz (3)', { tscFrequency: 3 }, OPERAND.TSC_FREQUENCY],
        ['TSC_FREQUENCY above 10 GHz (401)', { tscFrequency: 401 }, OPERAND.TSC_FREQUENCY],
        ['a 5-level EPT without MAX_GPAW', { eptpControls: eptpFor(5), configFlags: CONFIG_NO_RBP_MOD }, OPERAND.EPTP_CONTROLS],
        ['a 4-level EPT with MAX_GPAW', { eptpControls: eptpFor(4), configFlags: CONFIG_NO_RBP_MOD | CONFIG_MAX_GPAW }, OPERAND.EPTP_CONTROLS],
        ['a 3-level EPT', { eptpControls: eptpFor(3) }, OPERAND.EPTP_CONTROLS],
        ['an XFAM without x87 and SSE', { xfam: 0n }, OPERAND.XFAM],
      ];
      it.each(cases)('should refuse %s with TDX_OPERAND_INVALID and its operand id, and keep the TD uninitialized', (_name, params, operand) => {
        const p = bootPlatform();
        const { tdr } = createTd(p);
        const bad = writeTdParams(p, params);
        const good = writeTdParams(p);
        expectRefused(p, () => p.host.tdhMngInit(p.lp0, tdr, bad).status, withOperand(REF.TDX_OPERAND_INVALID, operand));
        expect(hex(p.host.tdhMngInit(p.lp0, tdr, good).status)).toBe(hex(REF.TDX_SUCCESS));
      });

      it('should spell the operand ids as in the reference', () => {
        expect([OPERAND.ATTRIBUTES, OPERAND.EPTP_CONTROLS, OPERAND.MAX_VCPUS, OPERAND.TSC_FREQUENCY]).toEqual([64n, 67n, 68n, 70n]);
      });

      it('should refuse an unknown CONFIG_FLAGS bit with TDX_OPERAND_INVALID', () => {
        const p = bootPlatform();
        const { tdr } = createTd(p);
        const bad = writeTdParams(p, { configFlags: CONFIG_NO_RBP_MOD | (1n << 9n) });
        expectRefusedClass(p, () => p.host.tdhMngInit(p.lp0, tdr, bad).status, REF.TDX_OPERAND_INVALID);
      });

      it.each([
        ['TSC_FREQUENCY 4 (100 MHz)', { tscFrequency: 4 }],
        ['TSC_FREQUENCY 400 (10 GHz)', { tscFrequency: 400 }],
        ['MAX_VCPUS 0xFFFF', { maxVcpus: 0xffff }],
        ['GPAW 52 (MAX_GPAW with a 5-level EPT)', { gpaw: 52 }],
        ['DEBUG | SEPT_VE_DISABLE | PKS | KL | PERFMON attributes', { attributes: ATTR_DEBUG | ATTR_SEPT_VE_DISABLE | (3n << 30n) | (1n << 63n) }],
        ['no config flags at all', { configFlags: 0n }],
      ] as [string, TdParamsInput][])('should accept %s', (_name, params) => {
        const p = bootPlatform();
        const { tdr } = createTd(p);
        expect(hex(p.host.tdhMngInit(p.lp0, tdr, writeTdParams(p, params)).status)).toBe(hex(REF.TDX_SUCCESS));
      });
    });
  });

  describe('build order (TDCS.OP_STATE)', () => {
    it('should refuse vCPU and memory leaves before TDH.MNG.INIT with TDX_OP_STATE_INCORRECT|OP_STATE', () => {
      const p = bootPlatform();
      const { tdr } = createTd(p);
      const [a, b] = [p.cpu.memory.allocPage(), p.cpu.memory.allocPage()];
      expectRefused(p, () => p.host.tdhVpCreate(p.lp0, tdr, a), OP_STATE_INCORRECT);
      expectRefused(p, () => p.host.tdhMemSeptAdd(p.lp0, tdr, 0, 3, a).status, OP_STATE_INCORRECT);
      expectRefused(p, () => p.host.tdhMemPageAdd(p.lp0, tdr, 0, a, b).status, OP_STATE_INCORRECT);
      expectRefused(p, () => p.host.tdhMrExtend(p.lp0, tdr, 0).status, OP_STATE_INCORRECT);
      expectRefused(p, () => p.host.tdhMrFinalize(p.lp0, tdr), OP_STATE_INCORRECT);
    });

    it('should refuse TDH.MR.FINALIZE without an initialized vCPU with TDX_NO_VCPUS', () => {
      const p = bootPlatform();
      const { tdr } = createTd(p);
      mngInit(p, tdr);
      expectRefused(p, () => p.host.tdhMrFinalize(p.lp0, tdr), REF.TDX_NO_VCPUS);
      const tdvpr = createVcpu(p, tdr); // created, not TDH.VP.INITed
      expectRefused(p, () => p.host.tdhMrFinalize(p.lp0, tdr), REF.TDX_NO_VCPUS);
      vpInit(p, tdvpr);
      expect(hex(p.host.tdhMrFinalize(p.lp0, tdr))).toBe(hex(REF.TDX_SUCCESS));
    });

    it('should refuse every build leaf after TDH.MR.FINALIZE with TDX_OP_STATE_INCORRECT|OP_STATE', () => {
      const p = bootPlatform();
      const { tdr } = createTd(p);
      mngInit(p, tdr);
      const late = createVcpu(p, tdr); // never initialized
      vpInit(p, createVcpu(p, tdr));
      addPage(p, tdr, 0x1000, new Uint8Array(16));
      expect(hex(p.host.tdhMrFinalize(p.lp0, tdr))).toBe(hex(REF.TDX_SUCCESS));
      const [a, b] = [p.cpu.memory.allocPage(), p.cpu.memory.allocPage()];
      const params = writeTdParams(p);
      expectRefused(p, () => p.host.tdhMrFinalize(p.lp0, tdr), OP_STATE_INCORRECT);
      expectRefused(p, () => p.host.tdhMngInit(p.lp0, tdr, params).status, OP_STATE_INCORRECT);
      expectRefused(p, () => p.host.tdhMemPageAdd(p.lp0, tdr, 0x2000, a, b).status, OP_STATE_INCORRECT);
      expectRefused(p, () => p.host.tdhMrExtend(p.lp0, tdr, 0x1000).status, OP_STATE_INCORRECT);
      expectRefused(p, () => p.host.tdhVpCreate(p.lp0, tdr, a), OP_STATE_INCORRECT);
      expectRefused(p, () => p.host.tdhVpInit(p.lp0, late, 0n), OP_STATE_INCORRECT);
      expectRefused(p, () => p.host.tdhMngAddcx(p.lp0, tdr, a), OP_STATE_INCORRECT);
    });

    it('should still allow TDH.MEM.SEPT.ADD on a runnable TD', () => {
      const p = bootPlatform();
      const built = buildTd(p);
      expect(addSeptTables(p, built.tdr, 0x4000_0000)).toHaveLength(3);
    });

    it('should refuse TDH.MR.FINALIZE on an address that is not a TDR with TDX_PAGE_METADATA_INCORRECT|RCX', () => {
      const p = bootPlatform();
      const page = p.cpu.memory.allocPage();
      expectRefused(p, () => p.host.tdhMrFinalize(p.lp0, page), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RCX));
    });
  });
});
