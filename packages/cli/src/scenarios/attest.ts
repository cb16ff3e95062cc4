import { createHash } from 'node:crypto';
import { ContainerModule } from 'inversify';
import { HYPERVISOR, VcpuEmulation, type UserExitContext, type VmmTd, type Vmm } from '@seamkit/core';
import { KVM_EXIT_IO, type KvmHypervisor } from '@seamkit/kvm';
import {
  DcapQuoteGenerator, GetQuoteLeaf, inProcessTransport, MSI_INJECTOR, MSI_ADDR_DEST_ID_SHIFT, parseDcapQuote, QgsClient, QgsServer,
  quoteServiceModule, verifyDcapQuote, vmMsiInjector, type MsiInjector,
} from '@seamkit/plugin-quote';
import { fromGenerator } from '@seamkit/seam-cpu';
import type { TdxModule } from '@seamkit/tdx-module';
import {
  attestationGuest, newAttestationSteps, QUOTE_BUFFER, QUOTE_IMAGE, QUOTE_NOTIFY_VECTOR, quoteStatusName, type AttestationSteps,
} from '../commands/quoteCommand.js';
import { hex } from '../names.js';
import { bytesHex, portAccess, report, REPORT_FAILED, REPORT_OK, REPORT_PORT } from './protocol.js';
import type { Scenario, ScenarioHost, ScenarioVmm } from './Scenario.js';

/** The REPORTDATA the attest guest asks for: SHA-512("seamkit run attest"), as a nonce or key hash would be. */
export const ATTEST_REPORT_DATA: Uint8Array = new Uint8Array(createHash('sha512').update('seamkit run attest').digest());

/**
 * Bits of the code the attest guest reports after `REPORT_FAILED`, one per step that went wrong:
 * SetupEventNotifyInterrupt, TDG.MR.REPORT, MapGPA, GetQuote (R10), the buffer's final status,
 * no notification interrupt taken.
 */
export const ATTEST_FAILED_STEPS = ['SetupEventNotifyInterrupt', 'TDG.MR.REPORT', 'MapGPA', 'GetQuote', 'quote status', 'notification interrupt'] as const;

/** The guest's own verdict on the flow: 0 when every step went right, else a bit per failed step. */
function failedSteps(seen: AttestationSteps): number {
  const bad = [
    seen.notifyStatus !== 0n, seen.reportStatus !== 0n, seen.mapGpaStatus !== 0n, seen.getQuoteStatus !== 0n,
    seen.quoteStatus !== 0n || seen.outLen === 0, !seen.interrupts.includes(QUOTE_NOTIFY_VECTOR),
  ];
  return bad.reduce((m, b, i) => (b ? m | (1 << i) : m), 0);
}

/**
 * The VMM side of attest: an in-process quote generation service (QGS protocol over an
 * in-process transport, DCAP v4 quotes certified by a test PKI generated for the run), an MSI
 * injector that notes the GetQuote notification, the report-port handler that looks at the quote
 * the guest got, and, at the end, the quote's verification against the run's test root CA.
 */
