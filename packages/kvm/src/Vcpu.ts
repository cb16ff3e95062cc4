import { LeafDispatcher } from '@seamkit/core';
import { RegisterFile, type LogicalProcessor } from '@seamkit/seam-cpu';
import {
  PAGE_SIZE, R10, R11, R12, R13, R14, R15, R8, R9, RAX, RBP, RBX, RCX, RDI, RDX, RSI,
} from '@seamkit/seam-cpu/abi';
import { MD_TDVPS_GPR_BASE, TDVPS_PAGES, TDX_SUCCESS, VMCS_GUEST_RFLAGS, VMCS_GUEST_RIP, VMCS_GUEST_RSP } from '@seamkit/tdx-module';
import { decodeTdExit, type TdExitFaults } from './decodeTdExit.js';
import type { TdxMmu } from './TdxMmu.js';
import type { KvmCpuidEntry2 } from './devices/Cpuid.js';
import { KVM_MSR_RET_OK, KVM_MSR_RET_UNSUPPORTED, MSR_IA32_ARCH_CAPABILITIES } from './devices/Msrs.js';
import { VcpuArch } from './devices/VcpuArch.js';
import { kvmError, withTdxCmdOutputs } from './errors.js';
import { tdxReadTdCpuid } from './tdxCpuid.js';
import type { KvmLeafContext } from './leaves/KvmLeafContext.js';
import { KvmRun } from './KvmRun.js';
import { E2BIG, EFAULT, EINTR, EINVAL, EIO } from './uapi/errno.js';
import { KVM_EXIT_INTR, KVM_EXIT_SHUTDOWN } from './uapi/exits.js';
import { KVM_RUN_LAYOUT } from './uapi/kvmRunLayout.js';
import { KVM_TDX_MEASURE_MEMORY_REGION } from './uapi/tdx.js';
import {
  KVM_MAX_CPUID_ENTRIES, KVM_MP_STATE_AP_RESET_HOLD, KVM_MP_STATE_HALTED, KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED, MAX_IO_MSRS,
} from './uapi/x86.js';
import type { Vm } from './Vm.js';

const EXIT_REASON = KVM_RUN_LAYOUT.exit_reason.offset;

/** One `struct kvm_msr_entry` of KVM_GET_MSRS / KVM_SET_MSRS. */
export interface KvmMsrEntry {
  /** MSR index. */
  readonly index: number;
  /** Value: written by KVM_GET_MSRS, read by KVM_SET_MSRS. */
  data: bigint;
}

/** KVM_TDX_INIT_MEM_REGION input (`struct kvm_tdx_init_mem_region` + flags). */
export interface TdxInitMemRegion {
  /** source_addr: the bytes to copy (nr_pages * 4 KiB; shorter input is zero-padded). */
  readonly source: Uint8Array;
  /** gpa (4 KiB aligned, private). */
  readonly gpa: number;
  /** nr_pages. */
  readonly nrPages: number;
  /** KVM_TDX_MEASURE_MEMORY_REGION to extend MRTD with the content. */
  readonly flags: number;
}

/** `struct kvm_regs` (KVM_GET_REGS / KVM_SET_REGS): the guest's general-purpose registers, RIP and RFLAGS. */
export interface KvmRegs {
  /** RAX */ rax: bigint;
  /** RBX */ rbx: bigint;
  /** RCX */ rcx: bigint;
  /** RDX */ rdx: bigint;
  /** RSI */ rsi: bigint;
  /** RDI */ rdi: bigint;
  /** RSP */ rsp: bigint;
  /** RBP */ rbp: bigint;
  /** R8 */ r8: bigint;
  /** R9 */ r9: bigint;
  /** R10 */ r10: bigint;
  /** R11 */ r11: bigint;
  /** R12 */ r12: bigint;
  /** R13 */ r13: bigint;
  /** R14 */ r14: bigint;
  /** R15 */ r15: bigint;
  /** RIP */ rip: bigint;
  /** RFLAGS */ rflags: bigint;
}

/**
 * Where each `struct kvm_regs` member lives in a DEBUG TD's vCPU metadata: the GPRs in class 16
 * (TDVPS_GPR(n), field n = GPR n), RSP, RIP and RFLAGS in the TD VMCS (TDVPS_VMCS(encoding)).
 */
