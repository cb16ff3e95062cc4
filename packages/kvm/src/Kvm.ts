import { LeafRegistry, type EventSink } from '@seamkit/core';
import { NATIVE_CPUID, SeamCpu, type SeamCpuOptions } from '@seamkit/seam-cpu';
import { TDX_SUCCESS, TDX_TDMR_ALREADY_INITIALIZED, TdxHost, TdxModule, type TdxModuleOptions } from '@seamkit/tdx-module';
import { kvmError } from './errors.js';
import type { KvmCpuidEntry2 } from './devices/Cpuid.js';
import { readTdxCpuidConf, type TdxCpuidConf } from './tdxCpuid.js';
import { LINUX_EXIT_SHAPES } from './exitShapes.js';
import { E2BIG, EINVAL, EIO } from './uapi/errno.js';
import { KVM_CAP_EXIT_HYPERCALL, KVM_EXIT_HYPERCALL_VALID_MASK, KVM_X86_TDX_VM } from './uapi/tdx.js';
import {
  KVM_CAP_EXT_CPUID, KVM_CAP_HLT, KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_IOEVENTFD, KVM_CAP_MCE, KVM_CAP_MP_STATE, KVM_CAP_SIGNAL_MSI,
  KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_X2APIC_API, KVM_CAP_X86_MSR_FILTER, KVM_CAP_X86_USER_SPACE_MSR, KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
  KVM_MAX_CPUID_ENTRIES, KVM_MAX_MCE_BANKS, KVM_X2APIC_API_VALID_FLAGS,
} from './uapi/x86.js';
import type { Vcpu } from './Vcpu.js';
import { Vm, type TdxInitVm } from './Vm.js';

/** KVM_CAP_MAX_VCPUS */
export const KVM_CAP_MAX_VCPUS = 66;
/** KVM_CAP_VM_TYPES */
export const KVM_CAP_VM_TYPES = 235;
/** KVM_MAX_VCPUS on x86. */
export const KVM_MAX_VCPUS = 4096;

/** Options of the simulated kernel. */
export interface KvmOptions {
  /** Shape of the simulated CPU (default 2 LPs, 1 package, 64 GiB sparse). */
  readonly cpu?: SeamCpuOptions;
  /** Options of the TDX module loaded at boot (key id partitioning: how many HKIDs TDs can have). */
  readonly module?: TdxModuleOptions;
  /**
   * Simulator opt-in, not a KVM feature: KVM_TDX_INIT_VM of every VM of this kernel also accepts
   * ATTRIBUTES.DEBUG (bit 0), as {@link TdxInitVm.simulatorAllowDebug} does for one call (which
   * takes precedence when given). Linux 6.16 refuses DEBUG with EINVAL (KVM_SUPPORTED_TDX_TD_ATTRS
   * is SEPT_VE_DISABLE only), and that stays the default. A VMM built with `createVmm` enables it
   * with `kvmModule({ simulatorAllowDebug: true })` and asks for a DEBUG TD with
   * `createTd({ attributes: TD_ATTR_SEPT_VE_DISABLE | TD_ATTR_DEBUG })`; it can then read and
   * write the guest's registers with {@link Vcpu.getRegs} / {@link Vcpu.setRegs}.
   */
  readonly simulatorAllowDebug?: boolean;
}

/** Options of {@link Kvm.createVm} beyond the VM type (simulator extensions). */
export interface CreateVmOptions {
  /**
   * The leaf registry this VM's TDVMCALLs go through (frozen). Defaults to one holding only
   * kvm's in-kernel leaves.
   */
  readonly registry?: LeafRegistry;
  /** Where plugin errors and panics are reported. */
  readonly emit?: EventSink;
}

/**
 * The simulated `/dev/kvm`: owns the CPU and the TDX module, brings the TDX platform up as the
 * kernel does at boot (TDH.SYS.INIT, LP.INIT on every LP, CONFIG with one TDMR over all memory,
 * KEY.CONFIG per package, TDMR.INIT), and creates VMs.
 */
