import { createHash, createHmac } from 'node:crypto';
import {
  R8, RAX, RCX, RDX, RIP, RegisterFile, fromGenerator, type GuestCpu, type GuestGenerator,
} from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import * as ghci from '../../guest/ghci.js';
import { parseTdReport } from '../../measurement/parseTdReport.js';
import { SIM_CPUSVN } from '../../measurement/tdreport.js';
import {
  ATTR_DEBUG, ATTR_SEPT_VE_DISABLE, bootPlatform, buildTd, hex, moduleSnapshot, type BuildTdOptions, type BuiltTd,
  type ImagePage, type Platform,
} from '../../testing/buildTd.js';

// Reference values (tdx-module-abi.md §4.2, §5.2, §8), spelled out independently of abi/.
const SUCCESS = 0n;
const OPERAND_INVALID = 0xc000010000000000n;
const INVALID_CPUSVN = 0xc000100000000000n;
const INVALID_REPORTMACSTRUCT = 0xc000100100000000n;
const EXIT_EPT_VIOLATION = 48n;
const EXIT_TRIPLE_FAULT = 2n;
const SHARED = 2 ** 47;

// Guest-physical layout of the test TDs: a measured image page, the report page, a data page.
const IMAGE = 0x10000, REPORT = 0x11000, DATA = 0x12000;
const imageContent = Buffer.from('seamkit test image: kernel + initrd stand-in');
const mrConfigId = Uint8Array.from({ length: 48 }, (_, i) => 0x40 + i);
const mrOwner = Uint8Array.from({ length: 48 }, (_, i) => 0x80 + i);
const mrOwnerConfig = Uint8Array.from({ length: 48 }, (_, i) => 0xc0 + (i % 32));
const pages: ImagePage[] = [
  { gpa: IMAGE, content: imageContent, measure: true },
  { gpa: REPORT, content: new Uint8Array(0) },
  { gpa: DATA, content: new Uint8Array(0) },
];

interface Run {
  readonly p: Platform;
  readonly b: BuiltTd;
  readonly args: RegisterFile;
  /** TDH.VP.ENTER; returns RAX (exit reason / status). */
  enter(): bigint;
}

function runTd(gen: GuestGenerator, options: BuildTdOptions = {}): Run {
  const p = bootPlatform();
  const b = buildTd(p, {
    pages,
    ...options,
    params: { mrConfigId, mrOwner, mrOwnerConfig, ...options.params },
    program: fromGenerator(gen),
  });
  const args = new RegisterFile();
  return {
    p, b, args,
    enter: () => {
      p.host.tdhVpEnter(b.vcpuLps[0]!, b.tdvprs[0]!, args);
      return args.get(RAX);
    },
  };
}

/** MRTD of `pages`, computed from the block format (§6.7). */
function expectedMrtd(): Buffer {
  const block = (tag: string, gpa: number): Buffer => {
    const x = Buffer.alloc(128);
    x.write(tag, 'ascii');
    x.writeBigUInt64LE(BigInt(gpa), 16);
    return x;
  };
  const h = createHash('sha384');
  for (const pg of pages) {
    h.update(block('MEM.PAGE.ADD', pg.gpa));
    if (pg.measure === true) {
      const page = Buffer.alloc(4096);
      page.set(pg.content);
      for (let off = 0; off < 4096; off += 256) h.update(block('MR.EXTEND', pg.gpa + off)).update(page.subarray(off, off + 256));
    }
  }
  return h.digest();
}

const sha384 = (...parts: Uint8Array[]): Buffer => parts.reduce((h, x) => h.update(x), createHash('sha384')).digest();

