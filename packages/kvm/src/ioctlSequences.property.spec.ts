import fc from 'fast-check';
import { EXIT_REASON_TRIPLE_FAULT, PAGE_SIZE, SeamkitError, type GuestProgram } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import { Kvm } from './Kvm.js';
import { KVM_CAP_EXIT_HYPERCALL, KVM_MEM_GUEST_MEMFD, KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_SUPPORTED_TDX_TD_ATTRS, KVM_X86_TDX_VM } from './uapi/tdx.js';
import type { Vcpu } from './Vcpu.js';
import type { Vm } from './Vm.js';

/**
 * Property test: random sequences of KVM ioctls on one simulated /dev/kvm (VM creation, memslots,
 * capabilities, KVM_TDX_INIT_VM / INIT_VCPU / INIT_MEM_REGION / FINALIZE_VM, memory attributes,
 * KVM_RUN of a guest that triple-faults at once, KVM_TDX_TERMINATE_VM, destruction), with valid
 * and malformed arguments and in every order, checking after every step that
 * - an ioctl either succeeds or throws a SeamkitError whose code starts with SEAMKIT_ERR_KVM and
 *   that carries a numeric errno (never another exception);
 * - a failed ioctl changes nothing observable (every VM's state, vCPUs, TDR / HKID, the module's
 *   TD and vCPU maps, the PAMT's used pages, KVM's free HKIDs), unless it marked the VM dead as
 *   documented (kvm_vm_dead), in which case only the dead state is required;
 * - no HKID is held by two live VMs, nor is a held HKID in KVM's free pool.
 */

/** The guest: ends at once (triple fault). */
const tripleFault: GuestProgram = () => ({ step: () => EXIT_REASON_TRIPLE_FAULT });

const SLOT_GPAS = [0, 0x1000, 0x20_0000, 0x4000_0000, 0x800, 2 ** 47];
const SLOT_SIZES = [0x1000, 0x2000, 0x20_0000, 0x2000, 0, 0x1800];
const MEM_GPAS = [0, 0x1000, 0, 0x1000, 0x2000, 0x20_0000, 0x1008, 2 ** 47 - 0x1000, 2 ** 47];
const ATTR_ADDRS = [0, 0x1000, 0x2000, 0x20_0000, 0x800];
const ATTR_SIZES = [0x1000, 0x2000, 0x20_0000, 0x800, 0];

interface World {
  readonly kvm: Kvm;
  readonly vms: Vm[];
}

/** KVM's free HKIDs, in pool order (drained and restored exactly: alloc shifts, free unshifts). */
function freeHkids(kvm: Kvm): number[] {
  const out: number[] = [];
  for (let h = kvm.allocHkid(); h !== undefined; h = kvm.allocHkid()) out.push(h);
  for (let i = out.length - 1; i >= 0; i--) kvm.freeHkid(out[i]!);
  return out;
}

function vmSnapshot(vm: Vm): unknown {
  return {
    state: vm.state,
    dead: vm.dead,
    tdr: vm.tdr,
    hkid: vm.hkid,
    hkidAssigned: vm.hkidAssigned,
    gpaw: vm.gpaw,
    mask: vm.hypercallExitMask,
    vcpus: vm.vcpus.map((v) => [v.id, v.tdvpr, v.tdcxPages.length]),
    tdcs: vm.tdcsPages.length,
    privatePages: [...vm.mmu.privatePages.keys()].sort((a, b) => a - b),
    septPages: vm.mmu.septPages.size,
  };
}

function snapshot(w: World): { vms: unknown[]; tds: number; vcpus: number; pamt: number; free: number[] } {
  const m = w.kvm.module;
  return { vms: w.vms.map(vmSnapshot), tds: m.tds.size, vcpus: m.vcpus.size, pamt: m.pamt.usedPages, free: freeHkids(w.kvm) };
}

function pick<T>(xs: readonly T[], n: number): T | undefined {
  return xs.length === 0 ? undefined : xs[n % xs.length];
}

