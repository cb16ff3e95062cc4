import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createVmm, HYPERVISOR, VcpuRunState } from '@seamkit/core';
import { kvmModule, type KvmHypervisor } from '@seamkit/kvm';
import { fatalModule } from '@seamkit/plugin-fatal';
import {
  DcapQuoteGenerator, GET_QUOTE_IN_FLIGHT, GetQuoteLeaf, inProcessTransport, parseDcapQuote, QgsClient, QgsServer,
  quoteModule, quoteServiceModule, unixSocketTransport, verifyDcapQuote, type QuoteService,
} from '@seamkit/plugin-quote';
import { fromGenerator, SeamkitError, type GuestCpu } from '@seamkit/seam-cpu';
import { TDVMCALL_STATUS_RETRY } from '@seamkit/seam-cpu/abi';
import { ghci, type TdxModule } from '@seamkit/tdx-module';
import { CliError } from '../CliError.js';
import { hex, statusName } from '../names.js';
import { paint, type Output } from '../Output.js';
import { mapGpaRange } from '../scenarios/protocol.js';

/** Help text of `seamkit quote`. */
export const QUOTE_HELP = `Usage: seamkit quote --out FILE [--report-data HEX] [--pki DIR] [--qgs SOCKET] [--json]

Boots a TD on the reference VMM and runs the attestation flow of a Linux TD guest inside it:
SetupEventNotifyInterrupt, TDG.MR.REPORT with the REPORTDATA into private memory, MapGPA of the
GetQuote buffer to shared, the TDREPORT copied into it, GetQuote, then HLT until the
notification interrupt. The VMM forwards the
request to a quote generation service over the QGS protocol QEMU speaks, and writes the DCAP
version 4 TD quote the guest received to FILE. Prints the TD's MRTD and the REPORTDATA in hex.

By default the quote generation service runs in this process, with a test PKI generated for
this run (it is not Intel's: only a verifier given its root CA accepts the quote).

Options:
  --out FILE          where to write the quote (binary)
  --report-data HEX   REPORTDATA, up to 64 bytes of hex (shorter values are zero-padded;
                      default: 64 zero bytes)
  --pki DIR           write the test PKI's root CA (root-ca.der, root-ca.pem), the PCK chain
                      (pck-chain.pem) and the verification collateral (collateral.json) to DIR
                      (in-process service only)
  --qgs SOCKET        use the quote generation service listening on this Unix socket (for
                      example one started with "seamkit qgs --socket SOCKET") instead
  --json              print one JSON object instead of text
  -h, --help          show this help

Exit status: 0 with a quote; 1 if the guest got no quote (the GetQuote status says why);
2 for bad options.`;

/** The vector the guest registers with SetupEventNotifyInterrupt. */
export const QUOTE_NOTIFY_VECTOR = 0x51;
/** GPA (without the shared bit) of the guest's GetQuote buffer. */
export const QUOTE_BUFFER = 0x10_0000;
/** Size of the GetQuote buffer: 16 KiB (the Linux driver uses 8 KiB; a quote with a PEM chain is about 5 KiB). */
export const QUOTE_BUFFER_SIZE = 0x4000;
/** Private GPA (a page of the TD image) of the TDREPORT output (1024 bytes) and REPORTDATA (64 bytes). */
const SCRATCH = 0x2000;
/** EINTR: KVM_RUN while the vCPU is halted. */
const EINTR = 4;

/**
 * The TD image of `seamkit quote`, measured into MRTD (so the MRTD is the same every run): two
 * pages of content and a zeroed third page the guest uses as private scratch memory.
 */
export const QUOTE_IMAGE: Uint8Array = (() => {
  const img = new Uint8Array(3 * 4096);
  img.set(Buffer.from('seamkit quote: attestation TD image\n', 'ascii'));
  for (let i = 4096; i < 2 * 4096; i++) img[i] = (i * 13) & 0xff;
  return img;
})();

