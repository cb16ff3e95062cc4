import { afterEach, describe, expect, it } from 'vitest';
import { fromGenerator, PAGE_SIZE, type GuestCpu } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { KVM_EXIT_HYPERCALL, KVM_EXIT_IO, KVM_EXIT_MEMORY_FAULT, KVM_EXIT_SYSTEM_EVENT } from '../uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from '../uapi/kvmRunLayout.js';
import {
  KVM_CAP_EXIT_HYPERCALL, KVM_HC_MAP_GPA_RANGE, KVM_MEM_GUEST_MEMFD, KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_MEMORY_EXIT_FLAG_PRIVATE,
} from '../uapi/tdx.js';
import type { Vcpu } from '../Vcpu.js';
import {
  allocPrivate, describeExit, handleMemoryConversion, ioPort, kvmVmFree, kvmVmFreeAll, PORT_WRITE, tdCreate, tdFinalize, tdInitialize,
  tdVcpuAdd, tdVcpuRun, TDX_TEST_REPORT_PORT, TDX_TEST_REPORT_SIZE, tdxRun, tdxTestAssertIo, tdxTestAssertSuccess, tdxTestFatal,
  tdxTestRead64bit, tdxTestReportToUserSpace, tdxTestSend64bit, tdxTestSuccess, ioData, type TdxTestVm,
} from './harness.js';

/**
 * tools/testing/selftests/kvm/x86/tdx_upm_test.c of the v8 TDX KVM selftests on the simulator:
 * verify_upm_test_explicit (MapGPA) and verify_upm_test_implicit (KVM_EXIT_MEMORY_FAULT). A 2 MiB
 * private test area at GPA 0x80000000 in its own guest_memfd memslot, with a 40 KiB focus area at
 * 1 MiB whose attribute changes; the host's userspace mapping of the slot is filled with
 * PATTERN_CONFIDENCE_CHECK first, so the test sees which backing each side reads. As in the
 * selftest, conversions only call KVM_SET_MEMORY_ATTRIBUTES and keep both backings.
 *
 * The selftest's #VE handler (report the GPA on port 0x87 as a 64-bit value, then
 * TDG.MEM.PAGE.ACCEPT) cannot run because the simulator delivers no #VE: the guest does the same
 * two steps itself, page by page, before it first touches a focus page as private memory. In the
 * implicit variant that ACCEPT is the private access that takes the KVM_EXIT_MEMORY_FAULT
 * (docs/conformance.md). upm.int.spec.ts has QEMU-style variants of both scenarios.
 */

afterEach(kvmVmFreeAll);

const PATTERN_CONFIDENCE_CHECK = 0x11;
const PATTERN_HOST_FOCUS = 0x22;
const PATTERN_GUEST_GENERAL = 0x33;
const PATTERN_GUEST_FOCUS = 0x44;

const TDX_UPM_TEST_AREA_GPA = 0x8000_0000;
const TDX_UPM_TEST_AREA_SIZE = 2 << 20;
const TDX_UPM_GENERAL_AREA_0_SIZE = 1 << 20;
const TDX_UPM_FOCUS_AREA_SIZE = (32 + 8) << 10;
const FOCUS = TDX_UPM_TEST_AREA_GPA + TDX_UPM_GENERAL_AREA_0_SIZE;
const GENERAL_1 = FOCUS + TDX_UPM_FOCUS_AREA_SIZE;
const AREA_END = TDX_UPM_TEST_AREA_GPA + TDX_UPM_TEST_AREA_SIZE;
const TEST_SLOT = 3;

const SYNC_CHECK_READ_PRIVATE_MEMORY_FROM_HOST = 1;
const SYNC_CHECK_READ_SHARED_MEMORY_FROM_HOST = 2;
const SYNC_CHECK_READ_PRIVATE_MEMORY_FROM_HOST_AGAIN = 3;
const TDX_UPM_TEST_ACCEPT_PRINT_PORT = 0x87;

