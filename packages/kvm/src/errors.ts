import { errorFactory, type SeamkitError } from '@seamkit/seam-cpu';

/**
 * Error codes of @seamkit/kvm: ioctl misuse. Each carries the errno the real ioctl fails with
 * (see the `errno` field) and is documented in docs/errors.md. A failed ioctl changes nothing.
 */
export const KVM_ERRORS = {
  /** KVM_CREATE_VM with a type other than KVM_X86_TDX_VM (EINVAL). */
  SEAMKIT_ERR_KVM_VM_TYPE: 'KVM_CREATE_VM: VM type %s is not supported (use KVM_X86_TDX_VM = 5)',
  /**
   * An ioctl in the wrong VM or vCPU state (EINVAL; EIO for KVM_CREATE_VCPU before KVM_TDX_INIT_VM;
   * EINTR for KVM_RUN with immediate_exit set).
   */
  SEAMKIT_ERR_KVM_STATE: '%s: not allowed now (%s)',
  /** An invalid ioctl argument (EINVAL; EFAULT for a source or userspace buffer that is too small). */
  SEAMKIT_ERR_KVM_ARG: '%s: invalid argument (%s)',
  /** A memslot, vCPU id or private page that already exists (EEXIST; EINVAL for a private page). */
  SEAMKIT_ERR_KVM_EXISTS: '%s: %s already exists',
  /** An object the ioctl names does not exist: KVM_SIGNAL_MSI to a destination no vCPU has (EPERM: the ioctl returns -1). */
  SEAMKIT_ERR_KVM_NOT_FOUND: '%s: %s does not exist',
  /**
   * KVM_RUN on a vCPU that is not runnable and has nothing to wake it (halted with no interrupt it
   * can take, or uninitialized): real KVM blocks until a signal and returns EINTR with exit_reason
   * KVM_EXIT_INTR; the simulator returns at once (EINTR).
   */
  SEAMKIT_ERR_KVM_INTR: '%s: interrupted, %s',
  /** A SEAMCALL made by an ioctl (or at boot) returned a TDX error status (EIO). */
  SEAMKIT_ERR_KVM_TDX_FAILED: '%s: the TDX module returned 0x%s',
  /**
   * KVM_TDX_INIT_VM: TDH.MNG.INIT refused an operand (TDX_OPERAND_INVALID, e.g. a CPUID bit the VMM
   * may not configure): EINVAL, with the SEAMCALL status in `hwError` (`kvm_tdx_cmd.hw_error`).
   */
  SEAMKIT_ERR_KVM_TDX_OPERAND_INVALID: '%s: the TDX module refused an operand: status 0x%s, rcx 0x%s',
  /** A resource ran out: no free TDX HKID for KVM_TDX_INIT_VM (ENOSPC). */
  SEAMKIT_ERR_KVM_NOMEM: '%s: out of %s',
  /** Userspace access to guest memory outside every memslot (EFAULT). */
  SEAMKIT_ERR_KVM_FAULT: '%s: bad address 0x%s',
  /**
   * An ioctl on a VM that KVM marked dead (kvm_vm_dead: KVM_TDX_TERMINATE_VM, VM destruction, a
   * guest access before TDG.MEM.PAGE.ACCEPT, or a SEAMCALL failure KVM treats as a bug): every VM
   * and vCPU ioctl fails with EIO.
   */
  SEAMKIT_ERR_KVM_VM_DEAD: '%s: the VM is dead (%s)',
  /**
   * KVM_RUN returned -EFAULT with exit_reason KVM_EXIT_MEMORY_FAULT (memory_fault.flags / gpa /
   * size are valid): the guest accessed memory through the mapping its memory attributes do not
   * allow (or private memory no guest_memfd backs). Userspace converts the range
   * (KVM_SET_MEMORY_ATTRIBUTES) and runs the vCPU again.
   */
  SEAMKIT_ERR_KVM_MEMORY_FAULT: '%s: memory fault at GPA 0x%s (%s)',
} as const;

/** A code of {@link KVM_ERRORS}. */
export type KvmErrorCode = keyof typeof KVM_ERRORS;

/** Creates a coded error of this package: `kvmError(code, args, errno)`. */
export const kvmError = errorFactory(KVM_ERRORS);

/**
 * What a failing `KVM_MEMORY_ENCRYPT_OP` TDX sub-command gives userspace besides its errno: the
 * `hw_error` field of `struct kvm_tdx_cmd` (the SEAMCALL status, for KVM_TDX_INIT_VM's
 * TDX_OPERAND_INVALID) and the `nent` KVM writes back into a `struct kvm_cpuid2` (KVM_TDX_GET_CPUID
 * with E2BIG: the number of entries needed).
 */
export interface KvmTdxCmdOutputs {
  /** `kvm_tdx_cmd.hw_error`. */
  readonly hwError?: bigint;
  /** `kvm_cpuid2.nent` as KVM updated it. */
  readonly nent?: number;
}

/** A {@link SeamkitError} of a TDX sub-command, with its {@link KvmTdxCmdOutputs}. */
export type KvmTdxCmdError = SeamkitError & KvmTdxCmdOutputs;

/** Attaches `outputs` to `err` (as the ioctl would have written them back) and returns it. */
export function withTdxCmdOutputs(err: SeamkitError, outputs: KvmTdxCmdOutputs): KvmTdxCmdError {
  return Object.assign(err, outputs);
}
