import type { EventSink, LeafRegistry, SharedMemory } from '@seamkit/core';
import { type Ept, type GuestProgram } from '@seamkit/seam-cpu';
import { PAGE_SIZE } from '@seamkit/seam-cpu/abi';
import {
  TDX_KEY_CONFIGURED, TDX_SUCCESS, TDCS_PAGES, TD_PARAMS_ATTRIBUTES, TD_PARAMS_CONFIG_FLAGS, TD_PARAMS_EPTP_CONTROLS,
  TD_PARAMS_MAX_VCPUS, TD_PARAMS_MRCONFIGID, TD_PARAMS_MROWNER, TD_PARAMS_MROWNERCONFIG, TD_PARAMS_SIZE,
  TD_PARAMS_TSC_FREQUENCY, TD_PARAMS_XFAM, TDX_CONFIG_FLAGS_MAX_GPAW, TDX_CONFIG_FLAGS_NO_RBP_MOD, TDX_OPERAND_INVALID,
  TDX_SEAMCALL_STATUS_MASK, type Td,
} from '@seamkit/tdx-module';
import type { KvmCpuidEntry2 } from './devices/Cpuid.js';
import { KvmIoBus, KVM_FAST_MMIO_BUS, KVM_MMIO_BUS, KVM_PIO_BUS, type KvmIoDevice } from './devices/IoBus.js';
import { KvmApicMap } from './devices/LocalApic.js';
import { KvmMsrFilter, type KvmMsrFilterSpec } from './devices/Msrs.js';
import { kvmError, withTdxCmdOutputs } from './errors.js';
import { setupTdparamsCpuids, tdInitCpuidEntry2, tdxGpawFromCpuid, type KvmCpuid2 } from './tdxCpuid.js';
import type { Kvm } from './Kvm.js';
import { KVM_MAX_VCPUS } from './Kvm.js';
import { E2BIG, EEXIST, EFAULT, EINVAL, EIO, ENOSPC, EPERM } from './uapi/errno.js';
import {
  KVM_CAP_EXIT_HYPERCALL, KVM_EXIT_HYPERCALL_VALID_MASK, KVM_MEM_GUEST_MEMFD, KVM_MEM_LOG_DIRTY_PAGES, KVM_SUPPORTED_TDX_TD_ATTRS,
} from './uapi/tdx.js';
import {
  KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_X2APIC_API, KVM_CAP_X86_USER_SPACE_MSR, KVM_MSI_VALID_DEVID, KVM_MSR_EXIT_REASON_VALID_MASK, KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK,
  KVM_X2APIC_API_USE_32BIT_IDS, KVM_X2APIC_API_VALID_FLAGS,
} from './uapi/x86.js';
import { MemoryAttributes } from './MemoryAttributes.js';
import { TdxMmu } from './TdxMmu.js';
import { reclaimAll, releaseHkid } from './tdxTeardown.js';
import { KVM_MEMORY_ATTRIBUTE_PRIVATE } from './uapi/tdx.js';
import { UserMemory } from './UserMemory.js';
import { Vcpu } from './Vcpu.js';

/** XFAM KVM offers: x87, SSE, AVX (bits 0..2). */
export const KVM_SUPPORTED_XFAM = 0x7n;
/** TSC frequency given to TDs, in units of 25 MHz (2 GHz). */
const TSC_FREQUENCY_25MHZ = 80;

/** KVM_TDX_CAPABILITIES output (`struct kvm_tdx_capabilities`). */
export interface TdxCapabilities {
  /** supported_attrs */
  readonly supportedAttrs: bigint;
  /** supported_xfam */
  readonly supportedXfam: bigint;
  /** kernel_tdvmcallinfo_1_r11: GetTdVmCallInfo leaf 1 R11 bits KVM handles itself. */
  readonly kernelTdvmcallinfo1R11: bigint;
  /** user_tdvmcallinfo_1_r11: bits userspace may advertise if it handles them. */
  readonly userTdvmcallinfo1R11: bigint;
  /** kernel_tdvmcallinfo_1_r12 */
  readonly kernelTdvmcallinfo1R12: bigint;
  /** user_tdvmcallinfo_1_r12 */
  readonly userTdvmcallinfo1R12: bigint;
  /**
   * cpuid: the CPUID leaves the VMM may configure with KVM_TDX_INIT_VM and, in each entry, the
   * bits it may set (the module's CPUID_CONFIG table; 0x80000008 EAX[23:16] = 0xff stands for
   * the GPAW KVM takes from there; a leaf without subleaves has index 0 and no flags).
   */
  readonly cpuid: KvmCpuid2;
}

/** KVM_TDX_INIT_VM input (`struct kvm_tdx_init_vm`), plus the simulator's GPAW choice. */
export interface TdxInitVm {
  /** TD attributes; only KVM_SUPPORTED_TDX_TD_ATTRS bits are accepted. */
  readonly attributes?: bigint;
  /** XFAM; must be within the supported set (default x87 | SSE | AVX). */
  readonly xfam?: bigint;
  /** MRCONFIGID (up to 48 bytes). */
  readonly mrConfigId?: Uint8Array;
  /** MROWNER (up to 48 bytes). */
  readonly mrOwner?: Uint8Array;
  /** MROWNERCONFIG (up to 48 bytes). */
  readonly mrOwnerConfig?: Uint8Array;
  /**
   * cpuid (`struct kvm_cpuid2`): the CPUID configuration, at most KVM_MAX_CPUID_ENTRIES (256)
   * entries, each matching a configurable leaf of KVM_TDX_CAPABILITIES (index compared with
   * KVM_CPUID_FLAG_SIGNIFCANT_INDEX as kvm_find_cpuid_entry2 does). The GPAW comes from
   * CPUID.0x80000008:EAX[23:16] (48 or 52), as setup_tdparams_eptp_controls takes it. Simulator
   * fallback: without `cpuid` the TD gets no CPUID configuration (all zero) and `gpaw` decides.
   */
  readonly cpuid?: readonly KvmCpuidEntry2[];
  /**
   * 52 for 5-level EPT (shared bit 51), else 48 (default). Simulator fallback for a `cpuid` without
   * a 0x80000008 entry (real KVM refuses that with EINVAL); with such an entry it must agree.
   */
  readonly gpaw?: 48 | 52;
  /**
   * Simulator opt-in, not a KVM feature: also accept ATTRIBUTES.DEBUG (bit 0). Linux 6.16 rejects
   * it (KVM_SUPPORTED_TDX_TD_ATTRS is SEPT_VE_DISABLE only); set this to build a DEBUG TD whose
   * GPRs the VMM can then read and write with TDH.VP.RD / TDH.VP.WR (class 16) through the module
   * (`Vcpu.getRegs` / `Vcpu.setRegs`). Default: the kernel's `KvmOptions.simulatorAllowDebug`.
   */
  readonly simulatorAllowDebug?: boolean;
}

