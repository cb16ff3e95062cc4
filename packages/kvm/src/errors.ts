import { errorFactory } from '@seamkit/seam-cpu';

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
