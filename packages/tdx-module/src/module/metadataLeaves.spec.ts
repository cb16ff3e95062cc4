import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  R10, R11, R15, RAX, RCX, RIP, RegisterFile, fromGenerator, type GuestProgram,
} from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import {
  ATTR_DEBUG, ATTR_SEPT_VE_DISABLE, bootPlatform, buildTd, createTd, createVcpu, hex, mngCreate, mngInit,
  moduleSnapshot, type BuildTdOptions, type BuiltTd, type Platform,
} from '../testing/buildTd.js';

// Statuses (tdx-module-abi.md §5.2/§5.3; module tdx_error_codes_defs.h), spelled out independently.
const SUCCESS = 0n;
const FIRST_FIELD_ID_IN_CONTEXT = 0x00000c0b00000000n;
const FIELD_ID_INCORRECT = 0xc0000c0000000000n;
const FIELD_NOT_WRITABLE = 0xc0000c0100000000n;
const FIELD_NOT_READABLE = 0xc0000c0200000000n;
const FIELD_VALUE_NOT_VALID = 0xc0000c0300000000n;
const PAGE_METADATA_INCORRECT_RCX = 0xc000030000000001n;
const OP_STATE_INCORRECT_OP_STATE = 0xc0000608000000acn;
const TD_KEYS_NOT_CONFIGURED = 0x8000081000000000n;
const VCPU_STATE_INCORRECT = 0xc000070000000000n;
const VCPU_ASSOCIATED = 0x8000070100000000n;
const TDCX_NUM_INCORRECT = 0xc000061000000000n;
const NA = 0xffff_ffff_ffff_ffffn;

// Field ids as Linux/KVM spell them (arch/x86/kvm/vmx/tdx_arch.h: BUILD_TDX_FIELD(class, field),
// no context or size code) and as the module's tables spell them.
const KVM_TSC_OFFSET = 0x110000000000000an; // TDCS_EXEC(TD_TDCS_EXEC_TSC_OFFSET)
const KVM_TSC_MULTIPLIER = 0x110000000000000bn;
const KVM_PEND_NMI = 0x200000000000000bn; // TDVPS_MANAGEMENT(TD_VCPU_PEND_NMI)
const KVM_STATE_DETAILS = 0x9100000000000100n; // TDVPS_STATE_NON_ARCH(TD_VCPU_STATE_DETAILS_NON_ARCH)
const KVM_VMCS = (encoding: number): bigint => BigInt(encoding); // TDVPS_VMCS(field)
const POSTED_INTR_NV = 0x0002, POSTED_INTR_DESC_ADDR = 0x2016, SHARED_EPT_POINTER = 0x203c, PIN_BASED = 0x4000;
const GUEST_RIP = 0x681e;
const ATTRIBUTES = 0x1110000300000000n, XFAM = 0x1110000300000001n, MAX_VCPUS = 0x1110000200000002n;
const TSC_FREQUENCY = 0x111000010000000cn, CONFIG_FLAGS = 0x9110000300000016n, NOTIFY_ENABLES = 0x9110000300000010n;
const NUM_VCPUS = 0x9010000200000001n, OP_STATE = 0x9010000200000004n, HKID = 0x8110000100000001n;
const LIFECYCLE = 0x8010000200000005n, NUM_TDCX = 0x8010000200000002n, FATAL = 0x8010000000000001n;
const MRTD = 0x1310000300000000n, MRCONFIGID = 0x1310000300000010n, RTMR = 0x1310000300000040n;
const GPR = (n: number): bigint => 0x1020000300000000n + BigInt(n); // TDVPS_GPR(n), class 16
const KVM_GPR = (n: number): bigint => (16n << 56n) | BigInt(n);

function mngRd(p: Platform, tdr: number, id: bigint, version = 0): { status: bigint; rdx: bigint; r8: bigint } {
  const r = p.host.tdhMngRd(p.lp0, tdr, id, version);
  return { status: r.status, rdx: r.rdx, r8: r.r8 };
}

