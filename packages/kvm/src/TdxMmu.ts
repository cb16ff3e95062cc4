import { type LogicalProcessor } from '@seamkit/seam-cpu';
import { PAGE_SIZE, R8, RCX, RDX } from '@seamkit/seam-cpu/abi';
import { TDX_SUCCESS } from '@seamkit/tdx-module';
import { kvmError } from './errors.js';
import type { KvmRun } from './KvmRun.js';
import { EFAULT, EIO } from './uapi/errno.js';
import { KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_MEMORY_FAULT, KVM_INTERNAL_ERROR_EMULATION } from './uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from './uapi/kvmRunLayout.js';
import { KVM_MEMORY_EXIT_FLAG_PRIVATE } from './uapi/tdx.js';
import type { Vcpu } from './Vcpu.js';
import type { Vm } from './Vm.js';

/** TDX_EXT_EXIT_QUAL_TYPE_MASK / TDX_EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION (Linux arch/x86/kvm/vmx/tdx.h). */
const EXT_EXIT_QUAL_TYPE_MASK = 0xf;
const EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION = 6;
/** EPT_VIOLATION_RWX_MASK (exit qualification bits 5:3) and EPT_VIOLATION_EXEC_FOR_RING3_LIN (bit 6). */
const EPT_VIOLATION_RWX_MASK = 0x38;
const EPT_VIOLATION_EXEC_FOR_RING3_LIN = 0x40;
/**
 * Consecutive faults on the same private page that KVM finds already mapped before the simulator
 * gives up with KVM_EXIT_INTERNAL_ERROR (real KVM would keep re-entering the guest).
 */
const SPURIOUS_FAULT_LIMIT = 16;

/**
 * KVM's TDX MMU for one VM: the mirror of the secure EPT (the SEPT pages and private pages KVM
 * handed to the TDX module), the private-fault path and private-page removal, as Linux 6.16's
 * TDP MMU with the TDX hooks does it (tdx_sept_link_private_spt, tdx_sept_set_private_spte,
 * tdx_sept_remove_private_spte). Private pages come from the VM's guest_memfd (host pages).
 */
export class TdxMmu {
  /** SEPT pages given to the module, by `level/index` of the entry that points to them. */
  readonly septPages = new Map<string, number>();
  /** Private pages mapped in the secure EPT (PAGE.ADD or PAGE.AUG), by guest frame number. */
  readonly privatePages = new Map<number, number>();
  readonly #vm: Vm;
  #lastFaultGfn = -1;
  #repeats = 0;

  /** @param vm - the VM */
  constructor(vm: Vm) {
    this.#vm = vm;
  }

