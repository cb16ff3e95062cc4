import { describe, expect, it } from 'vitest';
import { createVmm, VcpuEmulation, VcpuRunState, type UserExitContext } from '@seamkit/core';
import { fromGenerator, SeamkitError } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { kvmModule } from '../kvmModule.js';
import { KVM_EXIT_IO, KVM_EXIT_MMIO, KVM_EXIT_SHUTDOWN, KVM_EXIT_X86_RDMSR } from '../uapi/exits.js';
import { KVM_CAP_X86_USER_SPACE_MSR, KVM_MSR_EXIT_REASON_FILTER, KVM_MSR_FILTER_DEFAULT_ALLOW, KVM_MSR_FILTER_READ } from '../uapi/x86.js';
import type { Vm } from '../Vm.js';

/**
 * A small VMM on the public API: a serial port and an MMIO register in userspace, one MSR
 * emulated by userspace through the filter, and two vCPUs where vCPU 0 wakes vCPU 1 with an IPI.
 */
describe('a VMM serving the instruction leaves', () => {
  it('should run a two-vCPU TD through IO, MMIO, CPUID, a userspace MSR, HLT and an IPI', () => {
    const serial: string[] = [];
    const log: string[] = [];
    const vmm = createVmm({ modules: [kvmModule()] });
    const td = vmm.createTd({
      vcpus: 2,
      memoryBytes: 1 << 20,
      guest: fromGenerator(function* (cpu) {
        if (cpu.vcpuIndex === 1) {
          yield* ghci.hlt(cpu); // wait for vCPU 0
          const v = cpu.apic.takeInterrupt();
          for (const c of `ap got ${v.toString(16)}\n`) yield* ghci.ioWrite(cpu, 0x3f8, 1, c.charCodeAt(0));
          return;
        }
        const [, eax] = yield* ghci.cpuid(cpu, 0);
        const [, id] = yield* ghci.mmioRead(cpu, cpu.mem.sharedBit + 0xfed0_0000, 4);
        const [, msr] = yield* ghci.rdmsr(cpu, 0x1234_5678);
        for (const c of `bsp ${eax} ${id.toString(16)} ${msr.toString(16)}\n`) yield* ghci.ioWrite(cpu, 0x3f8, 1, c.charCodeAt(0));
        yield* ghci.wrmsr(cpu, 0x830, (1n << 32n) | 0x45n); // IPI vector 0x45 to APIC 1
      }),
      handlers: {
        [KVM_EXIT_IO]: (ctx: UserExitContext) => {
          const r = ctx.run;
          if (r.view.getUint16(34, true) === 0x3f8 && r.bytes[32] === 1) serial.push(String.fromCharCode(r.bytes[r.getU64Number(40)]!));
          return VcpuEmulation.HANDLED;
        },
        [KVM_EXIT_MMIO]: (ctx: UserExitContext) => {
          log.push(`mmio ${ctx.vcpuIndex} 0x${ctx.run.getU64Number(32).toString(16)} ${ctx.run.getU32(48)}`);
          ctx.run.setU64Halves(40, 0xcafe, 0);
          return VcpuEmulation.HANDLED;
        },
        [KVM_EXIT_X86_RDMSR]: (ctx: UserExitContext) => {
          log.push(`rdmsr 0x${ctx.run.getU32(44).toString(16)} reason ${ctx.run.getU32(40)}`);
          ctx.run.setU64Halves(48, 0x77, 0);
          return VcpuEmulation.HANDLED;
        },
        [KVM_EXIT_SHUTDOWN]: () => VcpuEmulation.STOPPED,
      },
    });
    const vm = td.memory as Vm;
    for (const v of vm.vcpus) v.setCpuid2([{ function: 0, index: 0, flags: 0, eax: 0x23, ebx: 0, ecx: 0, edx: 0 }]);
    // Userspace owns MSR 0x12345678 (unknown to KVM): deny it in the filter and ask for FILTER exits.
    vm.setMsrFilter({ flags: KVM_MSR_FILTER_DEFAULT_ALLOW, ranges: [{ flags: KVM_MSR_FILTER_READ, base: 0x1234_5678, nmsrs: 1, bitmap: new Uint8Array(8) }] });
    vm.enableCap(KVM_CAP_X86_USER_SPACE_MSR, [KVM_MSR_EXIT_REASON_FILTER]);

    // Round-robin as a VMM with one thread per vCPU would behave: a halted vCPU pauses (EINTR).
    const states: VcpuRunState[] = [VcpuRunState.PAUSED, VcpuRunState.PAUSED];
    for (let round = 0; round < 10 && states.some((s) => s !== VcpuRunState.FINISHED); round++) {
      td.runners.forEach((runner, i) => {
        if (states[i] === VcpuRunState.FINISHED) return;
        try {
          states[i] = runner.run();
        } catch (err) {
          if (!(SeamkitError.is(err) && err.errno === 4)) throw err;
          states[i] = runner.state;
        }
      });
    }
    expect(states).toEqual([VcpuRunState.FINISHED, VcpuRunState.FINISHED]);
    expect(log).toEqual(['mmio 0 0xfed00000 4', `rdmsr 0x12345678 reason ${KVM_MSR_EXIT_REASON_FILTER}`]);
    expect(serial.join('')).toBe('bsp 35 cafe 77\nap got 45\n');
  });
});
