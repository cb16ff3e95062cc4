import { describe, expect, it } from 'vitest';
import { createVmm, VcpuEmulation, VcpuRunState, type UserExitContext } from '@seamkit/core';
import { LeafTestBed } from '@seamkit/core/testing';
import { fromGenerator, R10, R11, type GuestGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { KVM_PIO_BUS, type KvmIoDevice } from '../devices/IoBus.js';
import { kvmModule } from '../kvmModule.js';
import { KVM_RUN_MMAP_SIZE } from '../KvmRun.js';
import { KVM_EXIT_IO, KVM_EXIT_SHUTDOWN } from '../uapi/exits.js';
import { KVM_RUN_SIZE } from '../uapi/index.js';
import type { Vm } from '../Vm.js';
import { IoLeaf, KVM_PIO_DATA_OFFSET } from './IoLeaf.js';

const INVALID_OPERAND = 0x8000000000000000n;

function boot(fn: GuestGenerator): { vm: Vm; run: () => number; bytes: Uint8Array } {
  const vmm = createVmm({ modules: [kvmModule()] });
  const td = vmm.createTd({ guest: fromGenerator(fn), memoryBytes: 1 << 20 });
  const vm = td.memory as Vm;
  return { vm, run: () => td.vcpus[0]!.run(), bytes: vm.vcpus[0]!.kvmRun.bytes };
}

/** kvm_run io.* (bytes 32..47) as [direction, size, port, count, data_offset]. */
function io(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer);
  return [v.getUint8(32), v.getUint8(33), v.getUint16(34, true), v.getUint32(36, true), Number(v.getBigUint64(40, true))];
}

