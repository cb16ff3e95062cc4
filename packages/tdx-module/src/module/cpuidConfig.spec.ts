import { RDX } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import {
  ATTR_SEPT_VE_DISABLE, bootPlatform, createTd, createVcpu, hex, moduleSnapshot, vpInit, writeTdParams,
  type Platform, type TdParamsInput,
} from '../testing/buildTd.js';

// Reference values, spelled out independently: status codes and operand ids (tdx-module-abi.md
// §5.2, §5.3: CPUID_CONFIG = 69), field ids (Linux tdx_global_metadata.c: NUM_CPUID_CONFIG
// 0x9900000100000004, CPUID_CONFIG_LEAVES 0x9900000300000400 + i, CPUID_CONFIG_VALUES
// 0x9900000300000500 + 2i + j; KVM tdx_arch.h TD_MD_FIELD_ID_CPUID_VALUES 0x9410000300000000),
// and the TDX module's CPUID masks (cpuid_configurations.c) applied to the simulated CPU by hand.
const SUCCESS = 0n;
const CPUID_CONFIG_INVALID = 0xc000010000000045n; // TDX_OPERAND_INVALID | CPUID_CONFIG
const RDX_INVALID = 0xc000010000000002n;
const ATTRIBUTES_INVALID = 0xc000010000000040n;
const FIELD_ID_INCORRECT = 0xc0000c0000000000n;
const NA = 0xffff_ffffn;
const PKS = 1n << 30n;
const MIGRATABLE = 1n << 29n;

/** KVM's TDH.MNG.RD field id of CPUID `leaf` / `subleaf` (undefined: no subleaf), element `e` (tdx_read_cpuid). */
function cpuidField(leaf: number, subleaf: number | undefined, e: 0 | 1): bigint {
  let id = 0x9410000300000000n;
  id |= BigInt(leaf >>> 31) << 16n;
  id |= BigInt(leaf & 0x7f) << 9n;
  id |= subleaf === undefined ? 0x1fen : BigInt(subleaf & 0x7f) << 1n;
  return id | BigInt(e);
}

/** The TD's CPUID values of a leaf, read as KVM does (two TDH.MNG.RD). */
function readCpuid(p: Platform, tdr: number, leaf: number, subleaf?: number): [number, number, number, number] {
  const lo = p.host.tdhMngRd(p.lp0, tdr, cpuidField(leaf, subleaf, 0));
  const hi = p.host.tdhMngRd(p.lp0, tdr, cpuidField(leaf, subleaf, 1));
  expect([hex(lo.status), hex(hi.status)]).toEqual([hex(SUCCESS), hex(SUCCESS)]);
  return [Number(lo.r8 & 0xffff_ffffn), Number(lo.r8 >> 32n), Number(hi.r8 & 0xffff_ffffn), Number(hi.r8 >> 32n)];
}

/** A TD ready for TDH.MNG.INIT, and TDH.MNG.INIT with `params`: status and RCX. */
function init(params: TdParamsInput = {}): { p: Platform; tdr: number; status: bigint; rcx: bigint } {
  const p = bootPlatform();
  const { tdr } = createTd(p);
  const r = p.host.tdhMngInit(p.lp0, tdr, writeTdParams(p, params));
  return { p, tdr, status: r.status, rcx: r.rcx };
}

