import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVmm, HYPERVISOR, LeafRegistry, VcpuRunState, type VmmTd } from '@seamkit/core';
import { Kvm, KVM_MP_STATE_RUNNABLE, KVM_X86_TDX_VM, kvmModule, LINUX_EXIT_SHAPES, type KvmHypervisor, type Vm } from '@seamkit/kvm';
import { fromGenerator, R11, SeamkitError, type GuestCpu } from '@seamkit/seam-cpu';
import { ghci, type TdxModule } from '@seamkit/tdx-module';
import { DcapQuoteGenerator } from './dcap/DcapQuoteGenerator.js';
import { parseDcapQuote } from './dcap/parseDcapQuote.js';
import { verifyDcapQuote } from './dcap/verifyDcapQuote.js';
import { EventNotifier } from './EventNotifier.js';
import { GetQuoteLeaf } from './GetQuoteLeaf.js';
import { QgsClient } from './qgs/QgsClient.js';
import { QgsServer } from './qgs/QgsServer.js';
import { inProcessTransport, unixSocketTransport } from './qgs/transport.js';
import { quoteModule, quoteServiceModule } from './quoteModule.js';
import { SetupEventNotifyInterruptLeaf } from './SetupEventNotifyInterruptLeaf.js';

const VECTOR = 0x51;
const BUF = 0x10_0000; // GetQuote buffer (converted to shared with MapGPA), 16 KiB
const SCRATCH = 0x1000; // TDREPORT output and REPORTDATA: private memory (a page of the TD image)
const IMAGE = new Uint8Array(2 * 4096).fill(0x90);

/** MapGPA of [gpa, gpa + size) to shared, retrying from R11 as a Linux guest does. */
function* mapShared(cpu: GuestCpu, gpa: number, size: number): Generator<number, bigint, void> {
  let at = gpa;
  for (;;) {
    const r = yield* ghci.mapGpa(cpu, at, gpa + size - at);
    if (r !== 1n) return r;
    at = Number(cpu.regs.get(R11));
  }
}
/** The shared memory the guests use (the VMM converts it before they run; all RAM starts private). */

/** Result of the guest's attestation flow. */
interface Flow {
  notify?: bigint;
  map?: bigint;
  report?: bigint;
  quote?: bigint;
  status?: bigint;
  outLen?: number;
  interrupts: number[];
  halts: number;
}

/**
 * The attestation flow of a Linux TD guest (drivers/virt/coco/tdx-guest): register the notify
 * vector, TDG.MR.REPORT, copy the TDREPORT after a version-1 header in a shared buffer,
 * GetQuote, then halt until the notification interrupt arrives.
 */
function* attest(cpu: GuestCpu, reportData: Uint8Array, flow: Flow, notify = true, tamper?: (report: Uint8Array) => void): Generator<number, void, void> {
  const shared = cpu.mem.sharedBit;
  if (notify) flow.notify = yield* ghci.setupEventNotifyInterrupt(cpu, VECTOR);
  cpu.mem.write(SCRATCH + 1024, reportData);
  flow.report = yield* ghci.tdReport(cpu, SCRATCH, SCRATCH + 1024);
  const report = new Uint8Array(1024);
  cpu.mem.read(SCRATCH, report);
  tamper?.(report);
  flow.map = yield* mapShared(cpu, shared + BUF, 0x4000);
  const buf = shared + BUF;
  cpu.mem.writeU64(buf, 1n);
  cpu.mem.writeU64(buf + 8, 0n);
  cpu.mem.writeU32(buf + 16, 1024);
  cpu.mem.writeU32(buf + 20, 0);
  cpu.mem.write(buf + 24, report);
  flow.quote = yield* ghci.getQuote(cpu, buf, 0x4000);
  for (;;) {
    const v = cpu.apic.takeInterrupt();
    if (v >= 0) flow.interrupts.push(v);
    if (v === VECTOR || !notify) {
      if (cpu.mem.readU64(buf + 8) !== 0xffff_ffff_ffff_ffffn) break;
    }
    flow.halts++;
    yield* ghci.hlt(cpu);
  }
  flow.status = cpu.mem.readU64(buf + 8);
  flow.outLen = cpu.mem.readU32(buf + 20);
}

