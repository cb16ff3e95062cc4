import { describe, expect, it } from 'vitest';
import { VcpuEmulation, VcpuRunState, createVmm, type UserExitContext, type VmmEvent, type VmmTd } from '@seamkit/core';
import { SeamkitError, fromGenerator, type GuestCpu } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { handleMemoryFault } from './handleMemoryFault.js';
import { kvmModule } from './kvmModule.js';
import { KVM_PIO_DATA_OFFSET } from './leaves/IoLeaf.js';
import type { Vm } from './Vm.js';

/**
 * The TDX KVM selftests of kvm-tdx-abi.md §4 on the simulator: tdx_shared_mem_test
 * (verify_shared_mem) and both tdx_upm_test cases (explicit conversion with MapGPA, implicit
 * conversion through KVM_EXIT_MEMORY_FAULT), driven by createVmm + kvmModule. The guest reports
 * to the host with IO writes (KVM_EXIT_IO): port 0x87 carries a value, 0x30 means success; a
 * failed guest check is a ReportFatalError with the check's number.
 */

const KVM_EXIT_IO = 2;
const KVM_EXIT_HYPERCALL = 3;
const KVM_EXIT_MEMORY_FAULT = 39;
const PORT_DATA = 0x87;
const PORT_SUCCESS = 0x30;
const PAGE = 4096;

const S = 2 ** 47;

/** A guest check: a failed one panics with its number (tdx_test_fatal). */
function* check(cpu: GuestCpu, ok: boolean, code: number): Generator<number, void, void> {
  if (!ok) yield* ghci.reportFatalError(cpu, BigInt(code) << 32n, `check ${code} failed`);
}

/** Accepts [gpa, gpa + size) a 4 KiB page at a time, as a Linux guest does after a MapGPA to private. */
function* accept(cpu: GuestCpu, gpa: number, size: number): Generator<number, bigint, void> {
  for (let a = gpa; a < gpa + size; a += PAGE) {
    const s = yield* ghci.acceptPage(cpu, a);
    if (s !== 0n) return s;
  }
  return 0n;
}

/** MapGPA of the whole range, following RETRY as Linux's tdx_map_gpa does. */
function* mapGpa(cpu: GuestCpu, gpa: number, size: number): Generator<number, bigint, void> {
  let at = gpa;
  for (let i = 0; i < 16; i++) {
    const r = yield* ghci.mapGpa(cpu, at, gpa + size - at);
    if (r !== 1n) return r;
    at = Number(cpu.regs.get(11));
  }
  return 1n;
}

function fill(cpu: GuestCpu, gpa: number, size: number, pattern: number): void {
  for (let a = 0; a < size; a += 4) cpu.mem.writeU32(gpa + a, pattern);
}

function holds(cpu: GuestCpu, gpa: number, size: number, pattern: number): boolean {
  for (let a = 0; a < size; a += 4) if (cpu.mem.readU32(gpa + a) !== pattern >>> 0) return false;
  return true;
}

interface Harness {
  readonly td: VmmTd;
  readonly vm: Vm;
  readonly events: VmmEvent[];
  /** Exit reasons that reached userspace, in order. */
  readonly exits: number[];
  /** memory_fault.flags of each KVM_EXIT_MEMORY_FAULT. */
  readonly faults: bigint[];
  /** Values the guest wrote to port 0x87. */
  readonly reported: number[];
  success: boolean;
}

/**
 * Builds and runs a TD whose guest syncs with the host through IO port 0x87: `onSync(n, value)`
 * is called for the n-th value (1-based); the host looks at and writes guest memory through
 * `td.memory`. Memory faults are handled as QEMU does (`handleMemoryFault`).
 */
function runTd(guest: (cpu: GuestCpu) => Generator<number, void, void>, onSync: (h: Harness, n: number, value: number) => void, memoryBytes = 8 << 20): Harness {
  const vmm = createVmm({ modules: [kvmModule()] });
  const h = { events: [], exits: [], faults: [], reported: [], success: false } as unknown as { -readonly [K in keyof Harness]: Harness[K] };
  vmm.on((e) => h.events.push(e));
  const io = (ctx: UserExitContext): number => {
    const port = ctx.run.view.getUint16(34, true);
    const value = ctx.run.view.getUint32(KVM_PIO_DATA_OFFSET, true);
    if (port === PORT_SUCCESS) {
      h.success = true;
      return VcpuEmulation.STOPPED;
    }
    h.reported.push(value);
    onSync(h, h.reported.length, value);
    return VcpuEmulation.HANDLED;
  };
  const td = vmm.createTd({ guest: fromGenerator(guest), memoryBytes, handlers: { [KVM_EXIT_IO]: io, [KVM_EXIT_MEMORY_FAULT]: handleMemoryFault } });
  h.td = td;
  h.vm = td.memory as Vm;
  td.runners[0]!.onUserExit = (_i, reason, ctx) => {
    h.exits.push(reason);
    if (reason === KVM_EXIT_MEMORY_FAULT) h.faults.push(ctx.run.getU64(32));
  };
  const state = td.runners[0]!.run();
  expect(h.events).toEqual([]);
  expect(state).toBe(VcpuRunState.FINISHED);
  return h;
}

