/**
 * The parts of `struct kvm_run` the framework itself relies on: its size, where the exit reason
 * is, and the bounds of the exit union plugins write into. The full layout lives in
 * @seamkit/kvm's uapi, which re-exports these.
 *
 * Source: Linux include/uapi/linux/kvm.h (struct kvm_run), offsets measured with gcc against the
 * 6.16 header: exit_reason at 8, the exit union at 32 padded to 256 bytes, kvm_valid_regs at 288,
 * sizeof 2352.
 * @module
 */

/** sizeof(struct kvm_run). */
export const KVM_RUN_SIZE = 2352;
/** Offset of `immediate_exit` (u8). */
export const KVM_RUN_IMMEDIATE_EXIT = 1;
/** Offset of `exit_reason` (u32). */
export const KVM_RUN_EXIT_REASON = 8;
/** Offset of the exit union. */
export const KVM_RUN_EXIT_UNION = 32;
/** Size of the exit union (padding[256]). */
export const KVM_RUN_EXIT_UNION_SIZE = 256;
