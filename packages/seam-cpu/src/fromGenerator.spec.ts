import { describe, expect, it } from 'vitest';
import { fromGenerator } from './fromGenerator.js';
import { GuestCpu } from './GuestCpu.js';
import { GuestMemory } from './GuestMemory.js';
import { PhysicalMemory } from './PhysicalMemory.js';
import { RegisterFile } from './RegisterFile.js';
import { SeamCpu } from './SeamCpu.js';

const R10 = 10, R12 = 12;
const EXIT_REASON_TRIPLE_FAULT = 2, EXIT_REASON_HLT = 12, EXIT_REASON_TDCALL = 77;

function guestCpu(index = 0): GuestCpu {
  return new GuestCpu(new GuestMemory(new PhysicalMemory(), { translate: () => -1 }, 33, 47), index);
}

describe('fromGenerator', () => {
  it('should turn each bare yield into a TDCALL exit and a yielded number into that exit reason', () => {
    const code = fromGenerator(function* () {
      yield;
      yield EXIT_REASON_HLT;
      yield;
    })(guestCpu());
    const cpu = guestCpu();
    expect([code.step(cpu), code.step(cpu), code.step(cpu)]).toEqual([EXIT_REASON_TDCALL, EXIT_REASON_HLT, EXIT_REASON_TDCALL]);
  });

  it('should run the guest body lazily, one TDCALL per step, resuming where it left off', () => {
    const trace: string[] = [];
    const program = fromGenerator(function* (cpu) {
      trace.push(`start vcpu ${cpu.vcpuIndex}`);
      cpu.regs.set(R12, 1n);
      yield;
      trace.push(`resumed with R10=${cpu.regs.get(R10)}`);
      yield;
    });
    const cpu = guestCpu(5);
    const code = program(cpu);
    expect(trace).toEqual([]);
    code.step(cpu);
    expect(trace).toEqual(['start vcpu 5']);
    expect(cpu.regs.get(R12)).toBe(1n);
    cpu.regs.set(R10, 42n); // the VMM's answer
    code.step(cpu);
    expect(trace).toEqual(['start vcpu 5', 'resumed with R10=42']);
  });

  it('should report a triple fault (exit 2) when the generator returns, and forever after', () => {
    let tail = 0;
    let starts = 0;
    const code = fromGenerator(function* () {
      starts++;
      yield;
      tail++;
    })(guestCpu());
    const cpu = guestCpu();
    expect(code.step(cpu)).toBe(EXIT_REASON_TDCALL);
    expect(code.step(cpu)).toBe(EXIT_REASON_TRIPLE_FAULT);
    expect(tail).toBe(1);
    for (let i = 0; i < 3; i++) expect(code.step(cpu)).toBe(EXIT_REASON_TRIPLE_FAULT);
    expect([starts, tail]).toEqual([1, 1]);
  });

  it('should triple fault at once for an empty guest', () => {
    const code = fromGenerator(function* () { /* nothing to run */ })(guestCpu());
    expect(code.step(guestCpu())).toBe(EXIT_REASON_TRIPLE_FAULT);
    expect(code.step(guestCpu())).toBe(EXIT_REASON_TRIPLE_FAULT);
  });

  it('should give every vCPU its own instance of the guest', () => {
    const program = fromGenerator(function* (cpu) {
      for (let i = 0; ; i++) {
        cpu.regs.set(R12, BigInt(i));
        yield;
      }
    });
    const a = guestCpu(0);
    const b = guestCpu(1);
    const ca = program(a);
    const cb = program(b);
    ca.step(a);
    ca.step(a);
    ca.step(a);
    cb.step(b);
    expect([a.regs.get(R12), b.regs.get(R12)]).toEqual([2n, 0n]);
  });

  it('should run inside a TD entered from SEAM root: yields are TDCALL exits, the end a triple fault', () => {
    const cpu = new SeamCpu();
    const guest = guestCpu();
    const code = fromGenerator(function* (g) {
      g.regs.set(R12, BigInt(g.lp!.mode));
      yield;
    })(guest);
    const reasons: number[] = [];
    cpu.loadSeamModule({
      seamcall(lp) {
        reasons.push(lp.tdEnter(guest, code), lp.tdEnter(guest, code), lp.tdEnter(guest, code));
        lp.seamret();
      },
    });
    cpu.lps[0]!.seamcall(new RegisterFile());
    expect(reasons).toEqual([EXIT_REASON_TDCALL, EXIT_REASON_TRIPLE_FAULT, EXIT_REASON_TRIPLE_FAULT]);
    expect(guest.regs.get(R12)).toBe(2n); // CpuMode.SEAM_NONROOT
  });
});
