import { describe, expect, it } from 'vitest';
import { LeafRegistry } from '@seamkit/core';
import { SeamkitError, fromGenerator, type GuestCpu } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { LINUX_EXIT_SHAPES } from './exitShapes.js';
import { Kvm } from './Kvm.js';
import { MapGpaLeaf, MapGpaRangeHypercallLeaf } from './leaves/MapGpaLeaf.js';
import { MemoryAttributes } from './MemoryAttributes.js';
import { KVM_MEM_GUEST_MEMFD, KVM_X86_TDX_VM } from './uapi/tdx.js';
import type { Vcpu } from './Vcpu.js';
import type { Vm } from './Vm.js';

/** Reference values (kvm-tdx-abi.md 1.1, 1.5; linux/kvm.h). */
const KVM_EXIT_HYPERCALL = 3;
const KVM_EXIT_MEMORY_FAULT = 39;
const KVM_EXIT_INTERNAL_ERROR = 17;
const KVM_HC_MAP_GPA_RANGE = 12n;
const PRIVATE = 1 << 3;
const EAGAIN = 11n;
const EINVAL = 22n;
const STATUS = {
  SUCCESS: 0n, RETRY: 1n, INVALID_OPERAND: 0x8000000000000000n, ALIGN_ERROR: 0x8000000000000002n, SUBFUNC_UNSUPPORTED: 0x8000000000000003n,
} as const;
const S = 2 ** 47;
const MIB = 2 ** 20;
const GUEST_MEM = 16 * MIB;

function ioctlError(fn: () => unknown): SeamkitError {
  try {
    fn();
  } catch (e) {
    if (SeamkitError.is(e)) return e;
    throw e;
  }
  throw new Error('the ioctl did not fail');
}

interface Built {
  readonly kvm: Kvm;
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  /** Values the guest reported, in order. */
  readonly seen: bigint[];
}

/** A finalized TD on a bare Kvm with the MapGPA leaf and private RAM, as QEMU sets it up. */
function build(guest: (cpu: GuestCpu, seen: bigint[]) => Generator<number, void, void>, opts: { hypercallExit?: boolean } = {}): Built {
  const kvm = new Kvm();
  const registry = new LeafRegistry(LINUX_EXIT_SHAPES);
  registry.register(new MapGpaLeaf());
  registry.register(new MapGpaRangeHypercallLeaf());
  registry.freeze();
  const vm = kvm.createVm(KVM_X86_TDX_VM, { registry });
  if (opts.hypercallExit !== false) vm.enableCap(201, [1 << 12]);
  vm.setUserMemoryRegion2({ slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0, memorySize: GUEST_MEM });
  vm.setMemoryAttributes({ address: 0, size: GUEST_MEM, attributes: PRIVATE, flags: 0 });
  vm.tdxInitVm();
  const seen: bigint[] = [];
  vm.setGuestProgram(fromGenerator((cpu) => guest(cpu, seen)));
  const vcpu = vm.createVcpu(0);
  vcpu.tdxInitVcpu();
  vm.tdxFinalizeVm();
  return { kvm, vm, vcpu, seen };
}

/** The guest's MapGPA, then R10 and R11 reported. */
function mapGpaGuest(gpa: number, size: number) {
  return function* (cpu: GuestCpu, seen: bigint[]): Generator<number, void, void> {
    seen.push(yield* ghci.mapGpa(cpu, gpa, size));
    seen.push(cpu.regs.get(11));
  };
}

const hypercall = (v: Vcpu): bigint[] => [v.kvmRun.hypercallNr, v.kvmRun.hypercallArg(0), v.kvmRun.hypercallArg(1), v.kvmRun.hypercallArg(2), v.kvmRun.hypercallRet, v.kvmRun.getU64(96)];

