/**
 * Conformance harness: the TDX KVM selftest library (v8, "[PATCH v8 00/30] TDX KVM selftests",
 * tools/testing/selftests/kvm/{include,lib}/x86/tdx/) rewritten on the simulator, so that each
 * selftest scenario reads like its C original:
 *
 * - VM building as `td_create` / `td_initialize` / `td_vcpu_add` / `td_finalize` do it, with the
 *   raw ioctls of `Kvm` / `Vm` / `Vcpu` (KVM_CREATE_VM(KVM_X86_TDX_VM), the x2APIC API and split
 *   irqchip caps, a guest_memfd memslot made PRIVATE, KVM_TDX_INIT_VM, KVM_CREATE_VCPU +
 *   KVM_SET_CPUID2 + KVM_TDX_INIT_VCPU, KVM_TDX_INIT_MEM_REGION for the pages the test allocated,
 *   KVM_TDX_FINALIZE_VM); the leaf registry is the one a VMM built with `createVmm` from kvm's
 *   module plus plugin-fatal (ReportFatalError) and plugin-quote (GetQuote), i.e. every leaf
 *   Linux 6.16 handles.
 * - Guest-side helpers of test_util.c (`tdx_test_success`, `tdx_test_report_to_user_space`,
 *   `tdx_test_fatal`, ...) in the generator form, plus step-form builders.
 * - Host-side helpers: `td_vcpu_run` (KVM_RUN, retried on EINTR, MapGPA exits converted with
 *   KVM_SET_MEMORY_ATTRIBUTES as handle_userspace_map_gpa does), `tdx_run` (plus the guest-failure
 *   check), `tdx_test_assert_io`, `tdx_test_assert_mmio`, `tdx_test_assert_success`,
 *   `tdx_test_read_report_from_guest`, `tdx_test_read_64bit_report_from_guest`.
 *
 * The test drives `Vcpu.run()` (KVM_RUN) itself and is the whole of userspace: no `VcpuRunner`, no
 * plugin userspace half runs.
 * @module
 */
import { expect } from 'vitest';
import { createVmm, HYPERVISOR, type Vmm, type VmmEvent } from '@seamkit/core';
import { fatalModule } from '@seamkit/plugin-fatal';
import { quoteModule } from '@seamkit/plugin-quote';
import { SeamkitError, type GuestCpu, type GuestProgram, type RegisterFile } from '@seamkit/seam-cpu';
import {
  EXIT_REASON_TRIPLE_FAULT, PAGE_SIZE, R11, R12, R13, R14, R15, R8, R9, RBX, RDI, RDX, RSI, TDVMCALL_IO,
  TDVMCALL_REPORT_FATAL_ERROR,
} from '@seamkit/seam-cpu/abi';
import { ghci, prepareTdvmcall } from '@seamkit/tdx-module';
import type { KvmCpuidEntry2 } from '../devices/Cpuid.js';
import type { Kvm } from '../Kvm.js';
import type { KvmHypervisor } from '../KvmHypervisor.js';
import { kvmModule } from '../kvmModule.js';
import { KVM_PIO_DATA_OFFSET } from '../leaves/IoLeaf.js';
import { cpuidWithApicId, filterTdxCpuid } from '../tdxCpuid.js';
import { EFAULT, EINTR } from '../uapi/errno.js';
import {
  KVM_EXIT_HYPERCALL, KVM_EXIT_IO, KVM_EXIT_MEMORY_FAULT, KVM_EXIT_MMIO, KVM_EXIT_NAMES, KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_TDX_FATAL,
} from '../uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from '../uapi/kvmRunLayout.js';
import {
  KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MEM_GUEST_MEMFD, KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_TDX_MEASURE_MEMORY_REGION,
  KVM_X86_TDX_VM,
} from '../uapi/tdx.js';
import {
  KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_X2APIC_API, KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK, KVM_X2APIC_API_USE_32BIT_IDS,
} from '../uapi/x86.js';
import type { Vcpu } from '../Vcpu.js';
import type { Vm } from '../Vm.js';

// ---------------------------------------------------------------------------------------------
// Constants of include/x86/tdx/test_util.h and tdx.h
// ---------------------------------------------------------------------------------------------

