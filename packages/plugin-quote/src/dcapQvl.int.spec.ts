import { QuoteVerifier } from '@phala/dcap-qvl';
import { beforeAll, describe, expect, it } from 'vitest';
import { createVmm, VcpuRunState, type Vmm, type VmmTd } from '@seamkit/core';
import { KVM_MP_STATE_RUNNABLE, kvmModule, type Vm } from '@seamkit/kvm';
import { fromGenerator, R11, SeamkitError, type GuestCpu } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { DcapQuoteGenerator } from './dcap/DcapQuoteGenerator.js';
import { GetQuoteLeaf } from './GetQuoteLeaf.js';
import { QgsClient } from './qgs/QgsClient.js';
import { QgsServer } from './qgs/QgsServer.js';
import { inProcessTransport } from './qgs/transport.js';
import { quoteModule, quoteServiceModule } from './quoteModule.js';

// A quote made by the real flow (guest TDG.MR.REPORT -> GetQuote TDVMCALL -> KVM_EXIT_TDX ->
// QEMU-style userspace half -> QGS -> the simulated TD quoting enclave) is checked with an
// independent, standard DCAP verifier: @phala/dcap-qvl (a JavaScript port of Phala's Rust
// dcap-qvl), given the test PKI's root CA with `QuoteVerifier.newWithRootCa` and the collateral
// `TestPki.collateral()` exports. Nothing of seamkit's own verifier is used here.

const BUF = 0x10_0000; // GetQuote buffer, made shared with MapGPA
const SCRATCH = 0x1000; // TDREPORT and REPORTDATA, private memory of the TD image
const IMAGE = new Uint8Array(2 * 4096).fill(0x90);

/** The Linux tdx-guest flow: TDG.MR.REPORT, a version-1 GetQuote header + TDREPORT in a shared buffer, GetQuote, poll. */
function* attest(cpu: GuestCpu, reportData: Uint8Array, out: { status?: bigint; len?: number }): Generator<number, void, void> {
  const shared = cpu.mem.sharedBit;
  cpu.mem.write(SCRATCH + 1024, reportData);
  yield* ghci.tdReport(cpu, SCRATCH, SCRATCH + 1024);
  const report = new Uint8Array(1024);
  cpu.mem.read(SCRATCH, report);
  // MapGPA to shared, resuming from R11 on RETRY as a Linux guest does.
  for (let at = shared + BUF; ;) {
    if ((yield* ghci.mapGpa(cpu, at, shared + BUF + 0x4000 - at)) !== 1n) break;
    at = Number(cpu.regs.get(R11));
  }
  const buf = shared + BUF;
  cpu.mem.writeU64(buf, 1n);
  cpu.mem.writeU64(buf + 8, 0n);
  cpu.mem.writeU32(buf + 16, 1024);
  cpu.mem.writeU32(buf + 20, 0);
  cpu.mem.write(buf + 24, report);
  yield* ghci.getQuote(cpu, buf, 0x4000);
  while (cpu.mem.readU64(buf + 8) === 0xffff_ffff_ffff_ffffn) yield* ghci.hlt(cpu);
  out.status = cpu.mem.readU64(buf + 8);
  out.len = cpu.mem.readU32(buf + 20);
}

/** Runs the TD to the end; while the polling guest halts (KVM_RUN: EINTR), the QGS answers and the VMM wakes the vCPU. */
async function drive(vmm: Vmm, td: VmmTd): Promise<void> {
  const runner = td.runners[0]!;
  for (let round = 0; round < 100 && runner.state !== VcpuRunState.FINISHED; round++) {
    try {
      runner.run(64);
    } catch (err) {
      if (!(SeamkitError.is(err) && err.errno === 4)) throw err;
      await vmm.container.get(GetQuoteLeaf).drain();
      (td.memory as Vm).vcpus[0]!.setMpState(KVM_MP_STATE_RUNNABLE); // KVM_SET_MP_STATE, as a VMM kicks a halted vCPU
    }
  }
  expect(runner.state).toBe(VcpuRunState.FINISHED);
}

