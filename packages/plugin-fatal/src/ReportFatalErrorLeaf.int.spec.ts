import { describe, expect, it } from 'vitest';
import { createVmm, VcpuRunState, type VmmEvent } from '@seamkit/core';
import { KVM_EXIT_SYSTEM_EVENT, kvmModule } from '@seamkit/kvm';
import { fromGenerator, R10, RBP, RSP } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { fatalModule } from './fatalModule.js';
import type { TdxGuestPanicEvent } from './ReportFatalErrorLeaf.js';

describe('ReportFatalError end to end', () => {
  it('should dump the registers as the v8 selftest expects, stop the VMM, and resume the guest with R10 = 0 on re-entry', () => {
    const vmm = createVmm({ modules: [kvmModule(), fatalModule] });
    const events: VmmEvent[] = [];
    vmm.on((e) => events.push(e));
    const seen: bigint[] = [];
    const td = vmm.createTd({
      guest: fromGenerator(function* (cpu) {
        cpu.regs.set(RSP, 0x7ff0n);
        cpu.regs.set(RBP, 0x7ff8n);
        seen.push(yield* ghci.reportFatalError(cpu, 0x0baaaaad00000000n));
        seen.push(cpu.regs.get(R10));
        const info = yield* ghci.getTdVmCallInfo(cpu, 0);
        seen.push(info.status);
      }),
    });
    let data: bigint[] = [];
    const runner = td.runners[0]!;
    runner.onUserExit = (_i, reason, ctx) => {
      if (reason !== KVM_EXIT_SYSTEM_EVENT) return;
      expect([ctx.run.getU32(32), ctx.run.getU32(36)]).toEqual([7, 16]);
      data = Array.from({ length: 16 }, (_, i) => ctx.run.getU64(40 + 8 * i));
    };
    expect(runner.run()).toBe(VcpuRunState.FINISHED);
    expect(data[0]).toBe(77n); // the TDH.VP.ENTER return, not guest RAX
    expect(data[1]).toBe(0xffccn); // RCX: the guest's exposure bitmap
    expect([data[4], data[5]]).toEqual([0n, 0n]); // RSP, RBP slots
    expect(data[11]).toBe(0x10003n);
    expect(data[12]).toBe(0x0baaaaad00000000n);
    expect(data[13]).toBe(0n);
    expect(events).toEqual([{ type: 'guest-panic', vcpuIndex: 0, errorCode: 0, rawErrorCode: 0x0baaaaad00000000n, message: '', log: 'TDX guest reports fatal error. error code: 0x0 error message:""' }]);
    expect(seen).toEqual([]);

    // The runner is finished, but the vCPU itself can be re-entered: the guest continues after its TDCALL.
    expect(td.vcpus[0]!.run()).toBe(8);
    expect(seen).toEqual([0n, 0n, 0n]);
  });

  it('should carry a 64-byte message and a GPA from the guest helper to the panic event', () => {
    const vmm = createVmm({ modules: [kvmModule(), fatalModule] });
    const events: VmmEvent[] = [];
    vmm.on((e) => events.push(e));
    const message = 'x'.repeat(60) + 'END!' + 'dropped after 64 bytes';
    const td = vmm.createTd({ guest: fromGenerator(function* (cpu) { yield* ghci.reportFatalError(cpu, 0x00ab_0000n, message, 0x3000); }) });
    td.runners[0]!.run();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'guest-panic', errorCode: 0xab0000, message: 'x'.repeat(60) + 'END!', gpa: 0x3000 });
  });

  it('should read the extra-information page the guest wrote into shared memory (GPA with the shared bit)', () => {
    const vmm = createVmm({ modules: [kvmModule(), fatalModule] });
    const events: VmmEvent[] = [];
    vmm.on((e) => events.push(e));
    const td = vmm.createTd({
      gpaw: 52,
      memoryBytes: 1 << 20,
      sharedMemory: [[0x8000, 0x1000]],
      guest: fromGenerator(function* (cpu) {
        const page = cpu.mem.sharedBit + 0x8000;
        cpu.mem.write(page, Buffer.from('stack trace:\n  at boot (init.c:42)\0', 'latin1'));
        yield* ghci.reportFatalError(cpu, 0x0001_0000n, 'see page', page);
      }),
    });
    td.runners[0]!.run();
    const e = events[0] as TdxGuestPanicEvent;
    expect(e).toMatchObject({ type: 'guest-panic', errorCode: 0x10000, message: 'see page', gpa: 2 ** 51 + 0x8000 });
    expect(Buffer.from(e.info!).toString('latin1')).toBe('stack trace:\n  at boot (init.c:42)');
    expect(e.log.split('\n')[1]).toBe('Additional error information can be found at gpa page: 0x8000000008000');
  });

  it('should not stop on a fatal error from a VMM without the plugin: the guest gets SUBFUNC_UNSUPPORTED', () => {
    const vmm = createVmm({ modules: [kvmModule(), fatalModule], without: ['tdx.report-fatal-error'] });
    const seen: bigint[] = [];
    const td = vmm.createTd({ guest: fromGenerator(function* (cpu) { seen.push(yield* ghci.reportFatalError(cpu, 0n, 'boom')); }) });
    const reasons: number[] = [];
    td.runners[0]!.onUserExit = (_i, r) => reasons.push(r);
    td.runners[0]!.run();
    expect(reasons).toEqual([8]);
    expect(seen).toEqual([0x8000000000000003n]);
  });
});
