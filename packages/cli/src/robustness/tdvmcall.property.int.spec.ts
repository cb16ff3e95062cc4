import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createVmm, handleExit, type UserExitContext } from '@seamkit/core';
import { kvmModule, KVM_EXIT_SHUTDOWN, KVM_EXIT_TDX } from '@seamkit/kvm';
import { fatalModule } from '@seamkit/plugin-fatal';
import { quoteModule } from '@seamkit/plugin-quote';
import { EXIT_REASON_TDCALL, EXIT_REASON_TRIPLE_FAULT, RAX, RCX, R10, R11, SeamkitError, type GuestCpu } from '@seamkit/seam-cpu';

/** Runs per property: small in CI; SEAMKIT_PROPERTY_RUNS=N for a bigger run. */
const RUNS = Number(process.env['SEAMKIT_PROPERTY_RUNS'] ?? 150);

const GHCI_STATUSES = new Set([0n, 1n, 0x8000000000000000n, 0x8000000000000001n, 0x8000000000000002n, 0x8000000000000003n]);
const LEAVES = [0, 10, 12, 30, 31, 32, 48, 54, 65, 0x10000, 0x10001, 0x10002, 0x10003, 0x10004, 0x10005, 0x10006, 0x1_2345, 0xffff_ffff];

/** One random TDVMCALL: registers as the guest sets them before TDCALL. */
interface Call {
  readonly r10: bigint;
  readonly leaf: bigint;
  readonly bitmap: bigint;
  readonly gprs: readonly bigint[];
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const interesting = fc.oneof(
  u64,
  fc.constantFrom(0n, 1n, 4096n, 0x1000n | (1n << 47n), 0x20_0000n | (1n << 47n), (1n << 47n) - 4096n, 1n << 51n, 32n, 255n, 256n, 0x8000000000000000n),
);
const call: fc.Arbitrary<Call> = fc.record({
  r10: fc.oneof({ weight: 6, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: u64 }, { weight: 1, arbitrary: fc.constantFrom(1n, 12n, 0x4143_0001n) }),
  leaf: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...LEAVES.map(BigInt)) }, { weight: 1, arbitrary: u64 }),
  bitmap: fc.oneof({ weight: 4, arbitrary: fc.constant(0xffccn) }, { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 0xffff_ffffn }) }, { weight: 1, arbitrary: u64 }),
  gprs: fc.array(interesting, { minLength: 16, maxLength: 16 }),
});

interface Observation {
  readonly before: bigint[];
  readonly after: bigint[];
  readonly call: Call;
}

/**
 * Runs a sequence of random TDVMCALLs in a TD on the reference VMM's default plugins, playing a
 * VMM that hands every exit to its plugin (or ignores it). Records the guest's registers around
 * every call and every exit that reached userspace.
 */
function runSequence(calls: readonly Call[]): { obs: Observation[]; exits: { reason: number; nr: number }[] } {
  const vmm = createVmm({ modules: [kvmModule(), quoteModule, fatalModule] });
  const obs: Observation[] = [];
  const exits: { reason: number; nr: number }[] = [];
  let k = 0;
  let before: bigint[] = [];
  const td = vmm.createTd({
    guest: () => ({
      step(cpu: GuestCpu): number {
        const r = cpu.regs;
        if (k > 0) obs.push({ before, after: Array.from({ length: 16 }, (_, i) => r.get(i)), call: calls[k - 1]! });
        const c = calls[k++];
        if (c === undefined) return EXIT_REASON_TRIPLE_FAULT;
        for (let i = 0; i < 16; i++) if (i !== 4) r.set(i, c.gprs[i]!);
        r.set(RAX, 0n);
        r.set(RCX, c.bitmap);
        r.set(R10, c.r10);
        r.set(R11, c.leaf);
        before = Array.from({ length: 16 }, (_, i) => r.get(i));
        return EXIT_REASON_TDCALL;
      },
    }),
  });
  const vcpu = td.vcpus[0]!;
  const ctx: UserExitContext = { run: vcpu.kvmRun, vcpuIndex: 0, memory: td.memory, emit: () => undefined, registry: vmm.registry };
  for (let n = 0; n < calls.length + 2; n++) {
    let reason: number;
    try {
      reason = vcpu.run();
    } catch (err) {
      if (SeamkitError.is(err) && err.errno === 4) break; // halted with nothing to wake it
      throw err;
    }
    exits.push({ reason, nr: vcpu.kvmRun.getU64Number(40) });
    if (reason === KVM_EXIT_SHUTDOWN) break;
    handleExit(vmm.registry, reason, ctx, {});
  }
  return { obs, exits };
}

describe('random TDVMCALLs (property)', () => {
  it('never throw into the VMM, exit only for registered leaves, leave a status in R10 and the unselected GPRs alone', () => {
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 12 }), (calls) => {
        const { obs, exits } = runSequence(calls);
        const vmm = createVmm({ modules: [kvmModule(), quoteModule, fatalModule] });
        for (const e of exits) {
          if (e.reason === KVM_EXIT_TDX) expect(vmm.registry.exitOwner(KVM_EXIT_TDX, e.nr)).toBeDefined();
          else if (e.reason !== KVM_EXIT_SHUTDOWN) expect(vmm.registry.exitOwner(e.reason, 0) ?? vmm.registry.shape(e.reason)).toBeDefined();
        }
        for (const { before, after, call: c } of obs) {
          const bitmapOk = (c.bitmap >> 32n) === 0n && (c.bitmap & 0x33n) === 0n;
          if (!bitmapOk) {
            // Refused by the TDX module: TDX_OPERAND_INVALID | RCX, nothing else touched, no exit.
            expect(after[RAX]).toBe(0xc000010000000001n);
            for (let i = 1; i < 16; i++) if (i !== 4) expect(after[i], `gpr ${i}`).toBe(before[i]);
            continue;
          }
          expect(after[RAX]).toBe(0n);
          expect(after[RCX]).toBe(c.bitmap);
          for (let i = 2; i < 16; i++) {
            if (i === 4 || i === 5 || ((c.bitmap >> BigInt(i)) & 1n) === 1n) continue;
            expect(after[i], `unselected gpr ${i}`).toBe(before[i]);
          }
          if ((c.bitmap & (1n << 10n)) !== 0n) {
            if (c.r10 === 0n) expect(GHCI_STATUSES.has(after[R10]!), `R10 = 0x${after[R10]!.toString(16)} for leaf 0x${c.leaf.toString(16)}`).toBe(true);
            else expect(after[R10] === 0xfffffffffffffc18n || after[R10]! < 0x1000n || after[R10]! > 0xffffffffffff0000n).toBe(true);
          }
        }
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});