/** [start, end) ranges of the general areas. */
const GENERAL: readonly [number, number][] = [[TDX_UPM_TEST_AREA_GPA, FOCUS], [GENERAL_1, AREA_END]];
const FOCUS_RANGE: readonly [number, number][] = [[FOCUS, GENERAL_1]];
const WHOLE: readonly [number, number][] = [[TDX_UPM_TEST_AREA_GPA, AREA_END]];

// --- guest side -------------------------------------------------------------------------------

/** memset of [start, end) at `base` + GPA (base = 0 private, S-bit shared); plain stores. */
function fill(cpu: GuestCpu, ranges: readonly [number, number][], pattern: number, base = 0): void {
  const page = new Uint8Array(PAGE_SIZE).fill(pattern);
  for (const [s, e] of ranges) for (let a = s; a < e; a += PAGE_SIZE) cpu.mem.write(base + a, page.subarray(0, Math.min(PAGE_SIZE, e - a)));
}

/** check_area over the ranges. */
function check(cpu: GuestCpu, ranges: readonly [number, number][], pattern: number, base = 0): boolean {
  const page = new Uint8Array(PAGE_SIZE);
  for (const [s, e] of ranges) {
    for (let a = s; a < e; a += PAGE_SIZE) {
      const n = Math.min(PAGE_SIZE, e - a);
      cpu.mem.read(base + a, page.subarray(0, n));
      for (let i = 0; i < n; i++) if (page[i] !== pattern) return false;
    }
  }
  return true;
}

/** TDX_UPM_TEST_ASSERT(x): tdx_test_fatal(__LINE__) when x is false (here: the check's number). */
function* upmAssert(cpu: GuestCpu, ok: boolean, line: number): Generator<number, void, void> {
  if (!ok) yield* tdxTestFatal(cpu, BigInt(line));
}

/**
 * What guest_ve_handler does for each page of the focus area when it is first used as private:
 * tdx_test_send_64bit(0x87, gpa), then tdg_mem_page_accept(gpa, 4K).
 */
function* acceptFocus(cpu: GuestCpu, line: number): Generator<number, void, void> {
  for (let gpa = FOCUS; gpa < GENERAL_1; gpa += PAGE_SIZE) {
    yield* tdxTestSend64bit(cpu, TDX_UPM_TEST_ACCEPT_PRINT_PORT, BigInt(gpa));
    yield* upmAssert(cpu, (yield* ghci.acceptPage(cpu, gpa)) === 0n, line);
  }
}

function* guestUpmExplicit(cpu: GuestCpu): Generator<number, void, void> {
  const S = cpu.mem.sharedBit;
  // Check: host reading private memory does not modify the guest's view.
  fill(cpu, WHOLE, PATTERN_GUEST_GENERAL);
  yield* tdxTestReportToUserSpace(cpu, SYNC_CHECK_READ_PRIVATE_MEMORY_FROM_HOST);
  yield* upmAssert(cpu, check(cpu, WHOLE, PATTERN_GUEST_GENERAL), 201);
  // Remap the focus area as shared.
  yield* upmAssert(cpu, (yield* ghci.mapGpa(cpu, FOCUS + S, TDX_UPM_FOCUS_AREA_SIZE)) === 0n, 202);
  // General areas are unaffected by the remapping.
  yield* upmAssert(cpu, check(cpu, GENERAL, PATTERN_GUEST_GENERAL), 203);
  // The memory the VMM wrote before the test backs the shared mapping.
  yield* upmAssert(cpu, check(cpu, FOCUS_RANGE, PATTERN_CONFIDENCE_CHECK, S), 204);
  // The guest can use the focus area after remapping it as shared.
  fill(cpu, FOCUS_RANGE, PATTERN_GUEST_FOCUS, S);
  yield* tdxTestReportToUserSpace(cpu, SYNC_CHECK_READ_SHARED_MEMORY_FROM_HOST);
  // The guest has the same view of shared memory as the host.
  yield* upmAssert(cpu, check(cpu, FOCUS_RANGE, PATTERN_HOST_FOCUS, S), 205);
  // Remap the focus area back to private.
  yield* upmAssert(cpu, (yield* ghci.mapGpa(cpu, FOCUS, TDX_UPM_FOCUS_AREA_SIZE)) === 0n, 206);
  yield* upmAssert(cpu, check(cpu, GENERAL, PATTERN_GUEST_GENERAL), 207);
  // guest_ve_handler's work for the first private access to each focus page.
  yield* acceptFocus(cpu, 208);
  // The focus area reads as zeros after the remapping.
  yield* upmAssert(cpu, check(cpu, FOCUS_RANGE, 0), 209);
  yield* tdxTestReportToUserSpace(cpu, SYNC_CHECK_READ_PRIVATE_MEMORY_FROM_HOST_AGAIN);
  // The guest can use all private memory after the focus area is private again.
  fill(cpu, WHOLE, PATTERN_GUEST_GENERAL);
  yield* upmAssert(cpu, check(cpu, WHOLE, PATTERN_GUEST_GENERAL), 210);
  yield* tdxTestSuccess(cpu);
}

