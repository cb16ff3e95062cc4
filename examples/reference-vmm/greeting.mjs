// A guest module for the reference VMM: `npx seamkit run examples/reference-vmm/greeting.mjs`.
// The guest writes a greeting into a page it never converted with MapGPA: the access through
// the shared mapping faults (KVM_EXIT_MEMORY_FAULT) and the reference VMM converts the page,
// as QEMU does. Then it tells the VMM the greeting's length with an IO port write, which the
// module's own VMM side handles (KVM_EXIT_IO) by reading the page and noting what it found.
import { VcpuEmulation } from '@seamkit/core';
import { KVM_EXIT_IO, KVM_PIO_DATA_OFFSET } from '@seamkit/kvm';
import { ghci } from '@seamkit/tdx-module';

const PAGE = 0x20_0000; // a guest-physical page, private until the guest touches it as shared
const PORT = 0x80;

export const description = 'a greeting through a shared page (implicit conversion) and an IO port';

export function* guest(cpu) {
  const text = new TextEncoder().encode('hello from the TD');
  yield* ghci.memWrite(cpu, PAGE + cpu.mem.sharedBit, text); // faults once, then goes on
  yield* ghci.ioWrite(cpu, PORT, 4, text.length);
}

export function vmm(host) {
  return {
    handlers: {
      [KVM_EXIT_IO]: (ctx) => {
        const length = ctx.run.view.getUint32(KVM_PIO_DATA_OFFSET, true);
        const bytes = new Uint8Array(length);
        ctx.memory.read(PAGE, bytes); // the VMM's view: GPA without the shared bit
        host.note(ctx.vcpuIndex, `the guest says "${new TextDecoder().decode(bytes)}"`, { length });
        return VcpuEmulation.HANDLED;
      },
    },
  };
}
