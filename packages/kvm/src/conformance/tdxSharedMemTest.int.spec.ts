import { afterEach, describe, expect, it } from 'vitest';
import { fromGenerator, PAGE_SIZE, R11 } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { KVM_EXIT_HYPERCALL } from '../uapi/exits.js';
import { KVM_CAP_EXIT_HYPERCALL, KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_DECRYPTED } from '../uapi/tdx.js';
import {
  allocPrivate, ioData, kvmVmFree, kvmVmFreeAll, PORT_WRITE, tdCreate, tdFinalize, tdgVpVmcallInstructionIo, tdInitialize, tdVcpuAdd,
  tdxRun, tdxTestAssertIo, tdxTestFatalWithData,
} from './harness.js';

/**
 * tools/testing/selftests/kvm/x86/tdx_shared_mem_test.c (verify_shared_mem) of the v8 TDX KVM
 * selftests on the simulator: a private page converted to shared with MapGPA, then used by guest
 * and host. upm.int.spec.ts has a QEMU-style variant of the same scenario (VcpuRunner, the MapGPA
 * leaf's userspace half); this one is the selftest's own userspace, KVM_SET_MEMORY_ATTRIBUTES only.
 */

afterEach(kvmVmFreeAll);

const TDX_SHARED_MEM_TEST_GUEST_WRITE_VALUE = 0xcafecafe;
const TDX_SHARED_MEM_TEST_HOST_WRITE_VALUE = 0xabcdabcd;
const TDX_SHARED_MEM_TEST_INFO_PORT = 0x87;
/** The page vm_vaddr_alloc gives the test (private, in the TD image). */
const TEST_MEM_PRIVATE_GPA = 0x30_0000;

describe('tdx_shared_mem_test.c', () => {
  it('verify_shared_mem: MapGPA(gpa | S, 4K) exits with KVM_HC_MAP_GPA_RANGE (DECRYPTED); after KVM_SET_MEMORY_ATTRIBUTES(0) host and guest share the page', () => {
    const t = tdCreate();
    tdInitialize(t, 0n);
    let testMemSharedGpa = 0; // sync_global_to_guest
    const vcpu = tdVcpuAdd(t, 0, fromGenerator(function* (cpu) {
      // Map the GPA as shared.
      const ret = yield* ghci.mapGpa(cpu, testMemSharedGpa, PAGE_SIZE);
      const placeholder = cpu.regs.get(R11);
      if (ret !== 0n) yield* tdxTestFatalWithData(cpu, ret, 1);
      cpu.mem.writeU32(testMemSharedGpa, TDX_SHARED_MEM_TEST_GUEST_WRITE_VALUE);
      // Exit so the host can read the shared value.
      let [r] = yield* tdgVpVmcallInstructionIo(cpu, TDX_SHARED_MEM_TEST_INFO_PORT, 4, PORT_WRITE, placeholder);
      if (r !== 0n) yield* tdxTestFatalWithData(cpu, r, 2);
      // Read the value the host wrote and send it back out for verification.
      [r] = yield* tdgVpVmcallInstructionIo(cpu, TDX_SHARED_MEM_TEST_INFO_PORT, 4, PORT_WRITE, BigInt(cpu.mem.readU32(testMemSharedGpa)));
      if (r !== 0n) yield* tdxTestFatalWithData(cpu, r, 3);
    }));
    // A private page, mapped a second time as shared (the GVA with the S-bit): the guest uses GPA | S.
    const testMemPrivateGpa = allocPrivate(t, TEST_MEM_PRIVATE_GPA);
    testMemSharedGpa = testMemPrivateGpa + t.sBit;
    tdFinalize(t);
    t.vm.enableCap(KVM_CAP_EXIT_HYPERCALL, [1 << KVM_HC_MAP_GPA_RANGE]);

    // Handle the MapGPA as shared.
    tdxRun(t, vcpu);
    const run = vcpu.kvmRun;
    expect([run.exitReason, run.hypercallNr, run.hypercallArg(0), run.hypercallArg(1), run.hypercallArg(2)])
      .toEqual([KVM_EXIT_HYPERCALL, BigInt(KVM_HC_MAP_GPA_RANGE), BigInt(testMemPrivateGpa), 1n, BigInt(KVM_MAP_GPA_RANGE_DECRYPTED)]);
    expect(t.vm.memoryAttributes.isPrivate(testMemPrivateGpa / PAGE_SIZE)).toBe(false);

    const hva = (): number => {
      const b = new Uint8Array(4);
      t.vm.read(testMemPrivateGpa, b);
      return new DataView(b.buffer).getUint32(0, true);
    };
    tdxRun(t, vcpu);
    tdxTestAssertIo(vcpu, TDX_SHARED_MEM_TEST_INFO_PORT, 4, PORT_WRITE);
    expect(hva()).toBe(TDX_SHARED_MEM_TEST_GUEST_WRITE_VALUE);

    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, TDX_SHARED_MEM_TEST_HOST_WRITE_VALUE, true);
    t.vm.write(testMemPrivateGpa, b);
    tdxRun(t, vcpu);
    tdxTestAssertIo(vcpu, TDX_SHARED_MEM_TEST_INFO_PORT, 4, PORT_WRITE);
    expect(ioData(vcpu, 4)).toBe(TDX_SHARED_MEM_TEST_HOST_WRITE_VALUE);
    expect(t.events).toEqual([]);
    kvmVmFree(t);
  });
});
