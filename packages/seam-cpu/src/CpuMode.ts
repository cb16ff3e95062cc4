/**
 * Operating modes of a SEAM-capable logical processor.
 *
 * - `VMX_ROOT`: the host (KVM). SEAMCALL is legal here.
 * - `SEAM_ROOT`: the TDX module. SEAMRET and TD entry are legal here.
 * - `SEAM_NONROOT`: a TD guest. TDCALL is legal here.
 */
export const CpuMode = {
  /** VMX root operation: the host kernel/VMM. */
  VMX_ROOT: 0,
  /** SEAM VMX root operation: the TDX module. */
  SEAM_ROOT: 1,
  /** SEAM VMX non-root operation: inside a TD. */
  SEAM_NONROOT: 2,
} as const;

/** One of the {@link CpuMode} values. */
export type CpuMode = (typeof CpuMode)[keyof typeof CpuMode];

/** Readable names of the modes, indexed by mode value. */
export const CPU_MODE_NAMES = ['VMX root', 'SEAM VMX root', 'SEAM VMX non-root (TD)'] as const;