describe('KVM_SET_MEMORY_ATTRIBUTES', () => {
  it('should mark ranges PRIVATE and shared, merging neighbours (MemoryAttributes)', () => {
    const a = new MemoryAttributes();
    a.set(0, 100, true);
    a.set(40, 50, false);
    expect([...a.ranges()]).toEqual([[0, 40], [50, 100]]);
    a.set(40, 50, true);
    expect([...a.ranges()]).toEqual([[0, 100]]);
    expect([a.isPrivate(0), a.isPrivate(99), a.isPrivate(100)]).toEqual([true, true, false]);
    expect([a.uniform(10, 20, true), a.uniform(90, 110, true), a.uniform(100, 110, false)]).toEqual([true, false, true]);
  });

  it('should set and clear the PRIVATE attribute, and make the shared EPT refuse PRIVATE frames', () => {
    const kvm = new Kvm();
    const vm = kvm.createVm(KVM_X86_TDX_VM);
    vm.setUserMemoryRegion2({ slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0, memorySize: MIB });
    expect(vm.translate(3)).toBeGreaterThan(0);
    vm.setMemoryAttributes({ address: 0, size: MIB, attributes: PRIVATE, flags: 0 });
    expect(vm.memoryAttributes.isPrivate(3)).toBe(true);
    expect(vm.translate(3)).toBe(-1);
    vm.setMemoryAttributes({ address: 0x3000, size: 0x1000, attributes: 0, flags: 0 });
    expect(vm.translate(3)).toBeGreaterThan(0);
    expect(vm.translate(4)).toBe(-1);
  });

  it.each([
    ['flags != 0', { address: 0, size: 0x1000, attributes: PRIVATE, flags: 1 }],
    ['an unknown attribute bit', { address: 0, size: 0x1000, attributes: PRIVATE | 1, flags: 0 }],
    ['size 0', { address: 0, size: 0, attributes: PRIVATE, flags: 0 }],
    ['a misaligned address', { address: 0x800, size: 0x1000, attributes: PRIVATE, flags: 0 }],
    ['a misaligned size', { address: 0, size: 0x1800, attributes: PRIVATE, flags: 0 }],
    ['a wrapping range', { address: 2 ** 52 - 0x1000, size: 0x2000, attributes: PRIVATE, flags: 0 }],
  ])('should refuse %s with EINVAL and change nothing', (_what, attrs) => {
    const vm = new Kvm().createVm(KVM_X86_TDX_VM);
    const e = ioctlError(() => vm.setMemoryAttributes(attrs));
    expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', 22]);
    expect(vm.memoryAttributes.rangeCount).toBe(0);
  });

  it('should remove the private pages of a range converted to shared, so their data is gone', () => {
    const b = build(function* (cpu, seen) {
      seen.push(yield* ghci.acceptPage(cpu, 0x10_0000));
      yield* ghci.memWriteU32(cpu, 0x10_0000, 0x5ec7e7);
      yield* ghci.mapGpa(cpu, 0x10_0000 + S, 0x1000);
      seen.push(BigInt(yield* ghci.memReadU32(cpu, 0x10_0000 + S)));
    });
    // ACCEPT: no page yet -> EPT violation -> KVM adds it with TDH.MEM.PAGE.AUG and re-enters.
    expect(b.vcpu.run()).toBe(KVM_EXIT_HYPERCALL);
    const gfn = 0x100;
    const hpa = b.vm.mmu.privatePages.get(gfn)!;
    expect(b.kvm.module.pamt.typeOf(hpa)).toBe(3);
    b.vm.setMemoryAttributes({ address: 0x10_0000, size: 0x1000, attributes: 0, flags: 0 });
    expect(b.vm.mmu.privatePages.has(gfn)).toBe(false);
    expect(b.vm.td!.sept!.leaves.has(gfn)).toBe(false);
    expect(b.kvm.module.pamt.typeOf(hpa)).toBe(0);
    b.vcpu.run();
    expect(b.seen).toEqual([STATUS.SUCCESS, 0n]);
  });

  it('should fail with EIO on a dead VM', () => {
    const b = build(mapGpaGuest(0, 0x1000));
    b.vm.tdxTerminateVm();
    const e = ioctlError(() => b.vm.setMemoryAttributes({ address: 0, size: 0x1000, attributes: 0, flags: 0 }));
    expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_VM_DEAD', 5]);
  });
});

