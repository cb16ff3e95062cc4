import { R8, RegisterFile, fromGenerator } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import { seamcallRet } from '../host/seamcall.js';
import {
  bootPlatform, buildTd, hex, installPlatform, moduleSnapshot, writeTdmrList, type Platform,
} from '../testing/buildTd.js';

// Reference values (tdx-module-abi.md §5.2, §2.3; Linux tdx_global_metadata.c; module
// global_sys_fields_lookup.c, tdx_api_defs.h `td_sys_info_t`), spelled out independently.
const SUCCESS = 0n;
const OPERAND_INVALID = 0xc000010000000000n;
const SYS_LP_INIT_NOT_DONE = 0xc000050200000000n;
const SYS_NOT_READY = 0xc000050500000000n;
const SYS_SHUTDOWN = 0xc000050600000000n;
const SYS_BUSY = 0x8000020200000000n;
const FIELD_ID_INCORRECT = 0xc0000c0000000000n;
const FIRST_FIELD_ID_IN_CONTEXT = 0x00000c0b00000000n;
const NA = 0xffff_ffff_ffff_ffffn;

/** The ids Linux 6.16 reads with TDH.SYS.RD (tdx_global_metadata.c) and what the simulated module answers. */
const LINUX_FIELDS: readonly [string, bigint, bigint][] = [
  ['minor_version', 0x0800000100000003n, 5n],
  ['major_version', 0x0800000100000004n, 1n],
  ['update_version', 0x0800000100000005n, 1n],
  ['tdx_features0 (NO_RBP_MOD, bit 18)', 0x0a00000300000008n, 1n << 18n],
  ['max_tdmrs', 0x9100000100000008n, 64n],
  ['max_reserved_per_tdmr', 0x9100000100000009n, 16n],
  ['pamt_4k_entry_size', 0x9100000100000010n, 16n],
  ['pamt_2m_entry_size', 0x9100000100000011n, 16n],
  ['pamt_1g_entry_size', 0x9100000100000012n, 16n],
  ['tdr_base_size', 0x9800000100000000n, 4096n],
  ['tdcs_base_size (6 pages)', 0x9800000100000100n, 6n * 4096n],
  ['tdvps_base_size (6 pages)', 0x9800000100000200n, 6n * 4096n],
  ['attributes_fixed0 (DEBUG, SEPT_VE_DISABLE, MIGRATABLE, PKS, KL, PERFMON)', 0x1900000300000000n, (1n << 0n) | (1n << 28n) | (1n << 29n) | (1n << 30n) | (1n << 31n) | (1n << 63n)],
  ['attributes_fixed1', 0x1900000300000001n, 0n],
  ['xfam_fixed0', 0x1900000300000002n, 0x2e7n],
  ['xfam_fixed1 (x87, SSE)', 0x1900000300000003n, 3n],
  ['num_cpuid_config (leaves 0x1, 0x7/0, 0x7/1, 0x80000008)', 0x9900000100000004n, 4n],
  ['max_vcpus_per_td', 0x9900000100000008n, 576n],
];

function sysRd(p: Platform, id: bigint, lp = p.lp0): { status: bigint; rdx: bigint; r8: bigint } {
  const r = p.host.tdhSysRd(lp, id);
  return { status: r.status, rdx: r.rdx, r8: r.r8 };
}

