import { describe, expect, it } from 'vitest';
import { createVmm, VcpuRunState, type VmmEvent } from '@seamkit/core';
import { kvmModule, KVM_EXIT_TDX, KVM_EXIT_SYSTEM_EVENT } from '@seamkit/kvm';
import { quoteModule } from '@seamkit/plugin-quote';
import { fatalModule } from '@seamkit/plugin-fatal';
import { fromGenerator, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';

describe('smoke', () => {
  it('runs GetQuote, an unknown leaf and ReportFatalError', () => {
    const vmm = createVmm({ modules: [kvmModule(), quoteModule, fatalModule] });
    const events: VmmEvent[] = [];
    vmm.on((e) => events.push(e));
    const results: bigint[] = [];
    const td = vmm.createTd({
      sharedMemory: [[0x10000, 0x1000]], // the GetQuote buffer (all RAM starts private)
      guest: fromGenerator(function* (cpu) {
        const shared = 0x10000 + cpu.mem.sharedBit;
        cpu.mem.writeU64(shared, 1n);
        cpu.mem.writeU32(shared + 16, 0);
        results.push(yield* ghci.getQuote(cpu, shared, 4096));
        results.push(cpu.mem.readU64(shared + 8));
        results.push(yield* ghci.tdvmcall(cpu, 0x12345));
        yield* ghci.reportFatalError(cpu, 0n, 'boom');
      }),
    });
    const reasons: number[] = [];
    td.runners[0]!.onUserExit = (_i, r) => reasons.push(r);
    const state = td.runners[0]!.run();
    expect(state).toBe(VcpuRunState.FINISHED);
    expect(reasons).toEqual([KVM_EXIT_TDX, KVM_EXIT_SYSTEM_EVENT]);
    expect(results).toEqual([0n, 0x8000000000000001n, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED]);
    expect(events[0]).toMatchObject({ type: 'guest-panic', message: 'boom' });
  });
});