function* guestUpmImplicit(cpu: GuestCpu): Generator<number, void, void> {
  const S = cpu.mem.sharedBit;
  fill(cpu, WHOLE, PATTERN_GUEST_GENERAL);
  yield* tdxTestReportToUserSpace(cpu, SYNC_CHECK_READ_PRIVATE_MEMORY_FROM_HOST);
  yield* upmAssert(cpu, check(cpu, WHOLE, PATTERN_GUEST_GENERAL), 301);
  // Use the focus area as shared: each page's first store faults and is executed again after the
  // VMM converted it (KVM_EXIT_MEMORY_FAULT, shared access).
  const page = new Uint8Array(PAGE_SIZE).fill(PATTERN_GUEST_FOCUS);
  for (let a = FOCUS; a < GENERAL_1; a += PAGE_SIZE) yield* ghci.memWrite(cpu, a + S, page);
  yield* upmAssert(cpu, check(cpu, GENERAL, PATTERN_GUEST_GENERAL), 302);
  yield* tdxTestReportToUserSpace(cpu, SYNC_CHECK_READ_SHARED_MEMORY_FROM_HOST);
  yield* upmAssert(cpu, check(cpu, FOCUS_RANGE, PATTERN_HOST_FOCUS, S), 303);
  // Use the focus area as private: guest_ve_handler's report + ACCEPT per page (the ACCEPT takes the
  // private-access KVM_EXIT_MEMORY_FAULT), then the stores.
  yield* acceptFocus(cpu, 304);
  fill(cpu, FOCUS_RANGE, PATTERN_GUEST_FOCUS);
  yield* upmAssert(cpu, check(cpu, GENERAL, PATTERN_GUEST_GENERAL), 305);
  yield* tdxTestReportToUserSpace(cpu, SYNC_CHECK_READ_PRIVATE_MEMORY_FROM_HOST_AGAIN);
  fill(cpu, WHOLE, PATTERN_GUEST_GENERAL);
  yield* upmAssert(cpu, check(cpu, WHOLE, PATTERN_GUEST_GENERAL), 306);
  yield* tdxTestSuccess(cpu);
}

// --- host side --------------------------------------------------------------------------------

/** check_area on the host: whether its userspace mapping holds `pattern` in every byte of `ranges`. */
function hostCheck(t: TdxTestVm, ranges: readonly [number, number][], pattern: number): boolean {
  for (const [s, e] of ranges) {
    const b = new Uint8Array(e - s);
    t.vm.read(s, b);
    if (!b.every((x) => x === pattern)) return false;
  }
  return true;
}