const mrConfigId = Uint8Array.from({ length: 48 }, (_, i) => i + 1);

function built(options: BuildTdOptions = {}): { p: Platform; b: BuiltTd } {
  const p = bootPlatform();
  return { p, b: buildTd(p, { ...options, params: { maxVcpus: 3, tscFrequency: 100, mrConfigId, ...options.params } }) };
}

describe('TDH.MNG.RD (11)', () => {
  it('should read the TD-scope fields KVM and a VMM use, with KVM\'s and the module\'s spellings of the ids', () => {
    const { p, b } = built();
    const expected: [bigint, bigint][] = [
      [ATTRIBUTES, ATTR_SEPT_VE_DISABLE], [XFAM, 7n], [MAX_VCPUS, 3n], [TSC_FREQUENCY, 100n], [CONFIG_FLAGS, 4n],
      [NUM_VCPUS, 1n], [OP_STATE, 2n], [HKID, BigInt(b.hkid)], [LIFECYCLE, 1n], [NUM_TDCX, 6n], [FATAL, 0n],
      [KVM_TSC_OFFSET, 0n],
      // 100 * 25 MHz on a 2 GHz native TSC: 2.5 GHz / 2 GHz in 16.48 fixed point.
      [KVM_TSC_MULTIPLIER, (5n << 48n) / 4n],
    ];
    for (const [id, value] of expected) expect([hex(id), mngRd(p, b.tdr, id)]).toEqual([hex(id), { status: SUCCESS, rdx: id, r8: value }]);
  });

  it('should read MRTD and MRCONFIGID as 6 little-endian qwords each', () => {
    const { p, b } = built({ pages: [{ gpa: 0x1000, content: Buffer.from('kernel'), measure: true }] });
    const mrtd = Buffer.alloc(48);
    const conf = Buffer.alloc(48);
    for (let e = 0; e < 6; e++) {
      mrtd.writeBigUInt64LE(mngRd(p, b.tdr, MRTD + BigInt(e)).r8, e * 8);
      conf.writeBigUInt64LE(mngRd(p, b.tdr, MRCONFIGID + BigInt(e)).r8, e * 8);
    }
    const block = (tag: string, gpa: number): Buffer => {
      const x = Buffer.alloc(128);
      x.write(tag, 'ascii');
      x.writeBigUInt64LE(BigInt(gpa), 16);
      return x;
    };
    const h = createHash('sha384').update(block('MEM.PAGE.ADD', 0x1000));
    const page = Buffer.alloc(4096);
    page.write('kernel');
    for (let off = 0; off < 4096; off += 256) h.update(block('MR.EXTEND', 0x1000 + off)).update(page.subarray(off, off + 256));
    expect(mrtd.toString('hex')).toBe(h.digest('hex'));
    expect([...conf]).toEqual([...mrConfigId]);
  });

  it('should refuse the RTMRs to a production TD\'s host (TDX_METADATA_FIELD_NOT_READABLE) and show them for a DEBUG TD', () => {
    const { p, b } = built();
    expect(mngRd(p, b.tdr, RTMR)).toEqual({ status: FIELD_NOT_READABLE, rdx: RTMR, r8: 0n });
    const d = built({ params: { attributes: ATTR_DEBUG } });
    d.b.td.rtmr[1]!.fill(0xab);
    expect(mngRd(d.p, d.b.tdr, RTMR + 6n + 5n)).toEqual({ status: SUCCESS, rdx: RTMR + 11n, r8: 0xababababababababn });
  });

  it('version 1: should return RDX = the next readable id, and the first id for a null id', () => {
    const { p, b } = built();
    expect(mngRd(p, b.tdr, ATTRIBUTES, 1)).toEqual({ status: SUCCESS, rdx: XFAM, r8: ATTR_SEPT_VE_DISABLE });
    expect(mngRd(p, b.tdr, MRTD + 5n, 1).rdx).toBe(MRCONFIGID);
    const first = mngRd(p, b.tdr, NA, 1);
    expect([hex(first.status), hex(first.rdx)]).toEqual([hex(FIRST_FIELD_ID_IN_CONTEXT), hex(FATAL)]);
    // Walk the whole context: it ends with MD_FIELD_ID_NA and skips what the host may not read.
    const seen: bigint[] = [];
    for (let id = first.rdx; id !== NA; id = mngRd(p, b.tdr, id, 1).rdx) seen.push(id);
    expect(seen).toContain(KVM_TSC_OFFSET | (1n << 52n) | (3n << 32n));
    expect(seen).not.toContain(NOTIFY_ENABLES);
    expect(seen).not.toContain(RTMR);
    // MROWNERCONFIG element 5 is followed by the CPUID values (class 20), CPUID(0x80000008) last.
    expect(seen[seen.indexOf(0x1310000300000025n) + 1]).toBe(0x94100003000001fen); // CPUID(0) EBX:EAX
    expect(seen.at(-1)).toBe(0x94100003000111ffn); // CPUID(0x80000008) EDX:ECX
  });

  it('version 0: a null field id is malformed (TDX_METADATA_FIELD_ID_INCORRECT)', () => {
    const { p, b } = built();
    expect(mngRd(p, b.tdr, NA)).toEqual({ status: FIELD_ID_INCORRECT, rdx: NA, r8: 0n });
  });

  it.each([
    ['an unknown field', 0x1110000300000077n, FIELD_ID_INCORRECT],
    ['a field with LAST_ELEMENT_IN_FIELD set', ATTRIBUTES | (5n << 34n), FIELD_ID_INCORRECT],
    ['NOTIFY_ENABLES (not host-readable in production)', NOTIFY_ENABLES, FIELD_NOT_READABLE],
  ])('should refuse %s and leave R8 = 0, RDX = NA (version 1)', (_n, id, status) => {
    const { p, b } = built();
    expect(mngRd(p, b.tdr, id, 1)).toEqual({ status, rdx: NA, r8: 0n });
  });

  it('should refuse an address that is not a TDR, an uninitialized TD and a TD without keys', () => {
    const { p, b } = built();
    expect(hex(mngRd(p, b.tdvprs[0]!, ATTRIBUTES).status)).toBe(hex(PAGE_METADATA_INCORRECT_RCX));
    const uninit = createTd(p);
    expect(hex(mngRd(p, uninit.tdr, ATTRIBUTES).status)).toBe(hex(OP_STATE_INCORRECT_OP_STATE));
    const nokeys = mngCreate(p);
    expect(hex(mngRd(p, nokeys.tdr, ATTRIBUTES).status)).toBe(hex(TD_KEYS_NOT_CONFIGURED));
    // TDH.MNG.WR goes through the same checks.
    const before = moduleSnapshot(p);
    expect(hex(p.host.tdhMngWr(p.lp0, b.tdvprs[0]!, NOTIFY_ENABLES, 1n, 1n).status)).toBe(hex(PAGE_METADATA_INCORRECT_RCX));
    expect(hex(p.host.tdhMngWr(p.lp0, uninit.tdr, NOTIFY_ENABLES, 1n, 1n).status)).toBe(hex(OP_STATE_INCORRECT_OP_STATE));
    expect(hex(p.host.tdhMngWr(p.lp0, nokeys.tdr, NOTIFY_ENABLES, 1n, 1n).status)).toBe(hex(TD_KEYS_NOT_CONFIGURED));
    expect(moduleSnapshot(p)).toEqual(before);
  });
});