export class Kvm {
  /** The CPU. */
  readonly cpu: SeamCpu;
  /** The TDX module loaded on it. */
  readonly module: TdxModule;
  /** Host SEAMCALL API. */
  readonly host = new TdxHost();
  /** Global private HKID chosen at boot. */
  readonly globalHkid: number;
  /** {@link KvmOptions.simulatorAllowDebug}: KVM_TDX_INIT_VM accepts ATTRIBUTES.DEBUG by default. */
  readonly simulatorAllowDebug: boolean;
  /**
   * The module's CPUID configuration table, read at boot with TDH.SYS.RD (Linux's
   * `tdx_sysinfo->td_conf`): what KVM_TDX_CAPABILITIES reports and KVM_TDX_INIT_VM fills.
   */
  readonly tdxCpuidConf: TdxCpuidConf;
  readonly #freeHkids: number[];
  #nextVmId = 0;

  /**
   * Boots the simulated host: CPU, TDX module, platform initialization.
   * @throws SEAMKIT_ERR_KVM_TDX_FAILED (EIO) if the platform fails to initialize
   */
  constructor(options: KvmOptions = {}) {
    this.cpu = new SeamCpu(options.cpu);
    this.module = TdxModule.install(this.cpu, options.module);
    this.simulatorAllowDebug = options.simulatorAllowDebug === true;
    const m = this.module;
    this.globalHkid = m.tdxKeyIdStart;
    this.#freeHkids = Array.from({ length: m.kot.length - 1 }, (_, i) => m.tdxKeyIdStart + 1 + i);
    this.#bringUp();
    this.tdxCpuidConf = readTdxCpuidConf(this.host, this.cpu.lps[0]!);
  }

