import { VcpuEmulation, type UserExitContext } from '@seamkit/core';
import { KVM_EXIT_IO, KVM_EXIT_MMIO, KVM_PIO_BUS, type KvmIoDevice } from '@seamkit/kvm';
import { fromGenerator } from '@seamkit/seam-cpu';
import { TDVMCALL_STATUS_INVALID_OPERAND } from '@seamkit/seam-cpu/abi';
import { ghci } from '@seamkit/tdx-module';
import { hex } from '../names.js';
import { answerIn, answerMmioRead, kvmVmOf, mmioAccess, portAccess, report, REPORT_FAILED, REPORT_OK, REPORT_PORT } from './protocol.js';
import type { Scenario, ScenarioHost, ScenarioVmm } from './Scenario.js';

/** The UART of io-mmio: the guest writes its output to THR (0x3f8) and reads LSR (0x3fd). */
export const IO_MMIO_UART = 0x3f8;
/** What the VMM's UART answers for LSR: THR empty and transmitter idle. */
export const IO_MMIO_UART_LSR = 0x60;
/** The CMOS index/data ports (0x70, 0x71) of the in-kernel device io-mmio registers on KVM_PIO_BUS. */
export const IO_MMIO_CMOS = 0x70;
/** The CMOS register the guest reads (the RTC century) and the value the in-kernel device holds. */
export const IO_MMIO_CMOS_CENTURY: readonly [index: number, value: number] = [0x32, 0x20];
/** GPA (no shared bit) of the io-mmio MMIO device: ID register at +0 (4 bytes), scratch register at +8 (8 bytes). */
export const IO_MMIO_DEVICE = 0xd000_0000;
/** What the MMIO device's ID register reads ("SKDV"). */
export const IO_MMIO_DEVICE_ID = 0x5644_4b53;
/** What the guest writes to the scratch register and reads back. */
export const IO_MMIO_SCRATCH = 0x1122_3344_5566_7788n;

/**
 * The VMM side of io-mmio: handlers for KVM_EXIT_IO (the UART and the report port) and
 * KVM_EXIT_MMIO (the device), and an in-kernel CMOS device registered on the VM's PIO bus through
 * the public kvm API (`Vm.registerIoDevice`, KVM's kvm_io_bus), so its accesses never exit.
 */
function ioMmioVmm(host: ScenarioHost): ScenarioVmm {
  let serial = '';
  let scratch = 0n;
  let cmosIndex = 0;
  const cmos = new Map<number, number>([IO_MMIO_CMOS_CENTURY]);
  const cmosDevice: KvmIoDevice = {
    write(addr, len, data) {
      if (addr !== IO_MMIO_CMOS || len !== 1) return false;
      cmosIndex = data[0]! & 0x7f;
      return true;
    },
    read(addr, len, data) {
      if (addr !== IO_MMIO_CMOS + 1 || len !== 1) return false;
      data[0] = cmos.get(cmosIndex) ?? 0;
      return true;
    },
  };
  const io = (ctx: UserExitContext): number => {
    const a = portAccess(ctx.run);
    const vcpu = ctx.vcpuIndex;
    if (a.port === IO_MMIO_UART && a.out) {
      serial += String.fromCharCode(a.value & 0xff);
    } else if (a.port === IO_MMIO_UART + 5 && !a.out) {
      answerIn(ctx.run, a.size, IO_MMIO_UART_LSR);
      host.note(vcpu, `UART LSR read: the VMM answers ${hex(IO_MMIO_UART_LSR)} (THR empty, transmitter idle)`, { port: hex(a.port), value: hex(IO_MMIO_UART_LSR) });
    } else if (a.port === REPORT_PORT && a.out) {
      host.note(vcpu, `UART output so far: ${JSON.stringify(serial)}`, { serial });
      if (a.value === REPORT_OK) host.note(vcpu, 'guest reports: every value it read back is what the devices answered, and both bad sizes got INVALID_OPERAND');
      else host.fail(vcpu, `guest reports ${hex(a.value)}: failed checks ${hex(a.value & 0xffff)}`, { code: hex(a.value) });
    } else {
      // No device: a read gets all ones, as from an empty ISA bus.
      if (!a.out) answerIn(ctx.run, a.size, 0xffff_ffff);
      host.fail(vcpu, `${a.out ? 'OUT to' : 'IN from'} port ${hex(a.port)}: no device there`);
    }
    return VcpuEmulation.HANDLED;
  };
  const mmio = (ctx: UserExitContext): number => {
    const a = mmioAccess(ctx.run);
    const vcpu = ctx.vcpuIndex;
    const reg = a.gpa - IO_MMIO_DEVICE;
    if (reg === 0 && !a.write && a.len === 4) {
      answerMmioRead(ctx.run, 4, BigInt(IO_MMIO_DEVICE_ID));
      host.note(vcpu, `MMIO device ID register read: the VMM answers ${hex(IO_MMIO_DEVICE_ID)}`, { gpa: hex(a.gpa), value: hex(IO_MMIO_DEVICE_ID) });
    } else if (reg === 8 && a.write) {
      scratch = a.value;
      host.note(vcpu, `MMIO scratch register write: the VMM stores ${hex(a.value)}`, { gpa: hex(a.gpa), value: hex(a.value) });
    } else if (reg === 8 && !a.write) {
      answerMmioRead(ctx.run, a.len, scratch);
      host.note(vcpu, `MMIO scratch register read: the VMM answers ${hex(scratch)}`, { gpa: hex(a.gpa), value: hex(scratch) });
    } else {
      if (!a.write) answerMmioRead(ctx.run, a.len, (1n << BigInt(8 * a.len)) - 1n);
      host.fail(vcpu, `MMIO ${a.write ? 'write' : 'read'} of ${a.len} bytes at ${hex(a.gpa)}: no register there`);
    }
    return VcpuEmulation.HANDLED;
  };
  return {
    handlers: { [KVM_EXIT_IO]: io, [KVM_EXIT_MMIO]: mmio },
    setup({ td }) {
      const vm = kvmVmOf(td.memory);
      if (vm === undefined) {
        host.note(-1, 'no in-kernel devices on this hypervisor: CMOS accesses exit to userspace');
        return;
      }
      vm.registerIoDevice(KVM_PIO_BUS, IO_MMIO_CMOS, 2, cmosDevice);
      host.note(-1, `in-kernel CMOS device on KVM_PIO_BUS at ports ${hex(IO_MMIO_CMOS)}..${hex(IO_MMIO_CMOS + 1)} (Vm.registerIoDevice)`);
    },
  };
}

