import { fromGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import type { Scenario } from './Scenario.js';

/** GPA (without the shared bit) of the page with extra panic information. */
export const PANIC_INFO_PAGE = 0x30_0000;

/**
 * A guest that panics as a Linux TD does (tdx_panic): ReportFatalError with error code 0, a
 * message in R14, R15, RBX, RDI, RSI, R8, R9, RDX, and bit 63 set with R13 = the GPA of a shared
 * page holding more information. The VMM decodes it as QEMU does and stops the vCPU.
 */
export const panic: Scenario = {
  name: 'panic',
  description: 'a Linux-style guest panic: ReportFatalError with a message and an info page (QEMU decoding)',
  guest: fromGenerator(function* (cpu) {
    const page = PANIC_INFO_PAGE + cpu.mem.sharedBit;
    yield* ghci.mapGpa(cpu, page, 0x1000);
    cpu.mem.write(page, Buffer.from('Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009\0', 'ascii'));
    yield* ghci.reportFatalError(cpu, 0n, 'Kernel panic - not syncing: Attempted to kill init!', page);
  }),
};