function hostFill(t: TdxTestVm, ranges: readonly [number, number][], pattern: number): void {
  for (const [s, e] of ranges) t.vm.write(s, new Uint8Array(e - s).fill(pattern));
}

interface Log {
  readonly mapGpa: bigint[][];
  readonly faults: bigint[][];
  readonly accepted: bigint[];
}

/** vcpu_run_and_manage_memory_conversions(). */
function vcpuRunAndManageMemoryConversions(t: TdxTestVm, vcpu: Vcpu, handleConversions: boolean, log: Log): void {
  const run = vcpu.kvmRun;
  for (;;) {
    const reason = tdVcpuRun(t, vcpu);
    if (reason === KVM_EXIT_HYPERCALL && run.hypercallNr === BigInt(KVM_HC_MAP_GPA_RANGE)) {
      // td_vcpu_run converted the range and set hypercall.ret = 0.
      log.mapGpa.push([run.hypercallArg(0), run.hypercallArg(1), run.hypercallArg(2)]);
      continue;
    }
    if (handleConversions && reason === KVM_EXIT_MEMORY_FAULT) {
      const flags = run.getU64(L['memory_fault.flags'].offset);
      const gpa = run.getU64(L['memory_fault.gpa'].offset);
      const size = run.getU64(L['memory_fault.size'].offset);
      log.faults.push([flags, gpa, size]);
      handleMemoryConversion(t, Number(gpa), Number(size), flags === BigInt(KVM_MEMORY_EXIT_FLAG_PRIVATE));
      continue;
    }
    if (reason === KVM_EXIT_IO && ioPort(vcpu) === TDX_UPM_TEST_ACCEPT_PRINT_PORT) {
      log.accepted.push(tdxTestRead64bit(t, vcpu, TDX_UPM_TEST_ACCEPT_PRINT_PORT));
      continue;
    }
    if (reason === KVM_EXIT_SYSTEM_EVENT) expect.fail(`Guest reported error. ${describeExit(vcpu)}`);
    break;
  }
}

function expectSync(vcpu: Vcpu, stage: number): void {
  tdxTestAssertIo(vcpu, TDX_TEST_REPORT_PORT, TDX_TEST_REPORT_SIZE, PORT_WRITE);
  expect(ioData(vcpu, 4)).toBe(stage);
}

/** run_selftest(). */
function runSelftest(t: TdxTestVm, vcpu: Vcpu, implicit: boolean): Log {
  const log: Log = { mapGpa: [], faults: [], accepted: [] };
  tdxRun(t, vcpu);
  expectSync(vcpu, SYNC_CHECK_READ_PRIVATE_MEMORY_FROM_HOST);
  // The host sees PATTERN_CONFIDENCE_CHECK where the guest has private memory: its userspace
  // mapping backs only the host's view.
  expect(hostCheck(t, WHOLE, PATTERN_CONFIDENCE_CHECK), "Host should read PATTERN_CONFIDENCE_CHECK from guest's private memory.").toBe(true);

  vcpuRunAndManageMemoryConversions(t, vcpu, implicit, log);
  expectSync(vcpu, SYNC_CHECK_READ_SHARED_MEMORY_FROM_HOST);
  expect(hostCheck(t, FOCUS_RANGE, PATTERN_GUEST_FOCUS), 'Host should have the same view of shared memory as guest.').toBe(true);
  expect(hostCheck(t, GENERAL, PATTERN_CONFIDENCE_CHECK), "Host's view of private memory should still be backed by regular memory.").toBe(true);
  // The host can use shared memory.
  hostFill(t, FOCUS_RANGE, PATTERN_HOST_FOCUS);
  expect(hostCheck(t, FOCUS_RANGE, PATTERN_HOST_FOCUS), 'Host should be able to use shared memory.').toBe(true);

  vcpuRunAndManageMemoryConversions(t, vcpu, implicit, log);
  expectSync(vcpu, SYNC_CHECK_READ_PRIVATE_MEMORY_FROM_HOST_AGAIN);
  expect(hostCheck(t, GENERAL, PATTERN_CONFIDENCE_CHECK), "Host's view of private memory should be backed by regular memory.").toBe(true);
  expect(hostCheck(t, FOCUS_RANGE, PATTERN_HOST_FOCUS), "Host's view of private memory should be backed by regular memory.").toBe(true);

  tdxRun(t, vcpu);
  tdxTestAssertSuccess(vcpu);
  return log;
}

