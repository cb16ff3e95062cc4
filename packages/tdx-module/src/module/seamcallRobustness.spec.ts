import { R8, R9, RAX, RCX, RDX, RegisterFile } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import {
  bootPlatform, buildTd, createTd, createVcpu, hex, installPlatform, mngInit, moduleSnapshot, writeTdParams, writeTdmrList,
  type Platform,
} from '../testing/buildTd.js';

/** xorshift32: a fixed seed makes every run issue the same calls. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Every SEAMCALL leaf the module implements, plus a few it does not. */
const LEAVES = [0, 1, 2, 3, 4, 8, 9, 10, 16, 17, 21, 22, 31, 33, 35, 36, 45, 11, 28, 99];

/** Operand values worth trying: the platform's real objects and free pages, and malformed values. */
function operandPool(p: Platform, extra: readonly number[]): { real: bigint[]; odd: bigint[] } {
  const m = p.module;
  const free = [p.cpu.memory.allocPage(), p.cpu.memory.allocPage()];
  const objects = [...m.tds.keys(), ...m.vcpus.keys(), ...[...m.pamt.entries()].map(([hpa]) => hpa)];
  return {
    real: [...free, ...objects, ...extra, 0x1000, m.tdxKeyIdStart + 1, m.tdxKeyIdStart + 2].map(BigInt),
    odd: [
      0n, 1n, 0x1008n, 0x20_0001n, 0x20_0003n, 1n << 47n, 1n << 52n, 0xffff_ffff_ffff_ffffn, 0x8000_0000_0000_1000n,
      BigInt(m.tdxKeyIdStart), BigInt(m.tdxKeyIdStart + 40), 0x1_0020n,
    ],
  };
}

/**
 * Issues `calls` random SEAMCALLs (random leaf, version / reserved bits now and then, random
 * operands, random LP). Every call must return to VMX root without throwing, and every call that
 * fails (status bit 63) must leave the module exactly as it was.
 */
function hammer(p: Platform, extra: readonly number[], seed: number, calls: number): { failures: number; successes: number } {
  const next = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[next() % a.length]!;
  let pool = operandPool(p, extra);
  let failures = 0;
  let successes = 0;
  for (let n = 0; n < calls; n++) {
    const regs = new RegisterFile();
    let rax = BigInt(pick(LEAVES));
    const twist = next() % 16;
    if (twist === 0) rax |= 1n << 16n;
    if (twist === 1) rax |= 1n << BigInt(24 + (next() % 40));
    regs.set(RAX, rax);
    for (const r of [RCX, RDX, R8, R9]) {
      const k = next() % 10;
      regs.set(r, k < 2 ? 0n : k < 8 ? pick(pool.real) : pick(pool.odd));
    }
    const lp = pick(p.lps);
    const before = moduleSnapshot(p);
    const call = `call ${n}: rax=${hex(rax)} rcx=${hex(regs.get(RCX))} rdx=${hex(regs.get(RDX))} r8=${hex(regs.get(R8))} r9=${hex(regs.get(R9))} lp=${lp.index}`;
    expect(() => lp.seamcall(regs), call).not.toThrow();
    expect(lp.mode, call).toBe(0);
    const status = regs.get(RAX);
    if (status >> 63n === 1n) {
      failures++;
      expect(moduleSnapshot(p), `${call} -> ${hex(status)} changed the module state`).toEqual(before);
    } else {
      successes++;
      pool = operandPool(p, extra);
    }
  }
  return { failures, successes };
}

describe('SEAMCALL robustness', () => {
  it('should never throw and never change state on a failed call before the platform is up', () => {
    const p = installPlatform();
    const list = writeTdmrList(p, [[0, p.cpu.memory.size]]);
    const r = hammer(p, [list], 1, 500);
    expect(r.failures).toBeGreaterThan(100);
  });

  it('should never throw and never change state on a failed call while TDs are being built', () => {
    const p = bootPlatform();
    const { tdr } = createTd(p);
    mngInit(p, tdr);
    createVcpu(p, tdr);
    const params = writeTdParams(p);
    createTd(p);
    const r = hammer(p, [params], 2, 500);
    expect(r.failures).toBeGreaterThan(100);
    expect(r.successes).toBeGreaterThan(0);
  });

  it('should never throw and never change state on a failed call against a runnable TD', () => {
    const p = bootPlatform();
    buildTd(p, { vcpus: 2, pages: [{ gpa: 0x1000, content: new Uint8Array([1]) }] });
    const r = hammer(p, [writeTdParams(p)], 3, 500);
    expect(r.failures).toBeGreaterThan(100);
  });
});