describe('TDH.SYS.RD (34)', () => {
  it.each(LINUX_FIELDS)('should answer %s', (_name, id, value) => {
    const p = bootPlatform();
    const r = sysRd(p, id);
    expect(hex(r.status)).toBe(hex(SUCCESS));
    expect(r.r8).toBe(value);
  });

  it('should read the CMRs: one range over all memory', () => {
    const p = bootPlatform();
    expect(sysRd(p, 0x9000000100000000n).r8).toBe(1n);
    expect(sysRd(p, 0x9000000300000080n).r8).toBe(0n);
    expect(sysRd(p, 0x9000000300000100n).r8).toBe(BigInt(p.cpu.memory.size));
    expect(sysRd(p, 0x9000000300000101n)).toEqual({ status: SUCCESS, rdx: 0x9000000300000102n, r8: 0n });
  });

  it('should ignore the element size and context codes, write_mask_valid, inc_size and bit 63 of the field id', () => {
    const p = bootPlatform();
    for (const id of [0x0800000000000004n, 0x0830000100000004n, 0x8800000100000004n, 0x080c000300000004n]) {
      expect(sysRd(p, id)).toEqual({ status: SUCCESS, rdx: 0x0800000100000005n, r8: 1n });
    }
  });

  it('should return RDX = the next field id, and MD_FIELD_ID_NA after the last', () => {
    const p = bootPlatform();
    expect(sysRd(p, 0x0800000100000003n).rdx).toBe(0x0800000100000004n);
    expect(sysRd(p, 0x9900000100000008n)).toEqual({ status: SUCCESS, rdx: 0x9900000300000400n, r8: 576n });
    expect(sysRd(p, 0x9900000300000403n)).toEqual({ status: SUCCESS, rdx: 0x9900000300000500n, r8: 0xffff_ffff_8000_0008n });
    expect(sysRd(p, 0x9900000300000507n)).toEqual({ status: SUCCESS, rdx: NA, r8: 0n });
  });

  it('should answer a null field id with TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT and RDX = the first id, and walk every field', () => {
    const p = bootPlatform();
    const first = sysRd(p, NA);
    expect(hex(first.status)).toBe(hex(FIRST_FIELD_ID_IN_CONTEXT));
    expect(hex(first.rdx)).toBe(hex(0x0800000200000000n)); // VENDOR_ID
    expect(hex(sysRd(p, NA & ~(7n << 52n)).status)).toBe(hex(FIRST_FIELD_ID_IN_CONTEXT)); // any context code
    const seen: bigint[] = [];
    for (let id = first.rdx; id !== NA; ) {
      const r = sysRd(p, id);
      expect(r.status).toBe(SUCCESS);
      seen.push(id);
      id = r.rdx;
      expect(seen.length).toBeLessThan(200);
    }
    for (const [, id] of LINUX_FIELDS) expect(seen).toContain(id);
    expect(seen[0]).toBe(0x0800000200000000n);
  });

  it.each([
    ['an unknown field code', 0x0800000100000077n],
    ['an unknown class', 0x3f00000100000000n],
    ['LAST_ELEMENT_IN_FIELD set', 0x0800000100000003n | (1n << 34n)],
    ['LAST_FIELD_IN_SEQUENCE set', 0x0800000100000003n | (1n << 38n)],
    ['reserved bits 31:24 set', 0x0800000101000003n],
    ['reserved bit 62 set', 0x4800000100000003n],
  ])('should refuse %s with TDX_METADATA_FIELD_ID_INCORRECT, R8 = 0, RDX = NA', (_name, id) => {
    const p = bootPlatform();
    expect(sysRd(p, id)).toEqual({ status: FIELD_ID_INCORRECT, rdx: NA, r8: 0n });
  });

  it('should be allowed before SYS_READY, once the LP is initialized', () => {
    const p = installPlatform();
    expect(hex(sysRd(p, 0x0800000100000004n).status)).toBe(hex(SYS_LP_INIT_NOT_DONE));
    expect(hex(p.host.tdhSysInit(p.lp0))).toBe(hex(SUCCESS));
    expect(hex(sysRd(p, 0x0800000100000004n).status)).toBe(hex(SYS_LP_INIT_NOT_DONE));
    expect(hex(p.host.tdhSysLpInit(p.lp0))).toBe(hex(SUCCESS));
    expect(sysRd(p, 0x0800000100000004n)).toEqual({ status: SUCCESS, rdx: 0x0800000100000005n, r8: 1n });
    expect(hex(sysRd(p, 0x0800000100000004n, p.lps[1]).status)).toBe(hex(SYS_LP_INIT_NOT_DONE));
  });

  it('should change no module state', () => {
    const p = bootPlatform();
    const before = moduleSnapshot(p);
    sysRd(p, NA);
    sysRd(p, 0x0800000100000004n);
    sysRd(p, 0x1234n);
    expect(moduleSnapshot(p)).toEqual(before);
  });
});

