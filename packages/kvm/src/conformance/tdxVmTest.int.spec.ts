import { afterEach, describe, expect, it } from 'vitest';
import { fromGenerator, PAGE_SIZE, SeamkitError, R10, R11, R8, R9, RAX, RCX, RDX, type GuestCpu, type GuestProgram } from '@seamkit/seam-cpu';
import { ghci, prepareTdcall, TDG_VP_INFO } from '@seamkit/tdx-module';
import { KVM_CAP_MAX_VCPUS } from '../Kvm.js';
import { MSR_IA32_MISC_ENABLE, MSR_IA32_POWER_CTL } from '../devices/Msrs.js';
import { KVM_EXIT_INTR, KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_TDX_FATAL } from '../uapi/exits.js';
import { EINVAL } from '../uapi/errno.js';
import { KVM_MEM_GUEST_MEMFD, KVM_MEM_LOG_DIRTY_PAGES } from '../uapi/tdx.js';
import {
  KVM_CAP_X86_MSR_FILTER, KVM_MP_STATE_HALTED, KVM_MP_STATE_RUNNABLE, KVM_MSR_FILTER_DEFAULT_DENY, KVM_MSR_FILTER_READ, KVM_MSR_FILTER_WRITE,
} from '../uapi/x86.js';
import type { Vcpu } from '../Vcpu.js';
import {
  allocPrivate, assertFatal, GUEST_DONE, ioData, kvmVmFree, kvmVmFreeAll, MMIO_READ, MMIO_WRITE, mmioData, PORT_READ, PORT_WRITE,
  prepareTdxTestSuccess, setIoData, setMmioData, tdCreate, tdFinalize, tdgVpVmcallInstructionIo, tdInitialize, tdVcpuAdd, tdVcpuRun,
  TDG_VP_VMCALL_INVALID_OPERAND, TDX_TDPARAM_ATTR_SEPT_VE_DISABLE_BIT, tdxAssertError, tdxRun, tdxTestAssertIo,
  tdxTestAssertMmio, tdxTestAssertSuccess, tdxTestFatal, tdxTestRead64bitReportFromGuest, tdxTestReadReportFromGuest,
  tdxTestReport64bitToUserSpace, tdxTestReportToUserSpace, tdxTestSuccess, type TdxTestVm,
} from './harness.js';

/**
 * tools/testing/selftests/kvm/x86/tdx_vm_test.c of "[PATCH v8 00/30] TDX KVM selftests"
 * (kvm-tdx-abi.md §4), the 16 cases in ksft order, on the simulator. Each guest is the C guest
 * function rewritten in the generator form (verify_td_lifecycle also in the step form); each host
 * body follows the C test line by line, with the harness standing in for tdx_util.c /
 * test_util.c. docs/conformance.md lists every case with its status and deviations.
 */

afterEach(kvmVmFreeAll);

/** A one-vCPU TD as most cases build it: td_create, td_initialize(vm, 0), td_vcpu_add, td_finalize. */
function oneVcpuTd(guest: GuestProgram, beforeVcpu?: (t: TdxTestVm) => void): { t: TdxTestVm; vcpu: Vcpu } {
  const t = tdCreate();
  tdInitialize(t, 0n);
  beforeVcpu?.(t);
  const vcpu = tdVcpuAdd(t, 0, guest);
  tdFinalize(t);
  return { t, vcpu };
}

const guest = (fn: (cpu: GuestCpu) => Generator<number, void, void>): GuestProgram => fromGenerator(fn);

