import { R8, RAX, RCX, RDX, RegisterFile, fromGenerator, type GuestCpu } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import * as ghci from '../../guest/ghci.js';
import { addSeptTables, bootPlatform, buildTd, hex, type BuiltTd, type Platform } from '../../testing/buildTd.js';

const PAGE = 4096;
const GPA = 0x4000_0000;
const SHARED = 2 ** 47;

/** Reference values (tdx-module-abi.md §4.2, §5.2, §6.6; Linux TDX_EXT_EXIT_QUAL_TYPE_*). */
const REF = {
  SUCCESS: 0n,
  OPERAND_INVALID_RCX: 0xc000010000000001n,
  PAGE_ALREADY_ACCEPTED: 0x00000b0a00000000n,
  PAGE_SIZE_MISMATCH: 0xc0000b0b00000000n,
} as const;
const EXIT_EPT_VIOLATION = 48n;
const EEQ_ACCEPT = 1n;
const EEQ_PENDING_EPT_VIOLATION = 6n;
const SEPT = { FREE: 0, PENDING: 2, BLOCKED: 1, MAPPED: 4 } as const;

interface Td {
  readonly p: Platform;
  readonly b: BuiltTd;
  readonly args: RegisterFile;
  /** Guest-observed values, in order. */
  readonly seen: bigint[];
  /** TDH.VP.ENTER; returns RAX. */
  enter(): bigint;
}

function run(guest: (cpu: GuestCpu, seen: bigint[]) => Generator<number, void, void>, attributes?: bigint): Td {
  const p = bootPlatform();
  const seen: bigint[] = [];
  const b = buildTd(p, {
    program: fromGenerator((cpu) => guest(cpu, seen)),
    ...(attributes !== undefined ? { params: { attributes } } : {}),
  });
  const args = new RegisterFile();
  return {
    p, b, args, seen,
    enter: () => {
      p.host.tdhVpEnter(b.vcpuLps[0]!, b.tdvprs[0]!, args);
      return args.get(RAX);
    },
  };
}

/** TDH.MEM.PAGE.AUG of a fresh page at `gpa` (adding SEPT tables), as KVM does on a fault. */
function aug(t: Td, gpa: number): number {
  addSeptTables(t.p, t.b.tdr, gpa);
  const page = t.p.cpu.memory.allocPage();
  expect(hex(t.p.host.tdhMemPageAug(t.p.lp0, t.b.tdr, gpa, page).status)).toBe('0x0000000000000000');
  return page;
}

/** The guest stops at a TDVMCALL so the test can look at what it saw. */
function* stop(cpu: GuestCpu): Generator<number, void, void> {
  yield* ghci.tdvmcall(cpu, 0x1_2345);
}

