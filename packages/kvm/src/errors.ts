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
  /** Reserved for an object that does not exist; not thrown yet. */
  SEAMKIT_ERR_KVM_NOT_FOUND: '%s: %s does not exist',
  /** A SEAMCALL made by an ioctl (or at boot) returned a TDX error status (EIO). */
  SEAMKIT_ERR_KVM_TDX_FAILED: '%s: the TDX module returned 0x%s',
  /** A resource ran out: no free TDX HKID for KVM_TDX_INIT_VM (ENOSPC). */
  SEAMKIT_ERR_KVM_NOMEM: '%s: out of %s',
  /** Userspace access to guest memory outside every memslot (EFAULT). */
  SEAMKIT_ERR_KVM_FAULT: '%s: bad address 0x%s',
  /** Reserved for ioctls on a VM that was killed; not thrown yet. */
  SEAMKIT_ERR_KVM_VM_DEAD: '%s: the VM is dead (%s)',
} as const;

/** A code of {@link KVM_ERRORS}. */
export type KvmErrorCode = keyof typeof KVM_ERRORS;

/** Creates a coded error of this package: `kvmError(code, args, errno)`. */
export const kvmError = errorFactory(KVM_ERRORS);