describe('the CPUID configuration table (TDH.SYS.RD, TDH.SYS.INFO)', () => {
  const rd = (p: Platform, id: bigint): { status: bigint; r8: bigint } => {
    const r = p.host.tdhSysRd(p.lp0, id);
    return { status: r.status, r8: r.r8 };
  };

  it('should report 4 configurable leaves: 0x1, 0x7/0, 0x7/1, 0x80000008 (leaf in 31:0, subleaf in 63:32)', () => {
    const p = bootPlatform();
    expect(rd(p, 0x9900000100000004n)).toEqual({ status: SUCCESS, r8: 4n });
    const leaves = [0, 1, 2, 3].map((i) => rd(p, 0x9900000300000400n + BigInt(i)).r8);
    expect(leaves.map(hex)).toEqual([(NA << 32n) | 1n, 7n, (1n << 32n) | 7n, (NA << 32n) | 0x80000008n].map(hex));
    expect(rd(p, 0x9900000300000404n)).toEqual({ status: FIELD_ID_INCORRECT, r8: 0n });
  });

  it('should report the configurable bits: CONFIG_DIRECT, plus ALLOW_DIRECT where the CPU has the feature', () => {
    const p = bootPlatform();
    const values = Array.from({ length: 8 }, (_, k) => rd(p, 0x9900000300000500n + BigInt(k)).r8);
    expect(values.map(hex)).toEqual([
      0x00ff0000_0fff3fffn, 0xb8400000_31044988n, // leaf 1: EBX:EAX, EDX:ECX
      0xd02b0308_00000000n, 0x00054110_02417f64n, // leaf 7/0
      0x00000000_00001c30n, 0n, // leaf 7/1
      0x00000200_000000ffn, 0n, // leaf 0x80000008: PA width, WBNOINVD
    ].map(hex));
    expect(rd(p, 0x9900000300000508n).status).toBe(FIELD_ID_INCORRECT);
  });

  it('should fill TDH.SYS.INFO\'s cpuid_config list with the same table (24 bytes: leaf, subleaf, EAX..EDX)', () => {
    const p = bootPlatform();
    const mem = p.cpu.memory;
    const info = mem.allocPage();
    const cmr = mem.allocPage();
    expect(hex(p.host.tdhSysInfo(p.lp0, info, 1024, cmr, 32).status)).toBe(hex(SUCCESS));
    const b = new Uint8Array(1024);
    mem.read(info, b);
    const v = new DataView(b.buffer);
    expect(v.getUint32(128, true)).toBe(4);
    const entry = (i: number): number[] => Array.from({ length: 6 }, (_, k) => v.getUint32(132 + i * 24 + k * 4, true));
    expect(entry(0)).toEqual([1, 0xffffffff, 0x0fff3fff, 0x00ff0000, 0x31044988, 0xb8400000]);
    expect(entry(1)).toEqual([7, 0, 0, 0xd02b0308, 0x02417f64, 0x00054110]);
    expect(entry(2)).toEqual([7, 1, 0x1c30, 0, 0, 0]);
    expect(entry(3)).toEqual([0x80000008, 0xffffffff, 0xff, 0x200, 0, 0]);
    expect(entry(4)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('TDH.MNG.INIT: TD_PARAMS.CPUID_CONFIG', () => {
  it('should accept an all-zero configuration, return RCX = 0, and give the TD the module\'s fixed values', () => {
    const { p, tdr, status, rcx } = init();
    expect([hex(status), rcx]).toEqual([hex(SUCCESS), 0n]);
    expect(readCpuid(p, tdr, 0)).toEqual([0x23, 0x756e6547, 0x6c65746e, 0x49656e69]); // max leaf 0x23, GenuineIntel
    // Native family/model/stepping; no configured ALLOW_DIRECT bit survives (AVX, TSC_DEADLINE ... off); hypervisor bit set.
    expect(readCpuid(p, tdr, 1)).toEqual([0x000806f8, 0x00000800, 0xc6fab217, 0x07a9fbff]);
    expect(readCpuid(p, tdr, 7, 0)).toEqual([2, 0x219404a1, 0x19000000, 0xfc000400]);
    expect(readCpuid(p, tdr, 7, 1)).toEqual([0, 0, 0, 0]);
    // XFAM x87|SSE|AVX (7): XCR0 bits 7, XSAVE area 576 + 256; no XSS state, no XFD.
    expect(readCpuid(p, tdr, 0xd, 0)).toEqual([7, 0, 832, 0]);
    expect(readCpuid(p, tdr, 0xd, 1)).toEqual([0xf, 0, 0, 0]);
    expect(readCpuid(p, tdr, 0x80000000)).toEqual([0x80000008, 0, 0, 0]);
    expect(readCpuid(p, tdr, 0x80000001)).toEqual([0, 0, 0x121, 0x2c100000]); // SYSCALL (EDX[11]) is DYNAMIC: 0 here
    // Linear address width 48 (no LA57), PA width as configured (0), GuestPhysAddrSize 0.
    expect(readCpuid(p, tdr, 0x80000008)).toEqual([0x3000, 0, 0, 0]);
  });

  it('should apply configured bits: CONFIG_DIRECT values, ALLOW_DIRECT features kept only where set', () => {
    const { p, tdr, status } = init({
      cpuidConfig: [
        [0x000806f8, 0x00080000, (1 << 28) | (1 << 24), 1 << 28], // native F/M/S, 8 logical CPUs, AVX + TSC_DEADLINE; HTT
        [0, 0, 1 << 16, 0], // LA57
        [0x10, 0, 0, 0], // AVX-VNNI
        [0x34, 0x200, 0, 0], // PA width 52, WBNOINVD
      ],
    });
    expect(hex(status)).toBe(hex(SUCCESS));
    expect(readCpuid(p, tdr, 1)).toEqual([0x000806f8, 0x00080800, 0xd7fab217, 0x17a9fbff]);
    expect(readCpuid(p, tdr, 7, 0)[2]).toBe(0x19010000);
    expect(readCpuid(p, tdr, 7, 1)[0]).toBe(0x10);
    expect(readCpuid(p, tdr, 0x80000008)).toEqual([0x3934, 0x200, 0, 0]); // LA width 57 follows LA57
  });

  it('should give CPUID(1).EAX to the vCPU in RDX at TDH.VP.INIT: the native value, or the configured one of a migratable TD', () => {
    const { p, tdr } = init();
    const tdvpr = createVcpu(p, tdr);
    vpInit(p, tdvpr);
    expect(p.module.vcpus.get(tdvpr)!.regs.get(RDX)).toBe(0x806f8n);
    const m = init({ attributes: ATTR_SEPT_VE_DISABLE | MIGRATABLE, cpuidConfig: [[0x000906a3, 0, 0, 0]] });
    expect(hex(m.status)).toBe(hex(SUCCESS));
    const v = createVcpu(m.p, m.tdr);
    vpInit(m.p, v);
    expect(m.p.module.vcpus.get(v)!.regs.get(RDX)).toBe(0x906a3n);
  });

  it('should let XFAM and ATTRIBUTES decide their bits: no AVX without XFAM[2], AVX-512 state sizes, PKS from ATTRIBUTES.PKS', () => {
    const noAvx = init({ xfam: 3n, cpuidConfig: [[0, 0, 1 << 28, 0]] });
    expect(hex(noAvx.status)).toBe(hex(SUCCESS));
    expect(readCpuid(noAvx.p, noAvx.tdr, 1)[2] & (1 << 28)).toBe(0);
    expect(readCpuid(noAvx.p, noAvx.tdr, 0xd, 0)).toEqual([3, 0, 576, 0]);
    const avx512 = init({ xfam: 0xe7n, attributes: ATTR_SEPT_VE_DISABLE | PKS });
    expect(hex(avx512.status)).toBe(hex(SUCCESS));
    expect(readCpuid(avx512.p, avx512.tdr, 0xd, 0)).toEqual([0xe7, 0, 2688, 0]);
    expect(readCpuid(avx512.p, avx512.tdr, 7, 0)[2] >>> 31).toBe(1);
  });

  it.each([
    ['leaf 1 ECX bit 0 (SSE3 is not configurable)', 0, [0, 0, 1, 0], (NA << 32n) | 1n],
    ['leaf 1 EAX bits 31:28 (outside CONFIG_DIRECT)', 0, [0x1000_0000, 0, 0, 0], (NA << 32n) | 1n],
    ['leaf 7/0 ECX bit 31 (PKS comes from ATTRIBUTES)', 1, [0, 0, 1 << 31, 0], 7n],
    ['leaf 7/1 EDX bit 0', 2, [0, 0, 0, 1], (1n << 32n) | 7n],
    ['leaf 0x80000008 EAX[23:16] (GuestPhysAddrSize; KVM must clear it)', 3, [0x30_0034, 0, 0, 0], (NA << 32n) | 0x80000008n],
    ['leaf 0x80000008 EAX[15:8] (linear address width)', 3, [0x3934, 0, 0, 0], (NA << 32n) | 0x80000008n],
  ] as const)('should refuse %s with TDX_OPERAND_INVALID|CPUID_CONFIG, RCX = the leaf/subleaf, and change nothing', (_n, index, regs, leafSubleaf) => {
    const p = bootPlatform();
    const { tdr } = createTd(p);
    const cpuidConfig = [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]] as [number, number, number, number][];
    cpuidConfig[index] = [...regs];
    const params = writeTdParams(p, { cpuidConfig });
    const before = moduleSnapshot(p);
    const r = p.host.tdhMngInit(p.lp0, tdr, params);
    expect([hex(r.status), hex(r.rcx)]).toEqual([hex(CPUID_CONFIG_INVALID), hex(leafSubleaf)]);
    expect(moduleSnapshot(p)).toEqual(before);
    // The TD is still UNINITIALIZED: the same call with a valid configuration succeeds.
    expect(hex(p.host.tdhMngInit(p.lp0, tdr, writeTdParams(p)).status)).toBe(hex(SUCCESS));
  });

  it('should refuse a family/model/stepping other than the native one in a non-migratable TD', () => {
    const r = init({ cpuidConfig: [[0x000906a3, 0, 0, 0]] });
    expect([hex(r.status), hex(r.rcx)]).toEqual([hex(CPUID_CONFIG_INVALID), hex((NA << 32n) | 1n)]);
  });

  it('should refuse non-zero bytes after the CPUID_CONFIG table (reserved) with TDX_OPERAND_INVALID|RDX, RCX = 0', () => {
    const r = init({ cpuidConfig: [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]] });
    expect([hex(r.status), r.rcx]).toEqual([hex(RDX_INVALID), 0n]);
  });

  it('should check ATTRIBUTES before the CPUID configuration (no extended error information then)', () => {
    const r = init({ attributes: ATTR_SEPT_VE_DISABLE | (1n << 5n), cpuidConfig: [[0, 0, 1, 0]] });
    expect([hex(r.status), r.rcx]).toEqual([hex(ATTRIBUTES_INVALID), 0n]);
  });

  it('should answer TDH.MNG.RD of a leaf it does not virtualize with TDX_METADATA_FIELD_ID_INCORRECT', () => {
    const { p, tdr } = init();
    for (const id of [cpuidField(2, undefined, 0), cpuidField(7, undefined, 0), cpuidField(7, 2, 0), cpuidField(0x80000002, undefined, 0)]) {
      const r = p.host.tdhMngRd(p.lp0, tdr, id);
      expect([hex(r.status), r.r8]).toEqual([hex(FIELD_ID_INCORRECT), 0n]);
    }
  });

  it('should leave RCX = 0 on every other failure too (no extended error information)', () => {
    const p = bootPlatform();
    const tdr = p.cpu.memory.allocPage(); // not a TDR
    const r = p.host.tdhMngInit(p.lp0, tdr, writeTdParams(p));
    expect([hex(r.status), r.rcx]).toEqual([hex(0xc000030000000001n), 0n]); // TDX_PAGE_METADATA_INCORRECT | RCX
  });
});