const KVM_REGS_FIELDS: readonly (readonly [keyof KvmRegs, bigint])[] = [
  ['rax', MD_TDVPS_GPR_BASE + BigInt(RAX)], ['rbx', MD_TDVPS_GPR_BASE + BigInt(RBX)], ['rcx', MD_TDVPS_GPR_BASE + BigInt(RCX)],
  ['rdx', MD_TDVPS_GPR_BASE + BigInt(RDX)], ['rsi', MD_TDVPS_GPR_BASE + BigInt(RSI)], ['rdi', MD_TDVPS_GPR_BASE + BigInt(RDI)],
  ['rsp', BigInt(VMCS_GUEST_RSP)], ['rbp', MD_TDVPS_GPR_BASE + BigInt(RBP)],
  ['r8', MD_TDVPS_GPR_BASE + BigInt(R8)], ['r9', MD_TDVPS_GPR_BASE + BigInt(R9)], ['r10', MD_TDVPS_GPR_BASE + BigInt(R10)],
  ['r11', MD_TDVPS_GPR_BASE + BigInt(R11)], ['r12', MD_TDVPS_GPR_BASE + BigInt(R12)], ['r13', MD_TDVPS_GPR_BASE + BigInt(R13)],
  ['r14', MD_TDVPS_GPR_BASE + BigInt(R14)], ['r15', MD_TDVPS_GPR_BASE + BigInt(R15)],
  ['rip', BigInt(VMCS_GUEST_RIP)], ['rflags', BigInt(VMCS_GUEST_RFLAGS)],
];

/** TDH.VP.WR mask: every bit. */
const ALL_BITS = 0xffff_ffff_ffff_ffffn;

/**
 * A TDX vCPU (the fd from KVM_CREATE_VCPU). It owns the per-vCPU `tdx_module_args` block that
 * TDH.VP.ENTER uses in place, its `kvm_run`, and its leaf dispatcher, all created once.
 */
export class Vcpu implements TdExitFaults {
  /** The VM. */
  readonly vm: Vm;
  /** vCPU id. */
  readonly id: number;
  /** The logical processor this vCPU runs on (it is associated with it at KVM_TDX_INIT_VCPU). */
  readonly lp: LogicalProcessor;
  /** The vCPU's kvm_run, reused for every exit. */
  readonly kvmRun = new KvmRun();
  /** The per-vCPU TDH.VP.ENTER argument block (`vcpu_tdx.vp_enter_args`). */
  readonly args = new RegisterFile();
  /** TDVPR page (-1 before KVM_TDX_INIT_VCPU). */
  tdvpr = -1;
  /** Bits 31:0 and 63:32 of {@link tdvpr} as int32 (the run loop's RCX for TDH.VP.ENTER). */
  #tdvprLo = -1;
  #tdvprHi = -1;
  /** The TDVPS pages (TDCX) KVM_TDX_INIT_VCPU gave the module (reclaimed at teardown). */
  readonly tdcxPages: number[] = [];
  /** The TDVPR TDH.VP.CREATE accepted, even if KVM_TDX_INIT_VCPU then failed (reclaimed at teardown). */
  #createdTdvpr = -1;
  /**
   * KVM's x86 state of the vCPU (`vcpu->arch`): CPUID table, local APIC and posted interrupts,
   * emulated MSRs, mp_state.
   */
  readonly arch: VcpuArch;
  /** The leaf path (created at KVM_TDX_INIT_VCPU). */
  #dispatcher: LeafDispatcher | undefined;

  /**
   * @param vm - the VM
   * @param id - vCPU id
   * @param lp - the LP to run on
   */
  constructor(vm: Vm, id: number, lp: LogicalProcessor) {
    this.vm = vm;
    this.id = id;
    this.lp = lp;
    this.arch = new VcpuArch(this.args, vm.apicMap, id);
  }

  /** The TDVPR page the module owns for this vCPU (-1 if none), including one of a failed KVM_TDX_INIT_VCPU. */
  get ownedTdvpr(): number {
    return this.tdvpr >= 0 ? this.tdvpr : this.#createdTdvpr;
  }

  /** Forgets the TDVPR once teardown reclaimed it. */
  tdvprReclaimed(): void {
    this.tdvpr = -1;
    this.#tdvprLo = -1;
    this.#tdvprHi = -1;
    this.#createdTdvpr = -1;
  }

  /**
   * EPT-violation TD exits go to the VM's TDX MMU ({@link TdxMmu.handleEptViolation}): a private
   * page is added (TDH.MEM.PAGE.AUG) and the guest re-entered, or the exit becomes
   * KVM_EXIT_MEMORY_FAULT / the VM dies.
   */
  handleEptViolation(): number {
    return this.vm.mmu.handleEptViolation(this);
  }

  /** True after KVM_TDX_INIT_VCPU. */
  get initialized(): boolean {
    return this.tdvpr >= 0;
  }

