import { LeafDispatcher } from '@seamkit/core';
import { PAGE_SIZE, RAX, RegisterFile, type LogicalProcessor } from '@seamkit/seam-cpu';
import { TDVPS_PAGES, TDX_SUCCESS } from '@seamkit/tdx-module';
import { decodeTdExit } from './decodeTdExit.js';
import { kvmError } from './errors.js';
import { KvmRun } from './KvmRun.js';
import { EFAULT, EINTR, EINVAL, EIO } from './uapi/errno.js';
import { KVM_EXIT_SHUTDOWN } from './uapi/exits.js';
import { KVM_TDX_MEASURE_MEMORY_REGION } from './uapi/tdx.js';
import type { Vm } from './Vm.js';

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

/**
 * A TDX vCPU (the fd from KVM_CREATE_VCPU). It owns the per-vCPU `tdx_module_args` block that
 * TDH.VP.ENTER uses in place, its `kvm_run`, and its leaf dispatcher, all created once.
 */
export class Vcpu {
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
   * `initialRcx` (the TD HOB address KVM passes).
   * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) if already initialized or the TD is finalized
   */
  tdxInitVcpu(initialRcx = 0n): void {
    const name = 'KVM_TDX_INIT_VCPU';
    if (this.initialized) throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, 'vCPU already initialized'], EINVAL);
    if (this.vm.state !== 'initialized') throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, `TD is ${this.vm.state}`], EINVAL);
    const h = this.vm.kvm.host;
    const mem = this.vm.kvm.cpu.memory;
    const tdvpr = mem.allocPage();
    const check = (what: string, s: bigint): void => {
      if (s !== TDX_SUCCESS) throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`${name} (${what})`, s.toString(16)], EIO);
    };
    check('TDH.VP.CREATE', h.tdhVpCreate(this.lp, this.vm.tdr, tdvpr));
    for (let i = 0; i < TDVPS_PAGES - 1; i++) check('TDH.VP.ADDCX', h.tdhVpAddcx(this.lp, tdvpr, mem.allocPage()));
    check('TDH.VP.INIT', h.tdhVpInit(this.lp, tdvpr, initialRcx));
    this.tdvpr = tdvpr;
    this.#dispatcher = new LeafDispatcher(
      this.vm.registry,
      { regs: this.args, run: this.kvmRun, sharedBit: this.vm.sharedBit, gpaw: this.vm.gpaw, vcpuIndex: this.index },
      this.vm.emit,
    );
  }

  /**
   * KVM_TDX_INIT_MEM_REGION: adds `nrPages` private pages at `gpa` with TDH.MEM.PAGE.ADD (adding
   * secure-EPT tables as needed), copying from `source`; with KVM_TDX_MEASURE_MEMORY_REGION
   * each page is measured with 16 TDH.MR.EXTEND calls.
   * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) unless the TD is initialized and not finalized
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for misaligned or shared GPAs
   */
  tdxInitMemRegion(region: TdxInitMemRegion): void {
    const name = 'KVM_TDX_INIT_MEM_REGION';
    const vm = this.vm;
    if (vm.state !== 'initialized' || !this.initialized) throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, `TD is ${vm.state}`], EINVAL);
    const { gpa, nrPages, flags, source } = region;
    if (gpa % PAGE_SIZE !== 0 || !Number.isInteger(nrPages) || nrPages <= 0 || gpa + nrPages * PAGE_SIZE > vm.sharedBit) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'gpa/nr_pages'], EINVAL);
    }
    if ((flags & ~KVM_TDX_MEASURE_MEMORY_REGION) !== 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `flags ${flags}`], EINVAL);
    if (source.length > nrPages * PAGE_SIZE) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'source larger than nr_pages'], EFAULT);
    const sept = vm.td!.sept!;
    const h = vm.kvm.host;
    const mem = vm.kvm.cpu.memory;
    const bounce = mem.allocPage();
    try {
      for (let p = 0; p < nrPages; p++) {
        const g = gpa + p * PAGE_SIZE;
        if (sept.leaves.has(g / PAGE_SIZE)) throw kvmError('SEAMKIT_ERR_KVM_EXISTS', [name, `private page at 0x${g.toString(16)}`], EINVAL);
      }
      for (let p = 0; p < nrPages; p++) {
        const g = gpa + p * PAGE_SIZE;
        // KVM's mirror page tables: add the missing secure-EPT tables, top down.
        for (let level = sept.levels - 1; level >= 1; level--) {
          if (sept.tables[level]!.has(Math.floor(g / 2 ** (12 + 9 * level)))) continue;
          const r = h.tdhMemSeptAdd(this.lp, vm.tdr, g, level, mem.allocPage());
          if (r.status !== TDX_SUCCESS) throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`${name} (TDH.MEM.SEPT.ADD)`, r.status.toString(16)], EIO);
        }
        const chunk = new Uint8Array(PAGE_SIZE);
        chunk.set(source.subarray(p * PAGE_SIZE, Math.min(source.length, (p + 1) * PAGE_SIZE)));
        mem.write(bounce, chunk);
        const r = h.tdhMemPageAdd(this.lp, vm.tdr, g, mem.allocPage(), bounce);
        if (r.status !== TDX_SUCCESS) throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`${name} (TDH.MEM.PAGE.ADD)`, r.status.toString(16)], EIO);
        if ((flags & KVM_TDX_MEASURE_MEMORY_REGION) !== 0) {
          for (let off = 0; off < PAGE_SIZE; off += 256) {
            const e = h.tdhMrExtend(this.lp, vm.tdr, g + off);
            if (e.status !== TDX_SUCCESS) throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`${name} (TDH.MR.EXTEND)`, e.status.toString(16)], EIO);
          }
        }
      }
    } finally {
      mem.freePage(bounce);
    }
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
   */
  run(): number {
    const d = this.#dispatcher;
    if (d === undefined || this.vm.state !== 'runnable') {
      throw kvmError('SEAMKIT_ERR_KVM_STATE', ['KVM_RUN', `TD is ${this.vm.state}`], EINVAL);
    }
    d.complete();
    if (this.kvmRun.bytes[1] !== 0) throw kvmError('SEAMKIT_ERR_KVM_STATE', ['KVM_RUN', 'immediate_exit is set'], EINTR);
    const host = this.vm.kvm.host;
    const args = this.args;
    const lp = this.lp;
    const tdvpr = this.tdvpr;
    const run = this.kvmRun;
    const cpu = lp.index;
    for (;;) {
      host.tdhVpEnter(lp, tdvpr, args);
      const hooks = d.hooks;
      if (hooks !== undefined && hooks.onTdExit !== undefined) hooks.onTdExit(d.ctx, args.lo(RAX), args.hi(RAX));
      const reason = decodeTdExit(args, run, d, cpu);
      if (reason === KVM_EXIT_SHUTDOWN && lp.lastGuestError !== undefined) {
        // Simulator diagnostic: the triple fault came from guest code that threw.
        const error = lp.lastGuestError;
        lp.lastGuestError = undefined;
        this.vm.emit({ type: 'guest-crash', vcpuIndex: this.index, error });
      }
      if (reason !== 0) return reason;
    }
  }
}