function attestVmm(host: ScenarioHost): ScenarioVmm {
  // The QE runs on the simulated platform, so it checks each TDREPORT's MAC as a real QE does
  // with EVERIFYREPORT2 (the TDX module of the run's KVM holds the platform's report key).
  let module: TdxModule | undefined;
  const generator = DcapQuoteGenerator.create({ verifyReport: (r) => module?.verifyReportMac(r) === 0n });
  generator.catch(() => undefined); // a failure shows as quote status ERROR in the guest
  const server = new QgsServer(async (r) => (await generator).generate(r));
  let vmm: Vmm | undefined;
  let td: VmmTd | undefined;
  let quote: Uint8Array | undefined;
  const injector: MsiInjector = {
    signalMsi(memory, msi) {
      const apicId = ((msi.addressLo >>> MSI_ADDR_DEST_ID_SHIFT) & 0xff) | (msi.addressHi & 0xffff_ff00);
      host.note(apicId, `GetQuote completed: KVM_SIGNAL_MSI vector ${hex(msi.data & 0xff)} to APIC ID ${apicId} wakes the halted vCPU`, { vector: msi.data & 0xff, apicId });
      vmMsiInjector.signalMsi(memory, msi);
    },
  };
  const onReport = (ctx: UserExitContext): number => {
    const { port, value } = portAccess(ctx.run);
    const vcpu = ctx.vcpuIndex;
    if (port !== REPORT_PORT) {
      host.fail(vcpu, `unexpected IO port ${hex(port)}`);
      return VcpuEmulation.HANDLED;
    }
    if (value !== REPORT_OK) {
      const steps = ATTEST_FAILED_STEPS.filter((_, i) => (value & (1 << i)) !== 0);
      host.fail(vcpu, `guest reports ${hex(value)}: the attestation flow failed at ${steps.join(', ') || 'an unknown step'}`, { code: hex(value) });
      return VcpuEmulation.HANDLED;
    }
    // The guest checked its buffer; the VMM reads the same shared memory.
    const header = new Uint8Array(24);
    ctx.memory.read(QUOTE_BUFFER, header);
    const view = new DataView(header.buffer);
    const status = view.getBigUint64(8, true);
    const outLen = view.getUint32(20, true);
    const bytes = new Uint8Array(outLen);
    ctx.memory.read(QUOTE_BUFFER + 24, bytes);
    quote = bytes;
    const parsed = parseDcapQuote(bytes);
    const mrtd = bytesHex(parsed.body.mrTd);
    const reportData = bytesHex(parsed.body.reportData);
    host.note(vcpu, `guest reports its GetQuote buffer holds status ${quoteStatusName(status)}: quote ${outLen} bytes (DCAP v${parsed.header.version} TD quote)`, { status: quoteStatusName(status), quoteBytes: outLen });
    const mrtdOk = td !== undefined && mrtd === bytesHex(td.mrtd);
    const rdOk = reportData === bytesHex(ATTEST_REPORT_DATA);
    if (mrtdOk) host.note(vcpu, `quote MRTD ${mrtd} (the TD's own)`, { mrtd });
    else host.fail(vcpu, `quote MRTD ${mrtd} is not the TD's`, { mrtd });
    if (rdOk) host.note(vcpu, `quote REPORTDATA ${reportData} (what the guest asked for)`, { reportData });
    else host.fail(vcpu, `quote REPORTDATA ${reportData} is not what the guest asked for`, { reportData });
    return VcpuEmulation.HANDLED;
  };
  return {
    modules: [
      quoteServiceModule(new QgsClient(inProcessTransport(server))),
      new ContainerModule(({ bind }) => {
        bind(MSI_INJECTOR).toConstantValue(injector);
      }),
    ],
    handlers: { [KVM_EXIT_IO]: onReport },
    setup(run) {
      vmm = run.vmm;
      td = run.td;
      module = (run.vmm.container.get(HYPERVISOR) as KvmHypervisor).kvm.module;
    },
    async idle() {
      const c = vmm?.container;
      if (c === undefined || !c.isBound(GetQuoteLeaf)) return false;
      const leaf = c.get(GetQuoteLeaf);
      if (leaf.inFlight === 0) return false;
      await leaf.drain();
      return true;
    },
    async finish() {
      try {
        if (quote === undefined) return;
        const g = await generator;
        const v = await verifyDcapQuote(quote, g.pki.collateral(), g.pki.rootCaDer);
        host.note(-1, `the quote verifies with this run's test root CA (not Intel's): TCB status ${v.status}`, { verified: v.status });
      } catch (err) {
        host.fail(-1, `the quote does not verify: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        await server.close();
      }
    },
  };
}

/**
 * Remote attestation in the guest, the flow of `seamkit quote` (a Linux TD guest's, see
 * `attestationGuest`): SetupEventNotifyInterrupt(0x51), TDG.MR.REPORT with REPORTDATA
 * {@link ATTEST_REPORT_DATA}, MapGPA of the GetQuote buffer to shared, GetQuote, then HLT with
 * interrupts enabled until the GetQuote completion's MSI wakes the vCPU. The guest checks that
 * the buffer's status is SUCCESS and reports on IO port 0x31 (`REPORT_OK`, or `REPORT_FAILED` |
 * a bit per failed step); the VMM notes the quote's size, MRTD and REPORTDATA and verifies it.
 * The quote comes from an in-process quote generation service with a test PKI.
 */
export const attest: Scenario = {
  name: 'attest',
  description: 'TDG.MR.REPORT, GetQuote to an in-process QGS, HLT until the notify MSI, check the quote',
  image: QUOTE_IMAGE,
  async: true,
  vmm: attestVmm,
  guest: fromGenerator(function* (cpu) {
    const seen = newAttestationSteps();
    yield* attestationGuest(cpu, ATTEST_REPORT_DATA, seen);
    const failed = failedSteps(seen);
    yield* report(cpu, failed === 0 ? REPORT_OK : (REPORT_FAILED | failed) >>> 0);
  }),
};