  #bringUp(): void {
    const h = this.host;
    const lps = this.cpu.lps;
    const check = (what: string, s: bigint): void => {
      if (s !== TDX_SUCCESS) throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [what, s.toString(16)], EIO);
    };
    check('TDH.SYS.INIT', h.tdhSysInit(lps[0]!));
    for (const lp of lps) check('TDH.SYS.LP.INIT', h.tdhSysLpInit(lp));
    const mem = this.cpu.memory;
    const tdmrSize = Math.floor(mem.size / 2 ** 30) * 2 ** 30;
    const info = mem.allocPage();
    const list = mem.allocPage();
    const b = new DataView(new ArrayBuffer(16));
    b.setBigUint64(0, 0n, true);
    b.setBigUint64(8, BigInt(tdmrSize), true);
    mem.write(info, new Uint8Array(b.buffer));
    b.setBigUint64(0, BigInt(info), true);
    mem.write(list, new Uint8Array(b.buffer, 0, 8));
    check('TDH.SYS.CONFIG', h.tdhSysConfig(lps[0]!, list, 1, this.globalHkid));
    const seen = new Set<number>();
    for (const lp of lps) {
      if (seen.has(lp.packageId)) continue;
      seen.add(lp.packageId);
      check('TDH.SYS.KEY.CONFIG', h.tdhSysKeyConfig(lp));
    }
    for (;;) {
      const r = h.tdhSysTdmrInit(lps[0]!, 0);
      if (r.status === TDX_TDMR_ALREADY_INITIALIZED) break;
      check('TDH.SYS.TDMR.INIT', r.status);
      if (Number(r.rdx) >= tdmrSize) break;
    }
    mem.freePage(info);
    mem.freePage(list);
  }

  /**
   * KVM_CHECK_EXTENSION: the value KVM reports for capability `cap` (0 = unsupported).
   * KVM_CAP_EXIT_HYPERCALL reports the valid hypercall mask; KVM_CAP_VM_TYPES the VM-type bitmap;
   * KVM_CAP_X2APIC_API the valid KVM_X2APIC_API_* flags; KVM_CAP_MCE the number of MCE banks (32);
   * KVM_CAP_HLT, EXT_CPUID (KVM_SET_CPUID2), MP_STATE, IOEVENTFD (the in-kernel I/O buses),
   * SIGNAL_MSI, SPLIT_IRQCHIP, IMMEDIATE_EXIT, X86_USER_SPACE_MSR and X86_MSR_FILTER report 1,
   * as Linux 6.16 kvm_vm_ioctl_check_extension does.
   */
  checkExtension(cap: number): number {
    switch (cap) {
      case KVM_CAP_HLT:
      case KVM_CAP_EXT_CPUID:
      case KVM_CAP_MP_STATE:
      case KVM_CAP_IOEVENTFD:
      case KVM_CAP_SIGNAL_MSI:
      case KVM_CAP_SPLIT_IRQCHIP:
      case KVM_CAP_IMMEDIATE_EXIT:
      case KVM_CAP_X86_USER_SPACE_MSR:
      case KVM_CAP_X86_MSR_FILTER:
        return 1;
      case KVM_CAP_MCE: return KVM_MAX_MCE_BANKS;
      case KVM_CAP_X2APIC_API: return KVM_X2APIC_API_VALID_FLAGS;
      case KVM_CAP_EXIT_HYPERCALL: return KVM_EXIT_HYPERCALL_VALID_MASK;
      case KVM_CAP_MAX_VCPUS: return KVM_MAX_VCPUS;
      case KVM_CAP_VM_TYPES: return 1 << KVM_X86_TDX_VM;
      default: return 0;
    }
  }

  /**
   * KVM_GET_SUPPORTED_CPUID (a /dev/kvm ioctl): the CPUID leaves KVM can give a guest, one
   * `kvm_cpuid_entry2` per leaf and subleaf, with KVM_CPUID_FLAG_SIGNIFCANT_INDEX on the leaves
   * whose output depends on ECX (7 and 0xD here). The values are the host CPU's (the simulated
   * CPU's CPUID instruction, `NATIVE_CPUID`): this kernel supports every feature its host has, so
   * KVM's own capability masks (`kvm_cpu_caps`) and its paravirtual leaves (0x40000000..) are not
   * modelled. A VMM filters this through KVM_TDX_CAPABILITIES for KVM_TDX_INIT_VM
   * (`filterTdxCpuid`) and gives it to its vCPUs with KVM_SET_CPUID2, as QEMU and the selftests do.
   * @param nent - entries the caller's buffer holds (`kvm_cpuid2.nent`)
   * @throws SEAMKIT_ERR_KVM_ARG (E2BIG) when `nent` is smaller than the number of entries
   */
  getSupportedCpuid(nent = KVM_MAX_CPUID_ENTRIES): KvmCpuidEntry2[] {
    const entries = NATIVE_CPUID.map((e): KvmCpuidEntry2 => ({
      function: e.leaf,
      index: e.subleaf ?? 0,
      flags: e.subleaf === undefined ? 0 : KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
      eax: e.regs[0], ebx: e.regs[1], ecx: e.regs[2], edx: e.regs[3],
    }));
    if (!Number.isInteger(nent) || nent < entries.length) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_GET_SUPPORTED_CPUID', `nent ${nent} < ${entries.length} entries`], E2BIG);
    }
    return entries;
  }

  /**
   * KVM_CREATE_VM with `type` (only KVM_X86_TDX_VM).
   * @throws SEAMKIT_ERR_KVM_VM_TYPE (EINVAL) for another type
   */
  createVm(type: number, options: CreateVmOptions = {}): Vm {
    if (type !== KVM_X86_TDX_VM) throw kvmError('SEAMKIT_ERR_KVM_VM_TYPE', [type], EINVAL);
    const registry = options.registry ?? Kvm.defaultRegistry();
    return new Vm(this, this.#nextVmId++, registry, options.emit ?? (() => undefined));
  }

  /** A frozen registry with only the exit shapes (no leaves), for VMs created without one. */
  static defaultRegistry(): LeafRegistry {
    const r = new LeafRegistry(LINUX_EXIT_SHAPES);
    r.freeze();
    return r;
  }

  /** Takes a free TDX HKID (KVM's tdx_guest_keyid_alloc), or undefined if none is left. */
  allocHkid(): number | undefined {
    return this.#freeHkids.shift();
  }

  /** Returns an HKID to the pool. */
  freeHkid(hkid: number): void {
    this.#freeHkids.unshift(hkid);
  }
}