/** verify_upm_test(implicit). */
function verifyUpmTest(implicit: boolean): { t: TdxTestVm; log: Log } {
  const t = tdCreate();
  tdInitialize(t, 0n);
  const vcpu = tdVcpuAdd(t, 0, fromGenerator(implicit ? guestUpmImplicit : guestUpmExplicit));
  // The test area: its own guest_memfd memslot, private, allocated as private memory of the image.
  t.vm.setUserMemoryRegion2({ slot: TEST_SLOT, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: TDX_UPM_TEST_AREA_GPA, memorySize: TDX_UPM_TEST_AREA_SIZE });
  t.vm.setMemoryAttributes({ address: TDX_UPM_TEST_AREA_GPA, size: TDX_UPM_TEST_AREA_SIZE, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, flags: 0 });
  allocPrivate(t, TDX_UPM_TEST_AREA_GPA, TDX_UPM_TEST_AREA_SIZE);
  // Mark the memory meant to back the TD's shared memory.
  hostFill(t, WHOLE, PATTERN_CONFIDENCE_CHECK);
  expect(hostCheck(t, WHOLE, PATTERN_CONFIDENCE_CHECK), 'Failed to mark memory intended as backing memory for TD shared memory').toBe(true);
  // load_td_private_memory: the initial private content is copied from the region's host memory.
  tdFinalize(t, (gpa, bytes) => {
    const b = new Uint8Array(bytes);
    t.vm.read(gpa, b);
    return b;
  });
  t.vm.enableCap(KVM_CAP_EXIT_HYPERCALL, [1 << KVM_HC_MAP_GPA_RANGE]);
  const log = runSelftest(t, vcpu, implicit);
  expect(t.events).toEqual([]);
  return { t, log };
}

const FOCUS_PAGES = Array.from({ length: TDX_UPM_FOCUS_AREA_SIZE / PAGE_SIZE }, (_, i) => BigInt(FOCUS + i * PAGE_SIZE));

describe('tdx_upm_test.c', () => {
  it('verify_upm_test_explicit: MapGPA of the 40 KiB focus area to shared and back to private', () => {
    const { t, log } = verifyUpmTest(false);
    // Beyond the original: the two MapGPA exits (one chunk each: to shared = DECRYPTED 0, to private = ENCRYPTED 0x10).
    expect(log.mapGpa).toEqual([[BigInt(FOCUS), 10n, 0n], [BigInt(FOCUS), 10n, 0x10n]]);
    expect(log.faults).toEqual([]);
    expect(log.accepted).toEqual(FOCUS_PAGES);
    kvmVmFree(t);
  });

  it('verify_upm_test_implicit: the guest just uses the focus area as shared, then as private; KVM_EXIT_MEMORY_FAULT drives the conversions', () => {
    const { t, log } = verifyUpmTest(true);
    // Beyond the original: one shared-access fault per focus page, then one private-access fault
    // (flags KVM_MEMORY_EXIT_FLAG_PRIVATE) per page; no MapGPA.
    expect(log.mapGpa).toEqual([]);
    expect(log.faults).toEqual([
      ...FOCUS_PAGES.map((gpa) => [0n, gpa, 4096n]),
      ...FOCUS_PAGES.map((gpa) => [BigInt(KVM_MEMORY_EXIT_FLAG_PRIVATE), gpa, 4096n]),
    ]);
    expect(log.accepted).toEqual(FOCUS_PAGES);
    kvmVmFree(t);
  });
});
