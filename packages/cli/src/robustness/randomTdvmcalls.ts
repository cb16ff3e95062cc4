import { createVmm, handleExit, type UserExitContext } from '@seamkit/core';
import { kvmModule, KVM_EXIT_HYPERCALL, KVM_EXIT_SHUTDOWN, KVM_EXIT_TDX, KVM_RUN_LAYOUT } from '@seamkit/kvm';
import { fatalModule } from '@seamkit/plugin-fatal';
import { quoteModule } from '@seamkit/plugin-quote';
import { SeamkitError, type GuestCpu } from '@seamkit/seam-cpu';
import { EXIT_REASON_TDCALL, EXIT_REASON_TRIPLE_FAULT, RAX, RCX, R10, R11 } from '@seamkit/seam-cpu/abi';

/** What a long random run saw. */
export interface RandomRunReport {
  /** TDVMCALLs issued. */
  readonly calls: number;
  /** Of which refused by the TDX module (bad bitmap). */
  readonly refused: number;
  /** Exits that reached userspace, by KVM_EXIT_* reason. */
  readonly exits: Readonly<Record<number, number>>;
  /** Invariant violations (empty when all held). */
  readonly violations: readonly string[];
  /** Wall time, seconds. */
  readonly seconds: number;
}

const STATUSES = new Set([0n, 1n, 0x8000000000000000n, 0x8000000000000001n, 0x8000000000000002n, 0x8000000000000003n]);
// Instruction.HLT (12) is left out: a halted vCPU waits for an interrupt the VMM would have to send
// (the HLT conformance test covers it); any other leaf, known or not, is fair game.
const LEAVES = [0n, 10n, 30n, 31n, 32n, 48n, 54n, 65n, 0x10000n, 0x10001n, 0x10002n, 0x10003n, 0x10004n, 0x10005n, 0x10006n, 0x12345n];
const INTERESTING = [0n, 1n, 32n, 255n, 256n, 4096n, 0x1000n | (1n << 47n), 0x20_0000n | (1n << 47n), (1n << 47n) - 4096n, 1n << 51n, 0x8000000000000000n];

/** xorshift64* PRNG on BigInt (deterministic, seedable). */
function prng(seed: bigint): () => bigint {
  let x = seed === 0n ? 0x9e3779b97f4a7c15n : seed;
  return () => {
    x ^= x >> 12n;
    x ^= (x << 25n) & 0xffff_ffff_ffff_ffffn;
    x ^= x >> 27n;
    return (x * 0x2545f4914f6cdd1dn) & 0xffff_ffff_ffff_ffffn;
  };
}

/**
 * Issues `count` random TDVMCALLs (any leaf, R10, bitmap, GPA, size, vector, message registers)
 * from one TD on the reference VMM's default plugins, playing a VMM that hands every exit to its
 * plugin, and checks after each call: nothing throws into the VMM; a userspace exit happens only
 * for a leaf a plugin registered; a refused bitmap leaves every GPR alone; otherwise RAX = 0, RCX
 * = the bitmap, R10 (when exposed) holds a GHCI status for R10 = 0 calls, and no GPR outside the
 * bitmap changed.
 */