describe('TDH.MNG.WR (13)', () => {
  it('should refuse read-only fields and production NOTIFY_ENABLES with TDX_METADATA_FIELD_NOT_WRITABLE, changing nothing', () => {
    const { p, b } = built();
    const before = moduleSnapshot(p);
    for (const id of [ATTRIBUTES, NOTIFY_ENABLES, KVM_TSC_OFFSET, RTMR]) {
      const r = p.host.tdhMngWr(p.lp0, b.tdr, id, 1n, NA);
      expect([hex(id), hex(r.status), r.r8]).toEqual([hex(id), hex(FIELD_NOT_WRITABLE), 0n]);
    }
    expect(moduleSnapshot(p)).toEqual(before);
  });

  it('should let a DEBUG TD\'s host write NOTIFY_ENABLES bit 0 (only), returning the old value', () => {
    const { p, b } = built({ params: { attributes: ATTR_DEBUG } });
    expect(p.host.tdhMngWr(p.lp0, b.tdr, NOTIFY_ENABLES, 1n, 1n)).toMatchObject({ status: SUCCESS, r8: 0n });
    expect(b.td.notifyEnables).toBe(1n);
    expect(p.host.tdhMngWr(p.lp0, b.tdr, NOTIFY_ENABLES, 0n, NA)).toMatchObject({ status: SUCCESS, r8: 1n });
    const before = moduleSnapshot(p);
    expect(p.host.tdhMngWr(p.lp0, b.tdr, NOTIFY_ENABLES, 2n, NA)).toMatchObject({ status: FIELD_VALUE_NOT_VALID, r8: 0n });
    expect(p.host.tdhMngWr(p.lp0, b.tdr, NOTIFY_ENABLES, 1n, 2n)).toMatchObject({ status: FIELD_NOT_WRITABLE, r8: 0n });
    expect(moduleSnapshot(p)).toEqual(before);
  });
});

