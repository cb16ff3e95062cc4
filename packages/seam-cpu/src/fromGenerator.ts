import { EXIT_REASON_TDCALL, EXIT_REASON_TRIPLE_FAULT } from './abi/vmx.js';
import type { GuestCode, GuestGenerator, GuestProgram } from './GuestCode.js';
import type { GuestCpu } from './GuestCpu.js';

/**
 * Turns an ergonomic (generator) guest into a {@link GuestProgram}. Each `yield` is one TDCALL
 * (or, when it yields a number, that VMX exit reason). When the generator returns, the guest has
 * nothing left to execute and every later entry reports a triple fault, which KVM turns into
 * KVM_EXIT_SHUTDOWN.
 */
export function fromGenerator(fn: GuestGenerator): GuestProgram {
  return (cpu: GuestCpu): GuestCode => {
    let it: Generator<number | void, void, void> | undefined;
    let done = false;
    return {
      step(): number {
        if (done) return EXIT_REASON_TRIPLE_FAULT;
        it ??= fn(cpu);
        const r = it.next();
        if (r.done === true) {
          done = true;
          return EXIT_REASON_TRIPLE_FAULT;
        }
        return typeof r.value === 'number' ? r.value : EXIT_REASON_TDCALL;
      },
    };
  };
}