  /** vCPU index within the TD. */
  get index(): number {
    return this.vm.kvm.module.vcpus.get(this.tdvpr)?.index ?? -1;
  }

  /** The vCPU's leaf dispatcher (hooks attach here). */
  get dispatcher(): LeafDispatcher {
    if (this.#dispatcher === undefined) throw kvmError('SEAMKIT_ERR_KVM_STATE', ['dispatcher', 'KVM_TDX_INIT_VCPU not done'], EINVAL);
    return this.#dispatcher;
  }

  /**
   * KVM_TDX_INIT_VCPU: TDH.VP.CREATE, TDH.VP.ADDCX for the TDVPS pages, TDH.VP.INIT with
   * `initialRcx` (the TD HOB address KVM passes). All pages are allocated first; a failure of
   * TDH.VP.CREATE changes nothing. Once the module owns the TDVPR it cannot be taken back while
   * the TD lives (TDH.PHYMEM.PAGE.RECLAIM needs TD_TEARDOWN), so, as in Linux (KVM_BUG_ON in
   * tdx_td_vcpu_init), a later failure marks the VM dead; its pages are reclaimed at destruction.
   * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) if already initialized or the TD is not initialized
   * @throws SEAMKIT_ERR_KVM_TDX_FAILED (EIO) when a SEAMCALL fails
   * @throws SEAMKIT_ERR_KVM_VM_DEAD (EIO) on a dead VM
   */
  tdxInitVcpu(initialRcx = 0n): void {
    const name = 'KVM_TDX_INIT_VCPU';
    this.vm.checkAlive(name);
    if (this.initialized) throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, 'vCPU already initialized'], EINVAL);
    if (this.vm.state !== 'initialized') throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, `TD is ${this.vm.state}`], EINVAL);
    const h = this.vm.kvm.host;
    const mem = this.vm.kvm.cpu.memory;
    const tdvpr = mem.allocPage();
    const tdcx = Array.from({ length: TDVPS_PAGES - 1 }, () => mem.allocPage());
    const failed = (what: string, s: bigint): never => {
      throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`${name} (${what})`, s.toString(16)], EIO);
    };
    let s = h.tdhVpCreate(this.lp, this.vm.tdr, tdvpr);
    if (s !== TDX_SUCCESS) {
      for (const page of [tdvpr, ...tdcx]) mem.freePage(page);
      failed('TDH.VP.CREATE', s);
    }
    this.#createdTdvpr = tdvpr;
    for (const page of tdcx) {
      s = h.tdhVpAddcx(this.lp, tdvpr, page);
      if (s !== TDX_SUCCESS) break;
      this.tdcxPages.push(page);
    }
    if (s === TDX_SUCCESS) s = h.tdhVpInit(this.lp, tdvpr, initialRcx);
    if (s !== TDX_SUCCESS) {
      for (const page of tdcx) if (!this.tdcxPages.includes(page)) mem.freePage(page);
      this.vm.markDead(`${name} failed after TDH.VP.CREATE (KVM_BUG_ON)`);
      failed(this.tdcxPages.length < tdcx.length ? 'TDH.VP.ADDCX' : 'TDH.VP.INIT', s);
    }
    this.tdvpr = tdvpr;
    this.#tdvprLo = tdvpr | 0;
    this.#tdvprHi = Math.floor(tdvpr / 0x1_0000_0000) | 0;
    // tdx_vcpu_init: IA32_APIC_BASE in x2APIC mode; tdx_td_vcpu_init: mp_state RUNNABLE. The guest's
    // virtual APIC exists once TDH.VP.INIT has attached the vCPU.
    this.arch.lapic.enableX2apic();
    this.arch.mpState = KVM_MP_STATE_RUNNABLE;
    this.arch.guestApic = this.vm.kvm.module.vcpus.get(tdvpr)?.guest?.apic;
    const ctx: KvmLeafContext = { regs: this.args, run: this.kvmRun, sharedBit: this.vm.sharedBit, gpaw: this.vm.gpaw, vcpuIndex: this.index, vcpu: this };
    this.#dispatcher = new LeafDispatcher(this.vm.registry, ctx, this.vm.emit);
  }

  /**
   * KVM_TDX_INIT_MEM_REGION: adds `nrPages` private pages at `gpa` with TDH.MEM.PAGE.ADD,
   * copying from `source`; with KVM_TDX_MEASURE_MEMORY_REGION each page is measured with 16
   * TDH.MR.EXTEND calls. Arguments, existing pages and every page needed (SEPT tables, private
   * pages) are checked and allocated before the first SEAMCALL, and the missing secure-EPT tables
   * are added before any page, so a failure there is rolled back (TDH.MEM.SEPT.REMOVE of the tables
   * this call added) and changes nothing. Pages already added and measured when TDH.MEM.PAGE.ADD
   * or TDH.MR.EXTEND fails stay, as in Linux (the measurement cannot be undone): the error names
   * how many pages were added, and the call can resume from there.
   * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) unless the TD is initialized and not finalized
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for misaligned or shared GPAs, unknown flags; (EFAULT) for a source larger than the region
   * @throws SEAMKIT_ERR_KVM_EXISTS (EINVAL) for a page that is already private
   * @throws SEAMKIT_ERR_KVM_TDX_FAILED (EIO) when a SEAMCALL fails
   * @throws SEAMKIT_ERR_KVM_VM_DEAD (EIO) on a dead VM
   */
  tdxInitMemRegion(region: TdxInitMemRegion): void {
    const name = 'KVM_TDX_INIT_MEM_REGION';
    const vm = this.vm;
    vm.checkAlive(name);
    if (vm.state !== 'initialized' || !this.initialized) throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, `TD is ${vm.state}`], EINVAL);
    const { gpa, nrPages, flags, source } = region;
    if (gpa % PAGE_SIZE !== 0 || !Number.isInteger(nrPages) || nrPages <= 0 || gpa + nrPages * PAGE_SIZE > vm.sharedBit) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'gpa/nr_pages'], EINVAL);
    }
    if ((flags & ~KVM_TDX_MEASURE_MEMORY_REGION) !== 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `flags ${flags}`], EINVAL);
    if (source.length > nrPages * PAGE_SIZE) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'source larger than nr_pages'], EFAULT);
    const mmu = vm.mmu;
    for (let p = 0; p < nrPages; p++) {
      const g = gpa + p * PAGE_SIZE;
      if (mmu.privatePages.has(g / PAGE_SIZE)) throw kvmError('SEAMKIT_ERR_KVM_EXISTS', [name, `private page at 0x${g.toString(16)}`], EINVAL);
    }
    const h = vm.kvm.host;
    const mem = vm.kvm.cpu.memory;
    // Every page this call needs, allocated up front.
    const tableKeys: string[] = [];
    for (let p = 0; p < nrPages; p++) {
      for (const [level, idx] of mmu.missingTables(gpa + p * PAGE_SIZE)) {
        const key = `${level}/${idx}`;
        if (!tableKeys.includes(key)) tableKeys.push(key);
      }
    }
    const tables = tableKeys.map(() => mem.allocPage());
    const pages = Array.from({ length: nrPages }, () => mem.allocPage());
    const bounce = mem.allocPage();
    try {
      let s: bigint = TDX_SUCCESS;
      const added: string[] = [];
      for (let p = 0; p < nrPages && s === TDX_SUCCESS; p++) {
        const g = gpa + p * PAGE_SIZE;
        const missing = mmu.missingTables(g);
        const use = missing.map(([level, idx]) => tables[tableKeys.indexOf(`${level}/${idx}`)]!);
        s = mmu.linkTables(this.lp, g, use);
        for (const [level, idx] of missing) if (mmu.septPages.has(`${level}/${idx}`)) added.push(`${level}/${idx}`);
      }
      if (s !== TDX_SUCCESS) {
        // Undo the tables this call added, deepest first (TDH.MEM.SEPT.REMOVE, no blocking needed before finalization).
        for (const key of added.reverse()) {
          const [level, idx] = key.split('/').map(Number) as [number, number];
          const r = h.tdhMemSeptRemove(this.lp, vm.tdr, idx * 2 ** (12 + 9 * level), level);
          if (r.status === TDX_SUCCESS) {
            const page = mmu.septPages.get(key)!;
            mmu.septPages.delete(key);
            h.tdhPhymemPageWbinvd(this.lp, vm.kvm.module.keyedPa(page, vm.hkid));
          }
        }
        for (const page of tables) if (![...mmu.septPages.values()].includes(page)) mem.freePage(page);
        for (const page of pages) mem.freePage(page);
        throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`${name} (TDH.MEM.SEPT.ADD)`, s.toString(16)], EIO);
      }
      for (const page of tables) if (![...mmu.septPages.values()].includes(page)) mem.freePage(page);
      for (let p = 0; p < nrPages; p++) {
        const g = gpa + p * PAGE_SIZE;
        const chunk = new Uint8Array(PAGE_SIZE);
        chunk.set(source.subarray(p * PAGE_SIZE, Math.min(source.length, (p + 1) * PAGE_SIZE)));
        mem.write(bounce, chunk);
        let r = h.tdhMemPageAdd(this.lp, vm.tdr, g, pages[p]!, bounce).status;
        let what = 'TDH.MEM.PAGE.ADD';
        if (r === TDX_SUCCESS) {
          mmu.privatePages.set(g / PAGE_SIZE, pages[p]!);
          if ((flags & KVM_TDX_MEASURE_MEMORY_REGION) !== 0) {
            what = 'TDH.MR.EXTEND';
            for (let off = 0; off < PAGE_SIZE && r === TDX_SUCCESS; off += 256) r = h.tdhMrExtend(this.lp, vm.tdr, g + off).status;
          }
        }
        if (r !== TDX_SUCCESS) {
          for (const page of pages.slice(mmu.privatePages.get(g / PAGE_SIZE) === pages[p] ? p + 1 : p)) mem.freePage(page);
          throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`${name} (${what}, ${p} of ${nrPages} pages added)`, r.toString(16)], EIO);
        }
      }
    } finally {
      mem.freePage(bounce);
    }
  }

  /**
   * KVM_SET_CPUID2: replaces the vCPU's guest CPUID table (`struct kvm_cpuid_entry2`: function,
   * index, flags, eax, ebx, ecx, edx). TDVMCALL<Instruction.CPUID> answers from it with
   * kvm_cpuid(). As kvm_set_cpuid does: after the vCPU has run, only an identical table is
   * accepted. CPUID.1:ECX bits X2APIC (21) and TSC_DEADLINE (24) update the local APIC
   * (directed EOI in APIC_LVR, TSC-deadline timer mode). KVM's runtime CPUID updates
   * (kvm_update_cpuid_runtime: OSXSAVE, APIC, OSPKE bits, XSAVE sizes) are not applied.
   * @throws SEAMKIT_ERR_KVM_ARG (E2BIG) for more than KVM_MAX_CPUID_ENTRIES (256) entries;
   *   (EINVAL) for a field that is not a u32, a CPUID.0x80000008 virtual-address width other than
   *   0, 48 or 57 (kvm_check_cpuid), or a different table after KVM_RUN
   */
  setCpuid2(entries: readonly KvmCpuidEntry2[]): void {
    this.vm.checkAlive('KVM_SET_CPUID2');
    const name = 'KVM_SET_CPUID2';
    if (entries.length > KVM_MAX_CPUID_ENTRIES) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `${entries.length} entries (at most ${KVM_MAX_CPUID_ENTRIES})`], E2BIG);
    const u32 = (x: number): boolean => Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;
    for (const e of entries) {
      if (![e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx].every(u32)) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'entry fields must be u32'], EINVAL);
      if (e.function === 0x8000_0008) {
        const vaddr = (e.eax >>> 8) & 0xff;
        if (vaddr !== 48 && vaddr !== 57 && vaddr !== 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `virtual address width ${vaddr}`], EINVAL);
      }
    }
    const arch = this.arch;
    if (arch.ran) {
      const old = arch.cpuid.entries();
      const same = old.length === entries.length && old.every((o, i) => {
        const e = entries[i]!;
        return o.function === e.function && o.index === e.index && o.flags === e.flags && o.eax === e.eax && o.ebx === e.ebx && o.ecx === e.ecx && o.edx === e.edx;
      });
      if (!same) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'the vCPU has run; only the same table is accepted'], EINVAL);
    }
    arch.cpuid.set(entries);
    const lapic = arch.lapic;
    lapic.directedEoi = arch.cpuid.has(1, 0, 2, 21);
    lapic.tscDeadlineTimer = arch.cpuid.has(1, 0, 2, 24);
    lapic.updateVersion();
  }

  /**
   * KVM_TDX_GET_CPUID (tdx_vcpu_get_cpuid): the CPUID values the TD sees, read from the TDX
   * module's TD CPUID state with TDH.MNG.RD of the TDCS CPUID_VALUES fields: leaves 0 ..
   * CPUID.0:EAX and 0x80000000 .. CPUID.0x80000000:EAX that the module virtualizes, a leaf with
   * subleaves as one entry per subleaf (KVM_CPUID_FLAG_SIGNIFCANT_INDEX), 0x80000008 EAX[23:16] =
   * the TD's GPAW. Allowed between KVM_TDX_INIT_VM and KVM_TDX_FINALIZE_VM, on any vCPU of the TD.
   * @param nent - `nent` of the `struct kvm_cpuid2` userspace passes: its room for entries
   *   (default: KVM_MAX_CPUID_ENTRIES, always enough)
   * @returns the entries (KVM writes them and `nent`)
   * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) before KVM_TDX_INIT_VM, once the HKID is released, or
   *   after KVM_TDX_FINALIZE_VM
   * @throws SEAMKIT_ERR_KVM_ARG (E2BIG) when `nent` is too small; the error's `nent` is the number
   *   of entries needed (KVM writes it back, and no entries)
   * @throws SEAMKIT_ERR_KVM_TDX_FAILED (EIO) when leaf 0 or 0x80000000 cannot be read
   */
  tdxGetCpuid(nent = KVM_MAX_CPUID_ENTRIES): KvmCpuidEntry2[] {
    const name = 'KVM_TDX_GET_CPUID';
    const vm = this.vm;
    vm.checkAlive(name);
    if (!vm.hkidAssigned || vm.state === 'runnable') throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, vm.hkidAssigned ? 'TD is runnable' : 'no TD (KVM_TDX_INIT_VM not done)'], EINVAL);
    const entries = tdxReadTdCpuid(vm.kvm.host, this.lp, vm.tdr, vm.gpaw);
    if (!Number.isInteger(nent) || nent < entries.length) {
      throw withTdxCmdOutputs(kvmError('SEAMKIT_ERR_KVM_ARG', [name, `nent ${nent} < ${entries.length} entries`], E2BIG), { nent: entries.length });
    }
    return entries;
  }

  /** KVM_GET_CPUID2: a copy of the vCPU's CPUID table. */
  getCpuid2(): KvmCpuidEntry2[] {
    this.vm.checkAlive('KVM_GET_CPUID2');
    return this.arch.cpuid.entries();
  }

  /** KVM_GET_MP_STATE: KVM_MP_STATE_RUNNABLE (0), UNINITIALIZED (1), HALTED (3), ... */
  getMpState(): number {
    this.vm.checkAlive('KVM_GET_MP_STATE');
    return this.arch.mpState;
  }

  /**
   * KVM_SET_MP_STATE. Setting RUNNABLE on a halted vCPU makes the next KVM_RUN resume the guest
   * after its HLT; setting HALTED makes it wait for an interrupt.
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for a state other than RUNNABLE, UNINITIALIZED, HALTED
   *   or AP_RESET_HOLD (INIT_RECEIVED and SIPI_RECEIVED need INIT/SIPI, which a TD blocks)
   */
  setMpState(state: number): void {
    this.vm.checkAlive('KVM_SET_MP_STATE');
    if (state !== KVM_MP_STATE_RUNNABLE && state !== KVM_MP_STATE_UNINITIALIZED && state !== KVM_MP_STATE_HALTED && state !== KVM_MP_STATE_AP_RESET_HOLD) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_SET_MP_STATE', `mp_state ${state}`], EINVAL);
    }
    this.arch.mpState = state;
  }

  /**
   * KVM_GET_MSRS (host-initiated reads through tdx_get_msr): fills `data` of each entry in order
   * and stops at the first MSR that cannot be read. Unlike the guest, the host is not filtered and
   * may read MCG_CTL, MCG_EXT_CTL and the CMCI controls; reading ARCH_CAPABILITIES without the
   * CPUID bit returns 0 (kvm_do_msr_access for an advertised MSR).
   * @returns how many entries were read (the ioctl's return)
   * @throws SEAMKIT_ERR_KVM_ARG (E2BIG) for MAX_IO_MSRS (256) or more entries
   */
  getMsrs(entries: KvmMsrEntry[]): number {
    this.vm.checkAlive('KVM_GET_MSRS');
    if (entries.length >= MAX_IO_MSRS) throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_GET_MSRS', `${entries.length} entries`], E2BIG);
    const msrs = this.arch.msrs;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const r = msrs.get(e.index >>> 0, true);
      if (r !== KVM_MSR_RET_OK && !(r === KVM_MSR_RET_UNSUPPORTED && e.index === MSR_IA32_ARCH_CAPABILITIES)) return i;
      e.data = r === KVM_MSR_RET_OK ? (BigInt(msrs.out[1]!) << 32n) | BigInt(msrs.out[0]!) : 0n;
    }
    return entries.length;
  }

  /**
   * KVM_SET_MSRS (host-initiated writes through tdx_set_msr): writes each entry in order and
   * stops at the first failure. APICBASE, EFER and FEAT_CTL stay read-only for the host too;
   * after KVM_RUN an immutable feature MSR (ARCH_CAPABILITIES) only takes its current value.
   * @returns how many entries were written (the ioctl's return)
   * @throws SEAMKIT_ERR_KVM_ARG (E2BIG) for MAX_IO_MSRS (256) or more entries
   */
  setMsrs(entries: readonly KvmMsrEntry[]): number {
    this.vm.checkAlive('KVM_SET_MSRS');
    if (entries.length >= MAX_IO_MSRS) throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_SET_MSRS', `${entries.length} entries`], E2BIG);
    const msrs = this.arch.msrs;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const v = BigInt.asUintN(64, e.data);
      const lo = Number(v & 0xffff_ffffn);
      const hi = Number(v >> 32n);
      const index = e.index >>> 0;
      if (this.arch.ran && index === MSR_IA32_ARCH_CAPABILITIES) {
        const cur = msrs.get(index, true);
        const curLo = cur === KVM_MSR_RET_OK ? msrs.out[0]! : 0;
        const curHi = cur === KVM_MSR_RET_OK ? msrs.out[1]! : 0;
        if (curLo !== lo || curHi !== hi) return i;
      }
      const r = msrs.set(index, lo, hi, true);
      if (r !== KVM_MSR_RET_OK && !(r === KVM_MSR_RET_UNSUPPORTED && v === 0n && index === MSR_IA32_ARCH_CAPABILITIES)) return i;
    }
    return entries.length;
  }

  /**
   * KVM_GET_REGS. Linux 6.16 refuses it for a TD (EINVAL: `guest_state_protected`, which TDX
   * sets unless ATTRIBUTES.DEBUG, and KVM refuses DEBUG TDs). Simulator extension: for a DEBUG
   * TD (see `KvmOptions.simulatorAllowDebug`) the registers are read from the TDX module as a
   * debug-capable KVM does, with TDH.VP.RD of the guest GPRs (class 16) and of the TD VMCS guest
   * RSP, RIP and RFLAGS. While the vCPU is stopped in a TDVMCALL, these are the values the guest
   * had when it called (the registers it exposed are also in the TDVMCALL's exit struct).
   * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) before KVM_TDX_INIT_VCPU
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) when the TD is not a DEBUG TD (its state is protected)
   * @throws SEAMKIT_ERR_KVM_TDX_FAILED (EIO) when TDH.VP.RD fails
   * @throws SEAMKIT_ERR_KVM_VM_DEAD (EIO) on a dead VM
   */
  getRegs(): KvmRegs {
    this.#checkDebugRegs('KVM_GET_REGS');
    const h = this.vm.kvm.host;
    const out = {} as KvmRegs;
    for (const [name, field] of KVM_REGS_FIELDS) {
      const r = h.tdhVpRd(this.lp, this.tdvpr, field);
      if (r.status !== TDX_SUCCESS) throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`KVM_GET_REGS (TDH.VP.RD ${name})`, r.status.toString(16)], EIO);
      out[name] = r.r8;
    }
    return out;
  }

  /**
   * KVM_SET_REGS. Refused for a TD as {@link getRegs} is. Simulator extension: for a DEBUG TD each
   * register is written with TDH.VP.WR (class 16 GPRs, TD VMCS guest RSP, RIP, RFLAGS) and the
   * guest sees the new values when it next runs, with one exception the TDX module makes: when the
   * vCPU is stopped in a TDVMCALL, the GPRs the guest exposed in that call (its RCX bitmap, e.g.
   * R10..R15, RBX, RDX, RSI, RDI, R8, R9 for Linux's 0xFFCC) are loaded from the call's outputs at
   * the next TD entry, and RAX and RCX become the TDVMCALL's return (0, the bitmap); registers the
   * guest did not expose (RBP, or any outside a narrower bitmap) keep what was written here.
   * Values are u64 (BigInt.asUintN(64)). On a failure the registers already written are restored.
   * @throws as {@link getRegs}, with TDH.VP.WR
   */
  setRegs(regs: Readonly<KvmRegs>): void {
    this.#checkDebugRegs('KVM_SET_REGS');
    const h = this.vm.kvm.host;
    const old: bigint[] = [];
    for (const [name, field] of KVM_REGS_FIELDS) {
      const r = h.tdhVpWr(this.lp, this.tdvpr, field, BigInt.asUintN(64, regs[name]), ALL_BITS);
      if (r.status !== TDX_SUCCESS) {
        old.forEach((v, i) => h.tdhVpWr(this.lp, this.tdvpr, KVM_REGS_FIELDS[i]![1], v, ALL_BITS));
        throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`KVM_SET_REGS (TDH.VP.WR ${name})`, r.status.toString(16)], EIO);
      }
      old.push(r.r8);
    }
  }

  /** The checks of KVM_GET_REGS / KVM_SET_REGS on a TD vCPU. */
  #checkDebugRegs(name: string): void {
    this.vm.checkAlive(name);
    if (!this.initialized) throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, 'KVM_TDX_INIT_VCPU not done'], EINVAL);
    if (this.vm.td?.debug !== true) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'the guest state of a TD is protected (not a DEBUG TD)'], EINVAL);
  }

  /**
   * KVM_RUN: completes the previous exit (plugin completion writes userspace's reply into the
   * argument block), then enters the TD with TDH.VP.ENTER and handles exits in the kernel model
   * until one must go to userspace.
   * @returns the KVM_EXIT_* reason (also in `kvmRun.exitReason`)
   * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) before KVM_TDX_FINALIZE_VM
   * @throws SEAMKIT_ERR_KVM_STATE (EINTR) when `kvmRun.immediateExit` is set: the guest does not
   *   run, but a pending exit is still completed first, as in Linux (kvm_arch_vcpu_ioctl_run runs
   *   complete_userspace_io before the immediate_exit check; api.rst: "re-enter ... with the
   *   immediate_exit field set to complete pending operations without allowing any further
   *   instructions to be executed")
   * @throws SEAMKIT_ERR_KVM_INTR (EINTR) when the vCPU is not runnable and nothing wakes it
   *   (mp_state HALTED after a HLT with no interrupt it can take, or UNINITIALIZED): real KVM_RUN
   *   would block until a signal and then return -EINTR with exit_reason KVM_EXIT_INTR, which is
   *   what happens here without blocking. The vCPU stays as it is; post an interrupt
   *   (`Vm.signalMsi`) or set mp_state RUNNABLE, and the next KVM_RUN resumes the guest after
   *   its HLT
   */
  run(): number {
    this.vm.checkAlive('KVM_RUN');
    const d = this.#dispatcher;
    if (d === undefined || this.vm.state !== 'runnable') {
      throw kvmError('SEAMKIT_ERR_KVM_STATE', ['KVM_RUN', `TD is ${this.vm.state}`], EINVAL);
    }
    // complete_userspace_io: may exit to userspace again (e.g. the next MapGPA chunk) or fail.
    const completed = d.complete();
    if (completed > 0) return completed;
    if (completed < 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_RUN', 'the reply to the last exit was rejected by its completion'], -completed);
    if (this.kvmRun.bytes[1] !== 0) throw kvmError('SEAMKIT_ERR_KVM_STATE', ['KVM_RUN', 'immediate_exit is set'], EINTR);
    const host = this.vm.kvm.host;
    const args = this.args;
    const lp = this.lp;
    const tdvprLo = this.#tdvprLo;
    const tdvprHi = this.#tdvprHi;
    const run = this.kvmRun;
    const cpu = lp.index;
    const arch = this.arch;
    for (;;) {
      // vcpu_run: a vCPU that is not RUNNABLE blocks (vcpu_block) until an event wakes it.
      if (arch.mpState !== KVM_MP_STATE_RUNNABLE && !arch.unblock()) {
        run.setU32(EXIT_REASON, KVM_EXIT_INTR);
        throw kvmError('SEAMKIT_ERR_KVM_INTR', ['KVM_RUN', `mp_state ${arch.mpState} and nothing pending wakes the vCPU`], EINTR);
      }
      // tdx_vcpu_run: posted interrupts (ON set) reach the guest's virtual APIC at entry.
      if (arch.lapic.pirOn) arch.syncPir();
      arch.hltExit = false;
      arch.ran = true;
      host.tdhVpEnterHalves(lp, tdvprLo, tdvprHi, args);
      const hooks = d.hooks;
      if (hooks !== undefined && hooks.onTdExit !== undefined) hooks.onTdExit(d.ctx, args.lo(RAX), args.hi(RAX));
      const reason = decodeTdExit(args, run, d, cpu, this);
      if (reason !== 0) {
        if (reason === KVM_EXIT_SHUTDOWN && lp.lastGuestError !== undefined) this.#guestCrashed(lp);
        return reason;
      }
    }
  }

  /** Simulator diagnostic: the triple fault came from guest code that threw. */
  #guestCrashed(lp: LogicalProcessor): void {
    const error = lp.lastGuestError;
    lp.lastGuestError = undefined;
    this.vm.emit({ type: 'guest-crash', vcpuIndex: this.index, error });
  }
}