function hostHolds(h: Harness, gpa: number, size: number, pattern: number): boolean {
  const buf = new Uint8Array(size);
  h.td.memory.read(gpa, buf);
  const v = new DataView(buf.buffer);
  for (let a = 0; a < size; a += 4) if (v.getUint32(a, true) !== pattern >>> 0) return false;
  return true;
}

function hostFill(h: Harness, gpa: number, size: number, pattern: number): void {
  const buf = new Uint8Array(size);
  const v = new DataView(buf.buffer);
  for (let a = 0; a < size; a += 4) v.setUint32(a, pattern >>> 0, true);
  h.td.memory.write(gpa, buf);
}

describe('tdx_shared_mem_test: verify_shared_mem', () => {
  it('should share a page after MapGPA: the host sees what the guest wrote and the guest echoes what the host wrote', () => {
    const GPA = 0x10_0000;
    const h = runTd(function* (cpu) {
      const shared = GPA + cpu.mem.sharedBit;
      yield* check(cpu, (yield* ghci.mapGpa(cpu, shared, PAGE)) === 0n, 1);
      cpu.mem.writeU32(shared, 0xcafecafe);
      yield* ghci.ioWrite(cpu, PORT_DATA, 4, 1);
      yield* ghci.ioWrite(cpu, PORT_DATA, 4, cpu.mem.readU32(shared));
      yield* ghci.ioWrite(cpu, PORT_SUCCESS, 4, 0);
    }, (hh, n) => {
      if (n !== 1) return;
      expect(hostHolds(hh, GPA, 4, 0xcafecafe)).toBe(true);
      hostFill(hh, GPA, 4, 0xabcdabcd);
    });
    expect(h.success).toBe(true);
    expect(h.reported).toEqual([1, 0xabcdabcd]);
    expect(h.exits[0]).toBe(KVM_EXIT_HYPERCALL);
    expect(h.vm.memoryAttributes.isPrivate(GPA / PAGE)).toBe(false);
  });
});