/** TDX_TEST_SUCCESS_PORT */
export const TDX_TEST_SUCCESS_PORT = 0x30;
/** TDX_TEST_SUCCESS_SIZE */
export const TDX_TEST_SUCCESS_SIZE = 4;
/** TDX_TEST_REPORT_PORT */
export const TDX_TEST_REPORT_PORT = 0x31;
/** TDX_TEST_REPORT_SIZE */
export const TDX_TEST_REPORT_SIZE = 4;
/** PORT_READ (Instruction.IO direction, also KVM_EXIT_IO_IN). */
export const PORT_READ = 0;
/** PORT_WRITE (Instruction.IO direction, also KVM_EXIT_IO_OUT). */
export const PORT_WRITE = 1;
/** MMIO_READ (#VE.RequestMMIO direction, mmio.is_write = 0). */
export const MMIO_READ = 0;
/** MMIO_WRITE (#VE.RequestMMIO direction, mmio.is_write = 1). */
export const MMIO_WRITE = 1;
/** TDG_VP_VMCALL_INVALID_OPERAND */
export const TDG_VP_VMCALL_INVALID_OPERAND = 0x8000_0000_0000_0000n;
/** TDX_TDPARAM_ATTR_SEPT_VE_DISABLE_BIT (BIT(28)). */
export const TDX_TDPARAM_ATTR_SEPT_VE_DISABLE_BIT = 1n << 28n;

/** Guest memory of slot 0 (the selftests' default region; sparse, only touched pages cost). */
export const DEFAULT_TD_MEMORY = 8 << 20;

// ---------------------------------------------------------------------------------------------
// The CPUID the VMM gives the TD
// ---------------------------------------------------------------------------------------------

/**
 * The CPUID a vCPU gets from KVM_SET_CPUID2, as `tdx_td_vcpu_init` builds it: the TD's CPUID read
 * back with KVM_TDX_GET_CPUID (what the TDX module gives the TD, GPAW in 0x80000008
 * EAX[23:16]), with the vCPU's initial APIC ID in CPUID.1:EBX[31:24].
 */
export function tdxVcpuCpuid(vcpu: Vcpu, apicId: number): KvmCpuidEntry2[] {
  return cpuidWithApicId(vcpu.tdxGetCpuid(), apicId);
}

// ---------------------------------------------------------------------------------------------
// Building a TD the way tdx_util.c does
// ---------------------------------------------------------------------------------------------

let shared: { kvm: Kvm; vmm: Vmm } | undefined;

/**
 * The simulated host shared by all conformance tests (one `/dev/kvm`: one CPU, one TDX module
 * brought up once) and the VMM whose registry the TDs use: kvm's in-kernel leaves plus
 * ReportFatalError (KVM_EXIT_SYSTEM_EVENT) and GetQuote (KVM_EXIT_TDX), as Linux 6.16 has them.
 */
export function host(): { kvm: Kvm; vmm: Vmm } {
  if (shared === undefined) {
    const vmm = createVmm({ modules: [kvmModule(), fatalModule, quoteModule] });
    // The kernel kvmModule bound as the VMM's hypervisor: one /dev/kvm for every TD.
    const hypervisor = vmm.container.get(HYPERVISOR) as KvmHypervisor;
    shared = { kvm: hypervisor.kvm, vmm };
  }
  return shared;
}

/** A TD under test: its VM, its vCPUs and the VMM events it emitted (plugin errors). */
export class TdxTestVm {
  /** The VM (`struct kvm_vm`). */
  readonly vm: Vm;
  /** vCPUs added so far ({@link tdVcpuAdd}), by id. */
  readonly vcpus: Vcpu[] = [];
  /** Events emitted for this VM (the dispatcher's plugin errors); a conformant run has none. */
  readonly events: VmmEvent[];
  /** Pages the test allocated as private memory ({@link allocPrivate}), added at {@link tdFinalize}. */
  readonly privateRegions: [gpa: number, bytes: number][] = [];

  /**
   * @param vm - the VM
   * @param events - where its events go
   */
  constructor(vm: Vm, events: VmmEvent[]) {
    this.vm = vm;
    this.events = events;
  }