/** KVM_SET_USER_MEMORY_REGION2 input (`struct kvm_userspace_memory_region2`). */
export interface UserMemoryRegion2 {
  /** Slot id. */
  readonly slot: number;
  /** KVM_MEM_* flags: KVM_MEM_GUEST_MEMFD for private memory, or KVM_MEM_LOG_DIRTY_PAGES on a slot without it. */
  readonly flags: number;
  /** guest_phys_addr (4 KiB aligned). */
  readonly guestPhysAddr: number;
  /** memory_size in bytes (4 KiB multiple; 0 deletes the slot). */
  readonly memorySize: number;
  /** The userspace memory backing shared accesses (created if omitted). */
  readonly userspace?: UserMemory;
}

interface Memslot {
  readonly slot: number;
  readonly flags: number;
  readonly gpa: number;
  readonly size: number;
  readonly user: UserMemory;
}

/** KVM_SIGNAL_MSI input (`struct kvm_msi` without its padding). */
export interface KvmMsi {
  /** address_lo: destination ID bits 7:0 at 19:12, redirection hint bit 3, logical destination bit 2. */
  readonly addressLo: number;
  /** address_hi: destination ID bits 31:8 in bits 31:8, used with KVM_X2APIC_API_USE_32BIT_IDS (default 0). */
  readonly addressHi?: number;
  /** data: vector 7:0, delivery mode 10:8, level (assert) 14, trigger mode 15. */
  readonly data: number;
  /** flags: 0 or KVM_MSI_VALID_DEVID (default 0). */
  readonly flags?: number;
  /** devid (ignored on x86; default 0). */
  readonly devid?: number;
}

/** KVM_SET_MEMORY_ATTRIBUTES input (`struct kvm_memory_attributes`). */
export interface KvmMemoryAttributes {
  /** First byte (4 KiB aligned, GPA without the shared bit). */
  readonly address: number;
  /** Bytes (a non-zero multiple of 4 KiB). */
  readonly size: number;
  /** KVM_MEMORY_ATTRIBUTE_* bits: KVM_MEMORY_ATTRIBUTE_PRIVATE (1 << 3) or 0 (shared). */
  readonly attributes: number;
  /** Must be 0. */
  readonly flags: number;
}

/** Life of a TDX VM in KVM (kvm_tdx->state). */
export const TdState = {
  /** Created, KVM_TDX_INIT_VM not yet done. */
  NONE: 'none',
  /** KVM_TDX_INIT_VM done. */
  INITIALIZED: 'initialized',
  /** KVM_TDX_FINALIZE_VM done: vCPUs can run. */
  RUNNABLE: 'runnable',
} as const;

/** One of the {@link TdState} values. */
export type TdState = (typeof TdState)[keyof typeof TdState];

/**
 * A TDX VM (the fd returned by KVM_CREATE_VM with KVM_X86_TDX_VM). One method per ioctl.
 * Misuse throws a coded error carrying the errno the real ioctl returns, and changes nothing.
 * It also is the userspace view of guest memory ({@link SharedMemory}) and the TD's shared EPT.
 */
export class Vm implements SharedMemory, Ept {
  /** The kernel. */
  readonly kvm: Kvm;
  /** VM id within the process. */
  readonly id: number;
  /** The leaf registry for this VM's TDVMCALLs. */
  readonly registry: LeafRegistry;
  /** Event channel. */
  readonly emit: EventSink;
  /** kvm_tdx->state. */
  state: TdState = TdState.NONE;
  /** vCPUs by id. */
  readonly vcpus: Vcpu[] = [];
  /** Enabled KVM_CAP_EXIT_HYPERCALL mask. */
  hypercallExitMask = 0;
  /** TDR page (after KVM_TDX_INIT_VM). */
  tdr = -1;
  /** HKID (after KVM_TDX_INIT_VM). */
  hkid = -1;
  /** GPAW (after KVM_TDX_INIT_VM). */
  gpaw = 48;
  readonly #memslots: Memslot[] = [];
  /** The local APICs of the vCPUs and the x2APIC API options (interrupt routing). */
  readonly apicMap = new KvmApicMap();
  /** KVM_PIO_BUS: in-kernel port I/O devices. */
  readonly pioBus = new KvmIoBus();
  /** KVM_MMIO_BUS: in-kernel MMIO devices. */
  readonly mmioBus = new KvmIoBus();
  /** KVM_FAST_MMIO_BUS: zero-length MMIO write devices, tried before the MMIO bus for writes. */
  readonly fastMmioBus = new KvmIoBus();
  /** The installed MSR filter (KVM_X86_SET_MSR_FILTER), or undefined (everything allowed). */
  msrFilter: KvmMsrFilter | undefined;
  /** KVM_CAP_X86_USER_SPACE_MSR mask (`kvm->arch.user_space_msr_mask`, KVM_MSR_EXIT_REASON_* bits). */
  userSpaceMsrMask = 0;
  /**
   * KVM_CAP_SPLIT_IRQCHIP enabled: args[0] (reserved I/O APIC pins), or -1. The simulator always
   * behaves as with a split irqchip (local APICs in KVM, no I/O APIC), which TDX requires.
   */
  splitIrqchipPins = -1;
  /** The memory attributes (KVM_SET_MEMORY_ATTRIBUTES): which guest frames are PRIVATE. */
  readonly memoryAttributes = new MemoryAttributes();
  /** KVM's TDX MMU: the mirror of the secure EPT, the private-fault path, private-page removal. */
  readonly mmu: TdxMmu = new TdxMmu(this);
  /** The TDCS pages KVM_TDX_INIT_VM gave the module (reclaimed at teardown). */
  readonly tdcsPages: number[] = [];
  /** True from KVM_TDX_INIT_VM until the TD's HKID is released (KVM_TDX_TERMINATE_VM, destruction). */
  hkidAssigned = false;
  #dead: string | undefined;
  #destroyed = false;

