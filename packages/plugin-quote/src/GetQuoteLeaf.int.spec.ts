import { describe, expect, it } from 'vitest';
import { ContainerModule } from 'inversify';
import { createVmm, LeafRegistry, VcpuRunState } from '@seamkit/core';
import { Kvm, KVM_MEM_GUEST_MEMFD, KVM_X86_TDX_VM, kvmModule, LINUX_EXIT_SHAPES } from '@seamkit/kvm';
import { fromGenerator, type GuestCpu } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { GetQuoteLeaf } from './GetQuoteLeaf.js';
import { quoteModule } from './quoteModule.js';
import { QUOTE_SERVICE, type QuoteService } from './QuoteService.js';

const BUF = 0x6000;
/** The shared memory the guests use (the VMM converts it before they run; all RAM starts private). */
const SHARED = [[BUF, 0x4000]] as const;

/** The guest side of GetQuote as the Linux tdx-guest driver does it: header, then the request. */
function* requestQuote(cpu: GuestCpu, size = 0x2000): Generator<number, bigint, void> {
  const buf = cpu.mem.sharedBit + BUF;
  cpu.mem.writeU64(buf, 1n);
  cpu.mem.writeU64(buf + 8, 0n);
  cpu.mem.writeU32(buf + 16, 32);
  cpu.mem.writeU32(buf + 20, 0);
  for (let i = 0; i < 8; i++) cpu.mem.writeU32(buf + 24 + 4 * i, 0xa0a0a0a0 + i);
  return yield* ghci.getQuote(cpu, buf, size);
}

const withService = (service: QuoteService): ContainerModule =>
  new ContainerModule(({ bind }) => {
    bind(QUOTE_SERVICE).toConstantValue(service);
  });

describe('GetQuote end to end', () => {
  it('should deliver the quote into the guest buffer of a GPAW-52 TD (shared bit 51 stripped for userspace)', async () => {
    const reports: Uint8Array[] = [];
    const vmm = createVmm({
      modules: [kvmModule(), quoteModule, withService({ getQuote: async (r) => { reports.push(r); return Uint8Array.of(9, 8, 7, 6, 5); } })],
    });
    const seen: bigint[] = [];
    const td = vmm.createTd({
      sharedMemory: SHARED,
      gpaw: 52,
      memoryBytes: 1 << 20,
      guest: fromGenerator(function* (cpu) {
        seen.push(BigInt(cpu.mem.sharedBit));
        seen.push(yield* requestQuote(cpu));
        // run(1) paused right after the GetQuote exit and the VMM awaited the quote before re-entry.
        seen.push(cpu.mem.readU64(cpu.mem.sharedBit + BUF + 8));
        seen.push(BigInt(cpu.mem.readU32(cpu.mem.sharedBit + BUF + 20)));
        seen.push(BigInt(cpu.mem.readU32(cpu.mem.sharedBit + BUF + 24)));
      }),
    });
    const gpas: bigint[] = [];
    const runner = td.runners[0]!;
    runner.onUserExit = (_i, reason, ctx) => {
      if (reason === 40) gpas.push(ctx.run.getU64(56));
    };
    expect(runner.run(1)).toBe(VcpuRunState.PAUSED);
    const buf = new Uint8Array(8);
    td.memory.read(BUF + 8, buf);
    expect(new DataView(buf.buffer).getBigUint64(0, true)).toBe(0xffffffffffffffffn); // IN_FLIGHT while queued
    await vmm.container.get(GetQuoteLeaf).drain();
    expect(runner.run()).toBe(VcpuRunState.FINISHED);
    expect(gpas).toEqual([BigInt(BUF)]);
    expect(reports).toHaveLength(1);
    expect([...new Uint32Array(reports[0]!.slice().buffer)]).toEqual(Array.from({ length: 8 }, (_, i) => 0xa0a0a0a0 + i));
    expect(seen).toEqual([2n ** 51n, 0n, 0n, 5n, 0x06070809n]);
    const quote = new Uint8Array(5);
    td.memory.read(BUF + 24, quote);
    expect([...quote]).toEqual([9, 8, 7, 6, 5]);
  });

  it('should let the guest see ERROR when the quote service fails', async () => {
    const vmm = createVmm({ modules: [kvmModule(), quoteModule, withService({ getQuote: () => Promise.reject(new Error('QGS')) })] });
    const seen: bigint[] = [];
    const td = vmm.createTd({
      sharedMemory: SHARED,
      guest: fromGenerator(function* (cpu) {
        seen.push(yield* requestQuote(cpu));
        seen.push(cpu.mem.readU64(cpu.mem.sharedBit + BUF + 8));
        seen.push(BigInt(cpu.mem.readU32(cpu.mem.sharedBit + BUF + 20)));
      }),
    });
    td.runners[0]!.run(1);
    await vmm.container.get(GetQuoteLeaf).drain();
    td.runners[0]!.run();
    expect(seen).toEqual([0n, 0x8000000000000000n, 0n]);
  });

  it('should give the guest QEMU\'s statuses with no quote service: INVALID_OPERAND, ALIGN_ERROR, then SERVICE_UNAVAILABLE', () => {
    const vmm = createVmm({ modules: [kvmModule(), quoteModule] });
    const seen: bigint[] = [];
    const td = vmm.createTd({
      sharedMemory: SHARED,
      guest: fromGenerator(function* (cpu) {
        const buf = cpu.mem.sharedBit + BUF;
        seen.push(yield* requestQuote(cpu, 0));
        seen.push(yield* ghci.getQuote(cpu, buf + 8, 0x1000));
        seen.push(yield* ghci.getQuote(cpu, BUF, 0x1000)); // private: answered in the kernel
        seen.push(yield* requestQuote(cpu, 0x1000));
        seen.push(cpu.mem.readU64(buf + 8));
      }),
    });
    const reasons: number[] = [];
    td.runners[0]!.onUserExit = (_i, r) => reasons.push(r);
    expect(td.runners[0]!.run()).toBe(VcpuRunState.FINISHED);
    expect(seen).toEqual([0x8000000000000000n, 0x8000000000000002n, 0x8000000000000000n, 0n, 0x8000000000000001n]);
    expect(reasons).toEqual([40, 40, 40, 8]); // three GetQuote exits, then the guest ends
  });

  it('should give SUBFUNC_UNSUPPORTED to a guest whose VMM ignores the exit (ret is preset)', () => {
    const registry = new LeafRegistry(LINUX_EXIT_SHAPES);
    registry.register(new GetQuoteLeaf());
    registry.freeze();
    const vm = new Kvm().createVm(KVM_X86_TDX_VM, { registry });
    vm.setUserMemoryRegion2({ slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0, memorySize: 1 << 20 });
    vm.tdxInitVm();
    const seen: bigint[] = [];
    vm.setGuestProgram(fromGenerator(function* (cpu) {
      seen.push(yield* requestQuote(cpu));
      seen.push(cpu.mem.readU64(cpu.mem.sharedBit + BUF + 8));
    }));
    const v = vm.createVcpu(0);
    v.tdxInitVcpu();
    vm.tdxFinalizeVm();
    expect(v.run()).toBe(40);
    expect(v.kvmRun.tdxNr).toBe(0x10002);
    expect(v.run()).toBe(8);
    expect(seen).toEqual([0x8000000000000003n, 0n]);
  });
});
