import type { EventSink, LeafRegistry, SharedMemory } from '@seamkit/core';
import { PAGE_SIZE, type Ept, type GuestProgram } from '@seamkit/seam-cpu';
import {
  TDX_KEY_CONFIGURED, TDX_SUCCESS, TDCS_PAGES, TD_PARAMS_ATTRIBUTES, TD_PARAMS_CONFIG_FLAGS, TD_PARAMS_EPTP_CONTROLS,
  TD_PARAMS_MAX_VCPUS, TD_PARAMS_MRCONFIGID, TD_PARAMS_MROWNER, TD_PARAMS_MROWNERCONFIG, TD_PARAMS_SIZE,
  TD_PARAMS_TSC_FREQUENCY, TD_PARAMS_XFAM, TDX_CONFIG_FLAGS_MAX_GPAW, TDX_CONFIG_FLAGS_NO_RBP_MOD, type Td,
} from '@seamkit/tdx-module';
import { kvmError } from './errors.js';
import type { Kvm } from './Kvm.js';
import { KVM_MAX_VCPUS } from './Kvm.js';
import { EEXIST, EFAULT, EINVAL, EIO, ENOSPC } from './uapi/errno.js';
import {
  KVM_CAP_EXIT_HYPERCALL, KVM_EXIT_HYPERCALL_VALID_MASK, KVM_MEM_GUEST_MEMFD, KVM_SUPPORTED_TDX_TD_ATTRS,
} from './uapi/tdx.js';
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
  /** 52 for 5-level EPT (shared bit 51), else 48. */
  readonly gpaw?: 48 | 52;
}

/** KVM_SET_USER_MEMORY_REGION2 input (`struct kvm_userspace_memory_region2`). */
export interface UserMemoryRegion2 {
  /** Slot id. */
  readonly slot: number;
  /** KVM_MEM_* flags (KVM_MEM_GUEST_MEMFD for private memory). */
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

  /** Value of the shared GPA bit: 2^(GPAW-1). */
  get sharedBit(): number {
    return 2 ** (this.gpaw - 1);
  }

  /** The module's record of this TD (after KVM_TDX_INIT_VM). */
  get td(): Td | undefined {
    return this.kvm.module.tds.get(this.tdr);
  }

  /** KVM_TDX_CAPABILITIES: what KVM and the TDX module support; tdvmcallinfo bits derive from the registry. */
  tdxCapabilities(): TdxCapabilities {
    return {
      supportedAttrs: KVM_SUPPORTED_TDX_TD_ATTRS,
      supportedXfam: KVM_SUPPORTED_XFAM,
      kernelTdvmcallinfo1R11: 0n,
      userTdvmcallinfo1R11: BigInt(this.registry.userTdvmcallInfoR11()),
      kernelTdvmcallinfo1R12: 0n,
      userTdvmcallinfo1R12: 0n,
    };
  }

