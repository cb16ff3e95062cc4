import { injectable } from 'inversify';
import { LEAF_EXIT, LEAF_RESUME, type LeafContext, type LeafPlugin } from '@seamkit/core';
import {
  R10, R11, R12, R13, R14, R15, TDVMCALL_REQUEST_MMIO, TDVMCALL_STATUS_ERROR_HI, TDVMCALL_STATUS_INVALID_OPERAND_LO,
} from '@seamkit/seam-cpu/abi';
import { KVM_EXIT_MMIO } from '../uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from '../uapi/kvmRunLayout.js';
import { bytesHi, bytesLo, putBytes } from './bytes.js';
import { vcpuOf } from './KvmLeafContext.js';

const PHYS_ADDR = L['mmio.phys_addr'].offset;
const DATA = L['mmio.data'].offset;
const LEN = L['mmio.len'].offset;
const IS_WRITE = L['mmio.is_write'].offset;
/** Addresses at or above 2^53 cannot name a device on the bus (devices sit at safe integers). */
const SAFE_HI = 0x20_0000;

/**
 * TDVMCALL<#VE.RequestMMIO> (48), as Linux 6.16 tdx_emulate_mmio does (the exit is relabelled
 * EXIT_REASON_EPT_MISCONFIG): R12 = size, R13 = direction (0 read, 1 write), R14 = GPA,
 * R15 = the value to write.
 *
 * - Size other than 1, 2, 4, 8, direction other than 0, 1, or a GPA whose first or last byte
 *   lacks the shared bit (a private GPA): R10 = INVALID_OPERAND, no exit.
 * - The shared bit is stripped. A write is offered to the VM's fast-MMIO bus (zero-length
 *   ioeventfds at that address), then to its MMIO bus; a read to the MMIO bus. A device that
 *   handles it answers in the kernel (a read's value, zero-extended, to R11).
 * - Otherwise KVM_EXIT_MMIO: mmio.phys_addr (stripped), mmio.len = size, mmio.is_write, and for
 *   a write the value's `size` low bytes in mmio.data (KVM does not touch the other data bytes,
 *   nor any data byte of a read exit). On the next KVM_RUN a read copies mmio.data[0..size)
 *   zero-extended into R11 (tdx_complete_mmio_read); a write completes with nothing to do.
 *
 * Success leaves R10 at 0 (implicit); errors leave R11 untouched.
 */
@injectable()
export class RequestMmioLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = {
    name: 'kvm.request-mmio',
    namespace: 'ghci',
    leaf: TDVMCALL_REQUEST_MMIO,
    exit: {
      reason: KVM_EXIT_MMIO,
      layout: {
        /** `mmio.phys_addr`: the GPA without the shared bit. */
        physAddr: L['mmio.phys_addr'],
        /** `mmio.data`: the bytes written, or the bytes userspace reads back. */
        data: L['mmio.data'],
        /** `mmio.len`: 1, 2, 4 or 8. */
        len: L['mmio.len'],
        /** `mmio.is_write`. */
        isWrite: L['mmio.is_write'],
      },
    },
  } as const;

  /** Kernel half: checks, in-kernel MMIO buses, else KVM_EXIT_MMIO. */
  kernel(ctx: LeafContext): number {
    const r = ctx.regs;
    const size = r.lo(R12);
    const write = r.lo(R13);
    const gLo = r.lo(R14);
    const gHi = r.hi(R14);
    const sharedHi = 1 << (ctx.gpaw - 33); // the shared bit, 2^(gpaw - 1), in the high half
    // Last byte: GPA + size - 1, carried into the high half (wrapping at 2^64 as u64 arithmetic does).
    const endLo = gLo + size - 1;
    const endHi = endLo > 0xffff_ffff ? (gHi + 1) >>> 0 : gHi;
    if (r.hi(R12) !== 0 || (size !== 1 && size !== 2 && size !== 4 && size !== 8) || r.hi(R13) !== 0 || (write !== 0 && write !== 1)
      || (gHi & sharedHi) === 0 || (endHi & sharedHi) === 0) {
      r.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
      return LEAF_RESUME;
    }
    const vcpu = vcpuOf(ctx, this.meta.name);
    const pHi = (gHi & ~sharedHi) >>> 0;
    const safe = pHi < SAFE_HI;
    const gpa = pHi * 0x1_0000_0000 + gLo;
    const vm = vcpu.vm;
    const vLo = r.lo(R15);
    const vHi = r.hi(R15);
    if (write === 1) {
      if (safe) {
        const data = vm.mmioBus.data;
        if (vm.fastMmioBus.write(gpa, 0, data)) return LEAF_RESUME;
        putBytes(data, 0, size, vLo, vHi);
        if (vm.mmioBus.write(gpa, size, data)) return LEAF_RESUME;
      }
    } else if (safe) {
      const data = vm.mmioBus.data;
      data.fill(0);
      if (vm.mmioBus.read(gpa, size, data)) {
        r.setHalves(R11, bytesLo(data, 0, size), bytesHi(data, 0, size));
        return LEAF_RESUME;
      }
    }
    vcpu.arch.mmioReadLen = write === 1 ? 0 : size;
    const run = ctx.run;
    run.setU64Halves(PHYS_ADDR, gLo, pHi);
    run.setU32(LEN, size);
    run.bytes[IS_WRITE] = write;
    if (write === 1) putBytes(run.bytes, DATA, size, vLo, vHi);
    return LEAF_EXIT;
  }

  /** Completion of a read: mmio.data[0..len) zero-extended into R11. A write has no completion. */
  complete(ctx: LeafContext): void {
    const len = vcpuOf(ctx, this.meta.name).arch.mmioReadLen;
    if (len === 0) return;
    const b = ctx.run.bytes;
    ctx.regs.setHalves(R11, bytesLo(b, DATA, len), bytesHi(b, DATA, len));
  }
}