/** The four TDH.SYS.INFO operands. */
type Q = [number, number, number, number];

describe('TDH.SYS.INFO (32)', () => {
  function buffers(p: Platform): { info: number; cmr: number } {
    return { info: p.cpu.memory.allocPage(), cmr: p.cpu.memory.allocPage() };
  }

  it('should write TDSYSINFO_STRUCT and CMR_INFO at the td_sys_info_t offsets and return RDX = 1024, R9 = 32', () => {
    const p = bootPlatform();
    const { info, cmr } = buffers(p);
    const r = p.host.tdhSysInfo(p.lp0, info, 1024, cmr, 32);
    expect(hex(r.status)).toBe(hex(SUCCESS));
    expect([r.rdx, r.r9]).toEqual([1024n, 32n]);
    const b = new Uint8Array(1024);
    p.cpu.memory.read(info, b);
    const v = new DataView(b.buffer);
    expect(v.getUint32(0, true)).toBe(0); // attributes: production module
    expect(v.getUint32(4, true)).toBe(0x8086);
    expect(v.getUint16(14, true)).toBe(5);
    expect(v.getUint16(16, true)).toBe(1);
    expect(v.getUint8(18)).toBe(1); // sys_rd: use TDH.SYS.RD
    expect(v.getUint16(32, true)).toBe(64);
    expect(v.getUint16(34, true)).toBe(16);
    expect(v.getUint16(36, true)).toBe(16);
    expect(v.getUint16(48, true)).toBe(6 * 4096);
    expect(v.getUint16(52, true)).toBe(6 * 4096);
    expect(v.getBigUint64(64, true)).toBe(sysRd(p, 0x1900000300000000n).r8);
    expect(v.getBigUint64(72, true)).toBe(0n);
    expect(v.getBigUint64(80, true)).toBe(0x2e7n);
    expect(v.getBigUint64(88, true)).toBe(3n);
    expect(v.getUint32(128, true)).toBe(4);
    const c = new Uint8Array(512);
    p.cpu.memory.read(cmr, c);
    const cv = new DataView(c.buffer);
    expect([cv.getBigUint64(0, true), cv.getBigUint64(8, true), cv.getBigUint64(16, true)]).toEqual([0n, BigInt(p.cpu.memory.size), 0n]);
  });

  it.each([
    ['RCX not 1 KiB aligned', (i: number, c: number): Q => [i + 512, 1024, c, 32], 1n],
    ['RCX beyond memory', (_i: number, c: number): Q => [4 * 2 ** 30, 1024, c, 32], 1n],
    ['RDX below 1024', (i: number, c: number): Q => [i, 1023, c, 32], 2n],
    ['R8 not aligned to 32 * 16', (i: number, c: number): Q => [i, 1024, c + 256, 32], 8n],
    ['R9 below MAX_CMR (32)', (i: number, c: number): Q => [i, 1024, c, 31], 9n],
  ] as const)('should refuse %s with TDX_OPERAND_INVALID and that operand id, RDX = R9 = 0', (_n, args, operand) => {
    const p = bootPlatform();
    const { info, cmr } = buffers(p);
    const [a, b, c, d] = args(info, cmr);
    const before = moduleSnapshot(p);
    const r = p.host.tdhSysInfo(p.lp0, a, b, c, d);
    expect(hex(r.status)).toBe(hex(OPERAND_INVALID + operand));
    expect([r.rdx, r.r9]).toEqual([0n, 0n]);
    expect(moduleSnapshot(p)).toEqual(before);
  });

  it('should need TDH.SYS.LP.INIT on the calling LP (TDX_SYS_LP_INIT_NOT_DONE), not SYS_READY', () => {
    const p = installPlatform();
    const { info, cmr } = buffers(p);
    expect(hex(p.host.tdhSysInfo(p.lp0, info, 1024, cmr, 32).status)).toBe(hex(SYS_LP_INIT_NOT_DONE));
    p.host.tdhSysInit(p.lp0);
    p.host.tdhSysLpInit(p.lp0);
    expect(hex(p.host.tdhSysInfo(p.lp0, info, 1024, cmr, 32).status)).toBe(hex(SUCCESS));
  });
});

