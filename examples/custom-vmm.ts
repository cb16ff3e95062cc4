// A custom VMM in ~20 lines: kvm's defaults + GetQuote + ReportFatalError, one TD, one run loop.
import { createVmm, type GuestPanicEvent } from '@seamkit/core';
import { kvmModule } from '@seamkit/kvm';
import { fatalModule } from '@seamkit/plugin-fatal';
import { quoteModule } from '@seamkit/plugin-quote';
import { fromGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';

export function runCustomVmm(): { status: bigint; panic: GuestPanicEvent | undefined } {
  const vmm = createVmm({ modules: [kvmModule(), quoteModule, fatalModule] });
  let panic: GuestPanicEvent | undefined;
  vmm.on((e) => { if (e.type === 'guest-panic') panic = e; });
  let status = -1n;
  const td = vmm.createTd({
    guest: fromGenerator(function* (cpu) {
      status = yield* ghci.tdvmcall(cpu, 0x1_2345); // nobody registered it: answered in the kernel
      yield* ghci.reportFatalError(cpu, 0n, 'hello from the TD');
    }),
  });
  td.runners[0]!.run(); // runs until the guest panics
  return { status, panic };
}
