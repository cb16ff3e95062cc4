import { afterEach, describe, expect, it } from 'vitest';
import { GET_QUOTE_CMD_VER, GET_QUOTE_HDR_IN_LEN, GET_QUOTE_HDR_OUT_LEN, GET_QUOTE_HDR_STATUS, GET_QUOTE_HDR_VERSION, GET_QUOTE_IN_FLIGHT, GET_QUOTE_SUCCESS } from '@seamkit/plugin-quote';
import { fromGenerator, PAGE_SIZE, TDVMCALL_GET_QUOTE, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { KVM_EXIT_HYPERCALL, KVM_EXIT_TDX } from '../uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from '../uapi/kvmRunLayout.js';
import { KVM_CAP_EXIT_HYPERCALL, KVM_HC_MAP_GPA_RANGE } from '../uapi/tdx.js';
import {
  allocPrivate, kvmVmFree, kvmVmFreeAll, TDG_VP_VMCALL_INVALID_OPERAND, tdCreate, tdFinalize, tdInitialize, tdVcpuAdd, tdxAssertError,
  tdxRun, tdxTestAssertSuccess, tdxTestFatal, tdxTestReadReportFromGuest, tdxTestReportToUserSpace, tdxTestSuccess,
} from './harness.js';

/**
 * tools/testing/selftests/kvm/x86/tdx_get_quote_test.c (verify_get_quote, intel/tdx tree, not in
 * the upstream series) on the simulator. The selftest waits for the interim exit
 * KVM_EXIT_TDX_GET_QUOTE; Linux 6.16 has one KVM_EXIT_TDX (40) with `nr` = 0x10002 and the
 * get_quote {ret, gpa, size} member, which is what the host checks here. The test is the
 * userspace: it answers the exit by hand (status IN_FLIGHT, ret 0, later SUCCESS), so only the
 * kernel half of plugin-quote's GetQuote leaf runs, never QEMU's userspace half.
 */

afterEach(kvmVmFreeAll);

/** The GetQuote buffer (a private page of the image, converted to shared by the guest). */
const QUOTE_GPA = 0x40_0000;
const QUOTE_SIZE = PAGE_SIZE;
const IN_LEN = 1024;

describe('tdx_get_quote_test.c', () => {
  it('verify_get_quote: INVALID_OPERAND for a private GPA; after MapGPA the exit carries the stripped GPA and the header, and the guest sees IN_FLIGHT, then SUCCESS', () => {
    const t = tdCreate();
    tdInitialize(t, 0n);
    const vcpu = tdVcpuAdd(t, 0, fromGenerator(function* (cpu) {
      const S = cpu.mem.sharedBit;
      // GetQuote on the private GPA: refused by KVM itself.
      let ret = yield* ghci.getQuote(cpu, QUOTE_GPA, QUOTE_SIZE);
      if (ret !== TDG_VP_VMCALL_INVALID_OPERAND) yield* tdxTestFatal(cpu, 1n);
      // Convert the buffer to shared and fill in the header: version 1, status 0, in_len 1024.
      yield* tdxAssertError(cpu, yield* ghci.mapGpa(cpu, QUOTE_GPA + S, QUOTE_SIZE));
      const buf = QUOTE_GPA + S;
      cpu.mem.writeU64(buf + GET_QUOTE_HDR_VERSION, GET_QUOTE_CMD_VER);
      cpu.mem.writeU64(buf + GET_QUOTE_HDR_STATUS, 0n);
      cpu.mem.writeU32(buf + GET_QUOTE_HDR_IN_LEN, IN_LEN);
      cpu.mem.writeU32(buf + GET_QUOTE_HDR_OUT_LEN, 0);
      for (let i = 0; i < IN_LEN; i += 4) cpu.mem.writeU32(buf + 24 + i, 0x5a5a0000 + i);
      // GetQuote on the shared buffer: queued.
      ret = yield* ghci.getQuote(cpu, buf, QUOTE_SIZE);
      yield* tdxAssertError(cpu, ret);
      let status = cpu.mem.readU64(buf + GET_QUOTE_HDR_STATUS);
      if (status !== GET_QUOTE_IN_FLIGHT) yield* tdxTestFatal(cpu, 2n);
      // Sync with the host, which completes the request meanwhile.
      yield* tdxAssertError(cpu, yield* tdxTestReportToUserSpace(cpu, Number(status & 0xffff_ffffn)));
      status = cpu.mem.readU64(buf + GET_QUOTE_HDR_STATUS);
      if (status !== GET_QUOTE_SUCCESS) yield* tdxTestFatal(cpu, 3n);
      yield* tdxTestSuccess(cpu);
    }));
    allocPrivate(t, QUOTE_GPA);
    tdFinalize(t);
    t.vm.enableCap(KVM_CAP_EXIT_HYPERCALL, [1 << KVM_HC_MAP_GPA_RANGE]);
    const run = vcpu.kvmRun;

    // The private GetQuote never leaves the kernel; the first exit is the MapGPA (handled by td_vcpu_run).
    tdxRun(t, vcpu);
    expect([run.exitReason, run.hypercallNr]).toEqual([KVM_EXIT_HYPERCALL, BigInt(KVM_HC_MAP_GPA_RANGE)]);

    // GetQuote(shared GPA, 4096): KVM_EXIT_TDX nr 0x10002 (the interim KVM_EXIT_TDX_GET_QUOTE).
    tdxRun(t, vcpu);
    expect(run.exitReason).toBe(KVM_EXIT_TDX);
    expect(run.getU64(L['tdx.flags'].offset)).toBe(0n);
    expect(run.tdxNr).toBe(TDVMCALL_GET_QUOTE);
    expect(run.tdxRet).toBe(TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED); // preset: ignoring the exit is correct
    expect(run.getU64(L['tdx.get_quote.gpa'].offset)).toBe(BigInt(QUOTE_GPA)); // S-bit dropped
    expect(run.getU64(L['tdx.get_quote.size'].offset)).toBe(BigInt(QUOTE_SIZE));
    const hdr = new Uint8Array(24);
    t.vm.read(QUOTE_GPA, hdr);
    const h = new DataView(hdr.buffer);
    expect(h.getBigUint64(GET_QUOTE_HDR_VERSION, true)).toBe(1n);
    expect(h.getUint32(GET_QUOTE_HDR_IN_LEN, true)).toBe(IN_LEN);
    // Queue it: status IN_FLIGHT in the shared buffer, ret 0 for the guest's R10.
    const setStatus = (status: bigint): void => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, status, true);
      t.vm.write(QUOTE_GPA + GET_QUOTE_HDR_STATUS, b);
    };
    setStatus(GET_QUOTE_IN_FLIGHT);
    run.tdxRet = 0n;

    // The guest saw IN_FLIGHT and syncs on port 0x31; the quote is "done".
    tdxRun(t, vcpu);
    expect(tdxTestReadReportFromGuest(vcpu)).toBe(0xffff_ffff);
    setStatus(GET_QUOTE_SUCCESS);

    tdxRun(t, vcpu);
    tdxTestAssertSuccess(vcpu);
    expect(t.events).toEqual([]);
    kvmVmFree(t);
  });
});