  /** Value of the shared bit (`tdx_s_bit`), valid after {@link tdInitialize}. */
  get sBit(): number {
    return this.vm.sharedBit;
  }
}

const live = new Set<Vm>();

/**
 * `td_create()`: KVM_CREATE_VM(KVM_X86_TDX_VM), then the capabilities `tdx_enable_capabilities`
 * turns on: KVM_CAP_X2APIC_API (USE_32BIT_IDS | DISABLE_BROADCAST_QUIRK) and
 * KVM_CAP_SPLIT_IRQCHIP with 24 pins.
 */
export function tdCreate(): TdxTestVm {
  const { kvm, vmm } = host();
  const events: VmmEvent[] = [];
  const vm = kvm.createVm(KVM_X86_TDX_VM, { registry: vmm.registry, emit: (e) => events.push(e) });
  live.add(vm);
  vm.enableCap(KVM_CAP_X2APIC_API, [KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK]);
  vm.enableCap(KVM_CAP_SPLIT_IRQCHIP, [24]);
  return new TdxTestVm(vm, events);
}

/**
 * `td_initialize(vm, VM_MEM_SRC_ANONYMOUS, attributes)`: slot 0 over [0, memoryBytes) backed by
 * guest_memfd and made PRIVATE (KVM_SET_MEMORY_ATTRIBUTES), then `tdx_init_vm`: KVM_TDX_INIT_VM
 * with `attributes` (the selftests pass 0; only the TDG.VP.INFO test passes SEPT_VE_DISABLE) and
 * `kvm_get_supported_cpuid()` filtered by `tdx_filter_cpuid` (KVM_TDX_CAPABILITIES), GPAW 48.
 */
export function tdInitialize(t: TdxTestVm, attributes = 0n, memoryBytes = DEFAULT_TD_MEMORY): void {
  t.vm.setUserMemoryRegion2({ slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0, memorySize: memoryBytes });
  t.vm.setMemoryAttributes({ address: 0, size: memoryBytes, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, flags: 0 });
  const cpuid = filterTdxCpuid(t.vm.kvm.getSupportedCpuid(), t.vm.tdxCapabilities().cpuid.entries, 48);
  t.vm.tdxInitVm({ attributes, cpuid });
}

/**
 * `td_vcpu_add(vm, id, guest_code)`: the guest program (the simulator's stand-in for the TD image,
 * one per TD: every vCPU runs it, as the selftests' multi-vCPU test does), KVM_CREATE_VCPU,
 * KVM_SET_CPUID2 with {@link tdxVcpuCpuid} (tdx_td_vcpu_init's KVM_TDX_GET_CPUID +
 * vcpu_init_cpuid), KVM_TDX_INIT_VCPU.
 */
export function tdVcpuAdd(t: TdxTestVm, id: number, guest: GuestProgram): Vcpu {
  if (t.vcpus.length === 0) t.vm.setGuestProgram(guest);
  const vcpu = t.vm.createVcpu(id);
  vcpu.setCpuid2(tdxVcpuCpuid(vcpu, id));
  vcpu.tdxInitVcpu(0n);
  t.vcpus.push(vcpu);
  return vcpu;
}

/**
 * `vm_vaddr_alloc*()` of private memory: records [gpa, gpa + bytes) as pages the test placed in
 * the TD image; {@link tdFinalize} adds them with KVM_TDX_INIT_MEM_REGION, as
 * load_td_private_memory does, so the guest uses them without TDG.MEM.PAGE.ACCEPT.
 */
export function allocPrivate(t: TdxTestVm, gpa: number, bytes = PAGE_SIZE): number {
  t.privateRegions.push([gpa, bytes]);
  return gpa;
}

/**
 * `td_finalize(vm)`: KVM_TDX_INIT_MEM_REGION (measured) for every private region the test
 * allocated, then KVM_TDX_FINALIZE_VM. `initialData` gives a region's content (default zeros).
 */
export function tdFinalize(t: TdxTestVm, initialData?: (gpa: number, bytes: number) => Uint8Array): void {
  for (const [gpa, bytes] of t.privateRegions) {
    const nrPages = Math.ceil(bytes / PAGE_SIZE);
    t.vcpus[0]!.tdxInitMemRegion({ source: initialData?.(gpa, bytes) ?? new Uint8Array(0), gpa, nrPages, flags: KVM_TDX_MEASURE_MEMORY_REGION });
  }
  t.vm.tdxFinalizeVm();
}