describe('TDH.SYS.SHUTDOWN (52) and TDH.SYS.LP.SHUTDOWN (44)', () => {
  it('should move the module to SYS_SHUTDOWN; afterwards only LP.SHUTDOWN is accepted', () => {
    const p = bootPlatform();
    expect(hex(p.host.tdhSysShutdown(p.lp0, 0n))).toBe(hex(SUCCESS));
    expect(p.module.sysState).toBe(4);
    expect(hex(p.host.tdhSysRd(p.lp0, 0x0800000100000004n).status)).toBe(hex(SYS_SHUTDOWN));
    expect(hex(p.host.tdhSysInit(p.lp0))).toBe(hex(SYS_SHUTDOWN));
    expect(hex(p.host.tdhMngCreate(p.lp0, p.cpu.memory.allocPage(), 40))).toBe(hex(SYS_SHUTDOWN));
    expect(hex(p.host.tdhSysShutdown(p.lp0, 0n))).toBe(hex(SYS_SHUTDOWN));
    for (const lp of p.lps) expect(hex(p.host.tdhSysLpShutdown(lp))).toBe(hex(SUCCESS));
  });

  it('should refuse a handoff version other than MODULE_HV (0) with TDX_OPERAND_INVALID|RCX', () => {
    const p = bootPlatform();
    const before = moduleSnapshot(p);
    expect(hex(p.host.tdhSysShutdown(p.lp0, 1n))).toBe(hex(OPERAND_INVALID + 1n));
    expect(moduleSnapshot(p)).toEqual(before);
    expect(sysRd(p, 0x8900000100000000n).r8).toBe(0n); // MODULE_HV
    expect(sysRd(p, 0x8900000100000001n).r8).toBe(0n); // MIN_UPDATE_HV
  });

  it('should be refused before SYS_READY with TDX_SYS_NOT_READY; LP.SHUTDOWN is accepted in any state, even on an LP not initialized', () => {
    const p = installPlatform();
    expect(hex(p.host.tdhSysShutdown(p.lp0))).toBe(hex(SYS_NOT_READY));
    expect(hex(p.host.tdhSysLpShutdown(p.lp0))).toBe(hex(SUCCESS));
    p.host.tdhSysInit(p.lp0);
    p.host.tdhSysLpInit(p.lp0);
    p.host.tdhSysLpInit(p.lps[1]!);
    p.host.tdhSysConfig(p.lp0, writeTdmrList(p, [[0, 2 ** 30]]), 1, p.module.tdxKeyIdStart);
    expect(hex(p.host.tdhSysShutdown(p.lp0))).toBe(hex(SYS_NOT_READY));
    expect(p.module.sysState).toBe(2);
  });

  it('should answer TDX_SYS_BUSY while another LP is in SEAM mode (a TD runs there) and change nothing', () => {
    const p = bootPlatform();
    let inside: bigint | undefined;
    let unchanged = false;
    const built = buildTd(p, {
      program: fromGenerator(function* () {
        const before = moduleSnapshot(p);
        inside = p.host.tdhSysShutdown(p.lps[1]!);
        unchanged = JSON.stringify(moduleSnapshot(p), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ===
          JSON.stringify(before, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
        yield;
      }),
    });
    const args = new RegisterFile();
    p.host.tdhVpEnter(built.vcpuLps[0]!, built.tdvprs[0]!, args);
    expect(hex(inside!)).toBe(hex(SYS_BUSY));
    expect(unchanged).toBe(true);
    expect(p.module.sysState).toBe(3);
  });

  it('should keep the SEAMCALL reserved-bit checks ahead of the shutdown check', () => {
    const p = bootPlatform();
    p.host.tdhSysShutdown(p.lp0);
    const a = new RegisterFile();
    expect(hex(seamcallRet(p.lp0, 44 | (1 << 24), a))).toBe(hex(OPERAND_INVALID));
    expect(a.get(R8)).toBe(0n);
  });
});