/** A TD whose guest fills its GPRs with distinct values, exposes a bitmap without R15 in a TDVMCALL, and records R15 after the reply. */
function stoppedAtTdvmcall(attributes: bigint): { p: Platform; b: BuiltTd; lp: (typeof p)['lp0']; tdvpr: number; r15After: () => bigint | undefined; enter(): bigint } {
  let r15: bigint | undefined;
  const program: GuestProgram = fromGenerator(function* (cpu) {
    for (let i = 0; i < 16; i++) cpu.regs.set(i, 0x1000n + BigInt(i));
    cpu.regs.set(RAX, 0n);
    cpu.regs.set(RCX, 0x7fccn);
    cpu.regs.set(R10, 0n);
    cpu.regs.set(R11, 0x12345n);
    yield;
    r15 = cpu.regs.get(R15);
  });
  const { p, b } = built({ params: { attributes }, program });
  const args = new RegisterFile();
  const lp = b.vcpuLps[0]!;
  const tdvpr = b.tdvprs[0]!;
  const enter = (): bigint => {
    p.host.tdhVpEnter(lp, tdvpr, args);
    return args.get(RAX);
  };
  expect(enter()).toBe(77n);
  return { p, b, lp, tdvpr, r15After: () => r15, enter };
}

describe('TDH.VP.RD (26) / TDH.VP.WR (43): guest GPRs (class 16) of a DEBUG TD', () => {
  it('should let the VMM read every GPR but RSP of a stopped DEBUG guest, in both field id spellings', () => {
    const t = stoppedAtTdvmcall(ATTR_DEBUG);
    for (let n = 0; n < 16; n++) {
      if (n === 4) continue;
      const want = n === 0 ? 0n : n === 1 ? 0x7fccn : n === 10 ? 0n : n === 11 ? 0x12345n : 0x1000n + BigInt(n);
      expect([n, t.p.host.tdhVpRd(t.lp, t.tdvpr, GPR(n)).r8]).toEqual([n, want]);
      expect([n, t.p.host.tdhVpRd(t.lp, t.tdvpr, KVM_GPR(n)).status]).toEqual([n, SUCCESS]);
    }
    // RSP's GPR slot is a placeholder even in debug; RSP is the VMCS guest RSP.
    expect(hex(t.p.host.tdhVpRd(t.lp, t.tdvpr, GPR(4)).status)).toBe(hex(FIELD_NOT_READABLE));
    const rip = t.p.host.tdhVpRd(t.lp, t.tdvpr, KVM_VMCS(GUEST_RIP));
    expect(rip).toMatchObject({ status: SUCCESS, r8: t.p.module.vcpus.get(t.tdvpr)!.regs.get(RIP) });
    expect(rip.r8).toBeGreaterThan(0xffff_fff0n); // past the reset vector: the guest executed a TDCALL
  });

  it('should let the VMM change a GPR the guest sees when it resumes', () => {
    const t = stoppedAtTdvmcall(ATTR_DEBUG);
    const w = t.p.host.tdhVpWr(t.lp, t.tdvpr, GPR(15), 0xfeedn, NA);
    expect(w).toMatchObject({ status: SUCCESS, r8: 0x100fn });
    expect(t.enter()).toBe(2n); // the guest ran to its end
    expect(t.r15After()).toBe(0xfeedn);
  });

  it('should refuse a production TD\'s GPRs: TDX_METADATA_FIELD_NOT_READABLE / NOT_WRITABLE, nothing changed', () => {
    const t = stoppedAtTdvmcall(ATTR_SEPT_VE_DISABLE);
    const before = moduleSnapshot(t.p);
    for (let n = 0; n < 16; n++) {
      expect(t.p.host.tdhVpRd(t.lp, t.tdvpr, GPR(n))).toMatchObject({ status: FIELD_NOT_READABLE, r8: 0n });
      expect(t.p.host.tdhVpWr(t.lp, t.tdvpr, GPR(n), 0xbadn, NA)).toMatchObject({ status: FIELD_NOT_WRITABLE, r8: 0n });
    }
    expect(t.p.host.tdhVpRd(t.lp, t.tdvpr, KVM_VMCS(GUEST_RIP)).status).toBe(FIELD_NOT_READABLE);
    expect(moduleSnapshot(t.p)).toEqual(before);
    expect(t.enter()).toBe(2n);
    expect(t.r15After()).toBe(0x100fn);
  });
});