describe('TDG.MR.RTMR.EXTEND (TDCALL 2)', () => {
  it('should set RTMR[i] = SHA-384(RTMR[i] || digest), per register, with no VM exit', () => {
    const d1 = Buffer.alloc(48, 0x11);
    const d2 = Buffer.alloc(48, 0x22);
    const statuses: bigint[] = [];
    const t = runTd(function* (cpu) {
      cpu.mem.write(DATA, d1);
      cpu.mem.write(DATA + 64, d2);
      statuses.push(yield* ghci.rtmrExtend(cpu, DATA, 0));
      statuses.push(yield* ghci.rtmrExtend(cpu, DATA + 64, 0));
      statuses.push(yield* ghci.rtmrExtend(cpu, DATA + 64, 3));
    });
    expect(t.enter()).toBe(EXIT_TRIPLE_FAULT); // ran to the end without exits
    expect(statuses).toEqual([SUCCESS, SUCCESS, SUCCESS]);
    const zero = Buffer.alloc(48);
    expect(Buffer.from(t.b.td.rtmr[0]!).toString('hex')).toBe(sha384(sha384(zero, d1), d2).toString('hex'));
    expect(Buffer.from(t.b.td.rtmr[3]!).toString('hex')).toBe(sha384(zero, d2).toString('hex'));
    expect([...t.b.td.rtmr[1]!, ...t.b.td.rtmr[2]!].every((x) => x === 0)).toBe(true);
  });

  it.each([
    ['a digest GPA not 64-byte aligned', DATA + 32, 0, OPERAND_INVALID + 1n],
    ['a shared digest GPA', DATA + SHARED, 0, OPERAND_INVALID + 1n],
    ['a digest GPA beyond GPAW', 2 ** 48, 0, OPERAND_INVALID + 1n],
    ['RTMR index 4', DATA, 4, OPERAND_INVALID + 2n],
  ])('should refuse %s with the right operand id and change no RTMR', (_n, gpa, index, status) => {
    let got: bigint | undefined;
    const t = runTd(function* (cpu) {
      got = yield* ghci.rtmrExtend(cpu, gpa, index);
    });
    const before = moduleSnapshot(t.p);
    expect(t.enter()).toBe(EXIT_TRIPLE_FAULT);
    expect(hex(got!)).toBe(hex(status));
    expect((moduleSnapshot(t.p) as { tds: { mr: string[] }[] }).tds[0]!.mr).toEqual((before as { tds: { mr: string[] }[] }).tds[0]!.mr);
  });

  it('should turn an unmapped private digest GPA into an EPT-violation TD exit, before checking the index, and retry the TDCALL on re-entry', () => {
    let calls = 0;
    const t = runTd(function* (cpu) {
      calls++;
      yield* ghci.rtmrExtend(cpu, 0x40_0000, 9);
    });
    expect(t.enter()).toBe(EXIT_EPT_VIOLATION);
    expect([t.args.get(RCX), t.args.get(R8)]).toEqual([1n, 0x40_0000n]); // read access, GPA
    const vcpu = t.p.module.vcpus.get(t.b.tdvprs[0]!)!;
    const rip = vcpu.regs.get(RIP);
    expect(vcpu.regs.get(RAX)).toBe(2n); // the TDCALL is still pending: RAX = leaf, RIP not advanced
    expect(t.enter()).toBe(EXIT_EPT_VIOLATION); // executed again, still unmapped
    expect(vcpu.regs.get(RIP)).toBe(rip);
    expect(calls).toBe(1);
  });
});