export function randomTdvmcalls(count: number, seed = 1n): RandomRunReport {
  const rnd = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Number(rnd() % BigInt(a.length))]!;
  const vmm = createVmm({ modules: [kvmModule(), quoteModule, fatalModule] });
  const violations: string[] = [];
  const exits: Record<number, number> = {};
  let issued = 0;
  let refused = 0;
  let exitsThisCall = 0;
  const before = new Array<bigint>(16).fill(0n);
  let bitmap = 0n;
  let r10 = 0n;
  const td = vmm.createTd({
    guest: () => ({
      step(cpu: GuestCpu): number {
        const r = cpu.regs;
        if (issued > 0) check(r.get.bind(r));
        exitsThisCall = 0;
        if (issued >= count || violations.length > 20) return EXIT_REASON_TRIPLE_FAULT;
        issued++;
        const roll = rnd();
        bitmap = (roll & 7n) < 5n ? 0xffccn : (roll & 7n) === 5n ? rnd() & 0xffff_ffffn : rnd();
        r10 = (roll >> 3n) % 8n === 0n ? pick([rnd(), 1n, 12n, 0x4143_0001n]) : 0n;
        for (let i = 0; i < 16; i++) if (i !== 4) r.set(i, (rnd() & 1n) === 0n ? pick(INTERESTING) : rnd());
        r.set(RAX, 0n);
        r.set(RCX, bitmap);
        r.set(R10, r10);
        let leaf = (roll >> 6n) % 5n === 0n ? rnd() : pick(LEAVES);
        if (leaf === 12n) leaf = 13n;
        r.set(R11, leaf);
        for (let i = 0; i < 16; i++) before[i] = r.get(i);
        return EXIT_REASON_TDCALL;
      },
    }),
  });
  function check(get: (i: number) => bigint): void {
    const ok = (bitmap >> 32n) === 0n && (bitmap & 0x33n) === 0n;
    if (!ok) {
      refused++;
      if (get(RAX) !== 0xc000010000000001n) violations.push(`call ${issued}: refused bitmap 0x${bitmap.toString(16)} gave RAX 0x${get(RAX).toString(16)}`);
      for (let i = 1; i < 16; i++) if (i !== 4 && get(i) !== before[i]) violations.push(`call ${issued}: GPR ${i} changed on a refused call`);
      return;
    }
    if (get(RAX) !== 0n || get(RCX) !== bitmap) violations.push(`call ${issued}: RAX/RCX after resume`);
    for (let i = 2; i < 16; i++) {
      if (i === 4 || i === 5 || ((bitmap >> BigInt(i)) & 1n) === 1n) continue;
      if (get(i) !== before[i]) violations.push(`call ${issued}: unselected GPR ${i} changed`);
    }
    if (r10 === 0n && ((bitmap >> 10n) & 1n) === 1n && !STATUSES.has(get(R10))) violations.push(`call ${issued}: R10 = 0x${get(R10).toString(16)} is no GHCI status`);
  }
  const vcpu = td.vcpus[0]!;
  const ctx: UserExitContext = { run: vcpu.kvmRun, vcpuIndex: 0, memory: td.memory, emit: () => undefined, registry: vmm.registry };
  const t0 = performance.now();
  for (;;) {
    let reason: number;
    try {
      reason = vcpu.run();
    } catch (err) {
      if (SeamkitError.is(err) && err.errno === 4) break; // halted (a random R11 hit HLT): nothing left to check
      violations.push(`KVM_RUN threw: ${err instanceof Error ? err.message : String(err)}`);
      break;
    }
    exits[reason] = (exits[reason] ?? 0) + 1;
    if (reason === KVM_EXIT_SHUTDOWN) break;
    const key = reason === KVM_EXIT_TDX ? vcpu.kvmRun.getU64Number(40) : 0;
    if (reason === KVM_EXIT_TDX && vmm.registry.exitOwner(KVM_EXIT_TDX, key) === undefined) violations.push(`KVM_EXIT_TDX for unregistered nr 0x${key.toString(16)}`);
    if (reason === KVM_EXIT_HYPERCALL && ++exitsThisCall > 64) {
      // A random MapGPA can cover most of the GPA space (millions of 2 MiB chunks): after 64
      // chunks this VMM refuses the conversion (hypercall.ret = EINVAL), as a VMM may.
      vcpu.kvmRun.setU64(KVM_RUN_LAYOUT['hypercall.ret'].offset, 22n);
      continue;
    }
    try {
      handleExit(vmm.registry, reason, ctx, {});
    } catch (err) {
      violations.push(`handleExit threw: ${err instanceof Error ? err.message : String(err)}`);
      break;
    }
  }
  return { calls: issued, refused, exits, violations, seconds: (performance.now() - t0) / 1000 };
}