/** Drives every vCPU; while all are halted (KVM_RUN -EINTR), lets the event loop run (the QGS). */
async function drive(td: VmmTd, budget = 200): Promise<void> {
  for (let round = 0; round < budget; round++) {
    let live = false;
    for (const r of td.runners) {
      if (r.state === VcpuRunState.FINISHED) continue;
      live = true;
      try {
        r.run(64);
      } catch (err) {
        if (!(SeamkitError.is(err) && err.errno === 4)) throw err;
      }
    }
    if (!live) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error('the TD did not finish');
}

let generator: DcapQuoteGenerator;
beforeAll(async () => {
  generator = await DcapQuoteGenerator.create();
});

const quoteOf = (td: VmmTd, outLen: number): Uint8Array => {
  const q = new Uint8Array(outLen);
  td.memory.read(BUF + 24, q);
  return q;
};

describe('attestation end to end (TDG.MR.REPORT -> GetQuote -> QGS -> DCAP quote -> notify interrupt)', () => {
  it('should give the guest a DCAP quote of its own TDREPORT that verifies with the test root, and wake it with the vector', async () => {
    const server = new QgsServer((r) => generator.generate(r));
    const vmm = createVmm({ modules: [kvmModule(), quoteModule, quoteServiceModule(new QgsClient(inProcessTransport(server)))] });
    const reportData = Uint8Array.from({ length: 64 }, (_, i) => 0x10 + i);
    const flow: Flow = { interrupts: [], halts: 0 };
    const td = vmm.createTd({ memoryBytes: 4 << 20, image: IMAGE, guest: fromGenerator((cpu) => attest(cpu, reportData, flow)) });
    await drive(td);
    expect(flow).toMatchObject({ notify: 0n, report: 0n, map: 0n, quote: 0n, status: 0n, interrupts: [VECTOR] });
    expect(flow.halts).toBeGreaterThanOrEqual(1); // it really waited for the interrupt
    const quote = quoteOf(td, flow.outLen!);
    const v = await verifyDcapQuote(quote, generator.pki.collateral(), generator.pki.rootCaDer);
    expect(v.status).toBe('UpToDate');
    expect(v.quote.body.reportData).toEqual(reportData);
    expect(v.quote.body.mrTd).toEqual(td.mrtd);
    expect(v.quote.body.tdAttributes).toEqual(Uint8Array.of(0, 0, 0, 0x10, 0, 0, 0, 0)); // SEPT_VE_DISABLE, as KVM sets it
    expect(vmm.container.get(EventNotifier).injected).toBe(1);
  });

  it('should quote only TDREPORTs whose MAC the platform verifies, when the QE checks with EVERIFYREPORT2', async () => {
    let module: TdxModule | undefined;
    const qe = await DcapQuoteGenerator.create({ pki: generator.pki, verifyReport: (r) => module!.verifyReportMac(r) === 0n });
    const server = new QgsServer((r) => qe.generate(r));
    const run = async (tamper?: (report: Uint8Array) => void): Promise<Flow> => {
      const vmm = createVmm({ modules: [kvmModule(), quoteModule, quoteServiceModule(new QgsClient(inProcessTransport(server)))] });
      module = (vmm.container.get(HYPERVISOR) as KvmHypervisor).kvm.module;
      const flow: Flow = { interrupts: [], halts: 0 };
      const td = vmm.createTd({ memoryBytes: 4 << 20, image: IMAGE, guest: fromGenerator((cpu) => attest(cpu, new Uint8Array(64), flow, true, tamper)) });
      await drive(td);
      return flow;
    };
    // The genuine report is quoted.
    expect(await run()).toMatchObject({ quote: 0n, status: 0n });
    // A report whose REPORTDATA was changed after TDG.MR.REPORT still has consistent hashes (they
    // do not cover REPORTDATA) but not its MAC: the QE refuses it and the guest reads ERROR.
    expect(await run((r) => { r[128]! ^= 0xff; })).toMatchObject({ quote: 0n, status: 0x8000_0000_0000_0000n });
    expect(qe.generated).toBe(1);
    await server.close();
  });

  it('should deliver the notification to the vCPU that registered it, not to the one that asked for the quote', async () => {
    const server = new QgsServer((r) => generator.generate(r));
    const vmm = createVmm({ modules: [kvmModule(), quoteModule, quoteServiceModule(new QgsClient(inProcessTransport(server)))] });
    const seen: number[][] = [[], []];
    let status = -1n;
    const td = vmm.createTd({
      vcpus: 2,
      memoryBytes: 4 << 20,
      image: IMAGE,
      guest: fromGenerator(function* (cpu) {
        const shared = cpu.mem.sharedBit;
        if (cpu.vcpuIndex === 1) {
          yield* ghci.setupEventNotifyInterrupt(cpu, 0x66);
          for (;;) {
            const v = cpu.apic.takeInterrupt();
            if (v >= 0) seen[1]!.push(v);
            if (v === 0x66) break;
            yield* ghci.hlt(cpu);
          }
          status = cpu.mem.readU64(shared + BUF + 8);
          return;
        }
        cpu.mem.write(SCRATCH + 1024, new Uint8Array(64));
        yield* ghci.tdReport(cpu, SCRATCH, SCRATCH + 1024);
        const report = new Uint8Array(1024);
        cpu.mem.read(SCRATCH, report);
        yield* mapShared(cpu, shared + BUF, 0x4000);
        cpu.mem.writeU64(shared + BUF, 1n);
        cpu.mem.writeU64(shared + BUF + 8, 0n);
        cpu.mem.writeU32(shared + BUF + 16, 1024);
        cpu.mem.writeU32(shared + BUF + 20, 0);
        cpu.mem.write(shared + BUF + 24, report);
        yield* ghci.getQuote(cpu, shared + BUF, 0x4000);
        for (let v = cpu.apic.takeInterrupt(); v >= 0; v = cpu.apic.takeInterrupt()) seen[0]!.push(v);
      }),
    });
    // vCPU 1 registers the vector and halts (KVM_RUN: EINTR) before vCPU 0 asks for a quote.
    expect(() => td.runners[1]!.run()).toThrow(/SEAMKIT_ERR_KVM_INTR/);
    expect(vmm.container.get(SetupEventNotifyInterruptLeaf).notifier.registration(td.memory)).toEqual({ vector: 0x66, apicId: 1 });
    await drive(td);
    expect(seen).toEqual([[], [0x66]]);
    expect(status).toBe(0n);
    expect(vmm.container.get(SetupEventNotifyInterruptLeaf).notifier.registration(td.memory)).toEqual({ vector: 0x66, apicId: 1 });
  });

  it('should let a guest that registered no vector poll the status instead', async () => {
    const server = new QgsServer((r) => generator.generate(r));
    const vmm = createVmm({ modules: [kvmModule(), quoteModule, quoteServiceModule(new QgsClient(inProcessTransport(server)))] });
    const flow: Flow = { interrupts: [], halts: 0 };
    const td = vmm.createTd({ memoryBytes: 4 << 20, image: IMAGE, guest: fromGenerator((cpu) => attest(cpu, new Uint8Array(64), flow, false)) });
    // A polling guest that halts is never woken by an interrupt: the VMM wakes it (mp_state) each round.
    for (let i = 0; i < 100 && td.runners[0]!.state !== VcpuRunState.FINISHED; i++) {
      try {
        td.runners[0]!.run(64);
      } catch (err) {
        if (!(SeamkitError.is(err) && err.errno === 4)) throw err;
        await vmm.container.get(GetQuoteLeaf).drain();
        (td.memory as Vm).vcpus[0]!.setMpState(KVM_MP_STATE_RUNNABLE); // KVM_SET_MP_STATE, as a VMM kicks a halted vCPU
      }
    }
    expect(flow).toMatchObject({ status: 0n, interrupts: [] });
    expect(parseDcapQuote(quoteOf(td, flow.outLen!)).header.version).toBe(4);
  });

  it('should report SetupEventNotifyInterrupt in GetTdVmCallInfo leaf 1 and KVM_TDX_CAPABILITIES only while it is registered', () => {
    for (const [without, bit] of [[[], 2n], [['tdx.setup-event-notify-interrupt'], 0n]] as const) {
      const vmm = createVmm({ modules: [kvmModule(), quoteModule], without: [...without] });
      let info: { status: bigint; r11: bigint } | undefined;
      const td = vmm.createTd({ guest: fromGenerator(function* (cpu) { info = yield* ghci.getTdVmCallInfo(cpu, 1); }) });
      td.runners[0]!.run();
      expect(info).toMatchObject({ status: 0n, r11: bit });
      const registry = new LeafRegistry(LINUX_EXIT_SHAPES);
      for (const p of vmm.registry.plugins()) registry.register(p);
      const vm = new Kvm().createVm(KVM_X86_TDX_VM, { registry });
      expect(vm.tdxCapabilities().userTdvmcallinfo1R11).toBe(bit);
    }
  });

  it('should answer a bad vector in the kernel (INVALID_OPERAND, no exit) and a good one from userspace (SUCCESS)', () => {
    const vmm = createVmm({ modules: [kvmModule(), quoteModule] });
    const got: bigint[] = [];
    const td = vmm.createTd({
      guest: fromGenerator(function* (cpu) {
        got.push(yield* ghci.setupEventNotifyInterrupt(cpu, 31));
        got.push(yield* ghci.setupEventNotifyInterrupt(cpu, 256));
        got.push(yield* ghci.setupEventNotifyInterrupt(cpu, 32));
        got.push(yield* ghci.setupEventNotifyInterrupt(cpu, 255));
      }),
    });
    const reasons: number[] = [];
    td.runners[0]!.onUserExit = (_i, r) => reasons.push(r);
    td.runners[0]!.run();
    expect(got).toEqual([0x8000000000000000n, 0x8000000000000000n, 0n, 0n]);
    expect(reasons).toEqual([40, 40, 8]);
    expect(vmm.container.get(EventNotifier).registration(td.memory)).toEqual({ vector: 255, apicId: 0 });
  });

  describe('with the QGS on a Unix socket', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'seamkit-attest-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('should run the whole flow through the socket', async () => {
      const path = join(dir, 'qgs.sock');
      const server = new QgsServer((r) => generator.generate(r));
      await server.listen(path);
      try {
        const vmm = createVmm({ modules: [kvmModule(), quoteModule, quoteServiceModule(new QgsClient(unixSocketTransport(path)))] });
        const flow: Flow = { interrupts: [], halts: 0 };
        const reportData = new Uint8Array(64).fill(0x5c);
        const td = vmm.createTd({ memoryBytes: 4 << 20, image: IMAGE, guest: fromGenerator((cpu) => attest(cpu, reportData, flow)) });
        await drive(td);
        expect(flow).toMatchObject({ status: 0n, interrupts: [VECTOR] });
        const v = await verifyDcapQuote(quoteOf(td, flow.outLen!), generator.pki.collateral(), generator.pki.rootCaDer);
        expect(v.quote.body.reportData).toEqual(reportData);
      } finally {
        await server.close();
      }
    });

    it('should tell the guest SERVICE_UNAVAILABLE (and still notify it) when the QGS is down', async () => {
      const vmm = createVmm({ modules: [kvmModule(), quoteModule, quoteServiceModule(new QgsClient(unixSocketTransport(join(dir, 'down.sock'))))] });
      const flow: Flow = { interrupts: [], halts: 0 };
      const td = vmm.createTd({ memoryBytes: 4 << 20, image: IMAGE, guest: fromGenerator((cpu) => attest(cpu, new Uint8Array(64), flow)) });
      await drive(td);
      expect(flow).toMatchObject({ quote: 0n, status: 0x8000000000000001n, outLen: 0, interrupts: [VECTOR] });
    });
  });
});