/** One random ioctl: returns the VM it acts on (if any) and the call, or undefined when there is nothing to call it on. */
function step(w: World, op: number, a: number, b: number, c: number): { vm?: Vm; name: string; run: () => unknown } | undefined {
  const { kvm } = w;
  const vm = pick(w.vms, a);
  const vcpu: Vcpu | undefined = vm === undefined ? undefined : pick(vm.vcpus, b);
  if (vm === undefined && op !== 0) return step(w, 0, a, b, 1);
  switch (op) {
    case 0: {
      const type = c % 3 === 0 ? [0, 1, 2, 4, 6, -1][b % 6]! : KVM_X86_TDX_VM;
      return { name: `createVm(${type})`, run: () => { w.vms.push(kvm.createVm(type)); } };
    }
    case 1: {
      if (vm === undefined) return undefined;
      const region = {
        slot: [0, 1, 2, 0, 1, 2, 3, -1, 0x8000][c % 9]!,
        flags: [KVM_MEM_GUEST_MEMFD, KVM_MEM_GUEST_MEMFD, 0, 1 << 1, KVM_MEM_GUEST_MEMFD | 1, 1 << 7][b % 6]!,
        guestPhysAddr: SLOT_GPAS[(b >> 3) % SLOT_GPAS.length]!,
        memorySize: SLOT_SIZES[(c >> 3) % SLOT_SIZES.length]!,
      };
      return { vm, name: `setUserMemoryRegion2(${JSON.stringify(region)})`, run: () => vm.setUserMemoryRegion2(region) };
    }
    case 2: {
      if (vm === undefined) return undefined;
      const cap = [KVM_CAP_EXIT_HYPERCALL, KVM_CAP_EXIT_HYPERCALL, 12345][c % 3]!;
      const mask = [0x1000, 0, 0x1, 0xffff][b % 4]!;
      return { vm, name: `enableCap(${cap}, [${mask}])`, run: () => vm.enableCap(cap, [mask]) };
    }
    case 3: {
      if (vm === undefined) return undefined;
      const attributes = [KVM_SUPPORTED_TDX_TD_ATTRS, KVM_SUPPORTED_TDX_TD_ATTRS, 0n, 1n, 1n << 63n][c % 5]!;
      const xfam = b % 7 === 6 ? 0x8n : undefined;
      return {
        vm,
        name: `tdxInitVm(attributes 0x${attributes.toString(16)}, xfam ${String(xfam)})`,
        run: () => {
          vm.tdxInitVm({ attributes, ...(xfam === undefined ? {} : { xfam }) });
          vm.setGuestProgram(tripleFault);
        },
      };
    }
    case 4: {
      if (vm === undefined) return undefined;
      const id = c % 4 === 3 ? -1 : b % 3;
      return { vm, name: `createVcpu(${id})`, run: () => vm.createVcpu(id) };
    }
    case 5:
      if (vm === undefined || vcpu === undefined) return undefined;
      return { vm, name: `vcpu${vcpu.id}.tdxInitVcpu()`, run: () => vcpu.tdxInitVcpu() };
    case 6: {
      if (vm === undefined || vcpu === undefined) return undefined;
      const gpa = MEM_GPAS[c % MEM_GPAS.length]!;
      const nrPages = [1, 2, 1, 0][b % 4]!;
      const flags = [0, 1, 0, 1, 2][(b >> 2) % 5]!;
      const source = new Uint8Array((c >> 4) % 4 === 3 ? 3 * PAGE_SIZE : 100).fill(0xa5);
      return {
        vm,
        name: `vcpu${vcpu.id}.tdxInitMemRegion(gpa 0x${gpa.toString(16)}, ${nrPages} pages, flags ${flags}, ${source.length} bytes)`,
        run: () => vcpu.tdxInitMemRegion({ gpa, nrPages, flags, source }),
      };
    }
    case 7:
      if (vm === undefined) return undefined;
      return { vm, name: 'tdxFinalizeVm()', run: () => vm.tdxFinalizeVm() };
    case 8: {
      if (vm === undefined) return undefined;
      const attrs = {
        address: ATTR_ADDRS[c % ATTR_ADDRS.length]!,
        size: ATTR_SIZES[b % ATTR_SIZES.length]!,
        attributes: [KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, 1][(c >> 3) % 3]!,
        flags: (b >> 3) % 5 === 4 ? 1 : 0,
      };
      return { vm, name: `setMemoryAttributes(${JSON.stringify(attrs)})`, run: () => vm.setMemoryAttributes(attrs) };
    }
    case 9:
    case 10:
      if (vm === undefined || vcpu === undefined) return undefined;
      return { vm, name: `vcpu${vcpu.id}.run()`, run: () => vcpu.run() };
    case 11:
      if (vm === undefined || c % 2 !== 0) return undefined;
      return { vm, name: 'tdxTerminateVm()', run: () => vm.tdxTerminateVm() };
    case 12:
      if (vm === undefined || c % 3 !== 0) return undefined;
      return { vm, name: 'destroy()', run: () => vm.destroy() };
    default:
      // Extra weight on the build path so that finalized TDs are reached often.
      if (vm === undefined) return undefined;
      if (vm.state === 'none') return step(w, 3, a, b, c * 5);
      if (vm.vcpus.length === 0) return step(w, 4, a, b, c);
      if (vm.vcpus.every((v) => v.initialized)) return step(w, [4, 6, 6, 6, 7, 7, 9, 9][c % 8]!, a, b, c);
      return step(w, 5, a, b, c);
  }
}

