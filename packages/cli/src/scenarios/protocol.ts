import type { ExitBuffer, SharedMemory } from '@seamkit/core';
import { KVM_EXIT_IO_OUT, KVM_PIO_DATA_OFFSET, KVM_RUN_LAYOUT as L, Vm } from '@seamkit/kvm';
import { type GuestCpu } from '@seamkit/seam-cpu';
import { R11, TDVMCALL_STATUS_RETRY } from '@seamkit/seam-cpu/abi';
import { ghci } from '@seamkit/tdx-module';

/**
 * The IO port the guests of the built-in scenarios report on, instead of ReportFatalError: a
 * 4-byte OUT (KVM_EXIT_IO) of a code the scenario's VMM side decodes and writes to the trace.
 */
export const REPORT_PORT = 0x31;
/** Report code: every check the guest made passed. */
export const REPORT_OK = 0x600d;
/** Report code of failed guest checks: `REPORT_FAILED | mask`, one bit per failed check. */
export const REPORT_FAILED = 0xbad0_0000;

/** Guest side: reports `code` on {@link REPORT_PORT} (one KVM_EXIT_IO). Returns R10. */
export function* report(cpu: GuestCpu, code: number): Generator<number, bigint, void> {
  return yield* ghci.ioWrite(cpu, REPORT_PORT, 4, code);
}

/**
 * Guest side: MapGPA of [gpa, gpa + size) as a Linux guest issues it: on RETRY, again from the
 * GPA KVM returns in R11. Returns the final R10.
 */
export function* mapGpaRange(cpu: GuestCpu, gpa: number, size: number): Generator<number, bigint, void> {
  const end = gpa + size;
  let at = gpa;
  for (let tries = 0; tries < 64; tries++) {
    const r = yield* ghci.mapGpa(cpu, at, end - at);
    if (r !== TDVMCALL_STATUS_RETRY) return r;
    const next = Number(cpu.regs.get(R11));
    if (next < at || next >= end) return r;
    at = next;
  }
  return TDVMCALL_STATUS_RETRY;
}

/** A KVM_EXIT_IO as the VMM reads it from kvm_run. */
export interface PortAccess {
  /** True for OUT (KVM_EXIT_IO_OUT). */
  readonly out: boolean;
  /** io.port */
  readonly port: number;
  /** io.size: 1, 2 or 4. */
  readonly size: number;
  /** An OUT's value (the data at io.data_offset); 0 for IN. */
  readonly value: number;
}

/** VMM side: decodes the KVM_EXIT_IO in `run`. */
export function portAccess(run: ExitBuffer): PortAccess {
  const out = run.bytes[L['io.direction'].offset] === KVM_EXIT_IO_OUT;
  const size = run.bytes[L['io.size'].offset]!;
  const at = run.getU64Number(L['io.data_offset'].offset);
  let value = 0;
  if (out) for (let i = size - 1; i >= 0; i--) value = value * 256 + run.bytes[at + i]!;
  return { out, port: run.view.getUint16(L['io.port'].offset, true), size, value };
}

/** VMM side: the answer to an IN: `size` bytes of `value` at io.data_offset (the vCPU mapping's second page). */
export function answerIn(run: ExitBuffer, size: number, value: number): void {
  for (let i = 0; i < size; i++) run.bytes[KVM_PIO_DATA_OFFSET + i] = Math.floor(value / 256 ** i) & 0xff;
}

/** A KVM_EXIT_MMIO as the VMM reads it from kvm_run. */
export interface MmioAccess {
  /** mmio.is_write */
  readonly write: boolean;
  /** mmio.phys_addr (no shared bit). */
  readonly gpa: number;
  /** mmio.len: 1, 2, 4 or 8. */
  readonly len: number;
  /** A write's value (mmio.data[0..len)); 0n for a read. */
  readonly value: bigint;
}

/** VMM side: decodes the KVM_EXIT_MMIO in `run`. */
export function mmioAccess(run: ExitBuffer): MmioAccess {
  const write = run.bytes[L['mmio.is_write'].offset] !== 0;
  const len = run.getU32(L['mmio.len'].offset);
  let value = 0n;
  if (write) for (let i = len - 1; i >= 0; i--) value = (value << 8n) | BigInt(run.bytes[L['mmio.data'].offset + i]!);
  return { write, gpa: run.getU64Number(L['mmio.phys_addr'].offset), len, value };
}

/** VMM side: the answer to an MMIO read: `len` bytes of `value` in mmio.data. */
export function answerMmioRead(run: ExitBuffer, len: number, value: bigint): void {
  for (let i = 0; i < len; i++) run.bytes[L['mmio.data'].offset + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

/**
 * VMM side: the simulated KVM's VM behind a TD's memory (with @seamkit/kvm, the memory userspace
 * sees is the `Vm`), for the ioctls core's interfaces do not carry (in-kernel devices,
 * KVM_GET_REGS); undefined on another hypervisor.
 */
export function kvmVmOf(memory: SharedMemory): Vm | undefined {
  return memory instanceof Vm ? memory : undefined;
}

/** Lowercase hex of bytes. */
export function bytesHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
