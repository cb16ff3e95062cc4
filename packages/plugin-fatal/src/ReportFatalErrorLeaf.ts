import { injectable } from 'inversify';
import { LEAF_EXIT, VcpuEmulation, type ExitBuffer, type GuestPanicEvent, type LeafContext, type LeafPlugin, type SharedMemory, type UserExitContext } from '@seamkit/core';
import { KVM_EXIT_SYSTEM_EVENT, KVM_RUN_LAYOUT as L, KVM_SYSTEM_EVENT_TDX_FATAL } from '@seamkit/kvm/uapi';
import { RBP, RSP, TDVMCALL_REPORT_FATAL_ERROR } from '@seamkit/seam-cpu/abi';
import { decodeFatalError } from './decodeFatalError.js';

const NDATA = L['system_event.ndata'].offset;
const DATA = L['system_event.data'].offset;
const PAGE_SIZE = 4096;

/**
 * The `guest-panic` event of ReportFatalError: core's {@link @seamkit/core!GuestPanicEvent} plus
 * what QEMU does not show. QEMU only prints the GPA of the extra-information page; seamkit also
 * reads that page from the TD's shared memory and puts its bytes here.
 */
export interface TdxGuestPanicEvent extends GuestPanicEvent {
  /** Full R12 (QEMU keeps only its low 32 bits in `errorCode`). */
  readonly rawErrorCode: bigint;
  /**
   * With R12 bit 63: the bytes of the extra-information page, read from shared memory at R13
   * (shared bit stripped, as userspace maps it) up to the first NUL or the end of that 4 KiB
   * page. Absent when the GPA is outside every memslot (nothing is read then).
   */
  readonly info?: Uint8Array;
}

/**
 * Reads the zero-terminated extra information at `gpa`: from `gpa` to the first NUL or the end
 * of its 4 KiB page. Returns undefined if that range is not in guest memory.
 */
export function readFatalInfoPage(memory: SharedMemory, gpa: number): Uint8Array | undefined {
  if (!Number.isSafeInteger(gpa) || gpa < 0) return undefined;
  const length = PAGE_SIZE - (gpa % PAGE_SIZE);
  if (!memory.contains(gpa, length)) return undefined;
  const page = new Uint8Array(length);
  memory.read(gpa, page);
  const nul = page.indexOf(0);
  return nul < 0 ? page : page.slice(0, nul);
}

/**
 * ReportFatalError (0x10003), as Linux 6.16 and QEMU 10.1 handle it.
 *
 * Kernel half (KVM `tdx_report_fatal_error`): forwarded unconditionally as KVM_EXIT_SYSTEM_EVENT
 * with type KVM_SYSTEM_EVENT_TDX_FATAL (7), ndata 16 and data[i] = GPR i in SDM order straight
 * from the TDH.VP.ENTER argument block: data[0] is the TDH.VP.ENTER return (not guest RAX), the
 * RSP and RBP slots are 0. There is no completion: if the VMM runs the vCPU again, the guest
 * resumes after its TDCALL with R10 unchanged (0, success).
 *
 * Userspace half (QEMU `tdx_handle_report_fatal_error`): decodes the error code, the message and
 * the optional GPA ({@link decodeFatalError}), emits a `guest-panic` event with QEMU's log line,
 * and stops the vCPU. With a GPA (R12 bit 63) it also reads the extra-information page from
 * shared memory into the event's `info` ({@link TdxGuestPanicEvent}); QEMU only logs the GPA, and
 * the log line stays QEMU's.
 */
@injectable()
export class ReportFatalErrorLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = {
    name: 'tdx.report-fatal-error',
    namespace: 'ghci',
    leaf: TDVMCALL_REPORT_FATAL_ERROR,
    exit: {
      reason: KVM_EXIT_SYSTEM_EVENT,
      key: KVM_SYSTEM_EVENT_TDX_FATAL,
      layout: {
        /** `system_event.ndata`: 16. */
        ndata: L['system_event.ndata'],
        /** `system_event.data[0..15]`: the GPRs in SDM order. */
        data: L['system_event.data'],
      },
    },
  } as const;

  /** The TD's shared bit seen by the kernel half, per vCPU kvm_run, to strip it from R13 in userspace. */
  readonly #sharedBits = new WeakMap<ExitBuffer, number>();

  /** Kernel half: dumps the 16 GPR slots into system_event.data. */
  kernel(ctx: LeafContext): number {
    const run = ctx.run;
    if (this.#sharedBits.get(run) !== ctx.sharedBit) this.#sharedBits.set(run, ctx.sharedBit);
    const u = ctx.regs.u32;
    run.setU32(NDATA, 16);
    for (let i = 0; i < 16; i++) {
      if (i === RSP || i === RBP) run.setU64Halves(DATA + 8 * i, 0, 0);
      else run.setU64Halves(DATA + 8 * i, u[i * 2]!, u[i * 2 + 1]!);
    }
    return LEAF_EXIT;
  }

  /** Userspace half: decode, report, stop. */
  user(ctx: UserExitContext): number {
    const data: bigint[] = [];
    for (let i = 0; i < 16; i++) data.push(ctx.run.getU64(DATA + 8 * i));
    const d = decodeFatalError(data);
    if (d.valid) {
      let info: Uint8Array | undefined;
      if (d.gpa !== undefined) {
        const bit = this.#sharedBits.get(ctx.run);
        const raw = data[13]!;
        // Userspace maps guest memory without the shared bit, as KVM strips it for exits.
        const gpa = bit !== undefined && (raw & BigInt(bit)) !== 0n ? raw - BigInt(bit) : raw;
        info = gpa <= BigInt(Number.MAX_SAFE_INTEGER) ? readFatalInfoPage(ctx.memory, Number(gpa)) : undefined;
      }
      const event: TdxGuestPanicEvent = {
        type: 'guest-panic', vcpuIndex: ctx.vcpuIndex, errorCode: d.errorCode, rawErrorCode: d.rawErrorCode, message: d.message, log: d.log,
        ...(d.gpa !== undefined ? { gpa: d.gpa } : {}),
        ...(info !== undefined ? { info } : {}),
      };
      ctx.emit(event);
    }
    return VcpuEmulation.STOPPED;
  }
}