  /**
   * KVM_ENABLE_CAP on the VM. Supports KVM_CAP_EXIT_HYPERCALL with args[0] = hypercall mask.
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for an unknown capability or a mask outside the valid bits
   */
  enableCap(cap: number, args: readonly number[] = []): void {
    if (cap !== KVM_CAP_EXIT_HYPERCALL) throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_ENABLE_CAP', `capability ${cap}`], EINVAL);
    const mask = args[0] ?? 0;
    if ((mask & ~KVM_EXIT_HYPERCALL_VALID_MASK) !== 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_ENABLE_CAP', `hypercall mask 0x${mask.toString(16)}`], EINVAL);
    this.hypercallExitMask = mask;
  }

  /**
   * KVM_SET_USER_MEMORY_REGION2: adds (or, with size 0, deletes) a memslot.
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for misaligned or wrapping ranges
   * @throws SEAMKIT_ERR_KVM_EXISTS (EEXIST) for a range overlapping another slot
   */
  setUserMemoryRegion2(region: UserMemoryRegion2): UserMemory | undefined {
    const { slot, flags, guestPhysAddr: gpa, memorySize: size } = region;
    const name = 'KVM_SET_USER_MEMORY_REGION2';
    if (!Number.isInteger(slot) || slot < 0 || slot > 0x7fff) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `slot ${slot}`], EINVAL);
    if (gpa % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0 || gpa < 0 || size < 0 || gpa + size >= this.sharedBit) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'guest_phys_addr/memory_size must be 4 KiB aligned and below the shared bit'], EINVAL);
    }
    if ((flags & ~KVM_MEM_GUEST_MEMFD) !== 0) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `flags 0x${flags.toString(16)}`], EINVAL);
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
   * builds them: NO_RBP_MOD always set, MAX_VCPUS = KVM_MAX_VCPUS).
   * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) if already initialized
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for unsupported attributes or XFAM
   * @throws SEAMKIT_ERR_KVM_NOMEM (ENOSPC) when no HKID is free
   */
  tdxInitVm(params: TdxInitVm = {}): void {
    const name = 'KVM_TDX_INIT_VM';
    if (this.state !== TdState.NONE) throw kvmError('SEAMKIT_ERR_KVM_STATE', [name, `TD is ${this.state}`], EINVAL);
    const attributes = params.attributes ?? KVM_SUPPORTED_TDX_TD_ATTRS;
    const xfam = params.xfam ?? KVM_SUPPORTED_XFAM;
    if ((attributes & ~KVM_SUPPORTED_TDX_TD_ATTRS) !== 0n) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `attributes 0x${attributes.toString(16)}`], EINVAL);
    if ((xfam & ~KVM_SUPPORTED_XFAM) !== 0n) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, `xfam 0x${xfam.toString(16)}`], EINVAL);
    for (const f of [params.mrConfigId, params.mrOwner, params.mrOwnerConfig]) {
      if (f !== undefined && f.length > 48) throw kvmError('SEAMKIT_ERR_KVM_ARG', [name, 'MR fields are 48 bytes'], EINVAL);
    }
    const gpaw = params.gpaw ?? 48;
    const hkid = this.kvm.allocHkid();
    if (hkid === undefined) throw kvmError('SEAMKIT_ERR_KVM_NOMEM', [name, 'TDX HKIDs'], ENOSPC);
    const mem = this.kvm.cpu.memory;
    const h = this.kvm.host;
    const lps = this.kvm.cpu.lps;
    const tdr = mem.allocPage();
    const fail = (what: string, s: bigint): never => {
      throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`${name} (${what})`, s.toString(16)], EIO);
    };
    let s = h.tdhMngCreate(lps[0]!, tdr, hkid);
    if (s !== TDX_SUCCESS) {
      mem.freePage(tdr);
      this.kvm.freeHkid(hkid);
      fail('TDH.MNG.CREATE', s);
    }
    const seen = new Set<number>();
    for (const lp of lps) {
      if (seen.has(lp.packageId)) continue;
      seen.add(lp.packageId);
      s = h.tdhMngKeyConfig(lp, tdr);
      if (s !== TDX_SUCCESS && s !== TDX_KEY_CONFIGURED) fail('TDH.MNG.KEY.CONFIG', s);
    }
    for (let i = 0; i < TDCS_PAGES; i++) {
      s = h.tdhMngAddcx(lps[0]!, tdr, mem.allocPage());
      if (s !== TDX_SUCCESS) fail('TDH.MNG.ADDCX', s);
    }
    const page = mem.allocPage();
    const raw = new Uint8Array(TD_PARAMS_SIZE);
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
    mem.write(page, raw.subarray(0, PAGE_SIZE > TD_PARAMS_SIZE ? TD_PARAMS_SIZE : PAGE_SIZE));
    const r = h.tdhMngInit(lps[0]!, tdr, page);
    mem.freePage(page);
    if (r.status !== TDX_SUCCESS) fail('TDH.MNG.INIT', r.status);
    this.tdr = tdr;
    this.hkid = hkid;
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
    if (this.state !== TdState.INITIALIZED) throw kvmError('SEAMKIT_ERR_KVM_STATE', ['setGuestProgram', `TD is ${this.state}`], EINVAL);
    this.kvm.module.bindGuestProgram(this.tdr, program);
  }

  /**
   * KVM_CREATE_VCPU with `id`. A TDX VM must be initialized first (KVM returns EIO otherwise).
   * @throws SEAMKIT_ERR_KVM_STATE (EIO) before KVM_TDX_INIT_VM; (EINVAL) after finalization
   * @throws SEAMKIT_ERR_KVM_EXISTS (EEXIST) for an id in use
   */
  createVcpu(id: number): Vcpu {
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
   * Returns -1 (EPT violation) outside every memslot.
   */
  translate(gfn: number): number {
    const gpa = gfn * PAGE_SIZE;
    for (const s of this.#memslots) {
      if (gpa >= s.gpa && gpa < s.gpa + s.size) return s.user.hpaOf((gpa - s.gpa) / PAGE_SIZE);
    }
    return -1;
  }
}