  /**
   * @param kvm - the kernel
   * @param id - VM id
   * @param registry - frozen leaf registry
   * @param emit - event channel
   */
  constructor(kvm: Kvm, id: number, registry: LeafRegistry, emit: EventSink) {
    this.kvm = kvm;
    this.id = id;
    this.registry = registry;
    this.emit = emit;
  }

  /** Why KVM marked the VM dead (kvm_vm_dead), or undefined while it is alive. */
  get dead(): string | undefined {
    return this.#dead;
  }

  /**
   * kvm_vm_dead / KVM_BUG_ON: from now on every VM and vCPU ioctl fails with EIO
   * (SEAMKIT_ERR_KVM_VM_DEAD). The first reason is kept.
   */
  markDead(reason: string): void {
    this.#dead ??= reason;
  }

  /**
   * The check at the top of kvm_vm_ioctl / kvm_vcpu_ioctl.
   * @throws SEAMKIT_ERR_KVM_VM_DEAD (EIO) when the VM is dead
   */
  checkAlive(ioctl: string): void {
    if (this.#dead !== undefined) throw kvmError('SEAMKIT_ERR_KVM_VM_DEAD', [ioctl, this.#dead], EIO);
  }

  /** True if `gpa` (no shared bit) lies in a memslot backed by guest_memfd (KVM_MEM_GUEST_MEMFD). */
  guestMemfdAt(gpa: number): boolean {
    const slot = this.#slotFor(gpa, 1);
    return slot !== undefined && (slot.flags & KVM_MEM_GUEST_MEMFD) !== 0;
  }

  /**
   * KVM_SET_MEMORY_ATTRIBUTES: sets [address, address + size) PRIVATE (`attributes` =
   * KVM_MEMORY_ATTRIBUTE_PRIVATE) or shared (0). Before the attribute changes, the mappings of the
   * old kind are zapped (kvm_arch_pre_set_memory_attributes): converting to shared removes every
   * private page in the range from the TD (TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK,
   * TDH.MEM.PAGE.REMOVE, TDH.PHYMEM.PAGE.WBINVD, page cleared and freed), so its data is gone;
   * converting to private drops the shared mappings (the shared EPT here consults the attributes).
   * A range that already has the attributes changes nothing.
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for flags, unknown attribute bits, size 0, misalignment
   *   or a wrapping range
   * @throws SEAMKIT_ERR_KVM_VM_DEAD (EIO) on a dead VM
   */
  setMemoryAttributes(attrs: KvmMemoryAttributes): void {
    const name = 'KVM_SET_MEMORY_ATTRIBUTES';
    this.checkAlive(name);
    const { address, size, attributes, flags } = attrs;
    if (flags !== 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `flags 0x${flags.toString(16)}`], EINVAL);
    if (!Number.isInteger(attributes) || (attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE) !== 0) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `attributes 0x${attributes.toString(16)}`], EINVAL);
    }
    if (!Number.isSafeInteger(address) || !Number.isSafeInteger(size) || address < 0 || size <= 0 || address + size > 2 ** 52) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'size 0 or a wrapping range'], EINVAL);
    }
    if (address % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'address/size not 4 KiB aligned'], EINVAL);
    const start = address / PAGE_SIZE;
    const end = start + size / PAGE_SIZE;
    const priv = attributes !== 0;
    if (this.memoryAttributes.uniform(start, end, priv)) return;
    if (!priv && this.hkidAssigned) this.mmu.removePrivateRange(this.kvm.cpu.lps[0]!, start, end);
    this.memoryAttributes.set(start, end, priv);
  }

  /**
   * Userspace's conversion of [gpa, gpa + size) (QEMU's kvm_convert_memory, used for MapGPA and
   * KVM_EXIT_MEMORY_FAULT): KVM_SET_MEMORY_ATTRIBUTES, then the backing of the side no longer in
   * use is discarded: converting to private frees the shared (userspace) pages, so they read as
   * zeros afterwards; converting to shared leaves nothing private (KVM removed the pages).
   * Converting a range outside every memslot to shared is accepted and ignored (virtual MMIO);
   * memory without guest_memfd cannot be converted.
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for a misaligned or empty range, memory without
   *   guest_memfd, or a conversion to private outside every memslot
   */
  convertMemory(gpa: number, size: number, toPrivate: boolean): void {
    const name = 'convert memory';
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(size) || gpa % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0 || size <= 0) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `0x${gpa.toString(16)} + 0x${size.toString(16)}`], EINVAL);
    }
    const slot = this.#slotFor(gpa, size);
    if (slot === undefined && !toPrivate) return;
    if (slot === undefined || (slot.flags & KVM_MEM_GUEST_MEMFD) === 0) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `0x${gpa.toString(16)} is not guest_memfd memory`], EINVAL);
    }
    this.setMemoryAttributes({ address: gpa, size, attributes: toPrivate ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0, flags: 0 });
    if (toPrivate) slot.user.discard(gpa - slot.gpa, size);
  }

  /**
   * KVM_TDX_TERMINATE_VM (Linux 6.17+): marks the VM dead (every later VM or vCPU ioctl fails with
   * EIO) and releases the TD's HKID now (TDH.VP.FLUSH of every vCPU, TDH.MNG.VPFLUSHDONE,
   * TDH.PHYMEM.CACHE.WB per package, TDH.MNG.KEY.FREEID), so that {@link destroy} can reclaim
   * the private pages directly in TD_TEARDOWN instead of removing them one by one.
   * @throws SEAMKIT_ERR_KVM_VM_DEAD (EIO) when the VM is already dead
   */
  tdxTerminateVm(): void {
    this.checkAlive('KVM_TDX_TERMINATE_VM');
    this.markDead('KVM_TDX_TERMINATE_VM');
    releaseHkid(this);
  }

  /**
   * Closing the last VM fd (kvm_destroy_vm): the full teardown. With the HKID still assigned, the
   * private pages are removed first (as closing guest_memfd does: BLOCK, TRACK, REMOVE, WBINVD),
   * then the HKID is released (VP.FLUSH each vCPU on its LP, VPFLUSHDONE, CACHE.WB on every
   * package, KEY.FREEID); then every remaining page is reclaimed (TDH.PHYMEM.PAGE.RECLAIM: private
   * and SEPT pages, each vCPU's TDCX pages and TDVPR, the TDCS pages, the TDR last), the TDR is
   * written back with TDH.PHYMEM.PAGE.WBINVD under the global key, and the pages and the HKID go
   * back to the host. Userspace memory of the memslots is released too. The VM is dead afterwards;
   * destroying it again does nothing.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.markDead('the VM was destroyed');
    this.#destroyed = true;
    for (const v of this.vcpus) if (v.initialized) v.dispatcher.cancel();
    if (this.hkidAssigned) {
      try {
        this.mmu.removePrivateRange(this.kvm.cpu.lps[0]!, 0, Number.MAX_SAFE_INTEGER);
      } catch {
        // A removal the module refused leaves the page to the reclaim below (if the HKID goes).
      }
      releaseHkid(this);
    }
    if (!this.hkidAssigned) reclaimAll(this);
    for (const s of this.#memslots) s.user.release();
    this.#memslots.length = 0;
  }

  /** Value of the shared GPA bit: 2^(GPAW-1). */
  get sharedBit(): number {
    return 2 ** (this.gpaw - 1);
  }

  /** The module's record of this TD (after KVM_TDX_INIT_VM). */
  get td(): Td | undefined {
    return this.kvm.module.tds.get(this.tdr);
  }

  /**
   * KVM_TDX_CAPABILITIES: what KVM and the TDX module support; tdvmcallinfo bits derive from the
   * registry, `cpuid` from the module's CPUID configuration table (read at boot).
   * @param nent - `cpuid.nent` as userspace passes it: the room it has for entries (default:
   *   KVM_MAX_CPUID_ENTRIES, always enough)
   * @throws SEAMKIT_ERR_KVM_ARG (E2BIG) when `nent` is smaller than the table (tdx_get_capabilities;
   *   nothing is written back)
   */
  tdxCapabilities(nent = 256): TdxCapabilities {
    this.checkAlive('KVM_TDX_CAPABILITIES');
    const conf = this.kvm.tdxCpuidConf;
    if (!Number.isInteger(nent) || nent < conf.numCpuidConfig) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_TDX_CAPABILITIES', `cpuid.nent ${nent} < ${conf.numCpuidConfig} configurable leaves`], E2BIG);
    }
    const entries = Array.from({ length: conf.numCpuidConfig }, (_, i) => tdInitCpuidEntry2(conf, i));
    return {
      cpuid: { nent: entries.length, entries },
      supportedAttrs: KVM_SUPPORTED_TDX_TD_ATTRS,
      supportedXfam: KVM_SUPPORTED_XFAM,
      kernelTdvmcallinfo1R11: 0n,
      userTdvmcallinfo1R11: BigInt(this.registry.userTdvmcallInfoR11()),
      kernelTdvmcallinfo1R12: 0n,
      userTdvmcallinfo1R12: 0n,
    };
  }

  /**
   * KVM_ENABLE_CAP on the VM. Supports KVM_CAP_EXIT_HYPERCALL with args[0] = hypercall mask,
   * KVM_CAP_X86_USER_SPACE_MSR with args[0] = KVM_MSR_EXIT_REASON_* mask (replaces the mask), and
   * KVM_CAP_X2APIC_API with args[0] = KVM_X2APIC_API_* flags (flags only turn on), and
   * KVM_CAP_SPLIT_IRQCHIP with args[0] = reserved I/O APIC pins (at most 4096; once, before any vCPU).
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for an unknown capability or a mask outside the valid bits
   * @throws SEAMKIT_ERR_KVM_EXISTS (EEXIST) for KVM_CAP_SPLIT_IRQCHIP a second time or after KVM_CREATE_VCPU
   */
  enableCap(cap: number, args: readonly number[] = []): void {
    this.checkAlive('KVM_ENABLE_CAP');
    if (cap === KVM_CAP_X86_USER_SPACE_MSR || cap === KVM_CAP_X2APIC_API || cap === KVM_CAP_SPLIT_IRQCHIP) {
      this.#enableX86Cap(cap, args[0] ?? 0);
      return;
    }
    if (cap !== KVM_CAP_EXIT_HYPERCALL) throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_ENABLE_CAP', `capability ${cap}`], EINVAL);
    const mask = args[0] ?? 0;
    if ((mask & ~KVM_EXIT_HYPERCALL_VALID_MASK) !== 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_ENABLE_CAP', `hypercall mask 0x${mask.toString(16)}`], EINVAL);
    this.hypercallExitMask = mask;
  }

  #enableX86Cap(cap: number, arg: number): void {
    if (cap === KVM_CAP_SPLIT_IRQCHIP) {
      const name = 'KVM_ENABLE_CAP';
      if (!Number.isInteger(arg) || arg < 0 || arg > 4096) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `KVM_CAP_SPLIT_IRQCHIP pins ${arg}`], EINVAL);
      if (this.splitIrqchipPins >= 0) throw kvmError('SEAMKIT_ERR_KVM_EXISTS', [name, 'an irqchip'], EEXIST);
      if (this.vcpus.length > 0) throw kvmError('SEAMKIT_ERR_KVM_EXISTS', [name, 'a vCPU'], EEXIST);
      this.splitIrqchipPins = arg;
      return;
    }
    if (cap === KVM_CAP_X86_USER_SPACE_MSR) {
      if (!Number.isInteger(arg) || (arg & ~KVM_MSR_EXIT_REASON_VALID_MASK) !== 0) {
        throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_ENABLE_CAP', `KVM_CAP_X86_USER_SPACE_MSR mask 0x${arg.toString(16)}`], EINVAL);
      }
      this.userSpaceMsrMask = arg;
      return;
    }
    if (!Number.isInteger(arg) || (arg & ~KVM_X2APIC_API_VALID_FLAGS) !== 0) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_ENABLE_CAP', `KVM_CAP_X2APIC_API flags 0x${arg.toString(16)}`], EINVAL);
    }
    if ((arg & KVM_X2APIC_API_USE_32BIT_IDS) !== 0) this.apicMap.x2apicFormat = true;
    if ((arg & KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK) !== 0) this.apicMap.broadcastQuirkDisabled = true;
  }

  /** KVM_CHECK_EXTENSION on the VM fd: the same answers as {@link Kvm.checkExtension}. */
  checkExtension(cap: number): number {
    this.checkAlive('KVM_CHECK_EXTENSION');
    return this.kvm.checkExtension(cap);
  }

  /**
   * KVM_X86_SET_MSR_FILTER: installs `filter` (KVM copies the bitmaps), replacing the previous
   * one. It applies to guest RDMSR/WRMSR TDVMCALLs, not to KVM_GET_MSRS / KVM_SET_MSRS.
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL, EFAULT) as `KvmMsrFilter`'s constructor; the old filter stays
   */
  setMsrFilter(filter: KvmMsrFilterSpec): void {
    this.checkAlive('KVM_X86_SET_MSR_FILTER');
    this.msrFilter = new KvmMsrFilter(filter);
  }

  /**
   * KVM_SIGNAL_MSI: decodes the MSI as kvm_set_msi_irq does (destination ID = address_lo bits
   * 19:12, plus address_hi bits 31:8 when KVM_X2APIC_API_USE_32BIT_IDS is enabled; logical
   * destination = address bit 2; redirection hint = address bit 3, which makes a fixed MSI
   * lowest-priority; vector = data bits 7:0; delivery mode = data bits 10:8; level
   * and trigger = data bits 14, 15) and delivers it to the matching local APICs (destination 0xff
   * is a broadcast unless KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK). A fixed or lowest-priority
   * interrupt is posted to the vCPU and wakes it if it halted with interrupts enabled; the guest
   * sees the vector pending in its virtual APIC after its next TD entry.
   * @returns the number of vCPUs that accepted it (the ioctl's positive return)
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for flags other than KVM_MSI_VALID_DEVID, or address_hi
   *   bits 7:0 set in the x2APIC format (kvm_msi_route_invalid)
   * @throws SEAMKIT_ERR_KVM_NOT_FOUND (EPERM) when no vCPU matches the destination (the ioctl
   *   returns -1)
   */
  signalMsi(msi: KvmMsi): number {
    this.checkAlive('KVM_SIGNAL_MSI');
    const name = 'KVM_SIGNAL_MSI';
    const flags = msi.flags ?? 0;
    const lo = msi.addressLo >>> 0;
    const hi = (msi.addressHi ?? 0) >>> 0;
    if ((flags & ~KVM_MSI_VALID_DEVID) !== 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `flags 0x${flags.toString(16)}`], EINVAL);
    const map = this.apicMap;
    if (map.x2apicFormat && (hi & 0xff) !== 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `address_hi 0x${hi.toString(16)}`], EINVAL);
    const dest = ((lo >>> 12) & 0xff) | (map.x2apicFormat ? (hi & 0xffff_ff00) >>> 0 : 0);
    const data = msi.data >>> 0;
    // ICR-style word: vector, delivery mode, logical destination (address bit 2), assert (MSI level = 1), trigger.
    // A redirection hint (address bit 3) on a fixed MSI makes it lowest-priority (kvm_lowest_prio_delivery).
    const mode = (data & 0x700) === 0 && (lo & 0x8) !== 0 ? 0x100 : data & 0x700;
    const icrLo = (data & 0xff) | mode | ((lo & 0x4) !== 0 ? 0x800 : 0) | 0x4000 | (data & 0x8000);
    const r = map.deliver(undefined, icrLo, dest >>> 0);
    if (r < 0) throw kvmError('SEAMKIT_ERR_KVM_NOT_FOUND', [name, `a vCPU with APIC ID 0x${(dest >>> 0).toString(16)}`], EPERM);
    return r;
  }

  /**
   * Simulator extension standing in for in-kernel devices and KVM_IOEVENTFD
   * (kvm_io_bus_register_dev): puts `device` on bus `bus` (KVM_PIO_BUS, KVM_MMIO_BUS or
   * KVM_FAST_MMIO_BUS) over `[addr, addr + len)`. PIO and MMIO TDVMCALLs it handles never reach
   * userspace.
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for an unknown bus or a bad range
   * @throws SEAMKIT_ERR_KVM_NOMEM (ENOSPC) when the bus is full
   */
  registerIoDevice(bus: number, addr: number, len: number, device: KvmIoDevice): void {
    this.#bus(bus).register(addr, len, device);
  }

  /**
   * Removes `device` from bus `bus` (kvm_io_bus_unregister_dev).
   * @returns whether it was registered there
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for an unknown bus
   */
  unregisterIoDevice(bus: number, device: KvmIoDevice): boolean {
    return this.#bus(bus).unregister(device);
  }

  #bus(bus: number): KvmIoBus {
    switch (bus) {
      case KVM_PIO_BUS: return this.pioBus;
      case KVM_MMIO_BUS: return this.mmioBus;
      case KVM_FAST_MMIO_BUS: return this.fastMmioBus;
      default: throw kvmError('SEAMKIT_ERR_KVM_ARG', ['registerIoDevice', `bus ${bus}`], EINVAL);
    }
  }

  /**
   * KVM_SET_USER_MEMORY_REGION2: adds (or, with size 0, deletes) a memslot. Flags: KVM_MEM_GUEST_MEMFD,
   * or KVM_MEM_LOG_DIRTY_PAGES on a slot without guest_memfd (accepted and kept; the simulator does
   * not track dirty pages and has no KVM_GET_DIRTY_LOG).
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for misaligned or wrapping ranges, unknown flags, or
   *   KVM_MEM_LOG_DIRTY_PAGES together with KVM_MEM_GUEST_MEMFD
   * @throws SEAMKIT_ERR_KVM_EXISTS (EEXIST) for a range overlapping another slot
   */
  setUserMemoryRegion2(region: UserMemoryRegion2): UserMemory | undefined {
    this.checkAlive('KVM_SET_USER_MEMORY_REGION2');
    const { slot, flags, guestPhysAddr: gpa, memorySize: size } = region;
    const name = 'KVM_SET_USER_MEMORY_REGION2';
    if (!Number.isInteger(slot) || slot < 0 || slot > 0x7fff) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `slot ${slot}`], EINVAL);
    if (gpa % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0 || gpa < 0 || size < 0 || gpa + size >= this.sharedBit) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'guest_phys_addr/memory_size must be 4 KiB aligned and below the shared bit'], EINVAL);
    }
    // check_memory_region_flags: KVM_MEM_LOG_DIRTY_PAGES is valid except with guest_memfd (private memory is not logged).
    const validFlags = (flags & KVM_MEM_GUEST_MEMFD) !== 0 ? KVM_MEM_GUEST_MEMFD : KVM_MEM_GUEST_MEMFD | KVM_MEM_LOG_DIRTY_PAGES;
    if ((flags & ~validFlags) !== 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `flags 0x${flags.toString(16)}`], EINVAL);
    const i = this.#memslots.findIndex((s) => s.slot === slot);
    if (size === 0) {
      if (i >= 0) this.#memslots.splice(i, 1);
      return undefined;
    }
    if (i >= 0) throw kvmError('SEAMKIT_ERR_KVM_EXISTS', [name, `slot ${slot}`], EEXIST);
    for (const s of this.#memslots) {
      if (gpa < s.gpa + s.size && s.gpa < gpa + size) throw kvmError('SEAMKIT_ERR_KVM_EXISTS', [name, `a slot over 0x${gpa.toString(16)}`], EEXIST);
    }
    const user = region.userspace ?? new UserMemory(this.kvm.cpu.memory, size);
    if (user.size < size) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'userspace memory smaller than memory_size'], EFAULT);
    this.#memslots.push({ slot, flags, gpa, size, user });
    return user;
  }

  /**
   * KVM_TDX_INIT_VM: creates the TD in the TDX module (TDH.MNG.CREATE with a fresh HKID,
   * KEY.CONFIG on every package, the TDCS pages, TDH.MNG.INIT with TD_PARAMS built as KVM
   * builds them: NO_RBP_MOD always set, MAX_VCPUS = KVM_MAX_VCPUS, GPAW and EPT levels from
   * CPUID.0x80000008:EAX[23:16], TD_PARAMS.CPUID_CONFIG from `cpuid` as setup_tdparams_cpuids).
   * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) if already initialized
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for unsupported attributes or XFAM, a `cpuid` entry that
   *   matches no configurable leaf, a GPAW other than 48 / 52 (or one `gpaw` contradicts), a
   *   `cpuid` without 0x80000008 and without `gpaw`; (E2BIG) for more than 256 `cpuid` entries
   * @throws SEAMKIT_ERR_KVM_TDX_OPERAND_INVALID (EINVAL, `hwError` = the status) when TDH.MNG.INIT
   *   refuses an operand (TDX_OPERAND_INVALID: a CPUID bit the VMM may not set, ...); the TD is
   *   torn down as after any other TDH.MNG.INIT failure
   * @throws SEAMKIT_ERR_KVM_NOMEM (ENOSPC) when no HKID is free
   */
  tdxInitVm(params: TdxInitVm = {}): void {
    this.checkAlive('KVM_TDX_INIT_VM');
    const name = 'KVM_TDX_INIT_VM';
    if (this.state !== TdState.NONE) throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, `TD is ${this.state}`], EINVAL);
    const attributes = params.attributes ?? KVM_SUPPORTED_TDX_TD_ATTRS;
    const xfam = params.xfam ?? KVM_SUPPORTED_XFAM;
    const allowedAttrs = KVM_SUPPORTED_TDX_TD_ATTRS | ((params.simulatorAllowDebug ?? this.kvm.simulatorAllowDebug) ? 1n : 0n);
    if ((attributes & ~allowedAttrs) !== 0n) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `attributes 0x${attributes.toString(16)}`], EINVAL);
    if ((xfam & ~KVM_SUPPORTED_XFAM) !== 0n) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `xfam 0x${xfam.toString(16)}`], EINVAL);
    for (const f of [params.mrConfigId, params.mrOwner, params.mrOwnerConfig]) {
      if (f !== undefined && f.length > 48) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'MR fields are 48 bytes'], EINVAL);
    }
    const cpuid = params.cpuid;
    let gpaw: 48 | 52 = params.gpaw ?? 48;
    const cpuidConfig = new Uint8Array(TD_PARAMS_SIZE);
    if (cpuid !== undefined) {
      if (cpuid.length > 256) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `${cpuid.length} CPUID entries (at most 256)`], E2BIG);
      const u32 = (x: number): boolean => Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;
      for (const e of cpuid) {
        if (![e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx].every(u32)) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'CPUID entry fields must be u32'], EINVAL);
      }
      const fromCpuid = tdxGpawFromCpuid(cpuid);
      if (fromCpuid === undefined && params.gpaw === undefined) {
        throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'no CPUID 0x80000008 entry (it gives the GPAW)'], EINVAL);
      }
      if (fromCpuid !== undefined && params.gpaw !== undefined && params.gpaw !== fromCpuid) {
        throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `gpaw ${params.gpaw} but CPUID.0x80000008:EAX[23:16] = ${fromCpuid}`], EINVAL);
      }
      gpaw = fromCpuid ?? gpaw;
      setupTdparamsCpuids(this.kvm.tdxCpuidConf, cpuid, cpuidConfig);
    }
    const hkid = this.kvm.allocHkid();
    if (hkid === undefined) throw kvmError('SEAMKIT_ERR_KVM_NOMEM', [name, 'TDX HKIDs'], ENOSPC);
    const mem = this.kvm.cpu.memory;
    const h = this.kvm.host;
    const lps = this.kvm.cpu.lps;
    // __tdx_td_init allocates every page first, then issues the SEAMCALLs.
    const tdr = mem.allocPage();
    const tdcs = Array.from({ length: TDCS_PAGES }, () => mem.allocPage());
    const paramsPage = mem.allocPage();
    const raw = cpuidConfig;
    const v = new DataView(raw.buffer);
    v.setBigUint64(TD_PARAMS_ATTRIBUTES, attributes, true);
    v.setBigUint64(TD_PARAMS_XFAM, xfam, true);
    v.setUint16(TD_PARAMS_MAX_VCPUS, Math.min(KVM_MAX_VCPUS, 0xffff), true);
    v.setBigUint64(TD_PARAMS_EPTP_CONTROLS, BigInt(((gpaw === 52 ? 5 : 4) - 1) << 3) | 6n, true);
    v.setBigUint64(TD_PARAMS_CONFIG_FLAGS, TDX_CONFIG_FLAGS_NO_RBP_MOD | (gpaw === 52 ? TDX_CONFIG_FLAGS_MAX_GPAW : 0n), true);
    v.setUint16(TD_PARAMS_TSC_FREQUENCY, TSC_FREQUENCY_25MHZ, true);
    if (params.mrConfigId) raw.set(params.mrConfigId, TD_PARAMS_MRCONFIGID);
    if (params.mrOwner) raw.set(params.mrOwner, TD_PARAMS_MROWNER);
    if (params.mrOwnerConfig) raw.set(params.mrOwnerConfig, TD_PARAMS_MROWNERCONFIG);
    mem.write(paramsPage, raw);
    const failed = (what: string, status: bigint): never => {
      throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`${name} (${what})`, status.toString(16)], EIO);
    };
    let s = h.tdhMngCreate(lps[0]!, tdr, hkid);
    if (s !== TDX_SUCCESS) {
      for (const page of [tdr, ...tdcs, paramsPage]) mem.freePage(page);
      this.kvm.freeHkid(hkid);
      failed('TDH.MNG.CREATE', s);
    }
    this.tdr = tdr;
    this.hkid = hkid;
    this.hkidAssigned = true;
    let step = 'TDH.MNG.KEY.CONFIG';
    const seen = new Set<number>();
    for (const lp of lps) {
      if (seen.has(lp.packageId)) continue;
      seen.add(lp.packageId);
      s = h.tdhMngKeyConfig(lp, tdr);
      if (s === TDX_KEY_CONFIGURED) s = TDX_SUCCESS;
      if (s !== TDX_SUCCESS) break;
    }
    for (let i = 0; s === TDX_SUCCESS && i < TDCS_PAGES; i++) {
      step = 'TDH.MNG.ADDCX';
      s = h.tdhMngAddcx(lps[0]!, tdr, tdcs[i]!);
      if (s === TDX_SUCCESS) this.tdcsPages.push(tdcs[i]!);
    }
    let rcx = 0n;
    if (s === TDX_SUCCESS) {
      step = 'TDH.MNG.INIT';
      const r = h.tdhMngInit(lps[0]!, tdr, paramsPage);
      s = r.status;
      rcx = r.rcx;
    }
    mem.freePage(paramsPage);
    if (s !== TDX_SUCCESS) {
      // __tdx_td_init's teardown path: free the pages not yet given to the module, release the
      // HKID (VPFLUSHDONE, CACHE.WB, KEY.FREEID) and reclaim the TDCS pages and the TDR.
      for (const page of tdcs) if (!this.tdcsPages.includes(page)) mem.freePage(page);
      releaseHkid(this);
      reclaimAll(this);
      if (this.tdr < 0) {
        this.hkid = -1;
      } else {
        this.markDead(`${name} failed and its teardown failed too`);
      }
      if (step === 'TDH.MNG.INIT' && (s & TDX_SEAMCALL_STATUS_MASK) === TDX_OPERAND_INVALID) {
        // A user-given operand: EINVAL, with the status as hw_error (and RCX, the extended error
        // information such as the CPUID leaf/subleaf, in the message as Linux logs it).
        throw withTdxCmdOutputs(kvmError('SEAMKIT_ERR_KVM_TDX_OPERAND_INVALID', [`${name} (TDH.MNG.INIT)`, s.toString(16), rcx.toString(16)], EINVAL), { hwError: s });
      }
      failed(step, s);
    }
    this.gpaw = gpaw;
    this.td!.memory!.setSharedEpt(this);
    this.state = TdState.INITIALIZED;
  }

  /**
   * Simulator extension: the guest program standing in for the TD image (see
   * TdxModule.bindGuestProgram). Must be set before KVM_TDX_FINALIZE_VM.
   * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) before KVM_TDX_INIT_VM or after finalization
   */
  setGuestProgram(program: GuestProgram): void {
    this.checkAlive('setGuestProgram');
    if (this.state !== TdState.INITIALIZED) throw kvmError('SEAMKIT_ERR_KVM_STATE', ['setGuestProgram', `TD is ${this.state}`], EINVAL);
    this.kvm.module.bindGuestProgram(this.tdr, program);
  }

  /**
   * KVM_CREATE_VCPU with `id`. A TDX VM must be initialized first (KVM returns EIO otherwise).
   * @throws SEAMKIT_ERR_KVM_STATE (EIO) before KVM_TDX_INIT_VM; (EINVAL) after finalization
   * @throws SEAMKIT_ERR_KVM_EXISTS (EEXIST) for an id in use
   */
  createVcpu(id: number): Vcpu {
    this.checkAlive('KVM_CREATE_VCPU');
    const name = 'KVM_CREATE_VCPU';
    if (this.state === TdState.NONE) throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, 'KVM_TDX_INIT_VM not done'], EIO);
    if (this.state === TdState.RUNNABLE) throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, 'TD already finalized'], EINVAL);
    if (!Number.isInteger(id) || id < 0 || id >= KVM_MAX_VCPUS) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `vcpu id ${id}`], EINVAL);
    if (this.vcpus.some((c) => c.id === id)) throw kvmError('SEAMKIT_ERR_KVM_EXISTS', [name, `vCPU ${id}`], EEXIST);
    const lp = this.kvm.cpu.lps[this.vcpus.length % this.kvm.cpu.lps.length]!;
    const vcpu = new Vcpu(this, id, lp);
    this.vcpus.push(vcpu);
    return vcpu;
  }

  /**
   * KVM_TDX_FINALIZE_VM: TDH.MR.FINALIZE; the TD becomes runnable and its MRTD is fixed.
   * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) unless initialized and every vCPU is initialized
   */
  tdxFinalizeVm(): void {
    this.checkAlive('KVM_TDX_FINALIZE_VM');
    const name = 'KVM_TDX_FINALIZE_VM';
    if (this.state !== TdState.INITIALIZED) throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, `TD is ${this.state}`], EINVAL);
    if (this.vcpus.length === 0 || this.vcpus.some((v) => !v.initialized)) {
      throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, 'every vCPU needs KVM_TDX_INIT_VCPU first'], EINVAL);
    }
    const s = this.kvm.host.tdhMrFinalize(this.kvm.cpu.lps[0]!, this.tdr);
    if (s !== TDX_SUCCESS) throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [name, s.toString(16)], EIO);
    this.state = TdState.RUNNABLE;
  }

  /** MRTD of the finalized TD (48 bytes). */
  get mrtd(): Uint8Array {
    return this.td?.mrtd ?? new Uint8Array(48);
  }

  #slotFor(gpa: number, length: number): Memslot | undefined {
    for (const s of this.#memslots) if (gpa >= s.gpa && gpa + length <= s.gpa + s.size) return s;
    return undefined;
  }

  /** {@inheritDoc @seamkit/core!SharedMemory.contains} */
  contains(gpa: number, length: number): boolean {
    return this.#slotFor(gpa, length) !== undefined;
  }

  /** {@inheritDoc @seamkit/core!SharedMemory.read} */
  read(gpa: number, dst: Uint8Array): void {
    const s = this.#slotFor(gpa, dst.length);
    if (s === undefined) throw kvmError('SEAMKIT_ERR_KVM_FAULT', ['guest memory read', gpa.toString(16)], EFAULT);
    s.user.read(gpa - s.gpa, dst);
  }

  /** {@inheritDoc @seamkit/core!SharedMemory.write} */
  write(gpa: number, src: Uint8Array): void {
    const s = this.#slotFor(gpa, src.length);
    if (s === undefined) throw kvmError('SEAMKIT_ERR_KVM_FAULT', ['guest memory write', gpa.toString(16)], EFAULT);
    s.user.write(gpa - s.gpa, src);
  }

  /**
   * The shared EPT: a guest access through a shared GPA reaches the memslot's userspace memory.
   * Returns -1 (EPT violation) outside every memslot and for a frame whose memory attribute is
   * PRIVATE (KVM never maps it shared).
   */
  translate(gfn: number): number {
    if (this.memoryAttributes.rangeCount !== 0 && this.memoryAttributes.isPrivate(gfn)) return -1;
    const gpa = gfn * PAGE_SIZE;
    for (const s of this.#memslots) {
      if (gpa >= s.gpa && gpa < s.gpa + s.size) return s.user.hpaOf((gpa - s.gpa) / PAGE_SIZE);
    }
    return -1;
  }
}
