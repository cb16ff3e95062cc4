/**
 * How one kind of userspace exit looks in the kvm_run exit union: the exit reason, the header
 * the kernel model writes itself (plugins may not declare fields there), and where the
 * discriminating key (the `nr` of KVM_EXIT_TDX, the `type` of KVM_EXIT_SYSTEM_EVENT, the `nr` of
 * KVM_EXIT_HYPERCALL) sits. The hypervisor binding supplies the shapes it supports; a plugin may
 * declare a dedicated exit reason with no key and no header.
 */
export interface ExitShape {
  /** KVM_EXIT_* number. */
  readonly reason: number;
  /** Name for messages and traces, e.g. `KVM_EXIT_TDX`. */
  readonly name: string;
  /** Absolute offset in kvm_run where plugin-declared fields may start. */
  readonly headerEnd: number;
  /** Absolute offset of the key field, or -1 if exits of this reason have no key. */
  readonly keyOffset: number;
  /** Size of the key field: 4 or 8 bytes. */
  readonly keySize: 4 | 8;
}
