import { errorFactory } from '@seamkit/seam-cpu';

/**
 * Error codes of @seamkit/kvm: ioctl misuse. Each carries the errno the real ioctl fails with
 * (see the `errno` field) and is documented in docs/errors.md. A failed ioctl changes nothing.
 */
export const KVM_ERRORS = {
  SEAMKIT_ERR_KVM_VM_TYPE: 'KVM_CREATE_VM: VM type %s is not supported (use KVM_X86_TDX_VM = 5)',
  SEAMKIT_ERR_KVM_STATE: '%s: not allowed now (%s)',
  SEAMKIT_ERR_KVM_ARG: '%s: invalid argument (%s)',
  SEAMKIT_ERR_KVM_EXISTS: '%s: %s already exists',
  SEAMKIT_ERR_KVM_NOT_FOUND: '%s: %s does not exist',
  SEAMKIT_ERR_KVM_TDX_FAILED: '%s: the TDX module returned 0x%s',
  SEAMKIT_ERR_KVM_NOMEM: '%s: out of %s',
  SEAMKIT_ERR_KVM_FAULT: '%s: bad address 0x%s',
  SEAMKIT_ERR_KVM_VM_DEAD: '%s: the VM is dead (%s)',
} as const;

/** A code of {@link KVM_ERRORS}. */
export type KvmErrorCode = keyof typeof KVM_ERRORS;

/** Creates a coded error of this package: `kvmError(code, args, errno)`. */
export const kvmError = errorFactory(KVM_ERRORS);
