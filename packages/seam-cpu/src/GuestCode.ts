import type { GuestCpu } from './GuestCpu.js';

/**
 * Step-form guest code: the CPU calls {@link GuestCode.step} each time the vCPU is entered (or
 * resumed after a TDCALL). The guest reads results of its previous TDCALL from `cpu.regs`, does
 * its work, sets up the registers of its next TDCALL and returns `cpu.tdcall()`.
 *
 * Returning any other VMX exit reason is allowed for the exits a guest can cause itself; the
 * usual one is `EXIT_REASON_TRIPLE_FAULT` when the guest has nothing left to run.
 *
 * A step must not allocate if the guest is to run at full speed.
 */
export interface GuestCode {
  /** Runs the guest until its next TDCALL (or other exit); returns the VMX exit reason. */
  step(cpu: GuestCpu): number;
}

/**
 * A guest program: instantiated once per vCPU, at that vCPU's first entry, with the vCPU it
 * runs on. Both guest forms produce one: write a step-form factory directly, or wrap a
 * generator function with {@link fromGenerator}.
 */
export type GuestProgram = (cpu: GuestCpu) => GuestCode;

/**
 * The ergonomic guest form: a generator function written as ordinary sequential code that
 * `yield`s at each TDCALL after setting its registers (the GHCI helpers in @seamkit/tdx-module
 * do this for you: `const status = yield* ghci.getQuote(cpu, gpa, size)`).
 */
export type GuestGenerator = (cpu: GuestCpu) => Generator<number | void, void, void>;