/** What the guest saw at each step of the attestation flow (-1n: the step was not reached). */
export interface AttestationSteps {
  /** R10 of SetupEventNotifyInterrupt. */
  notifyStatus: bigint;
  /** RAX of TDG.MR.REPORT. */
  reportStatus: bigint;
  /** R10 of MapGPA (the GetQuote buffer to shared). */
  mapGpaStatus: bigint;
  /** R10 of GetQuote. */
  getQuoteStatus: bigint;
  /** The final status word of the GetQuote buffer. */
  quoteStatus: bigint;
  /** out_len of the GetQuote buffer. */
  outLen: number;
  /** Interrupt vectors the guest took while it waited. */
  readonly interrupts: number[];
  /** The TDREPORT the guest got from TDG.MR.REPORT (empty before). */
  tdReport: Uint8Array;
}

/** Steps of a guest that has not started the flow yet. */
export function newAttestationSteps(): AttestationSteps {
  return { notifyStatus: -1n, reportStatus: -1n, mapGpaStatus: -1n, getQuoteStatus: -1n, quoteStatus: -1n, outLen: 0, interrupts: [], tdReport: new Uint8Array(0) };
}

/** What the guest saw. */
export interface AttestationResult extends Readonly<Omit<AttestationSteps, 'interrupts'>> {
  /** Interrupt vectors the guest took while it waited. */
  readonly interrupts: readonly number[];
  /** The quote the guest received (empty without one). */
  readonly quote: Uint8Array;
  /** MRTD of the TD. */
  readonly mrtd: Uint8Array;
}

/** Options of {@link runAttestation}. */
export interface AttestationOptions {
  /** REPORTDATA (64 bytes). */
  readonly reportData: Uint8Array;
  /** The quote service GetQuote talks to. */
  readonly service: QuoteService;
  /**
   * Called with the platform's TDX module once the VMM is built, before the guest runs (an
   * in-process QE checks TDREPORT MACs with its `verifyReportMac`, as a real one does with
   * EVERIFYREPORT2).
   */
  readonly onPlatform?: (module: TdxModule) => void;
}

/** Name of a status word of the GetQuote buffer (SUCCESS, IN_FLIGHT, ERROR, SERVICE_UNAVAILABLE), or its hex value. */
export function quoteStatusName(s: bigint): string {
  switch (s) {
    case 0n: return 'SUCCESS';
    case 0xffff_ffff_ffff_ffffn: return 'IN_FLIGHT';
    case 0x8000_0000_0000_0000n: return 'ERROR';
    case 0x8000_0000_0000_0001n: return 'SERVICE_UNAVAILABLE';
    default: return hex(s);
  }
}

/**
 * The guest side of the attestation flow, as a Linux TD guest runs it (in a TD built from
 * {@link QUOTE_IMAGE}): SetupEventNotifyInterrupt({@link QUOTE_NOTIFY_VECTOR}), TDG.MR.REPORT of
 * `reportData` into private memory, MapGPA of the GetQuote buffer ({@link QUOTE_BUFFER}) to
 * shared, the TDREPORT copied into it after a version-1 header, GetQuote (again on RETRY), then
 * HLT with interrupts enabled until the notification interrupt, and the final status and out_len
 * read from the header. It stops at the first step that fails; `seen` records every step.
 */