let generator: DcapQuoteGenerator;
let quote: Uint8Array;
let mrtd: Uint8Array;
const reportData = Uint8Array.from({ length: 64 }, (_, i) => 0xa0 ^ i);
const now = (): number => Date.now() / 1000;

beforeAll(async () => {
  generator = await DcapQuoteGenerator.create();
  const vmm = createVmm({ modules: [kvmModule(), quoteModule, quoteServiceModule(new QgsClient(inProcessTransport(new QgsServer((r) => generator.generate(r)))))] });
  const out: { status?: bigint; len?: number } = {};
  const td = vmm.createTd({ memoryBytes: 4 << 20, image: IMAGE, guest: fromGenerator((cpu) => attest(cpu, reportData, out)) });
  await drive(vmm, td);
  expect(out.status).toBe(0n);
  quote = new Uint8Array(out.len!);
  td.memory.read(BUF + 24, quote);
  mrtd = td.mrtd;
});

describe('@phala/dcap-qvl (a standard DCAP verifier) on a quote from the simulated attestation flow', () => {
  it('should accept it with the test PKI\'s root CA and collateral: TCB UpToDate, the TD\'s MRTD and REPORTDATA', () => {
    const verifier = QuoteVerifier.newWithRootCa(Buffer.from(generator.pki.rootCaDer));
    const r = verifier.verify(quote, generator.pki.collateral(), now());
    expect(r.status).toBe('UpToDate');
    expect(r.advisory_ids).toEqual([]);
    expect(r.report.type).toBe('td10');
    const body = r.report.asTd10()!;
    expect(Buffer.from(body.mrTd)).toEqual(Buffer.from(mrtd));
    expect(Buffer.from(body.reportData)).toEqual(Buffer.from(reportData));
    expect(Buffer.from(body.tdAttributes)).toEqual(Buffer.from([0, 0, 0, 0x10, 0, 0, 0, 0])); // SEPT_VE_DISABLE, not DEBUG
    expect(Buffer.from(body.teeTcbSvn)).toEqual(Buffer.from(generator.pki.platform.teeTcbSvn));
    // dcap-qvl 0.3.9 returns an empty PPID for any PCK certificate: its parsePckExtension reads
    // SGX Type (an ENUMERATED, as in Intel's certificates) as a whole DER TLV, throws, and verify()
    // swallows that. CPUSVN, PCESVN and FMSPC, which the TCB match uses, it reads correctly.
    expect(r.ppid).toHaveLength(0);
  });

  it('should reject it against Intel\'s production root CA (the test PKI chains to nothing Intel signed)', () => {
    expect(() => QuoteVerifier.newProd().verify(quote, generator.pki.collateral(), now())).toThrow(/certificate chain|signature/i);
  });

  it('should reject a quote whose signed TD report body was changed (REPORTDATA byte flipped)', () => {
    const tampered = quote.slice();
    tampered[48 + 520] = tampered[48 + 520]! ^ 1; // REPORTDATA starts at body offset 520
    expect(() => QuoteVerifier.newWithRootCa(Buffer.from(generator.pki.rootCaDer)).verify(tampered, generator.pki.collateral(), now()))
      .toThrow(/signature is invalid/i);
  });

  it('should reject it once the collateral has expired (TCB info nextUpdate is 30 days out)', () => {
    expect(() => QuoteVerifier.newWithRootCa(Buffer.from(generator.pki.rootCaDer)).verify(quote, generator.pki.collateral(), now() + 31 * 86_400))
      .toThrow(/expired/i);
  });

  it('should reject collateral whose TCB info signature does not match (another PKI\'s signature)', async () => {
    const other = await DcapQuoteGenerator.create();
    const collateral = { ...generator.pki.collateral(), tcb_info_signature: other.pki.collateral().tcb_info_signature };
    expect(() => QuoteVerifier.newWithRootCa(Buffer.from(generator.pki.rootCaDer)).verify(quote, collateral, now())).toThrow(/tcb_info/);
  });
});
