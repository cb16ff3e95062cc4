// One guest, written twice: the ergonomic form (a generator, one `yield*` per TDCALL) and the
// step form (the CPU calls step(); the guest sets up its next TDCALL and returns; no allocation).
import { EXIT_REASON_TRIPLE_FAULT, fromGenerator, R10, R12, TDVMCALL_GET_TD_VM_CALL_INFO, type GuestCpu, type GuestProgram } from '@seamkit/seam-cpu';
import { ghci, prepareTdvmcall } from '@seamkit/tdx-module';

/** Ergonomic: ask GetTdVmCallInfo(0) `times` times and store each status in shared memory. */
export function ergonomicGuest(times: number, out: number): GuestProgram {
  return fromGenerator(function* (cpu) {
    for (let i = 0; i < times; i++) {
      const info = yield* ghci.getTdVmCallInfo(cpu, 0);
      cpu.mem.writeU64(out + cpu.mem.sharedBit + 8 * i, info.status);
    }
  });
}

/** Step form: the same guest as a small state machine. */
export function stepGuest(times: number, out: number): GuestProgram {
  return (_cpu: GuestCpu) => {
    let i = -1;
    return {
      step(c: GuestCpu): number {
        if (i >= 0) c.mem.writeU64(out + c.mem.sharedBit + 8 * i, c.regs.get(R10)); // result of the previous TDCALL
        if (++i >= times) return EXIT_REASON_TRIPLE_FAULT; // nothing left to run
        c.regs.setHalves(R12, 0, 0);
        return prepareTdvmcall(c.regs, TDVMCALL_GET_TD_VM_CALL_INFO);
      },
    };
  };
}