export function* attestationGuest(cpu: GuestCpu, reportData: Uint8Array, seen: AttestationSteps): Generator<number, void, void> {
  const shared = cpu.mem.sharedBit;
  seen.notifyStatus = yield* ghci.setupEventNotifyInterrupt(cpu, QUOTE_NOTIFY_VECTOR);
  // TDG.MR.REPORT into private memory, as tdx_mcall_get_report0 does.
  cpu.mem.write(SCRATCH + 1024, reportData);
  seen.reportStatus = yield* ghci.tdReport(cpu, SCRATCH, SCRATCH + 1024);
  if (seen.reportStatus !== 0n) return;
  const report = new Uint8Array(1024);
  cpu.mem.read(SCRATCH, report);
  seen.tdReport = report;
  // The GetQuote buffer must be shared: convert it with MapGPA (set_memory_decrypted).
  seen.mapGpaStatus = yield* mapGpaRange(cpu, shared + QUOTE_BUFFER, QUOTE_BUFFER_SIZE);
  if (seen.mapGpaStatus !== 0n) return;
  const buf = shared + QUOTE_BUFFER;
  cpu.mem.writeU64(buf, 1n); // version
  cpu.mem.writeU64(buf + 8, 0n); // status
  cpu.mem.writeU32(buf + 16, report.length); // in_len
  cpu.mem.writeU32(buf + 20, 0); // out_len
  cpu.mem.write(buf + 24, report);
  do seen.getQuoteStatus = yield* ghci.getQuote(cpu, buf, QUOTE_BUFFER_SIZE);
  while (seen.getQuoteStatus === TDVMCALL_STATUS_RETRY);
  if (seen.getQuoteStatus !== 0n) return;
  // Wait for the notification, as the Linux driver's wait_for_completion would: halt with
  // interrupts enabled, take the interrupt, then look at the status.
  for (;;) {
    const v = cpu.apic.takeInterrupt();
    if (v >= 0) seen.interrupts.push(v);
    if (cpu.mem.readU64(buf + 8) !== GET_QUOTE_IN_FLIGHT) break;
    yield* ghci.hlt(cpu);
  }
  seen.quoteStatus = cpu.mem.readU64(buf + 8);
  seen.outLen = cpu.mem.readU32(buf + 20);
}

/**
 * Boots a one-vCPU TD on the reference VMM (kvm, plugin-quote with `service`, plugin-fatal) and
 * runs the guest attestation flow ({@link attestationGuest}) in it; the VMM drives the vCPU and,
 * while the guest is halted waiting for its notification (KVM_RUN returns EINTR), lets the quote
 * service work.
 */
