import { injectable } from 'inversify';
import { LEAF_EXIT, LEAF_RESUME, type LeafContext, type LeafPlugin } from '@seamkit/core';
import {
  PAGE_SIZE, R10, R11, R12, R13, R14, R15, TDVMCALL_IO, TDVMCALL_STATUS_ERROR_HI, TDVMCALL_STATUS_INVALID_OPERAND_LO,
} from '@seamkit/seam-cpu/abi';
import { KVM_EXIT_IO } from '../uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from '../uapi/kvmRunLayout.js';
import { KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT, KVM_PIO_PAGE_OFFSET } from '../uapi/x86.js';
import { bytesLo, putBytes } from './bytes.js';
import { vcpuOf } from './KvmLeafContext.js';

/** Offset of the PIO data in the vCPU's kvm_run mapping (`io.data_offset`): the page after kvm_run. */
export const KVM_PIO_DATA_OFFSET = KVM_PIO_PAGE_OFFSET * PAGE_SIZE;

const DIRECTION = L['io.direction'].offset;
const SIZE = L['io.size'].offset;
const PORT = L['io.port'].offset;
const COUNT = L['io.count'].offset;
const DATA_OFFSET = L['io.data_offset'].offset;

/**
 * TDVMCALL<Instruction.IO> (30), as Linux 6.16 tdx_emulate_io does: R12 = size, R13 = direction
 * (0 in, 1 out), R14 = port (low 16 bits used), R15 = the value to write.
 *
 * - Size other than 1, 2, 4 or direction other than 0, 1: R10 = INVALID_OPERAND, no exit.
 * - A device on the VM's PIO bus handles it in the kernel (`Vm.registerIoDevice`); an IN puts
 *   the value, zero-extended, in R11.
 * - Otherwise KVM_EXIT_IO: io.direction (KVM_EXIT_IO_IN 0 / OUT 1), io.size, io.port,
 *   io.count = 1, io.data_offset = 4096. The data lives at that offset of the vCPU's kvm_run
 *   mapping (`Vcpu.kvmRun.bytes`): an OUT's bytes are there; for an IN KVM zeroes them and
 *   userspace writes the value. On the next KVM_RUN an IN's value goes to R11 (zero-extended,
 *   tdx_complete_pio_in); an OUT completes with nothing to do.
 *
 * Success leaves R10 at 0 (implicit); errors leave R11 untouched.
 */
@injectable()
export class IoLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = {
    name: 'kvm.io',
    namespace: 'ghci',
    leaf: TDVMCALL_IO,
    exit: {
      reason: KVM_EXIT_IO,
      layout: {
        /** `io.direction`: KVM_EXIT_IO_IN (0) or KVM_EXIT_IO_OUT (1). */
        direction: L['io.direction'],
        /** `io.size`: 1, 2 or 4. */
        size: L['io.size'],
        /** `io.port`. */
        port: L['io.port'],
        /** `io.count`: always 1 for a TDVMCALL. */
        count: L['io.count'],
        /** `io.data_offset`: 4096, the page after struct kvm_run. */
        dataOffset: L['io.data_offset'],
      },
    },
  } as const;

  /** Kernel half: checks, in-kernel PIO bus, else KVM_EXIT_IO. */
  kernel(ctx: LeafContext): number {
    const r = ctx.regs;
    const size = r.lo(R12);
    const write = r.lo(R13);
    if (r.hi(R13) !== 0 || (write !== 0 && write !== 1) || r.hi(R12) !== 0 || (size !== 1 && size !== 2 && size !== 4)) {
      r.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
      return LEAF_RESUME;
    }
    const vcpu = vcpuOf(ctx, this.meta.name);
    const port = r.lo(R14) & 0xffff;
    const bus = vcpu.vm.pioBus;
    const data = bus.data;
    if (write === 1) {
      putBytes(data, 0, size, r.lo(R15), 0);
      if (bus.write(port, size, data)) return LEAF_RESUME;
    } else {
      data.fill(0);
      if (bus.read(port, size, data)) {
        r.setHalves(R11, bytesLo(data, 0, size), 0);
        return LEAF_RESUME;
      }
    }
    const arch = vcpu.arch;
    arch.pioIn = write === 0;
    arch.pioSize = size;
    const run = ctx.run;
    const b = run.bytes;
    if (write === 1) putBytes(b, KVM_PIO_DATA_OFFSET, size, r.lo(R15), 0);
    else b.fill(0, KVM_PIO_DATA_OFFSET, KVM_PIO_DATA_OFFSET + size);
    b[DIRECTION] = write === 1 ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
    b[SIZE] = size;
    run.view.setUint16(PORT, port, true);
    run.setU32(COUNT, 1);
    run.setU64Halves(DATA_OFFSET, KVM_PIO_DATA_OFFSET, 0);
    return LEAF_EXIT;
  }

  /** Completion: an IN's data (zero-extended) to R11 (tdx_complete_pio_in); an OUT has nothing to do. */
  complete(ctx: LeafContext): void {
    const arch = vcpuOf(ctx, this.meta.name).arch;
    if (!arch.pioIn) return;
    ctx.regs.setHalves(R11, bytesLo(ctx.run.bytes, KVM_PIO_DATA_OFFSET, arch.pioSize), 0);
  }
}
