// The same handler test under node:test, against the published (built) packages: the test bed
// depends on no test framework.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeafTestBed } from '@seamkit/core/testing';
import { LINUX_EXIT_SHAPES } from '@seamkit/kvm';
import { GetQuoteLeaf } from '@seamkit/plugin-quote';

test('GetQuote exits with the shared bit stripped and ret preset', () => {
  const bed = new LeafTestBed(GetQuoteLeaf, { shapes: LINUX_EXIT_SHAPES });
  const k = bed.tdvmcall({ r12: 0x3000n | BigInt(bed.sharedBit), r13: 8192n });
  assert.equal(k.exitReason, 40);
  assert.deepEqual(k.exit, { ret: 0x8000000000000003n, gpa: 0x3000n, size: 8192n });
  bed.reply({ ret: 0n });
  assert.equal(bed.complete().r10, 0n);
});

test('GetQuote on a private GPA is refused in the kernel', () => {
  const bed = new LeafTestBed(GetQuoteLeaf, { shapes: LINUX_EXIT_SHAPES });
  assert.equal(bed.tdvmcall({ r12: 0x3000n, r13: 4096n }).guest?.r10, 0x8000000000000000n);
});