describe('TDG.MR.REPORT (TDCALL 4)', () => {
  const reportData = Uint8Array.from({ length: 64 }, (_, i) => 0xa0 ^ i);
  const digest = Buffer.alloc(48, 0x5c);

  function reportRun(attributes = ATTR_SEPT_VE_DISABLE): { t: Run; report: () => Uint8Array; status: () => bigint } {
    const out = new Uint8Array(1024);
    let status = -1n;
    const t = runTd(function* (cpu: GuestCpu) {
      cpu.mem.write(DATA, reportData);
      cpu.mem.write(DATA + 128, digest);
      yield* ghci.rtmrExtend(cpu, DATA + 128, 2);
      status = yield* ghci.tdReport(cpu, REPORT, DATA);
      cpu.mem.read(REPORT, out);
    }, { params: { attributes, xfam: 7n } });
    expect(t.enter()).toBe(EXIT_TRIPLE_FAULT);
    return { t, report: () => out, status: () => status };
  }

  /** The TDREPORT, built independently from reference §8 and the module's source layout. */
  function expectedReport(key: Uint8Array, attributes: bigint): Buffer {
    const tcb = Buffer.alloc(239);
    tcb.writeBigUInt64LE((1n << 1n) | (1n << 3n) | (1n << 9n) | (1n << 15n), 0); // SVN, MRSEAM, MRSIGNERSEAM, ATTRIBUTES
    Buffer.from([1, 1, 0]).copy(tcb, 8); // TEE_TCB_SVN: module SVN minor 1, major 1
    sha384(Buffer.from('seamkit simulated Intel TDX module 1.5.01')).copy(tcb, 24); // MRSEAM
    const info = Buffer.alloc(512);
    info.writeBigUInt64LE(attributes, 0);
    info.writeBigUInt64LE(7n, 8);
    expectedMrtd().copy(info, 16);
    Buffer.from(mrConfigId).copy(info, 64);
    Buffer.from(mrOwner).copy(info, 112);
    Buffer.from(mrOwnerConfig).copy(info, 160);
    sha384(Buffer.alloc(48), digest).copy(info, 208 + 2 * 48); // RTMR2
    const r = Buffer.alloc(1024);
    r[0] = 0x81;
    Buffer.from(SIM_CPUSVN).copy(r, 16);
    sha384(tcb).copy(r, 32);
    sha384(info).copy(r, 80);
    Buffer.from(reportData).copy(r, 128);
    createHmac('sha256', key).update(r.subarray(0, 224)).digest().copy(r, 224);
    tcb.copy(r, 256);
    info.copy(r, 512);
    return r;
  }

  it('should write the TDREPORT byte for byte as an independent computation of every field gives it', () => {
    const { t, report, status } = reportRun();
    expect(status()).toBe(SUCCESS);
    expect(Buffer.from(report()).toString('hex')).toBe(expectedReport(t.p.module.reportMacKey, ATTR_SEPT_VE_DISABLE).toString('hex'));
  });

  it('should parse into named fields with parseTdReport', () => {
    const { t, report } = reportRun(ATTR_DEBUG);
    const r = parseTdReport(report());
    const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    expect([r.reportType, r.reportSubtype, r.reportVersion]).toEqual([0x81, 0, 0]);
    expect(hexOf(r.reportData)).toBe(hexOf(reportData));
    expect(r.tdAttributes).toBe(ATTR_DEBUG);
    expect(r.xfam).toBe(7n);
    expect(hexOf(r.mrTd)).toBe(expectedMrtd().toString('hex'));
    expect(hexOf(r.mrTd)).toBe(hexOf(t.b.td.mrtd));
    expect([hexOf(r.mrConfigId), hexOf(r.mrOwner), hexOf(r.mrOwnerConfig)]).toEqual([hexOf(mrConfigId), hexOf(mrOwner), hexOf(mrOwnerConfig)]);
    expect(hexOf(r.rtmr[2])).toBe(sha384(Buffer.alloc(48), digest).toString('hex'));
    expect(hexOf(r.rtmr[0])).toBe('00'.repeat(48));
    expect(hexOf(r.servTdHash)).toBe('00'.repeat(48));
    expect(hexOf(r.mrSeam)).toBe(sha384(Buffer.from('seamkit simulated Intel TDX module 1.5.01')).toString('hex'));
    expect(hexOf(r.mrSignerSeam)).toBe('00'.repeat(48));
    expect(r.seamAttributes).toBe(0n);
    expect(r.teeTcbInfoValid).toBe(0x820an);
    expect(hexOf(r.teeTcbInfoHash)).toBe(sha384(r.teeTcbInfo).toString('hex'));
    expect(hexOf(r.teeInfoHash)).toBe(sha384(r.tdInfo).toString('hex'));
    expect(hexOf(r.mac)).toBe(createHmac('sha256', t.p.module.reportMacKey).update(r.reportMacStruct.subarray(0, 224)).digest('hex'));
    expect(() => parseTdReport(new Uint8Array(1023))).toThrow(expect.objectContaining({ code: 'SEAMKIT_ERR_MODULE_TDREPORT_SIZE' }));
  });

  it('should be deterministic for a TD but MACed with a per-platform key', () => {
    const a = reportRun();
    const b = reportRun();
    expect(Buffer.from(a.report().subarray(0, 224)).equals(Buffer.from(b.report().subarray(0, 224)))).toBe(true);
    expect(Buffer.from(a.report().subarray(256)).equals(Buffer.from(b.report().subarray(256)))).toBe(true);
    expect(Buffer.from(a.report().subarray(224, 256)).equals(Buffer.from(b.report().subarray(224, 256)))).toBe(false);
  });

  it.each([
    ['an output GPA not 1024-aligned', REPORT + 512, DATA, 0, OPERAND_INVALID + 1n],
    ['a REPORTDATA GPA not 64-aligned', REPORT, DATA + 8, 0, OPERAND_INVALID + 2n],
    ['a REPORTDATA GPA beyond GPAW', REPORT, 2 ** 48, 0, OPERAND_INVALID + 2n],
    ['subtype 1', REPORT, DATA, 1, OPERAND_INVALID + 8n],
    ['an output GPA beyond GPAW', 2 ** 48, DATA, 0, OPERAND_INVALID + 1n],
  ])('should refuse %s with the operand id of the module\'s check order, writing nothing', (_n, rep, data, subtype, status) => {
    let got: bigint | undefined;
    const out = new Uint8Array(1024);
    const t = runTd(function* (cpu) {
      got = yield* ghci.tdReport(cpu, rep, data, subtype);
      cpu.mem.read(REPORT, out);
    });
    expect(t.enter()).toBe(EXIT_TRIPLE_FAULT);
    expect(hex(got!)).toBe(hex(status));
    expect(out.every((x) => x === 0)).toBe(true);
  });

  it('should read REPORTDATA from and write the report to shared memory; an unmapped shared page is an EPT-violation exit and the TDCALL runs again once mapped', () => {
    let status: bigint | undefined;
    const t = runTd(function* (cpu) {
      cpu.mem.write(DATA, reportData);
      status = yield* ghci.tdReport(cpu, SHARED + 0x20_0000, DATA);
    });
    const hostPage = t.p.cpu.memory.allocPage();
    const mapped = new Map<number, number>();
    t.b.td.memory!.setSharedEpt({ translate: (gfn) => mapped.get(gfn) ?? -1 });
    expect(t.enter()).toBe(EXIT_EPT_VIOLATION);
    expect([t.args.get(RCX), t.args.get(R8)]).toEqual([2n, BigInt(SHARED + 0x20_0000)]); // write access
    expect(status).toBeUndefined();
    mapped.set(0x200, hostPage);
    expect(t.enter()).toBe(EXIT_TRIPLE_FAULT);
    expect(status).toBe(SUCCESS);
    const out = new Uint8Array(1024);
    t.p.cpu.memory.read(hostPage, out); // shared memory: the host sees the report in plaintext
    expect(parseTdReport(out).reportData).toEqual(reportData);
  });

  it('should exit with an EPT violation on unmapped REPORTDATA (read access)', () => {
    const t = runTd(function* (cpu) {
      yield* ghci.tdReport(cpu, REPORT, 0x80_0000);
    });
    expect(t.enter()).toBe(EXIT_EPT_VIOLATION);
    expect([t.args.get(RCX), t.args.get(R8), t.args.get(RDX)]).toEqual([1n, 0x80_0000n, 0n]);
  });
});