describe('TDH.VP.RD / TDH.VP.WR: the fields KVM 6.16 writes', () => {
  it('should run KVM\'s tdx_vcpu_init sequence: POSTED_INTR_NV, POSTED_INTR_DESC_ADDR, setbit PIN_BASED_POSTED_INTR', () => {
    const { p, b } = built();
    const lp = b.vcpuLps[0]!;
    const tdvpr = b.tdvprs[0]!;
    expect(p.host.tdhVpRd(lp, tdvpr, KVM_VMCS(POSTED_INTR_NV)).r8).toBe(0xffffn); // illegal initial vector
    expect(p.host.tdhVpWr(lp, tdvpr, KVM_VMCS(POSTED_INTR_NV), 0xf2n, 0xffffn)).toMatchObject({ status: SUCCESS, r8: 0xffffn });
    expect(p.host.tdhVpWr(lp, tdvpr, KVM_VMCS(POSTED_INTR_DESC_ADDR), 0x1234_5640n, NA)).toMatchObject({ status: SUCCESS, r8: 0n });
    expect(p.host.tdhVpWr(lp, tdvpr, KVM_VMCS(PIN_BASED), 0x80n, 0x80n)).toMatchObject({ status: SUCCESS, r8: 0n });
    expect(p.host.tdhVpRd(lp, tdvpr, KVM_VMCS(POSTED_INTR_NV)).r8).toBe(0xf2n);
    expect(p.host.tdhVpRd(lp, tdvpr, KVM_VMCS(POSTED_INTR_DESC_ADDR)).r8).toBe(0x1234_5640n);
    expect(p.host.tdhVpRd(lp, tdvpr, KVM_VMCS(PIN_BASED)).r8).toBe(0x80n); // only bit 7 is visible
    expect(p.host.tdhVpWr(lp, tdvpr, KVM_VMCS(SHARED_EPT_POINTER), 0x7_6543_2000n, NA)).toMatchObject({ status: SUCCESS, r8: 0n });
    expect(p.host.tdhVpRd(lp, tdvpr, KVM_VMCS(SHARED_EPT_POINTER)).r8).toBe(0x7_6543_2000n);
  });

  it.each([
    ['a vector above 255', POSTED_INTR_NV, 0x100n, 0xffffn],
    ['a misaligned posted-interrupt descriptor', POSTED_INTR_DESC_ADDR, 0x1234_5648n, NA],
    ['a non-writable PIN_BASED bit (bit 0 cleared)', PIN_BASED, 0x80n, 0x81n],
    ['shared EPTP flag bits', SHARED_EPT_POINTER, 0x7_6543_2007n, NA],
  ])('should refuse %s with TDX_METADATA_FIELD_VALUE_NOT_VALID and change nothing', (_n, enc, value, mask) => {
    const { p, b } = built();
    const before = moduleSnapshot(p);
    expect(hex(p.host.tdhVpWr(b.vcpuLps[0]!, b.tdvprs[0]!, KVM_VMCS(enc), value, mask).status)).toBe(hex(FIELD_VALUE_NOT_VALID));
    expect(moduleSnapshot(p)).toEqual(before);
  });

  it('should inject an NMI the KVM way (PEND_NMI = 1) and read VCPU_STATE_DETAILS (no interrupt pending)', () => {
    const { p, b } = built();
    const lp = b.vcpuLps[0]!;
    expect(p.host.tdhVpWr(lp, b.tdvprs[0]!, KVM_PEND_NMI, 1n, 0xffn)).toMatchObject({ status: SUCCESS, r8: 0n });
    expect(p.host.tdhVpRd(lp, b.tdvprs[0]!, KVM_PEND_NMI)).toMatchObject({ status: SUCCESS, r8: 1n });
    expect(p.host.tdhVpRd(lp, b.tdvprs[0]!, KVM_STATE_DETAILS)).toMatchObject({ status: SUCCESS, r8: 0n });
    expect(p.module.vcpus.get(b.tdvprs[0]!)!.pendNmi).toBe(1);
  });

  it('version 1: should answer a null id with the first host-readable vCPU field (POSTED_INTR_NV)', () => {
    const { p, b } = built();
    const r = p.host.tdhVpRd(b.vcpuLps[0]!, b.tdvprs[0]!, NA, 1);
    expect([hex(r.status), hex(r.rdx)]).toEqual([hex(FIRST_FIELD_ID_IN_CONTEXT), hex(0x0024000100000002n)]);
    expect(p.host.tdhVpRd(b.vcpuLps[0]!, b.tdvprs[0]!, r.rdx, 1)).toMatchObject({ status: SUCCESS, r8: 0xffffn, rdx: 0x0024000300002016n });
  });
});