describe('EPT violations of a TD', () => {
  it('should turn a shared access to a PRIVATE frame into KVM_EXIT_MEMORY_FAULT (flags 0) with -EFAULT, and re-run after conversion', () => {
    const b = build(function* (cpu, seen) {
      yield* ghci.memWriteU32(cpu, 0x20_3010 + S, 0x1234);
      seen.push(BigInt(yield* ghci.memReadU32(cpu, 0x20_3010 + S)));
    });
    const e = ioctlError(() => b.vcpu.run());
    expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_MEMORY_FAULT', 14]);
    const run = b.vcpu.kvmRun;
    expect([run.exitReason, run.getU64(32), run.getU64(40), run.getU64(48)]).toEqual([KVM_EXIT_MEMORY_FAULT, 0n, 0x20_3000n, 4096n]);
    b.vm.convertMemory(0x20_3000, 0x1000, false);
    b.vcpu.run();
    expect(b.seen).toEqual([0x1234n]);
  });

  it('should turn a private access to a shared frame into KVM_EXIT_MEMORY_FAULT with KVM_MEMORY_EXIT_FLAG_PRIVATE', () => {
    const b = build(function* (cpu) {
      yield* ghci.acceptPage(cpu, 0x30_0000);
    });
    b.vm.setMemoryAttributes({ address: 0x30_0000, size: 0x1000, attributes: 0, flags: 0 });
    const e = ioctlError(() => b.vcpu.run());
    expect(e.code).toBe('SEAMKIT_ERR_KVM_MEMORY_FAULT');
    expect([b.vcpu.kvmRun.getU64(32), b.vcpu.kvmRun.getU64(40)]).toEqual([BigInt(PRIVATE), 0x30_0000n]);
  });

  it('should add a PENDING page with TDH.MEM.PAGE.AUG on a private fault, and kill the VM when the guest touches it before accepting', () => {
    const b = build(function* (cpu) {
      yield* ghci.memReadU32(cpu, 0x50_0000);
    });
    const e = ioctlError(() => b.vcpu.run());
    expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_VM_DEAD', 5]);
    expect(b.vm.td!.sept!.leaves.get(0x500)?.state).toBe(2); // PENDING: KVM added it, the guest never accepted
    expect(b.vm.dead).toMatch(/before accepting/);
    const again = ioctlError(() => b.vcpu.run());
    expect([again.code, again.errno]).toEqual(['SEAMKIT_ERR_KVM_VM_DEAD', 5]);
  });

  it('should give KVM_EXIT_INTERNAL_ERROR (emulation) for a shared access outside every memslot', () => {
    const b = build(function* (cpu) {
      yield* ghci.memReadU32(cpu, 0x4000_0000 + S);
    });
    b.vm.setMemoryAttributes({ address: 0x4000_0000, size: 0x1000, attributes: 0, flags: 0 });
    expect(b.vcpu.run()).toBe(KVM_EXIT_INTERNAL_ERROR);
    expect(b.vcpu.kvmRun.internalSuberror).toBe(1);
  });
});