describe('TDG.MR.VERIFYREPORT (TDCALL 22)', () => {
  function verifyRun(tamper: (mac: Uint8Array) => void, from?: Uint8Array): { status: bigint; report: Uint8Array } {
    let status = -1n;
    const report = new Uint8Array(1024);
    const t = runTd(function* (cpu) {
      if (from === undefined) {
        cpu.mem.write(DATA, Buffer.alloc(64, 7));
        yield* ghci.tdReport(cpu, REPORT, DATA);
      } else {
        cpu.mem.write(REPORT, from);
      }
      cpu.mem.read(REPORT, report);
      const mac = report.slice(0, 256);
      tamper(mac);
      cpu.mem.write(REPORT, mac);
      status = yield* ghci.verifyReport(cpu, REPORT);
    });
    expect(t.enter()).toBe(EXIT_TRIPLE_FAULT);
    return { status, report };
  }

  it('should accept a report of this platform', () => {
    expect(verifyRun(() => undefined).status).toBe(SUCCESS);
  });

  it('should refuse a changed REPORTDATA (TDX_INVALID_REPORTMACSTRUCT) or CPUSVN (TDX_INVALID_CPUSVN)', () => {
    expect(hex(verifyRun((m) => { m[130]! ^= 1; }).status)).toBe(hex(INVALID_REPORTMACSTRUCT));
    expect(hex(verifyRun((m) => { m[20]! ^= 1; }).status)).toBe(hex(INVALID_CPUSVN));
  });

  it('should refuse a report made on another platform (another MAC key)', () => {
    const other = verifyRun(() => undefined).report;
    expect(hex(verifyRun(() => undefined, other).status)).toBe(hex(INVALID_REPORTMACSTRUCT));
  });

  it.each([
    ['not 256-aligned', REPORT + 64],
    ['shared', REPORT + SHARED],
  ])('should refuse a REPORTMACSTRUCT GPA that is %s with TDX_OPERAND_INVALID|RCX', (_n, gpa) => {
    let status = -1n;
    const t = runTd(function* (cpu) {
      status = yield* ghci.verifyReport(cpu, gpa);
    });
    expect(t.enter()).toBe(EXIT_TRIPLE_FAULT);
    expect(hex(status)).toBe(hex(OPERAND_INVALID + 1n));
  });
});