describe('tdx_upm_test', () => {
  const AREA = 0x40_0000; // 2 MiB test area, private
  const AREA_SIZE = 0x20_0000;
  const FOCUS = AREA + 0x10_0000; // 40 KiB focus area at 1 MiB
  const FOCUS_SIZE = 40 * 1024;
  const GENERAL = 0x0ab0_0000 | 0x11;
  const CONFIDENCE = 0x0c0f_1d3e;
  const GUEST_FOCUS = 0x0f0c_0501;
  const HOST_FOCUS = 0x0b0e_0f0c;
  /** The test area outside the focus area still holds the guest's private pattern. */
  const generalHolds = (cpu: GuestCpu): boolean => holds(cpu, AREA, FOCUS - AREA, GENERAL) && holds(cpu, FOCUS + FOCUS_SIZE, AREA + AREA_SIZE - FOCUS - FOCUS_SIZE, GENERAL);

  it('(a) explicit conversion: MapGPA to shared shows host and guest the same data, MapGPA back to private hides it and zeroes it', () => {
    const h = runTd(function* (cpu) {
      // Private memory: accept it (KVM adds each page on the EPT violation), then fill it.
      yield* check(cpu, (yield* accept(cpu, AREA, AREA_SIZE)) === 0n, 1);
      fill(cpu, AREA, AREA_SIZE, GENERAL);
      yield* ghci.ioWrite(cpu, PORT_DATA, 4, 1); // host: private memory not visible
      yield* check(cpu, holds(cpu, AREA, AREA_SIZE, GENERAL), 2);
      // Remap the focus area as shared.
      yield* check(cpu, (yield* mapGpa(cpu, FOCUS + S, FOCUS_SIZE)) === 0n, 3);
      yield* check(cpu, generalHolds(cpu), 4);
      // The shared mapping shows the memory the VMM wrote before the guest ran.
      yield* check(cpu, holds(cpu, FOCUS + S, FOCUS_SIZE, CONFIDENCE), 5);
      fill(cpu, FOCUS + S, FOCUS_SIZE, GUEST_FOCUS);
      yield* ghci.ioWrite(cpu, PORT_DATA, 4, 2); // host: sees the guest's focus pattern, writes its own
      yield* check(cpu, holds(cpu, FOCUS + S, FOCUS_SIZE, HOST_FOCUS), 6);
      // Back to private: the focus area must be accepted again and reads as zeros.
      yield* check(cpu, (yield* mapGpa(cpu, FOCUS, FOCUS_SIZE)) === 0n, 7);
      yield* check(cpu, generalHolds(cpu), 8);
      yield* check(cpu, (yield* accept(cpu, FOCUS, FOCUS_SIZE)) === 0n, 9);
      yield* check(cpu, holds(cpu, FOCUS, FOCUS_SIZE, 0), 10);
      yield* ghci.ioWrite(cpu, PORT_DATA, 4, 3); // host: neither pattern visible any more
      fill(cpu, FOCUS, FOCUS_SIZE, GUEST_FOCUS);
      yield* ghci.ioWrite(cpu, PORT_DATA, 4, 4); // host: the new private data is not visible
      yield* check(cpu, holds(cpu, AREA, FOCUS - AREA, GENERAL) && holds(cpu, FOCUS, FOCUS_SIZE, GUEST_FOCUS), 11);
      yield* ghci.ioWrite(cpu, PORT_SUCCESS, 4, 0);
    }, (hh, n) => {
      if (n === 1) {
        expect(hostHolds(hh, AREA, AREA_SIZE, GENERAL)).toBe(false);
        hostFill(hh, FOCUS, FOCUS_SIZE, CONFIDENCE);
      } else if (n === 2) {
        expect(hostHolds(hh, FOCUS, FOCUS_SIZE, GUEST_FOCUS)).toBe(true);
        hostFill(hh, FOCUS, FOCUS_SIZE, HOST_FOCUS);
      } else {
        expect(hostHolds(hh, FOCUS, 4096, GUEST_FOCUS)).toBe(false);
        expect(hostHolds(hh, FOCUS, 4096, HOST_FOCUS)).toBe(false);
      }
    });
    expect(h.success).toBe(true);
    expect(h.reported).toEqual([1, 2, 3, 4]);
    expect(h.exits.filter((r) => r === KVM_EXIT_HYPERCALL)).toHaveLength(2);
    expect(h.faults).toEqual([]); // MapGPA converted everything: no implicit conversion needed
  });

  it('(b) implicit conversion: touching the other mapping exits with KVM_EXIT_MEMORY_FAULT, the VMM converts and the guest goes on', () => {
    const h = runTd(function* (cpu) {
      yield* check(cpu, (yield* accept(cpu, AREA, AREA_SIZE)) === 0n, 1);
      fill(cpu, AREA, AREA_SIZE, GENERAL);
      yield* ghci.ioWrite(cpu, PORT_DATA, 4, 1);
      // Use the focus area as shared without MapGPA: each page faults once, the VMM converts it.
      for (let a = 0; a < FOCUS_SIZE; a += 4) yield* ghci.memWriteU32(cpu, FOCUS + S + a, GUEST_FOCUS);
      yield* check(cpu, generalHolds(cpu), 2);
      yield* ghci.ioWrite(cpu, PORT_DATA, 4, 2);
      yield* check(cpu, holds(cpu, FOCUS + S, FOCUS_SIZE, HOST_FOCUS), 3);
      // Use it as private again: ACCEPT of a shared frame faults (private access), the VMM converts
      // it back, KVM adds a fresh page, and it reads as zeros: the old data is gone.
      yield* check(cpu, (yield* accept(cpu, FOCUS, FOCUS_SIZE)) === 0n, 4);
      yield* check(cpu, holds(cpu, FOCUS, FOCUS_SIZE, 0), 5);
      fill(cpu, FOCUS, FOCUS_SIZE, GUEST_FOCUS);
      yield* check(cpu, generalHolds(cpu), 6);
      yield* ghci.ioWrite(cpu, PORT_DATA, 4, 3);
      yield* check(cpu, holds(cpu, FOCUS, FOCUS_SIZE, GUEST_FOCUS), 7);
      yield* ghci.ioWrite(cpu, PORT_SUCCESS, 4, 0);
    }, (hh, n) => {
      if (n === 1) {
        expect(hostHolds(hh, AREA, AREA_SIZE, GENERAL)).toBe(false);
      } else if (n === 2) {
        expect(hostHolds(hh, FOCUS, FOCUS_SIZE, GUEST_FOCUS)).toBe(true);
        hostFill(hh, FOCUS, FOCUS_SIZE, HOST_FOCUS);
      } else {
        expect(hostHolds(hh, FOCUS, 4096, GUEST_FOCUS)).toBe(false);
      }
    });
    expect(h.success).toBe(true);
    const pages = FOCUS_SIZE / PAGE;
    // One shared-access fault per page (flags 0), then one private-access fault per page (flags PRIVATE).
    expect(h.faults).toEqual([...Array<bigint>(pages).fill(0n), ...Array<bigint>(pages).fill(8n)]);
    expect(h.exits.filter((r) => r === KVM_EXIT_HYPERCALL)).toHaveLength(0);
  });

  it('should kill the VM when the guest touches a page KVM added before accepting it', () => {
    const vmm = createVmm({ modules: [kvmModule()] });
    const td = vmm.createTd({ guest: fromGenerator(function* (cpu) { yield* ghci.memWriteU32(cpu, 0x30_0000, 1); }) });
    let err: unknown;
    try {
      td.runners[0]!.run();
    } catch (e) {
      err = e;
    }
    expect(SeamkitError.is(err) && [err.code, err.errno]).toEqual(['SEAMKIT_ERR_KVM_VM_DEAD', 5]);
    expect(td.runners[0]!.state).toBe(VcpuRunState.FINISHED);
  });
});