/** `kvm_vm_free(vm)`: closes the VM (full TDX teardown, HKID back to the pool). */
export function kvmVmFree(t: TdxTestVm): void {
  t.vm.destroy();
  live.delete(t.vm);
}

/** Frees every VM a test left behind (use in `afterEach`). */
export function kvmVmFreeAll(): void {
  for (const vm of live) vm.destroy();
  live.clear();
}

// ---------------------------------------------------------------------------------------------
// Running: td_vcpu_run / tdx_run
// ---------------------------------------------------------------------------------------------

/** Called when KVM_RUN returns EINTR (the selftests' signal handler); the run is then retried. */
export type EintrHandler = (vcpu: Vcpu) => void;

/**
 * `vcpu_run()`: KVM_RUN, retried while it fails with EINTR (as `_vcpu_run` loops); `onEintr` plays
 * the signal handler that interrupted it. The simulator never blocks: a vCPU that would block in
 * KVM_RUN (halted, nothing to wake it) returns EINTR at once, so without `onEintr` that is an
 * error. KVM_EXIT_MEMORY_FAULT, which KVM_RUN reports with EFAULT, is returned as the exit.
 * @returns the exit reason
 */
export function vcpuRun(vcpu: Vcpu, onEintr?: EintrHandler): number {
  for (let i = 0; ; i++) {
    try {
      return vcpu.run();
    } catch (err) {
      if (SeamkitError.is(err) && err.errno === EFAULT && vcpu.kvmRun.exitReason === KVM_EXIT_MEMORY_FAULT) return KVM_EXIT_MEMORY_FAULT;
      if (!(SeamkitError.is(err) && err.errno === EINTR) || onEintr === undefined || i > 16) throw err;
      onEintr(vcpu);
    }
  }
}

/**
 * `handle_memory_conversion()`: KVM_SET_MEMORY_ATTRIBUTES over [gpa, gpa + size), PRIVATE when
 * `sharedToPrivate`. Like the selftest it only flips the attribute and keeps both backings.
 */
export function handleMemoryConversion(t: TdxTestVm, gpa: number, size: number, sharedToPrivate: boolean): void {
  t.vm.setMemoryAttributes({ address: gpa, size, attributes: sharedToPrivate ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0, flags: 0 });
}

/**
 * `handle_userspace_map_gpa()`: converts the chunk of a KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE)
 * (args[0] GPA, args[1] pages, args[2] ENCRYPTED = to private) and sets `hypercall.ret` = 0.
 */
export function handleUserspaceMapGpa(t: TdxTestVm, vcpu: Vcpu): void {
  const run = vcpu.kvmRun;
  handleMemoryConversion(t, Number(run.hypercallArg(0)), Number(run.hypercallArg(1)) * PAGE_SIZE, (run.hypercallArg(2) & BigInt(KVM_MAP_GPA_RANGE_ENCRYPTED)) !== 0n);
  run.hypercallRet = 0n;
}

/**
 * `td_vcpu_run()`: {@link vcpuRun}, then a MapGPA exit is handled as the selftest library does
 * ({@link handleUserspaceMapGpa}; the exit is still returned, the conversion completes at the next
 * run).
 */
export function tdVcpuRun(t: TdxTestVm, vcpu: Vcpu, onEintr?: EintrHandler): number {
  const reason = vcpuRun(vcpu, onEintr);
  if (reason === KVM_EXIT_HYPERCALL && vcpu.kvmRun.hypercallNr === BigInt(KVM_HC_MAP_GPA_RANGE)) handleUserspaceMapGpa(t, vcpu);
  return reason;
}

/** Describes the current exit for assertion messages. */
export function describeExit(vcpu: Vcpu): string {
  const run = vcpu.kvmRun;
  const reason = run.exitReason;
  const name = KVM_EXIT_NAMES[reason] ?? `exit ${reason}`;
  if (reason === KVM_EXIT_SYSTEM_EVENT) {
    return `${name} type ${run.systemEventType} data[12] 0x${run.systemEventData(12).toString(16)} data[13] 0x${run.systemEventData(13).toString(16)}`;
  }
  if (reason === KVM_EXIT_IO) return `${name} port 0x${ioPort(vcpu).toString(16)} size ${ioSize(vcpu)} direction ${ioDirection(vcpu)}`;
  return name;
}