describe('TdxModule.verifyReportMac (the platform\'s EVERIFYREPORT2 for a quoting enclave)', () => {
  function reportOf(): { report: Uint8Array; t: Run } {
    const report = new Uint8Array(1024);
    const t = runTd(function* (cpu) {
      cpu.mem.write(DATA, Buffer.alloc(64, 9));
      yield* ghci.tdReport(cpu, REPORT, DATA);
      cpu.mem.read(REPORT, report);
    });
    expect(t.enter()).toBe(EXIT_TRIPLE_FAULT);
    return { report, t };
  }

  it('should accept a TDREPORT the platform made, and refuse one with a changed REPORTDATA or CPUSVN', () => {
    const { report, t } = reportOf();
    expect(t.p.module.verifyReportMac(report)).toBe(SUCCESS);
    const data = report.slice();
    data[130]! ^= 1; // REPORTDATA (covered by the MAC only, not by the hashes)
    expect(hex(t.p.module.verifyReportMac(data))).toBe(hex(INVALID_REPORTMACSTRUCT));
    const svn = report.slice();
    svn[20]! ^= 1;
    expect(hex(t.p.module.verifyReportMac(svn))).toBe(hex(INVALID_CPUSVN));
  });

  it('should refuse a TDREPORT of another platform', () => {
    const a = reportOf();
    const b = reportOf();
    expect(hex(b.t.p.module.verifyReportMac(a.report))).toBe(hex(INVALID_REPORTMACSTRUCT));
  });

  it('should throw SEAMKIT_ERR_MODULE_TDREPORT_SIZE for a buffer that is not a TDREPORT', () => {
    const { t } = reportOf();
    expect(() => t.p.module.verifyReportMac(new Uint8Array(256))).toThrow(expect.objectContaining({ code: 'SEAMKIT_ERR_MODULE_TDREPORT_SIZE' }));
  });
});