export async function runAttestation(options: AttestationOptions): Promise<AttestationResult> {
  const vmm = createVmm({ modules: [kvmModule(), quoteModule, fatalModule, quoteServiceModule(options.service)] });
  options.onPlatform?.((vmm.container.get(HYPERVISOR) as KvmHypervisor).kvm.module);
  const seen = newAttestationSteps();
  const guest = (cpu: GuestCpu): Generator<number, void, void> => attestationGuest(cpu, options.reportData, seen);
  const td = vmm.createTd({ guest: fromGenerator(guest), image: QUOTE_IMAGE, memoryBytes: 4 << 20 });
  const runner = td.runners[0]!;
  const deadline = Date.now() + 60_000;
  while (runner.state !== VcpuRunState.FINISHED) {
    try {
      runner.run(64);
    } catch (err) {
      if (!(SeamkitError.is(err) && err.errno === EINTR)) throw err;
      // Halted: the quote request is in the event loop's hands until it completes.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    if (Date.now() > deadline) throw new CliError('the TD did not finish within 60 s', 1);
  }
  await vmm.container.get(GetQuoteLeaf).drain();
  const quote = new Uint8Array(seen.quoteStatus === 0n ? seen.outLen : 0);
  if (quote.length > 0) td.memory.read(QUOTE_BUFFER + 24, quote);
  return { ...seen, quote, mrtd: td.mrtd };
}

/** Parses --report-data: up to 64 bytes of hex, zero-padded to 64. */
function parseReportData(text: string | undefined): Uint8Array {
  const out = new Uint8Array(64);
  if (text === undefined) return out;
  const h = text.startsWith('0x') || text.startsWith('0X') ? text.slice(2) : text;
  if (h.length === 0 || h.length % 2 !== 0 || h.length > 128 || !/^[0-9a-fA-F]+$/.test(h)) {
    throw new CliError(`--report-data must be 1 to 64 bytes of hex (an even number of hex digits, at most 128), got "${text}"`);
  }
  out.set(Buffer.from(h, 'hex'));
  return out;
}

/** `seamkit quote`: returns the process exit code. */
export async function quoteCommand(argv: readonly string[], o: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      out: { type: 'string' },
      'report-data': { type: 'string' },
      pki: { type: 'string' },
      qgs: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    o.out(QUOTE_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`seamkit quote takes no arguments, got "${positionals.join(' ')}"\n\n${QUOTE_HELP}`);
  if (values.out === undefined || values.out === '') throw new CliError(`seamkit quote needs --out FILE\n\n${QUOTE_HELP}`);
  if (values.pki !== undefined && values.qgs !== undefined) throw new CliError('--pki exports the in-process service\'s PKI; with --qgs, export it from "seamkit qgs --pki DIR"');
  const reportData = parseReportData(values['report-data']);

  let generator: DcapQuoteGenerator | undefined;
  let server: QgsServer | undefined;
  let module: TdxModule | undefined;
  let service: QuoteService;
  if (values.qgs !== undefined) {
    service = new QgsClient(unixSocketTransport(values.qgs));
  } else {
    // The in-process QE runs on the simulated platform: it checks each TDREPORT's MAC.
    generator = await DcapQuoteGenerator.create({ verifyReport: (r) => module?.verifyReportMac(r) === 0n });
    server = new QgsServer((r) => generator!.generate(r));
    service = new QgsClient(inProcessTransport(server));
  }
  let result: AttestationResult;
  try {
    result = await runAttestation({ reportData, service, onPlatform: (m) => { module = m; } });
  } finally {
    await server?.close();
  }

  const ok = result.quoteStatus === 0n && result.quote.length > 0;
  let verified: string | undefined;
  let pkiFiles: string[] = [];
  if (ok) {
    await writeFile(values.out, result.quote);
    if (generator !== undefined) {
      verified = (await verifyDcapQuote(result.quote, generator.pki.collateral(), generator.pki.rootCaDer)).status;
      if (values.pki !== undefined) pkiFiles = await generator.pki.exportTo(values.pki);
    }
  }
  const body = ok ? parseDcapQuote(result.quote).body : undefined;
  // -1: the guest stopped before that step.
  const step = (v: bigint, name: (v: bigint) => string): string => (v < 0n ? 'not reached' : name(v));
  const summary = {
    mrtd: Buffer.from(result.mrtd).toString('hex'),
    reportData: Buffer.from(reportData).toString('hex'),
    setupEventNotifyInterrupt: step(result.notifyStatus, statusName),
    tdgMrReport: step(result.reportStatus, hex),
    mapGpa: step(result.mapGpaStatus, statusName),
    getQuote: step(result.getQuoteStatus, statusName),
    status: step(result.quoteStatus, quoteStatusName),
    interrupts: result.interrupts,
    quoteBytes: result.quote.length,
    out: ok ? values.out : null,
    qgs: values.qgs ?? 'in-process',
    verified: verified ?? null,
    pki: pkiFiles,
  };
  if (values.json) {
    o.out(JSON.stringify(summary));
  } else {
    o.out(paint(o, 'bold', `seamkit quote: TDG.MR.REPORT -> GetQuote -> QGS (${summary.qgs}) -> notify vector ${hex(QUOTE_NOTIFY_VECTOR)}`));
    o.out(`  MRTD           ${summary.mrtd}`);
    o.out(`  REPORTDATA     ${summary.reportData}`);
    o.out(`  GetQuote       R10 ${summary.getQuote}, status ${summary.status}, interrupts taken: ${result.interrupts.map((v) => hex(v)).join(', ') || 'none'}`);
    if (ok) {
      o.out(`  quote          ${result.quote.length} bytes (DCAP v4 TD quote, REPORTDATA ${Buffer.from(body!.reportData).equals(Buffer.from(reportData)) ? 'matches' : 'DIFFERS'}) -> ${values.out}`);
      if (verified !== undefined) o.out(`  verified       with this run's test root CA: TCB status ${verified}`);
      for (const f of pkiFiles) o.out(`  test PKI       ${f}`);
    }
  }
  if (!ok) {
    o.err(`seamkit quote: the guest got no quote: TDG.MR.REPORT ${summary.tdgMrReport}, MapGPA ${summary.mapGpa}, GetQuote R10 ${summary.getQuote}, status ${summary.status}${values.qgs !== undefined ? ` (quote generation service at ${values.qgs})` : ''}`);
    return 1;
  }
  return 0;
}