describe('IoLeaf (TDVMCALL<Instruction.IO>, 30)', () => {
  it('should map kvm_run in two pages with the PIO data at 4096 (struct kvm_run stays 2352 bytes)', () => {
    const { bytes } = boot(function* () { /* nothing */ });
    expect(bytes.length).toBe(KVM_RUN_MMAP_SIZE);
    expect(KVM_RUN_MMAP_SIZE).toBe(8192);
    expect(KVM_PIO_DATA_OFFSET).toBe(4096);
    expect(KVM_RUN_SIZE).toBe(2352);
  });

  it('should exit KVM_EXIT_IO OUT with the bytes at data_offset, then IN with the host value in R11 (selftest verify_td_ioexit)', () => {
    const seen: bigint[] = [];
    const { run, bytes } = boot(function* (cpu) {
      seen.push(yield* ghci.ioWrite(cpu, 0x50, 1, 0xab));
      const [status, value] = yield* ghci.ioRead(cpu, 0x50, 1);
      seen.push(status, value, value - 0xabn);
    });
    expect(run()).toBe(KVM_EXIT_IO);
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(KVM_EXIT_IO);
    expect(io(bytes)).toEqual([1, 1, 0x50, 1, 4096]);
    expect(bytes[4096]).toBe(0xab);
    expect(run()).toBe(KVM_EXIT_IO);
    expect(io(bytes)).toEqual([0, 1, 0x50, 1, 4096]);
    expect(bytes[4096]).toBe(0); // KVM zeroes the data of an IN
    bytes[4096] = 0xac;
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0n, 0n, 0xacn, 1n]);
  });

  it('should write sizes 1, 2, 4 and refuse size 5 with INVALID_OPERAND and no exit (selftest verify_guest_writes)', () => {
    const seen: bigint[][] = [];
    const { run, bytes } = boot(function* (cpu) {
      yield* ghci.ioWrite(cpu, 0x51, 1, 0xab);
      yield* ghci.ioWrite(cpu, 0x51, 2, 0xabcd);
      yield* ghci.ioWrite(cpu, 0x51, 4, 0xffabcdef);
      const status = yield* ghci.ioWrite(cpu, 0x51, 5, 0xffabcdef);
      seen.push([status, cpu.regs.get(R11)]);
    });
    const got: number[][] = [];
    for (let i = 0; i < 3; i++) {
      expect(run()).toBe(KVM_EXIT_IO);
      const size = bytes[33]!;
      got.push([...io(bytes), (new DataView(bytes.buffer).getUint32(4096, true) & (size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1)) >>> 0]);
    }
    expect(got).toEqual([[1, 1, 0x51, 1, 4096, 0xab], [1, 2, 0x51, 1, 4096, 0xabcd], [1, 4, 0x51, 1, 4096, 0xffabcdef]]);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([[INVALID_OPERAND, 30n]]); // R11 keeps the leaf number
  });

  it('should read sizes 1, 2, 4 zero-extended into R11 and refuse size 5 (selftest verify_guest_reads)', () => {
    const seen: bigint[] = [];
    const { run, bytes } = boot(function* (cpu) {
      for (const size of [1, 2, 4]) seen.push((yield* ghci.ioRead(cpu, 0x52, size))[1]);
      seen.push((yield* ghci.ioRead(cpu, 0x52, 5))[0]);
    });
    const v = new DataView(bytes.buffer);
    expect(run()).toBe(KVM_EXIT_IO);
    expect(io(bytes)).toEqual([0, 1, 0x52, 1, 4096]);
    v.setUint32(4096, 0xffffffab, true); // only the first byte belongs to the access
    expect(run()).toBe(KVM_EXIT_IO);
    expect(io(bytes)).toEqual([0, 2, 0x52, 1, 4096]);
    expect(v.getUint16(4096, true)).toBe(0);
    v.setUint16(4096, 0xabcd, true);
    expect(run()).toBe(KVM_EXIT_IO);
    v.setUint32(4096, 0xffabcdef, true);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0xabn, 0xabcdn, 0xffabcdefn, INVALID_OPERAND]);
  });

  it('should refuse a direction other than 0 or 1, and a size with high bits, with INVALID_OPERAND', () => {
    const seen: bigint[] = [];
    const { run } = boot(function* (cpu) {
      seen.push(yield* ghci.tdvmcall(cpu, 30, { r12: 1n, r13: 2n, r14: 0x60n }));
      seen.push(yield* ghci.tdvmcall(cpu, 30, { r12: (1n << 32n) | 1n, r13: 1n, r14: 0x60n }));
      seen.push(yield* ghci.tdvmcall(cpu, 30, { r12: 0n, r13: 0n, r14: 0x60n }));
      seen.push(yield* ghci.tdvmcall(cpu, 30, { r12: 4n, r13: 1n << 32n, r14: 0x60n }));
    });
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([INVALID_OPERAND, INVALID_OPERAND, INVALID_OPERAND, INVALID_OPERAND]);
  });

  it('should use the low 16 bits of R14 as the port and the low `size` bytes of R15', () => {
    const { run, bytes } = boot(function* (cpu) {
      yield* ghci.tdvmcall(cpu, 30, { r12: 2n, r13: 1n, r14: 0x1_0003_03f8n, r15: 0x1234_5678_9abc_def0n });
    });
    expect(run()).toBe(KVM_EXIT_IO);
    expect(io(bytes)).toEqual([1, 2, 0x3f8, 1, 4096]);
    expect([...bytes.subarray(4096, 4100)]).toEqual([0xf0, 0xde, 0, 0]);
  });

  it('should let an in-kernel PIO device answer without an exit, and exit for ports it declines', () => {
    const seen: bigint[] = [];
    const writes: number[][] = [];
    const dev: KvmIoDevice = {
      read(port, len, data) {
        if (port === 0x71) return false; // -EOPNOTSUPP: goes to userspace
        data.fill(0x5a, 0, len);
        return true;
      },
      write(port, len, data) {
        writes.push([port, len, ...data.subarray(0, len)]);
        return true;
      },
    };
    const { vm, run } = boot(function* (cpu) {
      seen.push((yield* ghci.ioRead(cpu, 0x70, 2))[1]);
      seen.push(yield* ghci.ioWrite(cpu, 0x70, 2, 0x01020304));
      seen.push((yield* ghci.ioRead(cpu, 0x71, 1))[1]); // declined
      seen.push(yield* ghci.ioWrite(cpu, 0x71, 2, 7)); // 0x71..0x72 is not inside 0x70..0x71
    });
    vm.registerIoDevice(KVM_PIO_BUS, 0x70, 2, dev);
    const v = new DataView(vm.vcpus[0]!.kvmRun.bytes.buffer);
    expect(run()).toBe(KVM_EXIT_IO);
    expect([v.getUint8(32), v.getUint16(34, true)]).toEqual([0, 0x71]);
    expect(run()).toBe(KVM_EXIT_IO);
    expect([v.getUint8(32), v.getUint16(34, true)]).toEqual([1, 0x71]);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0x5a5an, 0n, 0n, 0n]);
    expect(writes).toEqual([[0x70, 2, 4, 3]]);
    expect(vm.unregisterIoDevice(KVM_PIO_BUS, dev)).toBe(true);
    expect(vm.unregisterIoDevice(KVM_PIO_BUS, dev)).toBe(false);
  });

  it('should hand KVM_EXIT_IO to the VMM handler through the core run loop (no userspace half)', () => {
    const vmm = createVmm({ modules: [kvmModule()] });
    const ports: number[] = [];
    let got = -1n;
    const td = vmm.createTd({
      guest: fromGenerator(function* (cpu) {
        got = (yield* ghci.ioRead(cpu, 0x3fd, 1))[1];
      }),
      memoryBytes: 1 << 20,
      handlers: {
        [KVM_EXIT_IO]: (ctx: UserExitContext) => {
          ports.push(ctx.run.view.getUint16(34, true));
          ctx.run.bytes[ctx.run.getU64Number(40)] = 0x60;
          return VcpuEmulation.HANDLED;
        },
        [KVM_EXIT_SHUTDOWN]: () => VcpuEmulation.STOPPED,
      },
    });
    expect(td.runners[0]!.run()).toBe(VcpuRunState.FINISHED);
    expect(ports).toEqual([0x3fd]);
    expect(got).toBe(0x60n);
  });

  it('should answer bad operands before needing a vCPU (LeafTestBed), and report a plugin error without one', () => {
    const bed = new LeafTestBed(IoLeaf);
    expect(bed.tdvmcall({ r12: 3, r13: 1, r14: 0x80 }).guest?.r10).toBe(INVALID_OPERAND);
    expect(bed.tdvmcall({ r12: 1, r13: 1, r14: 0x80 }).guest?.r10).toBe(INVALID_OPERAND);
    expect(bed.events.map((e) => e.type)).toEqual(['plugin-error']);
    expect(bed.regs.get(R10)).toBe(INVALID_OPERAND);
  });
});