describe('TDH.VP.RD / TDH.VP.WR: vCPU state and association', () => {
  it('should refuse a vCPU associated with another LP with TDX_VCPU_ASSOCIATED', () => {
    const { p, b } = built();
    const other = p.lps.find((l) => l !== b.vcpuLps[0])!;
    const before = moduleSnapshot(p);
    expect(hex(p.host.tdhVpRd(other, b.tdvprs[0]!, KVM_PEND_NMI).status)).toBe(hex(VCPU_ASSOCIATED));
    expect(hex(p.host.tdhVpWr(other, b.tdvprs[0]!, KVM_PEND_NMI, 1n, 1n).status)).toBe(hex(VCPU_ASSOCIATED));
    expect(moduleSnapshot(p)).toEqual(before);
  });

  it('should refuse a running (ACTIVE) vCPU with TDX_VCPU_STATE_INCORRECT', () => {
    let inside: bigint[] = [];
    let t: { p: Platform; b: BuiltTd } | undefined;
    t = built({
      params: { attributes: ATTR_DEBUG },
      program: fromGenerator(function* () {
        // From another LP: the vCPU's own LP is inside the TD (a SEAMCALL there would be #UD).
        const other = t!.p.lps.find((l) => l !== t!.b.vcpuLps[0])!;
        inside = [
          t!.p.host.tdhVpRd(other, t!.b.tdvprs[0]!, GPR(0)).status,
          t!.p.host.tdhVpWr(other, t!.b.tdvprs[0]!, GPR(0), 0n, NA).status,
        ];
        yield;
      }),
    });
    t.p.host.tdhVpEnter(t.b.vcpuLps[0]!, t.b.tdvprs[0]!, new RegisterFile());
    expect(inside.map(hex)).toEqual([hex(VCPU_STATE_INCORRECT), hex(VCPU_STATE_INCORRECT)]);
  });

  it('should refuse a vCPU without its TDVPS pages (TDX_TDCX_NUM_INCORRECT) or not initialized (TDX_VCPU_STATE_INCORRECT)', () => {
    const p = bootPlatform();
    const { tdr } = createTd(p);
    mngInit(p, tdr);
    const partial = createVcpu(p, tdr, p.lp0, 2);
    const uninit = createVcpu(p, tdr);
    expect(hex(p.host.tdhVpRd(p.lp0, partial, KVM_PEND_NMI).status)).toBe(hex(TDCX_NUM_INCORRECT));
    expect(hex(p.host.tdhVpRd(p.lp0, uninit, KVM_PEND_NMI).status)).toBe(hex(VCPU_STATE_INCORRECT));
    expect(hex(p.host.tdhVpRd(p.lp0, tdr, KVM_PEND_NMI).status)).toBe(hex(PAGE_METADATA_INCORRECT_RCX));
  });

  it('should refuse an unknown field or a VMCS "high" access with TDX_METADATA_FIELD_ID_INCORRECT', () => {
    const { p, b } = built();
    expect(hex(p.host.tdhVpRd(b.vcpuLps[0]!, b.tdvprs[0]!, KVM_VMCS(0x4002)).status)).toBe(hex(FIELD_ID_INCORRECT));
    expect(hex(p.host.tdhVpRd(b.vcpuLps[0]!, b.tdvprs[0]!, KVM_VMCS(POSTED_INTR_DESC_ADDR + 1)).status)).toBe(hex(FIELD_ID_INCORRECT));
  });
});