/**
 * `tdx_test_check_guest_failure()`: fails if the guest reported a fatal error (KVM_EXIT_SYSTEM_EVENT).
 */
export function tdxTestCheckGuestFailure(vcpu: Vcpu): void {
  if (vcpu.kvmRun.exitReason === KVM_EXIT_SYSTEM_EVENT) {
    expect.fail(`Guest reported error. ${describeExit(vcpu)}`);
  }
}

/** `tdx_run()`: {@link tdVcpuRun} + {@link tdxTestCheckGuestFailure}. */
export function tdxRun(t: TdxTestVm, vcpu: Vcpu, onEintr?: EintrHandler): number {
  const reason = tdVcpuRun(t, vcpu, onEintr);
  tdxTestCheckGuestFailure(vcpu);
  return reason;
}

// ---------------------------------------------------------------------------------------------
// Looking at exits
// ---------------------------------------------------------------------------------------------

/** `io.port` */
export function ioPort(vcpu: Vcpu): number {
  return vcpu.kvmRun.view.getUint16(L['io.port'].offset, true);
}

/** `io.size` */
export function ioSize(vcpu: Vcpu): number {
  return vcpu.kvmRun.bytes[L['io.size'].offset]!;
}

/** `io.direction` */
export function ioDirection(vcpu: Vcpu): number {
  return vcpu.kvmRun.bytes[L['io.direction'].offset]!;
}

/** The PIO data at `io.data_offset`, `size` bytes little-endian (default `io.size`). */
export function ioData(vcpu: Vcpu, size = ioSize(vcpu)): number {
  const run = vcpu.kvmRun;
  const off = run.getU64Number(L['io.data_offset'].offset);
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + run.bytes[off + i]!;
  return v;
}

/** Writes the PIO data an IN returns (`*(uintN_t *)((void *)run + run->io.data_offset) = value`). */
export function setIoData(vcpu: Vcpu, size: number, value: number): void {
  const run = vcpu.kvmRun;
  const off = run.getU64Number(L['io.data_offset'].offset);
  for (let i = 0; i < size; i++) run.bytes[off + i] = Math.floor(value / 256 ** i) & 0xff;
}

/** `tdx_test_assert_io()`: KVM_EXIT_IO with this port, size and direction. */
export function tdxTestAssertIo(vcpu: Vcpu, port: number, size: number, direction: number): void {
  expect(vcpu.kvmRun.exitReason, describeExit(vcpu)).toBe(KVM_EXIT_IO);
  expect({ port: ioPort(vcpu), size: ioSize(vcpu), direction: ioDirection(vcpu), count: vcpu.kvmRun.getU32(L['io.count'].offset) })
    .toEqual({ port, size, direction, count: 1 });
  expect(vcpu.kvmRun.getU64Number(L['io.data_offset'].offset)).toBe(KVM_PIO_DATA_OFFSET);
}

/** `mmio.phys_addr` */
export function mmioPhysAddr(vcpu: Vcpu): bigint {
  return vcpu.kvmRun.getU64(L['mmio.phys_addr'].offset);
}

/** The first `size` bytes of `mmio.data`, little-endian. */
export function mmioData(vcpu: Vcpu, size: number): bigint {
  const b = vcpu.kvmRun.bytes;
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[L['mmio.data'].offset + i]!);
  return v;
}