describe('TDG.MEM.PAGE.ACCEPT (TDCALL 6)', () => {
  it('should turn a PENDING page MAPPED and zero it with the TD key', () => {
    const t = run(function* (cpu, seen) {
      seen.push(yield* ghci.acceptPage(cpu, GPA));
      seen.push(yield* ghci.memReadU64(cpu, GPA));
      seen.push(yield* ghci.acceptPage(cpu, GPA));
      yield* stop(cpu);
    });
    const page = aug(t, GPA);
    // Whatever the page held before is not what the guest sees.
    t.p.cpu.memory.write(page, new Uint8Array(PAGE).fill(0xee));
    expect(t.enter()).toBe(77n);
    expect(t.seen).toEqual([REF.SUCCESS, 0n, REF.PAGE_ALREADY_ACCEPTED]);
    expect(t.b.td.sept!.leaves.get(GPA / PAGE)?.state).toBe(SEPT.MAPPED);
    expect(t.p.cpu.memory.keyIdOf(page)).toBe(t.b.hkid);
  });

  it('should exit with an EPT violation of type ACCEPT when no page is there, and succeed after TDH.MEM.PAGE.AUG', () => {
    const t = run(function* (cpu, seen) {
      seen.push(yield* ghci.acceptPage(cpu, GPA + PAGE));
      yield* stop(cpu);
    });
    addSeptTables(t.p, t.b.tdr, GPA);
    expect(t.enter()).toBe(EXIT_EPT_VIOLATION);
    // RCX = exit qualification (write), RDX = ACCEPT | info (requested level 0, stopped at level 0 on a FREE non-leaf), R8 = GPA.
    expect(t.args.get(RCX)).toBe(2n);
    expect(t.args.get(RDX)).toBe(EEQ_ACCEPT);
    expect(t.args.get(R8)).toBe(BigInt(GPA + PAGE));
    expect(t.seen).toEqual([]);
    const page = t.p.cpu.memory.allocPage();
    t.p.host.tdhMemPageAug(t.p.lp0, t.b.tdr, GPA + PAGE, page);
    expect(t.enter()).toBe(77n);
    expect(t.seen).toEqual([REF.SUCCESS]);
  });

  it('should report where the walk stopped in the ACCEPT exit information', () => {
    const t = run(function* (cpu) {
      yield* ghci.acceptPage(cpu, 2 ** 40);
    });
    expect(t.enter()).toBe(EXIT_EPT_VIOLATION);
    // Requested level 0, stopped at level 3 (no PDPT), state FREE, not a leaf.
    expect(t.args.get(RDX)).toBe(EEQ_ACCEPT | (BigInt(0 | (3 << 3)) << 32n));
  });

  it('should answer a 2 MiB accept over 4 KiB mappings with TDX_PAGE_SIZE_MISMATCH (level 1)', () => {
    const t = run(function* (cpu, seen) {
      seen.push(yield* ghci.acceptPage(cpu, GPA, 1));
      seen.push(yield* ghci.acceptPage(cpu, GPA, 0));
      yield* stop(cpu);
    });
    aug(t, GPA);
    expect(t.enter()).toBe(77n);
    expect(t.seen).toEqual([REF.PAGE_SIZE_MISMATCH + 1n, REF.SUCCESS]);
  });

  it.each([
    ['a shared GPA', GPA + SHARED, 0],
    ['a misaligned GPA', GPA + 0x10, 0],
    ['a misaligned 2 MiB GPA', GPA + PAGE, 1],
    ['level 2', GPA, 2],
  ])('should refuse %s with TDX_OPERAND_INVALID|RCX and no exit', (_what, gpa, level) => {
    const t = run(function* (cpu, seen) {
      seen.push(yield* ghci.acceptPage(cpu, gpa, level));
      yield* stop(cpu);
    });
    expect(t.enter()).toBe(77n);
    expect(t.seen).toEqual([REF.OPERAND_INVALID_RCX]);
  });

  it('should exit (type ACCEPT, leaf, state BLOCKED) on a blocked page', () => {
    const t = run(function* (cpu) {
      yield* ghci.acceptPage(cpu, GPA);
    });
    aug(t, GPA);
    t.p.host.tdhMemRangeBlock(t.p.lp0, t.b.tdr, GPA);
    expect(t.enter()).toBe(EXIT_EPT_VIOLATION);
    expect(t.args.get(RDX)).toBe(EEQ_ACCEPT | (BigInt(0 | (0 << 3) | (3 << 6) | (1 << 14)) << 32n));
  });
});

describe('guest access to private memory', () => {
  it('should exit with extended exit qualification PENDING_EPT_VIOLATION (6) when the guest touches a PENDING page', () => {
    const t = run(function* (cpu) {
      yield* ghci.memReadU32(cpu, GPA + 8);
    });
    aug(t, GPA);
    expect(t.enter()).toBe(EXIT_EPT_VIOLATION);
    expect([t.args.get(RCX), t.args.get(RDX), t.args.get(R8)]).toEqual([1n, EEQ_PENDING_EPT_VIOLATION, BigInt(GPA + 8)]);
  });

  it('should exit with type 0 for a page that does not exist, and re-run the access after the host adds it', () => {
    const t = run(function* (cpu, seen) {
      yield* ghci.memWriteU32(cpu, GPA + 4, 0xabcd);
      seen.push(BigInt(yield* ghci.memReadU32(cpu, GPA + 4)));
      yield* stop(cpu);
    });
    expect(t.enter()).toBe(EXIT_EPT_VIOLATION);
    expect([t.args.get(RCX), t.args.get(RDX)]).toEqual([2n, 0n]);
    aug(t, GPA);
    // Now the page is PENDING: the same write faults again, with the pending type.
    expect(t.enter()).toBe(EXIT_EPT_VIOLATION);
    expect(t.args.get(RDX)).toBe(EEQ_PENDING_EPT_VIOLATION);
  });

  it('should report type 0 for a pending page of a TD without SEPT_VE_DISABLE (#VE is not modelled)', () => {
    const t = run(function* (cpu) {
      yield* ghci.memReadU32(cpu, GPA);
    }, 0n);
    aug(t, GPA);
    expect(t.enter()).toBe(EXIT_EPT_VIOLATION);
    expect(t.args.get(RDX)).toBe(0n);
  });
});