  /** Number of secure-EPT levels of the TD (4 or 5). */
  get #levels(): number {
    return this.#vm.gpaw === 52 ? 5 : 4;
  }

  /** The SEPT tables `gpa` still needs, top down, as [level, index] (kvm_tdp_mmu_map's walk). */
  missingTables(gpa: number): [number, number][] {
    const out: [number, number][] = [];
    for (let level = this.#levels - 1; level >= 1; level--) {
      const idx = Math.floor(gpa / 2 ** (12 + 9 * level));
      if (!this.septPages.has(`${level}/${idx}`)) out.push([level, idx]);
    }
    return out;
  }

  /**
   * tdx_sept_link_private_spt for every missing level: TDH.MEM.SEPT.ADD with `pages` (one per
   * missing table, top down). Returns the statuses' first failure, or TDX_SUCCESS.
   */
  linkTables(lp: LogicalProcessor, gpa: number, pages: readonly number[]): bigint {
    const vm = this.#vm;
    const missing = this.missingTables(gpa);
    for (let i = 0; i < missing.length; i++) {
      const [level, idx] = missing[i]!;
      const r = vm.kvm.host.tdhMemSeptAdd(lp, vm.tdr, idx * 2 ** (12 + 9 * level), level, pages[i]!);
      if (r.status !== TDX_SUCCESS) return r.status;
      this.septPages.set(`${level}/${idx}`, pages[i]!);
    }
    return TDX_SUCCESS;
  }

  /**
   * The private fault path for `gfn` (kvm_tdp_mmu_map + tdx_sept_set_private_spte on a RUNNABLE
   * TD): a guest_memfd page, the missing SEPT tables, then TDH.MEM.PAGE.AUG. The guest sees a
   * PENDING page until it accepts it. A SEAMCALL failure is a KVM bug: the VM is marked dead.
   * @throws SEAMKIT_ERR_KVM_VM_DEAD (EIO) when the TDX module refuses
   */
  mapPrivate(lp: LogicalProcessor, gfn: number): void {
    const vm = this.#vm;
    const mem = vm.kvm.cpu.memory;
    const gpa = gfn * PAGE_SIZE;
    const tables = this.missingTables(gpa).map(() => mem.allocPage());
    const page = mem.allocPage();
    let status = this.linkTables(lp, gpa, tables);
    if (status === TDX_SUCCESS) {
      status = vm.kvm.host.tdhMemPageAug(lp, vm.tdr, gpa, page).status;
      if (status === TDX_SUCCESS) {
        this.privatePages.set(gfn, page);
        return;
      }
    }
    for (const t of tables) if (![...this.septPages.values()].includes(t)) mem.freePage(t);
    mem.freePage(page);
    vm.markDead(`TDX module refused a private mapping (0x${status.toString(16)})`);
    throw kvmError('SEAMKIT_ERR_KVM_VM_DEAD', ['KVM_RUN', `the TDX module refused to map GPA 0x${gpa.toString(16)}: 0x${status.toString(16)}`], EIO);
  }

  /**
   * tdx_sept_remove_private_spte while the HKID is assigned: TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK
   * (and kick the vCPUs, a no-op here), TDH.MEM.PAGE.REMOVE, TDH.PHYMEM.PAGE.WBINVD with the TD's
   * key, then the page is cleared and goes back to the host (guest_memfd hole punch). Its data
   * is gone.
   * @throws SEAMKIT_ERR_KVM_VM_DEAD (EIO) when the TDX module refuses (a KVM bug: VM dead)
   */
  removePrivate(lp: LogicalProcessor, gfn: number): void {
    const vm = this.#vm;
    const hpa = this.privatePages.get(gfn);
    if (hpa === undefined) return;
    const h = vm.kvm.host;
    const gpa = gfn * PAGE_SIZE;
    let status = h.tdhMemRangeBlock(lp, vm.tdr, gpa).status;
    if (status === TDX_SUCCESS) status = h.tdhMemTrack(lp, vm.tdr);
    if (status === TDX_SUCCESS) status = h.tdhMemPageRemove(lp, vm.tdr, gpa).status;
    if (status !== TDX_SUCCESS) {
      vm.markDead(`TDX module refused to remove a private page (0x${status.toString(16)})`);
      throw kvmError('SEAMKIT_ERR_KVM_VM_DEAD', ['private page removal', `GPA 0x${gpa.toString(16)}: 0x${status.toString(16)}`], EIO);
    }
    this.privatePages.delete(gfn);
    const m = vm.kvm.module;
    h.tdhPhymemPageWbinvd(lp, m.keyedPa(hpa, vm.hkid));
    const mem = vm.kvm.cpu.memory;
    mem.clearPage(hpa, 0);
    mem.freePage(hpa);
  }

  /** Removes every private page in guest frames [start, end) (kvm_unmap_gfn_range, private filter). */
  removePrivateRange(lp: LogicalProcessor, start: number, end: number): void {
    for (const gfn of [...this.privatePages.keys()].sort((a, b) => a - b)) if (gfn >= start && gfn < end) this.removePrivate(lp, gfn);
  }

  /**
   * KVM's EPT-violation handler for a TD (tdx_handle_ept_violation + kvm_mmu_page_fault), reading
   * the exit from the argument block (RCX exit qualification, RDX extended exit qualification,
   * R8 GPA):
   * - a private GPA whose extended exit qualification is PENDING_EPT_VIOLATION with no permission
   *   bits: the guest touched memory before accepting it; KVM kills the VM (KVM_RUN fails with EIO);
   * - an access whose kind (private, shared) disagrees with the frame's memory attribute, or a
   *   private access outside guest_memfd memory: KVM_EXIT_MEMORY_FAULT (flags PRIVATE for a private
   *   access, gpa without the shared bit, size 4096) and KVM_RUN fails with EFAULT;
   * - a private access to a PRIVATE frame: the page is added with TDH.MEM.PAGE.AUG (tables first)
   *   and the guest re-entered (0); a page already there is a spurious fault, also re-entered;
   * - a shared access to a shared frame outside every memslot (emulated MMIO, which a TD cannot
   *   do by instruction): KVM_EXIT_INTERNAL_ERROR with suberror EMULATION.
   * @returns 0 to re-enter the guest, or the KVM_EXIT_* reason
   * @throws SEAMKIT_ERR_KVM_MEMORY_FAULT (EFAULT) with kvm_run filled for KVM_EXIT_MEMORY_FAULT
   * @throws SEAMKIT_ERR_KVM_VM_DEAD (EIO) when the VM is killed
   */
  handleEptViolation(vcpu: Vcpu): number {
    const vm = this.#vm;
    const args = vcpu.args;
    const run = vcpu.kvmRun;
    const gpaRaw = args.getNumber(R8);
    const sharedBit = vm.sharedBit;
    const shared = Math.floor(gpaRaw / sharedBit) % 2 === 1;
    const gpa = shared ? gpaRaw - sharedBit : gpaRaw;
    const gfn = Math.floor(gpa / PAGE_SIZE);
    const qual = args.lo(RCX);
    if (!shared && (args.lo(RDX) & EXT_EXIT_QUAL_TYPE_MASK) === EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION &&
      (qual & (EPT_VIOLATION_RWX_MASK | EPT_VIOLATION_EXEC_FOR_RING3_LIN)) === 0) {
      vm.markDead(`guest access before accepting GPA 0x${gpa.toString(16)} on vCPU ${vcpu.id}`);
      throw kvmError('SEAMKIT_ERR_KVM_VM_DEAD', ['KVM_RUN', `guest access before accepting GPA 0x${gpa.toString(16)} on vCPU ${vcpu.id}`], EIO);
    }
    const attrPrivate = vm.memoryAttributes.isPrivate(gfn);
    if (shared === attrPrivate || (!shared && !vm.guestMemfdAt(gpa))) return memoryFault(run, gfn, !shared);
    if (shared) return emulationFailure(run);
    if (this.privatePages.has(gfn)) {
      if (gfn === this.#lastFaultGfn && ++this.#repeats >= SPURIOUS_FAULT_LIMIT) {
        this.#repeats = 0;
        return emulationFailure(run);
      }
      this.#lastFaultGfn = gfn;
      return 0;
    }
    this.#lastFaultGfn = -1;
    this.#repeats = 0;
    this.mapPrivate(vcpu.lp, gfn);
    return 0;
  }
}