describe('metadata SEAMCALLs under random input (property)', () => {
  const knownIds = [
    ATTRIBUTES, XFAM, NOTIFY_ENABLES, RTMR + 3n, MRTD, KVM_TSC_OFFSET, KVM_PEND_NMI, KVM_STATE_DETAILS,
    KVM_VMCS(POSTED_INTR_NV), KVM_VMCS(PIN_BASED), KVM_VMCS(SHARED_EPT_POINTER), KVM_VMCS(GUEST_RIP),
    GPR(0), GPR(4), GPR(15), 0x0800000100000004n, 0x9900000100000008n, NA,
  ];

  it('should never throw, and on failure leave R8 = 0 and the module unchanged', () => {
    for (const debug of [false, true]) {
      const { p, b } = built({ params: { attributes: debug ? ATTR_DEBUG : ATTR_SEPT_VE_DISABLE } });
      const lp = b.vcpuLps[0]!;
      fc.assert(fc.property(
        fc.constantFrom('mngRd', 'mngWr', 'vpRd', 'vpWr', 'sysRd'),
        fc.oneof(fc.constantFrom(...knownIds), fc.bigInt({ min: 0n, max: NA })),
        fc.bigInt({ min: 0n, max: NA }),
        fc.oneof(fc.constant(NA), fc.bigInt({ min: 0n, max: NA })),
        fc.integer({ min: 0, max: 1 }),
        (leaf, id, value, mask, version) => {
          const before = moduleSnapshot(p);
          const r = leaf === 'mngRd' ? p.host.tdhMngRd(lp, b.tdr, id, version)
            : leaf === 'mngWr' ? p.host.tdhMngWr(lp, b.tdr, id, value, mask)
              : leaf === 'vpRd' ? p.host.tdhVpRd(lp, b.tdvprs[0]!, id, version)
                : leaf === 'vpWr' ? p.host.tdhVpWr(lp, b.tdvprs[0]!, id, value, mask)
                  : p.host.tdhSysRd(lp, id);
          if (r.status !== SUCCESS) {
            expect(r.r8).toBe(0n);
            expect(moduleSnapshot(p)).toEqual(before);
          }
        },
      ), { numRuns: 400 });
    }
  });
});