/**
 * Port and MMIO I/O through the GHCI: Instruction.IO writes to a UART (KVM_EXIT_IO, VMM handler)
 * and a read of its LSR, a CMOS read from an in-kernel device on the VM's PIO bus (answered in the
 * kernel model, no exit), #VE.RequestMMIO reads and writes of a VMM device (KVM_EXIT_MMIO), and an
 * IO and an MMIO access with a bad size (3), which KVM answers with INVALID_OPERAND without an
 * exit. The guest checks every value it got back and reports on IO port 0x31.
 */
export const ioMmio: Scenario = {
  name: 'io-mmio',
  description: 'IO and MMIO answered by VMM handlers and an in-kernel device; bad sizes: INVALID_OPERAND',
  vmm: ioMmioVmm,
  guest: fromGenerator(function* (cpu) {
    const mmio = IO_MMIO_DEVICE + cpu.mem.sharedBit;
    const checks: boolean[] = [];
    for (const c of 'OK\n') checks.push((yield* ghci.ioWrite(cpu, IO_MMIO_UART, 1, c.charCodeAt(0))) === 0n);
    const [lsrStatus, lsr] = yield* ghci.ioRead(cpu, IO_MMIO_UART + 5, 1);
    checks.push(lsrStatus === 0n && lsr === BigInt(IO_MMIO_UART_LSR));
    checks.push((yield* ghci.ioWrite(cpu, IO_MMIO_CMOS, 1, IO_MMIO_CMOS_CENTURY[0])) === 0n);
    const [cmosStatus, century] = yield* ghci.ioRead(cpu, IO_MMIO_CMOS + 1, 1);
    checks.push(cmosStatus === 0n && century === BigInt(IO_MMIO_CMOS_CENTURY[1]));
    const [idStatus, id] = yield* ghci.mmioRead(cpu, mmio, 4);
    checks.push(idStatus === 0n && id === BigInt(IO_MMIO_DEVICE_ID));
    checks.push((yield* ghci.mmioWrite(cpu, mmio + 8, 8, IO_MMIO_SCRATCH)) === 0n);
    const [scratchStatus, scratch] = yield* ghci.mmioRead(cpu, mmio + 8, 8);
    checks.push(scratchStatus === 0n && scratch === IO_MMIO_SCRATCH);
    checks.push((yield* ghci.ioWrite(cpu, IO_MMIO_UART, 3, 0x21)) === TDVMCALL_STATUS_INVALID_OPERAND);
    checks.push((yield* ghci.mmioRead(cpu, mmio, 3))[0] === TDVMCALL_STATUS_INVALID_OPERAND);
    const failed = checks.reduce((m, ok, i) => (ok ? m : m | (1 << i)), 0);
    yield* report(cpu, failed === 0 ? REPORT_OK : (REPORT_FAILED | failed) >>> 0);
  }),
};
