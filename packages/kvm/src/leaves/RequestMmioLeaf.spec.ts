import { describe, expect, it } from 'vitest';
import { createVmm } from '@seamkit/core';
import { LeafTestBed } from '@seamkit/core/testing';
import { fromGenerator, R11, type GuestGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { KVM_FAST_MMIO_BUS, KVM_MMIO_BUS } from '../devices/IoBus.js';
import { kvmModule } from '../kvmModule.js';
import { KVM_EXIT_MMIO, KVM_EXIT_SHUTDOWN } from '../uapi/exits.js';
import type { Vm } from '../Vm.js';
import { RequestMmioLeaf } from './RequestMmioLeaf.js';

const INVALID_OPERAND = 0x8000000000000000n;
const MMIO = 0x2_0000_0000;

function boot(fn: GuestGenerator, gpaw: 48 | 52 = 48): { vm: Vm; run: () => number; view: DataView; bytes: Uint8Array } {
  const vmm = createVmm({ modules: [kvmModule()] });
  const td = vmm.createTd({ guest: fromGenerator(fn), memoryBytes: 1 << 20, gpaw });
  const vm = td.memory as Vm;
  const bytes = vm.vcpus[0]!.kvmRun.bytes;
  return { vm, run: () => td.vcpus[0]!.run(), view: new DataView(bytes.buffer), bytes };
}

/** kvm_run mmio.* (bytes 32..52) as [phys_addr, data (u64), len, is_write]. */
function mmio(view: DataView): [bigint, bigint, number, number] {
  return [view.getBigUint64(32, true), view.getBigUint64(40, true), view.getUint32(48, true), view.getUint8(52)];
}

describe('RequestMmioLeaf (TDVMCALL<#VE.RequestMMIO>, 48)', () => {
  it('should exit KVM_EXIT_MMIO for reads of 1, 2, 4, 8 bytes with the shared bit stripped, and return mmio.data in R11 (selftest verify_mmio_reads)', () => {
    const seen: bigint[] = [];
    const { run, view } = boot(function* (cpu) {
      const S = cpu.mem.sharedBit;
      for (const size of [1, 2, 4, 8]) {
        const [status, value] = yield* ghci.mmioRead(cpu, MMIO + S, size);
        seen.push(status, value);
      }
      seen.push((yield* ghci.mmioRead(cpu, MMIO + S, 10))[0]);
    });
    const replies = [0x12n, 0x1234n, 0x12345678n, 0x1234567890abcdefn];
    for (const [i, size] of [1, 2, 4, 8].entries()) {
      expect(run()).toBe(KVM_EXIT_MMIO);
      expect(view.getUint32(8, true)).toBe(KVM_EXIT_MMIO);
      const [phys, , len, isWrite] = mmio(view);
      expect([phys, len, isWrite]).toEqual([BigInt(MMIO), size, 0]);
      view.setBigUint64(40, replies[i]! | 0xee00_0000_0000_0000n * BigInt(size < 8 ? 1 : 0), true); // bytes beyond len ignored
    }
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0n, 0x12n, 0n, 0x1234n, 0n, 0x12345678n, 0n, 0x1234567890abcdefn, INVALID_OPERAND]);
  });

  it('should exit KVM_EXIT_MMIO for writes with the value in mmio.data (selftest verify_mmio_writes)', () => {
    const seen: bigint[] = [];
    const { run, view, bytes } = boot(function* (cpu) {
      const S = cpu.mem.sharedBit;
      for (const [size, v] of [[1, 0x12n], [2, 0x1234n], [4, 0x12345678n], [8, 0x1234567890abcdefn]] as const) {
        seen.push(yield* ghci.mmioWrite(cpu, MMIO + S + 8, size, v | 0xff00_0000_0000_0000n * BigInt(size < 8 ? 1 : 0)));
      }
      seen.push(yield* ghci.mmioWrite(cpu, MMIO + S, 10, 0n));
      seen.push(cpu.regs.get(R11));
    });
    bytes.fill(0xcc, 40, 48);
    const got: [bigint, bigint, number, number][] = [];
    for (let i = 0; i < 4; i++) {
      expect(run()).toBe(KVM_EXIT_MMIO);
      got.push(mmio(view));
    }
    // Only `len` bytes of mmio.data are written; the rest keep what was there.
    expect(got).toEqual([
      [BigInt(MMIO + 8), 0xcccc_cccc_cccc_cc12n, 1, 1],
      [BigInt(MMIO + 8), 0xcccc_cccc_cccc_1234n, 2, 1],
      [BigInt(MMIO + 8), 0xcccc_cccc_1234_5678n, 4, 1],
      [BigInt(MMIO + 8), 0x1234_5678_90ab_cdefn, 8, 1],
    ]);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0n, 0n, 0n, 0n, INVALID_OPERAND, 48n]);
  });

  it('should refuse a private GPA, a last byte without the shared bit, and a bad direction with INVALID_OPERAND', () => {
    const seen: bigint[] = [];
    const { run } = boot(function* (cpu) {
      const S = BigInt(cpu.mem.sharedBit);
      seen.push((yield* ghci.mmioRead(cpu, MMIO, 4))[0]); // private
      // 0xFFFF_FFFF_FFFF has bit 47 set; its last byte (+1) is 0x1_0000_0000_0000, without it.
      seen.push(yield* ghci.tdvmcall(cpu, 48, { r12: 2n, r13: 0n, r14: (S << 1n) - 1n }));
      seen.push(yield* ghci.tdvmcall(cpu, 48, { r12: 1n, r13: 0n, r14: (S << 1n) - 1n })); // one byte: fine
      seen.push(yield* ghci.tdvmcall(cpu, 48, { r12: 4n, r13: 2n, r14: S + BigInt(MMIO) }));
      seen.push(yield* ghci.tdvmcall(cpu, 48, { r12: 4n, r13: 1n << 32n, r14: S + BigInt(MMIO) }));
      seen.push(yield* ghci.tdvmcall(cpu, 48, { r12: 0n, r13: 0n, r14: S + BigInt(MMIO) }));
    });
    expect(run()).toBe(KVM_EXIT_MMIO); // the valid one-byte read
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([INVALID_OPERAND, INVALID_OPERAND, 0n, INVALID_OPERAND, INVALID_OPERAND, INVALID_OPERAND]);
  });

  it('should strip bit 51 for a 5-level (GPAW 52) TD and keep bits above it', () => {
    const { run, view } = boot(function* (cpu) {
      yield* ghci.tdvmcall(cpu, 48, { r12: 8n, r13: 0n, r14: (1n << 51n) | (1n << 60n) | 0x1000n });
    }, 52);
    expect(run()).toBe(KVM_EXIT_MMIO);
    expect(mmio(view)[0]).toBe((1n << 60n) | 0x1000n);
  });

  it('should let in-kernel MMIO and fast-MMIO devices answer without an exit', () => {
    const seen: bigint[] = [];
    const writes: number[][] = [];
    let kicks = 0;
    const { vm, run } = boot(function* (cpu) {
      const S = cpu.mem.sharedBit;
      seen.push((yield* ghci.mmioRead(cpu, MMIO + S + 4, 4))[1]);
      seen.push(yield* ghci.mmioWrite(cpu, MMIO + S + 8, 8, 0x0102030405060708n));
      seen.push(yield* ghci.mmioWrite(cpu, 0x3000 + S, 2, 0xffffn)); // fast MMIO: an ioeventfd without length
      seen.push((yield* ghci.mmioRead(cpu, 0x3000 + S, 2))[0]); // reads never use the fast bus: exit
    });
    vm.registerIoDevice(KVM_MMIO_BUS, MMIO, 0x1000, {
      read: (addr, len, data) => {
        for (let i = 0; i < len; i++) data[i] = (addr + i) & 0xff;
        return true;
      },
      write: (addr, len, data) => {
        writes.push([addr - MMIO, len, ...data.subarray(0, len)]);
        return true;
      },
    });
    vm.registerIoDevice(KVM_FAST_MMIO_BUS, 0x3000, 0, { write: () => (kicks++, true) });
    expect(run()).toBe(KVM_EXIT_MMIO);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0x07060504n, 0n, 0n, 0n]);
    expect(writes).toEqual([[8, 8, 8, 7, 6, 5, 4, 3, 2, 1]]);
    expect(kicks).toBe(1);
  });

  it('should check operands before needing a vCPU (LeafTestBed)', () => {
    const bed = new LeafTestBed(RequestMmioLeaf);
    expect(bed.tdvmcall({ r12: 3, r13: 0, r14: bed.sharedBit }).guest?.r10).toBe(INVALID_OPERAND);
    expect(bed.tdvmcall({ r12: 4, r13: 0, r14: 0x1000 }).guest?.r10).toBe(INVALID_OPERAND);
    expect(bed.events).toEqual([]);
  });
});