/** KVM_EXIT_MEMORY_FAULT (kvm_mmu_prepare_memory_fault_exit), which KVM_RUN reports with -EFAULT. */
function memoryFault(run: KvmRun, gfn: number, priv: boolean): never {
  run.setU32(L.exit_reason.offset, KVM_EXIT_MEMORY_FAULT);
  run.setU64Halves(L['memory_fault.flags'].offset, priv ? KVM_MEMORY_EXIT_FLAG_PRIVATE : 0, 0);
  run.setU64Number(L['memory_fault.gpa'].offset, gfn * PAGE_SIZE);
  run.setU64Halves(L['memory_fault.size'].offset, PAGE_SIZE, 0);
  throw kvmError('SEAMKIT_ERR_KVM_MEMORY_FAULT', ['KVM_RUN', (gfn * PAGE_SIZE).toString(16), priv ? 'private access to shared memory' : 'shared access to private memory'], EFAULT);
}

/** KVM_EXIT_INTERNAL_ERROR / KVM_INTERNAL_ERROR_EMULATION, ndata 0. */
function emulationFailure(run: KvmRun): number {
  run.setU32(L.exit_reason.offset, KVM_EXIT_INTERNAL_ERROR);
  run.setU32(L['internal.suberror'].offset, KVM_INTERNAL_ERROR_EMULATION);
  run.setU32(L['internal.ndata'].offset, 0);
  return KVM_EXIT_INTERNAL_ERROR;
}