/** Writes the first `size` bytes of `mmio.data` (the value an MMIO read returns). */
export function setMmioData(vcpu: Vcpu, size: number, value: bigint): void {
  const b = vcpu.kvmRun.bytes;
  for (let i = 0; i < size; i++) b[L['mmio.data'].offset + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

/** `tdx_test_assert_mmio()`: KVM_EXIT_MMIO with this address, length and direction. */
export function tdxTestAssertMmio(vcpu: Vcpu, physAddr: number, size: number, isWrite: number): void {
  const run = vcpu.kvmRun;
  expect(run.exitReason, describeExit(vcpu)).toBe(KVM_EXIT_MMIO);
  expect({ physAddr: mmioPhysAddr(vcpu), len: run.getU32(L['mmio.len'].offset), isWrite: run.bytes[L['mmio.is_write'].offset] })
    .toEqual({ physAddr: BigInt(physAddr), len: size, isWrite });
}

/** `tdx_test_assert_success()`: the guest wrote to TDX_TEST_SUCCESS_PORT. */
export function tdxTestAssertSuccess(vcpu: Vcpu): void {
  tdxTestAssertIo(vcpu, TDX_TEST_SUCCESS_PORT, TDX_TEST_SUCCESS_SIZE, PORT_WRITE);
}

/** `tdx_test_read_report_from_guest()`: the u32 of a report on TDX_TEST_REPORT_PORT. */
export function tdxTestReadReportFromGuest(vcpu: Vcpu): number {
  tdxTestAssertIo(vcpu, TDX_TEST_REPORT_PORT, TDX_TEST_REPORT_SIZE, PORT_WRITE);
  return ioData(vcpu, 4);
}

/**
 * `tdx_test_read_64bit()`: low half from the current exit on `port`, then KVM_RUN (`tdx_run`) and
 * the high half from the next one.
 */
export function tdxTestRead64bit(t: TdxTestVm, vcpu: Vcpu, port: number): bigint {
  tdxTestAssertIo(vcpu, port, 4, PORT_WRITE);
  const lo = ioData(vcpu, 4);
  tdxRun(t, vcpu);
  tdxTestAssertIo(vcpu, port, 4, PORT_WRITE);
  return (BigInt(ioData(vcpu, 4)) << 32n) | BigInt(lo);
}

/** `tdx_test_read_64bit_report_from_guest()`: {@link tdxTestRead64bit} on TDX_TEST_REPORT_PORT. */
export function tdxTestRead64bitReportFromGuest(t: TdxTestVm, vcpu: Vcpu): bigint {
  return tdxTestRead64bit(t, vcpu, TDX_TEST_REPORT_PORT);
}

/**
 * The error-path check of the selftests: KVM_EXIT_SYSTEM_EVENT of type KVM_SYSTEM_EVENT_TDX_FATAL
 * with ndata 16 and data[12] (the guest's R12) = `code`.
 */
export function assertFatal(vcpu: Vcpu, code: bigint): void {
  const run = vcpu.kvmRun;
  expect(run.exitReason, describeExit(vcpu)).toBe(KVM_EXIT_SYSTEM_EVENT);
  expect({ type: run.systemEventType, ndata: run.systemEventNdata, r12: run.systemEventData(12) })
    .toEqual({ type: KVM_SYSTEM_EVENT_TDX_FATAL, ndata: 16, r12: code });
}

// ---------------------------------------------------------------------------------------------
// Guest side (lib/x86/tdx/test_util.c), generator form
// ---------------------------------------------------------------------------------------------

/** `tdg_vp_vmcall_instruction_io()` with the value in/out as a bigint: returns [R10, R11]. */
export function* tdgVpVmcallInstructionIo(cpu: GuestCpu, port: number, size: number, write: number, data = 0n): Generator<number, [bigint, bigint], void> {
  const status = yield* ghci.tdvmcall(cpu, TDVMCALL_IO, { r12: BigInt(size), r13: BigInt(write), r14: BigInt(port), r15: write === PORT_WRITE ? data : 0n });
  return [status, cpu.regs.get(R11)];
}

/** `tdx_test_success()`: a 4-byte write of 0 to TDX_TEST_SUCCESS_PORT. */
export function* tdxTestSuccess(cpu: GuestCpu): Generator<number, void, void> {
  yield* ghci.ioWrite(cpu, TDX_TEST_SUCCESS_PORT, TDX_TEST_SUCCESS_SIZE, 0);
}

/** `tdx_test_report_to_user_space()`: a 4-byte write of `data` to TDX_TEST_REPORT_PORT; returns R10. */
export function* tdxTestReportToUserSpace(cpu: GuestCpu, data: number): Generator<number, bigint, void> {
  return yield* ghci.ioWrite(cpu, TDX_TEST_REPORT_PORT, TDX_TEST_REPORT_SIZE, data >>> 0);
}

/** `tdx_test_send_64bit()`: two 4-byte writes to `port`, low half first; returns the first error or R10. */
export function* tdxTestSend64bit(cpu: GuestCpu, port: number, data: bigint): Generator<number, bigint, void> {
  const v = BigInt.asUintN(64, data);
  const err = yield* ghci.ioWrite(cpu, port, 4, Number(v & 0xffff_ffffn));
  if (err !== 0n) return err;
  return yield* ghci.ioWrite(cpu, port, 4, Number(v >> 32n));
}

/** `tdx_test_report_64bit_to_user_space()`: {@link tdxTestSend64bit} on TDX_TEST_REPORT_PORT. */
export function* tdxTestReport64bitToUserSpace(cpu: GuestCpu, data: bigint): Generator<number, bigint, void> {
  return yield* tdxTestSend64bit(cpu, TDX_TEST_REPORT_PORT, data);
}

/**
 * `tdx_test_fatal_with_data()`: ReportFatalError with R12 = `code` | bit 63 (R13 valid) and
 * R13 = `data`. If the host runs the vCPU again the guest continues here.
 */
export function* tdxTestFatalWithData(cpu: GuestCpu, code: bigint, data: number): Generator<number, void, void> {
  yield* ghci.reportFatalError(cpu, BigInt.asUintN(64, code), '', data);
}

/** `tdx_test_fatal()`: ReportFatalError with R12 = `code` (no bit 63) and R13 = 0. */
export function* tdxTestFatal(cpu: GuestCpu, code: bigint): Generator<number, void, void> {
  yield* ghci.reportFatalError(cpu, BigInt.asUintN(64, code));
}

/** `tdx_assert_error()`: a non-zero TDVMCALL status is reported with {@link tdxTestFatal}. */
export function* tdxAssertError(cpu: GuestCpu, ret: bigint): Generator<number, void, void> {
  if (ret !== 0n) yield* tdxTestFatal(cpu, ret);
}

// ---------------------------------------------------------------------------------------------
// Guest side, step form (no allocation)
// ---------------------------------------------------------------------------------------------

/** Step form of an Instruction.IO write: sets R12..R15 and returns the TDCALL exit reason. */
export function prepareIoWrite(regs: RegisterFile, port: number, size: number, value: number): number {
  regs.setHalves(R12, size, 0);
  regs.setHalves(R13, PORT_WRITE, 0);
  regs.setHalves(R14, port, 0);
  regs.setHalves(R15, value >>> 0, 0);
  return prepareTdvmcall(regs, TDVMCALL_IO);
}

/** Step form of `tdx_test_success()`. */
export function prepareTdxTestSuccess(regs: RegisterFile): number {
  return prepareIoWrite(regs, TDX_TEST_SUCCESS_PORT, TDX_TEST_SUCCESS_SIZE, 0);
}

/** Step form of `tdx_test_report_to_user_space()`. */
export function prepareTdxTestReport(regs: RegisterFile, data: number): number {
  return prepareIoWrite(regs, TDX_TEST_REPORT_PORT, TDX_TEST_REPORT_SIZE, data);
}

/** Step form of `tdx_test_fatal()`: R12 = `lo` | `hi` << 32, R13 = 0, no message. */
export function prepareTdxTestFatal(regs: RegisterFile, lo: number, hi: number): number {
  regs.setHalves(R14, 0, 0);
  regs.setHalves(R15, 0, 0);
  regs.setHalves(RBX, 0, 0);
  regs.setHalves(RDI, 0, 0);
  regs.setHalves(RSI, 0, 0);
  regs.setHalves(R8, 0, 0);
  regs.setHalves(R9, 0, 0);
  regs.setHalves(RDX, 0, 0);
  regs.setHalves(R12, lo, hi);
  regs.setHalves(R13, 0, 0);
  return prepareTdvmcall(regs, TDVMCALL_REPORT_FATAL_ERROR);
}

/** Exit reason a step-form guest returns when it has nothing left to run. */
export const GUEST_DONE = EXIT_REASON_TRIPLE_FAULT;
