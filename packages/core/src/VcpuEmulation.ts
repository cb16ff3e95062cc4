/**
 * Outcome of handling one exit in userspace (the Firecracker shape): the run loop continues
 * on `HANDLED`, returns control to its caller on `INTERRUPTED`, and ends the vCPU on `STOPPED`.
 */
export const VcpuEmulation = {
  /** The exit was handled; run the vCPU again. */
  HANDLED: 0,
  /** Stop the fast loop and let the caller look at control events, then resume. */
  INTERRUPTED: 1,
  /** The vCPU is finished (guest panic, shutdown, unhandled exit). */
  STOPPED: 2,
} as const;

/** One of the {@link VcpuEmulation} values. */
export type VcpuEmulation = (typeof VcpuEmulation)[keyof typeof VcpuEmulation];