describe('MapGPA (TDVMCALL 0x10001)', () => {
  it('should exit with KVM_EXIT_HYPERCALL per 2 MiB chunk (shared bit stripped, pages, DECRYPTED, LONG_MODE) and succeed', () => {
    const gpa = 0x10_0000 + S;
    const b = build(mapGpaGuest(gpa, 5 * MIB));
    const chunks: bigint[][] = [];
    let reason = b.vcpu.run();
    while (reason === KVM_EXIT_HYPERCALL) {
      chunks.push(hypercall(b.vcpu));
      reason = b.vcpu.run();
    }
    expect(chunks).toEqual([
      [KVM_HC_MAP_GPA_RANGE, 0x10_0000n, 512n, 0n, 0n, 1n],
      [KVM_HC_MAP_GPA_RANGE, 0x30_0000n, 512n, 0n, 0n, 1n],
      [KVM_HC_MAP_GPA_RANGE, 0x50_0000n, 256n, 0n, 0n, 1n],
    ]);
    expect(b.seen).toEqual([STATUS.SUCCESS, 0x10001n]);
  });

  it('should say ENCRYPTED (0x10) for a private GPA', () => {
    const b = build(mapGpaGuest(0x20_0000, 0x3000));
    expect(b.vcpu.run()).toBe(KVM_EXIT_HYPERCALL);
    expect(hypercall(b.vcpu)).toEqual([KVM_HC_MAP_GPA_RANGE, 0x20_0000n, 3n, 0x10n, 0n, 1n]);
  });

  it('should answer SUBFUNC_UNSUPPORTED with R11 = GPA without KVM_CAP_EXIT_HYPERCALL', () => {
    const b = build(mapGpaGuest(0x1000 + S, 0x1000), { hypercallExit: false });
    b.vcpu.run();
    expect(b.seen).toEqual([STATUS.SUBFUNC_UNSUPPORTED, BigInt(0x1000 + S)]);
  });

  it.each([
    ['size 0', 0x1000, 0, STATUS.INVALID_OPERAND],
    ['a wrapping range', 0x1000, -0x1000, STATUS.INVALID_OPERAND],
    ['a GPA beyond GPAW', 2 ** 48, 0x1000, STATUS.INVALID_OPERAND],
    ['ends disagreeing on the shared bit', S - 0x1000, 0x2000, STATUS.INVALID_OPERAND],
    ['a misaligned GPA', 0x1800, 0x1000, STATUS.ALIGN_ERROR],
    ['a misaligned size', 0x1000, 0x1800, STATUS.ALIGN_ERROR],
    ['a misaligned GPA that also disagrees on the shared bit (range checks first)', S - 0x800, 0x1000, STATUS.INVALID_OPERAND],
  ])('should refuse %s with its status and R11 = GPA, no exit', (_what, gpa, size, status) => {
    const b = build(function* (cpu, seen) {
      cpu.regs.set(12, BigInt(gpa));
      cpu.regs.set(13, BigInt.asUintN(64, BigInt(size)));
      seen.push(yield* ghci.tdvmcall(cpu, 0x10001, { r12: BigInt(gpa), r13: BigInt.asUintN(64, BigInt(size)) }));
      seen.push(cpu.regs.get(11));
    });
    expect(b.vcpu.run()).not.toBe(KVM_EXIT_HYPERCALL);
    expect(b.seen).toEqual([status, BigInt(gpa)]);
  });

  it('should map userspace ret EAGAIN to RETRY and EINVAL to INVALID_OPERAND, both with R11 = the chunk GPA', () => {
    for (const [ret, status] of [[EAGAIN, STATUS.RETRY], [EINVAL, STATUS.INVALID_OPERAND]] as const) {
      const b = build(mapGpaGuest(0x10_0000 + S, 4 * MIB));
      b.vcpu.run();
      b.vcpu.kvmRun.hypercallRet = 0n;
      expect(b.vcpu.run()).toBe(KVM_EXIT_HYPERCALL);
      b.vcpu.kvmRun.hypercallRet = ret;
      b.vcpu.run();
      expect(b.seen).toEqual([status, BigInt(0x30_0000 + S)]);
    }
  });

  it('should fail KVM_RUN with EINVAL for any other ret (and not enter the guest)', () => {
    const b = build(mapGpaGuest(0x10_0000 + S, 0x1000));
    b.vcpu.run();
    b.vcpu.kvmRun.hypercallRet = 5n;
    const e = ioctlError(() => b.vcpu.run());
    expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', 22]);
    expect(b.seen).toEqual([]);
  });

  it('should return RETRY with R11 = the next chunk when an interrupt is pending after a chunk', () => {
    const b = build(mapGpaGuest(0x10_0000 + S, 4 * MIB));
    expect(b.vcpu.run()).toBe(KVM_EXIT_HYPERCALL);
    // An MSI to vCPU 0 (fixed, vector 0x40) is posted while userspace handles the chunk.
    b.vm.signalMsi({ addressLo: 0xfee0_0000, data: 0x40 });
    b.vcpu.run();
    expect(b.seen).toEqual([STATUS.RETRY, BigInt(0x30_0000 + S)]);
  });
});

describe('KVM_HC_MAP_GPA_RANGE as a KVM hypercall (R10 = 12)', () => {
  function hcGuest(gpa: bigint, npages: bigint, attrs: bigint) {
    return function* (cpu: GuestCpu, seen: bigint[]): Generator<number, void, void> {
      seen.push(yield* ghci.kvmHypercall(cpu, 12n, gpa, npages, attrs));
    };
  }

  it('should exit once with the arguments as given and LONG_MODE, and return hypercall.ret in R10', () => {
    const b = build(hcGuest(0x40_0000n, 1024n, 0n));
    expect(b.vcpu.run()).toBe(KVM_EXIT_HYPERCALL);
    expect(hypercall(b.vcpu)).toEqual([KVM_HC_MAP_GPA_RANGE, 0x40_0000n, 1024n, 0n, 0n, 1n]);
    b.vcpu.kvmRun.hypercallRet = 0x1234n;
    b.vcpu.run();
    expect(b.seen).toEqual([0x1234n]);
  });

  it('should answer -KVM_ENOSYS without KVM_CAP_EXIT_HYPERCALL and -KVM_EINVAL for bad arguments', () => {
    const minus = (n: bigint): bigint => BigInt.asUintN(64, -n);
    let b = build(hcGuest(0x40_0000n, 1n, 0n), { hypercallExit: false });
    b.vcpu.run();
    expect(b.seen).toEqual([minus(1000n)]);
    for (const [gpa, npages] of [[0x40_0800n, 1n], [0x40_0000n, 0n], [0x40_0000n, (1n << 64n) - 1n]] as const) {
      b = build(hcGuest(gpa, npages, 0n));
      b.vcpu.run();
      expect(b.seen).toEqual([minus(22n)]);
    }
  });
});