describe('tdx_vm_test.c', () => {
  it('1 verify_td_lifecycle: the TD is created, initialized, finalized and run; the guest reports success', () => {
    // guest_code_lifecycle, step form: tdx_test_success(), then nothing left to run.
    const stepGuest: GuestProgram = () => {
      let pc = 0;
      return { step: (cpu) => (pc++ === 0 ? prepareTdxTestSuccess(cpu.regs) : GUEST_DONE) };
    };
    const { t, vcpu } = oneVcpuTd(stepGuest);
    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    expect(t.events).toEqual([]);
    kvmVmFree(t);
  });

  it('1 verify_td_lifecycle (generator form of the same guest)', () => {
    const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
      yield* tdxTestSuccess(cpu);
    }));
    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    kvmVmFree(t);
  });

  it('2 verify_report_fatal_error: KVM_EXIT_SYSTEM_EVENT TDX_FATAL, ndata 16, data[12] = 0x0BAAAAAD00000000, data[13] = 0; re-run reaches success', () => {
    const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
      // bits 31:0 zero, 62:32 the TD-specific extended code, bit 63 clear (no GPA).
      yield* tdxTestFatal(cpu, 0x0BAAAAAD00000000n);
      yield* tdxTestSuccess(cpu);
    }));
    tdVcpuRun(t, vcpu);
    const run = vcpu.kvmRun;
    expect(run.exitReason).toBe(KVM_EXIT_SYSTEM_EVENT);
    expect(run.systemEventType).toBe(KVM_SYSTEM_EVENT_TDX_FATAL);
    expect(run.systemEventNdata).toBe(16);
    expect(run.systemEventData(12)).toBe(0x0BAAAAAD00000000n);
    expect(run.systemEventData(13)).toBe(0n);
    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    kvmVmFree(t);
  });

  it('3 verify_td_ioexit: OUT of 0xAB to port 0x50, IN from port 0x50 gets 0xAC (delta 1)', () => {
    const TDX_IOEXIT_TEST_PORT = 0x50;
    const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
      const dataOut = 0xabn;
      let [ret] = yield* tdgVpVmcallInstructionIo(cpu, TDX_IOEXIT_TEST_PORT, 1, PORT_WRITE, dataOut);
      yield* tdxAssertError(cpu, ret);
      let dataIn: bigint;
      [ret, dataIn] = yield* tdgVpVmcallInstructionIo(cpu, TDX_IOEXIT_TEST_PORT, 1, PORT_READ);
      yield* tdxAssertError(cpu, ret);
      if (dataIn !== 0xacn) yield* tdxTestFatal(cpu, dataIn);
      yield* tdxTestSuccess(cpu);
    }));
    // Wait for the guest to do an IO write.
    tdxRun(t, vcpu);
    tdxTestAssertIo(vcpu, TDX_IOEXIT_TEST_PORT, 1, PORT_WRITE);
    const portData = ioData(vcpu, 1);
    expect(portData).toBe(0xab);
    // Wait for the guest to do an IO read; give it the written value + 1.
    tdxRun(t, vcpu);
    tdxTestAssertIo(vcpu, TDX_IOEXIT_TEST_PORT, 1, PORT_READ);
    setIoData(vcpu, 1, portData + 1);
    // The guest checks the value itself.
    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    kvmVmFree(t);
  });

  it('4 verify_td_cpuid: CPUID(1) EBX/ECX: SSE3 = 1, CLFLUSH 8, max addressable IDs and FMA as configured, initial APIC ID 0 (deviation: TDVMCALL CPUID)', () => {
    const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
      // Stand-in for the native CPUID instruction (the simulated CPU has none): the CPUID request
      // a TD issues for a #VE-reported leaf, answered by KVM from its CPUID table.
      const [status, , ebx, ecx] = yield* ghci.cpuid(cpu, 1, 0);
      yield* tdxAssertError(cpu, status);
      yield* tdxAssertError(cpu, yield* tdxTestReportToUserSpace(cpu, ebx));
      yield* tdxAssertError(cpu, yield* tdxTestReportToUserSpace(cpu, ecx));
      yield* tdxTestSuccess(cpu);
    }));
    tdxRun(t, vcpu);
    const ebx = tdxTestReadReportFromGuest(vcpu);
    tdxRun(t, vcpu);
    const ecx = tdxTestReadReportFromGuest(vcpu);
    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    // KVM's CPUIDs for reference (vcpu->cpuid after tdx_filter_cpuid).
    const entry = vcpu.getCpuid2().find((e) => e.function === 1)!;
    const hostMaxAddressableIds = (entry.ebx >>> 16) & 0xff;
    expect(ecx & 1).toBe(1); // SSE3: native
    expect((ebx >>> 8) & 0xff).toBe(8); // CLFLUSH line size: fixed
    expect((ebx >>> 16) & 0xff).toBe(hostMaxAddressableIds); // as configured
    expect((ecx >>> 12) & 1).toBe((entry.ecx >>> 12) & 1); // FMA: as configured (if native)
    expect((ebx >>> 24) & 0xff).toBe(0); // initial APIC ID: calculated
    kvmVmFree(t);
  });

  it('5 verify_get_td_vmcall_info: GetTdVmCallInfo(R12 = 0) succeeds with R11..R14 = 0', () => {
    const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
      const info = yield* ghci.getTdVmCallInfo(cpu, 0);
      yield* tdxAssertError(cpu, info.status);
      for (const r of [info.r11, info.r12, info.r13, info.r14]) yield* tdxAssertError(cpu, yield* tdxTestReport64bitToUserSpace(cpu, r));
      yield* tdxTestSuccess(cpu);
    }));
    const regs: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      tdxRun(t, vcpu);
      regs.push(tdxTestRead64bitReportFromGuest(t, vcpu));
    }
    expect(regs).toEqual([0n, 0n, 0n, 0n]);
    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    kvmVmFree(t);
  });

  it('6 verify_guest_writes: OUT of 1, 2, 4 bytes to port 0x51 (0xAB, 0xABCD, 0xFFABCDEF); size 5 gives INVALID_OPERAND in data[12]', () => {
    const TDX_IO_WRITES_TEST_PORT = 0x51;
    const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
      for (const [size, value] of [[1, 0xabn], [2, 0xabcdn], [4, 0xffabcdefn]] as const) {
        const [ret] = yield* tdgVpVmcallInstructionIo(cpu, TDX_IO_WRITES_TEST_PORT, size, PORT_WRITE, value);
        yield* tdxAssertError(cpu, ret);
      }
      // Write an invalid number of bytes.
      const [ret] = yield* tdgVpVmcallInstructionIo(cpu, TDX_IO_WRITES_TEST_PORT, 5, PORT_WRITE, 0xffabcdefn);
      yield* tdxAssertError(cpu, ret);
      yield* tdxTestSuccess(cpu);
    }));
    const bytes: number[] = [];
    for (const size of [1, 2, 4]) {
      tdxRun(t, vcpu);
      tdxTestAssertIo(vcpu, TDX_IO_WRITES_TEST_PORT, size, PORT_WRITE);
      bytes.push(ioData(vcpu, size));
    }
    expect(bytes).toEqual([0xab, 0xabcd, 0xffabcdef]);
    tdVcpuRun(t, vcpu);
    assertFatal(vcpu, TDG_VP_VMCALL_INVALID_OPERAND);
    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    kvmVmFree(t);
  });

  it('7 verify_guest_reads: IN of 1, 2, 4 bytes from port 0x52 gets the host\'s 0xAB, 0xABCD, 0xFFABCDEF; size 5 gives INVALID_OPERAND', () => {
    const TDX_IO_READS_TEST_PORT = 0x52;
    const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
      for (const [size, value] of [[1, 0xabn], [2, 0xabcdn], [4, 0xffabcdefn]] as const) {
        const [ret, data] = yield* tdgVpVmcallInstructionIo(cpu, TDX_IO_READS_TEST_PORT, size, PORT_READ);
        yield* tdxAssertError(cpu, ret);
        if (data !== value) yield* tdxTestFatal(cpu, BigInt(size));
      }
      // Read an invalid number of bytes.
      const [ret] = yield* tdgVpVmcallInstructionIo(cpu, TDX_IO_READS_TEST_PORT, 5, PORT_READ);
      yield* tdxAssertError(cpu, ret);
      yield* tdxTestSuccess(cpu);
    }));
    for (const [size, value] of [[1, 0xab], [2, 0xabcd], [4, 0xffabcdef]] as const) {
      tdxRun(t, vcpu);
      tdxTestAssertIo(vcpu, TDX_IO_READS_TEST_PORT, size, PORT_READ);
      setIoData(vcpu, size, value);
    }
    tdVcpuRun(t, vcpu);
    assertFatal(vcpu, TDG_VP_VMCALL_INVALID_OPERAND);
    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    kvmVmFree(t);
  });

  describe('MSR filter: default deny, read of MISC_ENABLE and write of POWER_CTL allowed, x2APIC ICR never filtered', () => {
    const MSR_X2APIC_APIC_ICR = 0x830;
    const allowBits = (): Uint8Array => new Uint8Array(8).fill(0xff);
    const withFilter = (t: TdxTestVm): void => {
      expect(t.vm.checkExtension(KVM_CAP_X86_MSR_FILTER)).toBeTruthy();
      t.vm.setMsrFilter({
        flags: KVM_MSR_FILTER_DEFAULT_DENY,
        ranges: [
          { flags: KVM_MSR_FILTER_READ, nmsrs: 1, base: MSR_IA32_MISC_ENABLE, bitmap: allowBits() },
          { flags: KVM_MSR_FILTER_WRITE, nmsrs: 1, base: MSR_IA32_POWER_CTL, bitmap: allowBits() },
        ],
      });
    };
    const getMsr = (vcpu: Vcpu, index: number): bigint => {
      const e = [{ index, data: 0n }];
      expect(vcpu.getMsrs(e)).toBe(1);
      return e[0]!.data;
    };
    const setMsr = (vcpu: Vcpu, index: number, data: bigint): void => {
      expect(vcpu.setMsrs([{ index, data }])).toBe(1);
    };

    it('8 verify_guest_msr_writes: WRMSR ICR = 4 and POWER_CTL = 6 succeed, MISC_ENABLE = 5 gets INVALID_OPERAND; the host reads 4, the old MISC_ENABLE, 6', () => {
      const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
        yield* tdxAssertError(cpu, yield* ghci.wrmsr(cpu, MSR_X2APIC_APIC_ICR, 4n));
        // Expect this call to fail since MSR_IA32_MISC_ENABLE is read only.
        const ret = yield* ghci.wrmsr(cpu, MSR_IA32_MISC_ENABLE, 5n);
        if (ret !== 0n) yield* tdxAssertError(cpu, yield* tdxTestReport64bitToUserSpace(cpu, ret));
        else yield* tdxTestFatal(cpu, -99n);
        yield* tdxAssertError(cpu, yield* ghci.wrmsr(cpu, MSR_IA32_POWER_CTL, 6n));
        yield* tdxTestSuccess(cpu);
      }), withFilter);
      const ia32MiscEnableVal = getMsr(vcpu, MSR_IA32_MISC_ENABLE);
      // Only the write to MSR_IA32_MISC_ENABLE makes the guest report something.
      tdxRun(t, vcpu);
      expect(tdxTestRead64bitReportFromGuest(t, vcpu)).toBe(TDG_VP_VMCALL_INVALID_OPERAND);
      tdxRun(t, vcpu);
      tdxTestAssertSuccess(vcpu);
      expect(getMsr(vcpu, MSR_X2APIC_APIC_ICR)).toBe(4n);
      expect(getMsr(vcpu, MSR_IA32_MISC_ENABLE)).toBe(ia32MiscEnableVal);
      expect(getMsr(vcpu, MSR_IA32_POWER_CTL)).toBe(6n);
      kvmVmFree(t);
    });

    it('9 verify_guest_msr_reads: with ICR = 4, MISC_ENABLE = 5, POWER_CTL = 6 set by the host, the guest reads 4 and 5; RDMSR of POWER_CTL gets INVALID_OPERAND', () => {
      const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
        let [ret, data] = yield* ghci.rdmsr(cpu, MSR_X2APIC_APIC_ICR);
        yield* tdxAssertError(cpu, ret);
        yield* tdxAssertError(cpu, yield* tdxTestReport64bitToUserSpace(cpu, data));
        [ret, data] = yield* ghci.rdmsr(cpu, MSR_IA32_MISC_ENABLE);
        yield* tdxAssertError(cpu, ret);
        yield* tdxAssertError(cpu, yield* tdxTestReport64bitToUserSpace(cpu, data));
        // Expect this call to fail since MSR_IA32_POWER_CTL is write only.
        [ret] = yield* ghci.rdmsr(cpu, MSR_IA32_POWER_CTL);
        if (ret !== 0n) yield* tdxAssertError(cpu, yield* tdxTestReport64bitToUserSpace(cpu, ret));
        else yield* tdxTestFatal(cpu, -99n);
        yield* tdxTestSuccess(cpu);
      }), withFilter);
      // Write arbitrary values to the MSRs (KVM_SET_MSRS, host-initiated: not filtered).
      setMsr(vcpu, MSR_X2APIC_APIC_ICR, 4n);
      setMsr(vcpu, MSR_IA32_MISC_ENABLE, 5n);
      setMsr(vcpu, MSR_IA32_POWER_CTL, 6n);
      const seen: bigint[] = [];
      for (let i = 0; i < 3; i++) {
        tdxRun(t, vcpu);
        seen.push(tdxTestRead64bitReportFromGuest(t, vcpu));
      }
      expect(seen).toEqual([4n, 5n, TDG_VP_VMCALL_INVALID_OPERAND]);
      tdxRun(t, vcpu);
      tdxTestAssertSuccess(vcpu);
      kvmVmFree(t);
    });
  });

  it('10 verify_guest_hlt: HLT(interrupt blocked 0) leaves mp_state HALTED; the "signal handler" sets RUNNABLE and the guest finishes', () => {
    const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
      yield* tdxAssertError(cpu, yield* ghci.hlt(cpu, false));
      yield* tdxTestSuccess(cpu);
    }));
    const states: number[] = [];
    // The SIGALRM handler of _verify_guest_hlt: KVM_RUN was interrupted while the vCPU blocked.
    const wakeMe = (v: Vcpu): void => {
      expect(v.kvmRun.exitReason).toBe(KVM_EXIT_INTR); // KVM_RUN returned -EINTR
      states.push(v.getMpState());
      v.setMpState(KVM_MP_STATE_RUNNABLE);
    };
    tdVcpuRun(t, vcpu, wakeMe);
    tdxTestAssertSuccess(vcpu);
    expect(states).toEqual([KVM_MP_STATE_HALTED]);
    kvmVmFree(t);
  });

  describe('MMIO at 0x200000000 | S-bit', () => {
    const TDX_MMIO_TEST_ADDR = 0x2_0000_0000;
    const MMIO_SYNC_VALUE = 0x42;
    const VALUES = [[1, 0x12n], [2, 0x1234n], [4, 0x12345678n], [8, 0x1234567890abcdefn]] as const;

    it('11 verify_mmio_reads: reads of 1, 2, 4, 8 bytes exit with phys_addr 0x200000000 and get the host\'s values; size 10 gives INVALID_OPERAND', () => {
      const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
        const mmioTestAddr = TDX_MMIO_TEST_ADDR + cpu.mem.sharedBit;
        for (const [size, value] of VALUES) {
          const [ret, data] = yield* ghci.mmioRead(cpu, mmioTestAddr, size);
          yield* tdxAssertError(cpu, ret);
          if (data !== value) yield* tdxTestFatal(cpu, BigInt(size));
        }
        // Make sure host and guest are synced to the same point of execution.
        yield* tdxTestReportToUserSpace(cpu, MMIO_SYNC_VALUE);
        // Read an invalid number of bytes.
        const [ret] = yield* ghci.mmioRead(cpu, mmioTestAddr, 10);
        yield* tdxAssertError(cpu, ret);
        yield* tdxTestSuccess(cpu);
      }));
      for (const [size, value] of VALUES) {
        tdxRun(t, vcpu);
        tdxTestAssertMmio(vcpu, TDX_MMIO_TEST_ADDR, size, MMIO_READ);
        setMmioData(vcpu, size, value);
      }
      tdxRun(t, vcpu);
      expect(tdxTestReadReportFromGuest(vcpu)).toBe(MMIO_SYNC_VALUE);
      tdVcpuRun(t, vcpu);
      assertFatal(vcpu, TDG_VP_VMCALL_INVALID_OPERAND);
      tdxRun(t, vcpu);
      tdxTestAssertSuccess(vcpu);
      kvmVmFree(t);
    });

    it('12 verify_mmio_writes: writes of 1, 2, 4, 8 bytes reach the host; a write at the private GPA PAGE_SIZE - 1 gives INVALID_OPERAND', () => {
      const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
        const mmioTestAddr = TDX_MMIO_TEST_ADDR + cpu.mem.sharedBit;
        for (const [size, value] of VALUES) yield* tdxAssertError(cpu, yield* ghci.mmioWrite(cpu, mmioTestAddr, size, value));
        yield* tdxTestReportToUserSpace(cpu, MMIO_SYNC_VALUE);
        // Write across a page boundary (and without the shared bit).
        yield* tdxAssertError(cpu, yield* ghci.mmioWrite(cpu, PAGE_SIZE - 1, 8, 0n));
        yield* tdxTestSuccess(cpu);
      }));
      const written: bigint[] = [];
      for (const [size] of VALUES) {
        tdxRun(t, vcpu);
        tdxTestAssertMmio(vcpu, TDX_MMIO_TEST_ADDR, size, MMIO_WRITE);
        written.push(mmioData(vcpu, size));
      }
      expect(written).toEqual(VALUES.map(([, v]) => v));
      tdxRun(t, vcpu);
      expect(tdxTestReadReportFromGuest(vcpu)).toBe(MMIO_SYNC_VALUE);
      tdVcpuRun(t, vcpu);
      assertFatal(vcpu, TDG_VP_VMCALL_INVALID_OPERAND);
      tdxRun(t, vcpu);
      tdxTestAssertSuccess(vcpu);
      kvmVmFree(t);
    });
  });

  it('13 verify_td_cpuid_tdcall: TDVMCALL<Instruction.CPUID>(1, 0) returns KVM\'s CPUID.1 entry (EBX compared without the APIC ID byte)', () => {
    const { t, vcpu } = oneVcpuTd(guest(function* (cpu) {
      const [err, eax, ebx, ecx, edx] = yield* ghci.cpuid(cpu, 1, 0);
      yield* tdxAssertError(cpu, err);
      for (const v of [eax, ebx, ecx, edx]) yield* tdxAssertError(cpu, yield* tdxTestReportToUserSpace(cpu, v));
      yield* tdxTestSuccess(cpu);
    }));
    const regs: number[] = [];
    for (let i = 0; i < 4; i++) {
      tdxRun(t, vcpu);
      regs.push(tdxTestReadReportFromGuest(vcpu));
    }
    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    const [eax, ebx, ecx, edx] = regs as [number, number, number, number];
    // KVM's CPUIDs for reference (the vCPU's KVM_SET_CPUID2 table).
    const entry = vcpu.getCpuid2().find((e) => e.function === 1 && e.index === 0)!;
    expect(eax).toBe(entry.eax);
    expect((ebx & ~0xff00_0000) >>> 0).toBe((entry.ebx & ~0xff00_0000) >>> 0);
    expect(ecx).toBe(entry.ecx);
    expect(edx).toBe(entry.edx);
    kvmVmFree(t);
  });

  it('14 verify_host_reading_private_mem: 0xABCD written to private memory is never what the host reads, before or after the guest changes it', () => {
    const TDX_HOST_READ_PRIVATE_MEM_PORT_TEST = 0x53;
    const t = tdCreate();
    tdInitialize(t, 0n);
    const vcpu = tdVcpuAdd(t, 0, guest(function* (cpu) {
      // Set the value (a plain store: the page was added before finalization, no accept needed).
      cpu.mem.writeU32(testPage, 0xabcd);
      // Exit so the host can read it.
      const [ret] = yield* tdgVpVmcallInstructionIo(cpu, TDX_HOST_READ_PRIVATE_MEM_PORT_TEST, 4, PORT_WRITE, 0n);
      yield* tdxAssertError(cpu, ret);
      // Update the value and have the host read it again.
      cpu.mem.writeU32(testPage, 0xfedc);
      yield* tdxTestSuccess(cpu);
    }));
    const testPage = allocPrivate(t, 0x20_0000); // vm_vaddr_alloc_page: a private page below 4 GiB
    expect(testPage).toBeLessThan(2 ** 32);
    tdFinalize(t);
    const hostRead = (): bigint => {
      const b = new Uint8Array(8);
      t.vm.read(testPage, b); // *host_virt: the memslot's userspace mapping of that GPA
      return new DataView(b.buffer).getBigUint64(0, true);
    };
    tdxRun(t, vcpu);
    tdxTestAssertIo(vcpu, TDX_HOST_READ_PRIVATE_MEM_PORT_TEST, 4, PORT_WRITE);
    const firstHostRead = hostRead();
    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    const secondHostRead = hostRead();
    expect(firstHostRead).toBe(secondHostRead); // the host reads a fixed pattern
    expect(firstHostRead & 0xffff_ffffn).not.toBe(0xabcdn);
    expect(secondHostRead & 0xffff_ffffn).not.toBe(0xfedcn);
    // Beyond the original: the private page itself, read with the host's key id, is ciphertext.
    const hpa = t.vm.mmu.privatePages.get(testPage / PAGE_SIZE)!;
    const raw = new Uint8Array(4);
    t.vm.kvm.cpu.memory.read(hpa, raw, 0);
    expect(new DataView(raw.buffer).getUint32(0, true)).not.toBe(0xfedc);
    kvmVmFree(t);
  });

  it('15 verify_tdcall_vp_info: on two vCPUs TDG.VP.INFO gives GPAW, attributes SEPT_VE_DISABLE, 2 / KVM_CAP_MAX_VCPUS vCPUs, the vCPU index, R10 bit 0 only, R11 = 0', () => {
    const attributes = TDX_TDPARAM_ATTR_SEPT_VE_DISABLE_BIT; // 0x10000000
    const numVcpus = 2;
    const t = tdCreate();
    tdInitialize(t, attributes);
    const vpInfoGuest = guest(function* (cpu) {
      // __tdx_module_call(TDG_VP_INFO, 0, 0, 0, 0, &out): a TDCALL the TDX module answers, no VMM exit.
      const r = cpu.regs;
      for (const reg of [RCX, RDX, R8, R9]) r.setHalves(reg, 0, 0);
      yield prepareTdcall(r, TDG_VP_INFO);
      const err = r.get(RAX);
      const out = [r.get(RCX), r.get(RDX), r.get(R8), r.get(R9), r.get(R10), r.get(R11)];
      yield* tdxAssertError(cpu, err);
      // Return the values to the user space host.
      for (const v of out) yield* tdxAssertError(cpu, yield* tdxTestReport64bitToUserSpace(cpu, v));
      yield* tdxTestSuccess(cpu);
    });
    for (let i = 0; i < numVcpus; i++) tdVcpuAdd(t, i, vpInfoGuest);
    tdFinalize(t);
    for (let i = 0; i < numVcpus; i++) {
      const vcpu = t.vcpus[i]!;
      const entry = vcpu.getCpuid2().find((e) => e.function === 0x8000_0008)!;
      const gpaBits = (entry.eax >>> 16) & 0xff;
      expect(2 ** (gpaBits - 1)).toBe(t.sBit);
      const [rcx, rdx, r8, r9, r10, r11] = Array.from({ length: 6 }, () => {
        tdxRun(t, vcpu);
        return tdxTestRead64bitReportFromGuest(t, vcpu);
      }) as [bigint, bigint, bigint, bigint, bigint, bigint];
      const retNumVcpus = Number(r8 & 0xffff_ffffn);
      const retMaxVcpus = Number(r8 >> 32n);
      expect(Number(rcx & 0x3fn)).toBe(gpaBits); // GPAW in bits 5:0
      expect(rcx >> 6n).toBe(0n); // bits 63:6 reserved
      expect(rdx).toBe(attributes);
      expect(retNumVcpus).toBe(numVcpus);
      expect(retMaxVcpus).toBe(t.vm.checkExtension(KVM_CAP_MAX_VCPUS));
      expect(r9).toBe(BigInt(i)); // VCPU_INDEX
      expect(r10 & ~1n).toBe(0n); // only bit 0 (SYS_RD) may be set
      expect(r11).toBe(0n);
      tdxRun(t, vcpu);
      tdxTestAssertSuccess(vcpu);
    }
    kvmVmFree(t);
  });

  it('16 verify_log_dirty_pages_flag_on_non_gmemfd_slot: a shared-only memslot with KVM_MEM_LOG_DIRTY_PAGES is accepted and the guest writes to it', () => {
    const TDX_LOG_DIRTY_PAGES_FLAG_TEST_GPA = 0xc000_0000;
    const TDX_LOG_DIRTY_PAGES_FLAG_REGION_SLOT = 10;
    const t = tdCreate();
    tdInitialize(t, 0n);
    const vcpu = tdVcpuAdd(t, 0, guest(function* (cpu) {
      // memset((void *)TDX_LOG_DIRTY_PAGES_FLAG_TEST_GVA_SHARED, 1, 8): the GVA maps the GPA with the S-bit.
      cpu.mem.write(TDX_LOG_DIRTY_PAGES_FLAG_TEST_GPA + cpu.mem.sharedBit, new Uint8Array(8).fill(1));
      yield* tdxTestSuccess(cpu);
    }));
    t.vm.setUserMemoryRegion2({
      slot: TDX_LOG_DIRTY_PAGES_FLAG_REGION_SLOT, flags: KVM_MEM_LOG_DIRTY_PAGES, guestPhysAddr: TDX_LOG_DIRTY_PAGES_FLAG_TEST_GPA, memorySize: 0x1000,
    });
    // Beyond the original: KVM does not log guest_memfd (private) memory, so the flag is refused there.
    let refused: unknown;
    try {
      t.vm.setUserMemoryRegion2({ slot: 11, flags: KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0xd000_0000, memorySize: 0x1000 });
    } catch (err) {
      refused = err;
    }
    expect(SeamkitError.is(refused) && [refused.code, refused.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', EINVAL]);
    tdFinalize(t);
    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    // Beyond the original: the write landed in the slot's userspace memory.
    const b = new Uint8Array(8);
    t.vm.read(TDX_LOG_DIRTY_PAGES_FLAG_TEST_GPA, b);
    expect([...b]).toEqual(Array<number>(8).fill(1));
    kvmVmFree(t);
  });
});
