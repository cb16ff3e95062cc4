// Unit-testing one leaf handler in isolation: GetQuote's kernel and userspace halves, no VM.
import { describe, expect, it } from 'vitest';
import { VcpuEmulation } from '@seamkit/core';
import { LeafTestBed } from '@seamkit/core/testing';
import { LINUX_EXIT_SHAPES } from '@seamkit/kvm';
import { GET_QUOTE_SERVICE_UNAVAILABLE, GetQuoteLeaf } from '@seamkit/plugin-quote';
import { TDVMCALL_STATUS_INVALID_OPERAND, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED, TDVMCALL_STATUS_SUCCESS } from '@seamkit/seam-cpu';

describe('GetQuote through the test bed', () => {
  it('exits to userspace with the shared bit stripped and ret preset, then completes', () => {
    const bed = new LeafTestBed(GetQuoteLeaf, { shapes: LINUX_EXIT_SHAPES });
    const shared = BigInt(bed.sharedBit);
    bed.memory.writeU64(0x1000, 1n); // header: version 1, status 0, in_len 0, out_len 0

    const k = bed.tdvmcall({ r12: 0x1000n | shared, r13: 4096n });
    expect(k.exitReason).toBe(40); // KVM_EXIT_TDX
    expect(k.exit).toEqual({ ret: TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED, gpa: 0x1000n, size: 4096n });

    expect(bed.user()).toBe(VcpuEmulation.HANDLED); // QEMU's checks pass; no quote service
    expect(bed.memory.readU64(0x1008)).toBe(GET_QUOTE_SERVICE_UNAVAILABLE);
    expect(bed.complete().r10).toBe(TDVMCALL_STATUS_SUCCESS);
  });

  it('answers a private GPA in the kernel with INVALID_OPERAND', () => {
    const bed = new LeafTestBed(GetQuoteLeaf, { shapes: LINUX_EXIT_SHAPES });
    const k = bed.tdvmcall({ r12: 0x1000n, r13: 4096n });
    expect(k.exitReason).toBe(0);
    expect(k.guest?.r10).toBe(TDVMCALL_STATUS_INVALID_OPERAND);
  });

  it('a VMM that ignores the exit leaves the guest with SUBFUNC_UNSUPPORTED', () => {
    const bed = new LeafTestBed(GetQuoteLeaf, { shapes: LINUX_EXIT_SHAPES });
    bed.tdvmcall({ r12: 0x2000n | BigInt(bed.sharedBit), r13: 4096n });
    expect(bed.complete().r10).toBe(TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED);
  });
});