/** Live HKIDs are unique and none is in KVM's free pool. */
function checkHkids(w: World, free: readonly number[]): void {
  const held = w.vms.filter((vm) => vm.hkidAssigned).map((vm) => vm.hkid);
  expect(new Set(held).size, `HKIDs held twice: ${held.join(', ')}`).toBe(held.length);
  for (const h of held) expect(free, `HKID ${h} is held by a VM and free`).not.toContain(h);
  expect(new Set(free).size).toBe(free.length);
}

const ops = fc.array(
  fc.tuple(fc.nat({ max: 19 }), fc.nat({ max: 3 }), fc.nat({ max: 255 }), fc.nat({ max: 255 })),
  { minLength: 5, maxLength: 40, size: 'max' },
);

describe('KVM ioctl sequences (property)', () => {
  it('should fail only with coded KVM errors, change nothing on failure (unless the VM is marked dead), and never share an HKID', () => {
    fc.assert(
      fc.property(fc.boolean(), ops, (fewHkids, seq) => {
        // Half the runs with 3 key IDs (2 HKIDs for TDs), so that KVM_TDX_INIT_VM also runs out of HKIDs (ENOSPC).
        const w: World = { kvm: new Kvm(fewHkids ? { module: { tdxKeyIds: 3 } } : {}), vms: [] };
        const baseline = { pamt: w.kvm.module.pamt.usedPages, free: freeHkids(w.kvm) };
        const log: string[] = [];
        for (const [op, a, b, c] of seq) {
          const s = step(w, op, a, b, c);
          if (s === undefined) continue;
          log.push(`vm${s.vm?.id ?? '-'}.${s.name}`);
          const before = snapshot(w);
          const wasDead = s.vm?.dead !== undefined;
          let err: unknown;
          let threw = false;
          try {
            s.run();
          } catch (e) {
            threw = true;
            err = e;
          }
          const after = snapshot(w);
          const where = `after ${log.join(' ; ')}`;
          if (wasDead && !s.name.startsWith('destroy')) {
            expect(threw && SeamkitError.is(err) && err.code === 'SEAMKIT_ERR_KVM_VM_DEAD', `${where}: an ioctl on a dead VM did not fail with EIO`).toBe(true);
          }
          if (threw) {
            expect(SeamkitError.is(err), `${where}: not a SeamkitError: ${String(err)}`).toBe(true);
            const se = err as SeamkitError;
            expect(typeof se.code === 'string' && se.code.startsWith('SEAMKIT_ERR_KVM'), `${where}: code ${String(se.code)}`).toBe(true);
            expect(typeof se.errno, `${where}: errno of ${se.code}`).toBe('number');
            if (s.vm !== undefined && !wasDead && s.vm.dead !== undefined) {
              // A documented kvm_vm_dead path (KVM_BUG_ON after TDH.VP.CREATE, a failed teardown of KVM_TDX_INIT_VM): only the dead state is required.
            } else {
              expect(after, `${where}: failed with ${se.code} (${se.message}) but changed state`).toEqual(before);
            }
          }
          checkHkids(w, after.free);
        }
        for (const vm of w.vms) vm.destroy();
        // Destroying every VM gives everything back: no TD or vCPU left in the module, PAMT and HKID pool as at boot.
        const end = snapshot(w);
        checkHkids(w, end.free);
        expect({ tds: end.tds, vcpus: end.vcpus, pamt: end.pamt, free: [...end.free].sort((x, y) => x - y) }, `after ${log.join(' ; ')} ; destroy all`)
          .toEqual({ tds: 0, vcpus: 0, pamt: baseline.pamt, free: [...baseline.free].sort((x, y) => x - y) });
      }),
      { numRuns: 300, seed: 0x5ea4c17 },
    );
  });
});
