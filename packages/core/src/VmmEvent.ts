/** A guest panic, as reported by ReportFatalError (or another plugin). */
export interface GuestPanicEvent {
  /** Event kind. */
  readonly type: 'guest-panic';
  /** vCPU that reported it. */
  readonly vcpuIndex: number;
  /** Error code (low 32 bits of R12, as QEMU keeps it). */
  readonly errorCode: number;
  /** Decoded message ('' if none). */
  readonly message: string;
  /** GPA with more information, if the guest gave one. */
  readonly gpa?: number;
  /** The log line QEMU would print. */
  readonly log: string;
}

/** A plugin's kernel or userspace half threw; the guest got INVALID_OPERAND. */
export interface PluginErrorEvent {
  /** Event kind. */
  readonly type: 'plugin-error';
  /** Plugin name. */
  readonly plugin: string;
  /** Which half threw. */
  readonly half: 'kernel' | 'complete' | 'user';
  /** What was thrown. */
  readonly error: unknown;
}

/**
 * Guest code threw (a bug in the simulated guest, not a guest-visible event): the vCPU triple
 * faulted, which KVM reports as KVM_EXIT_SHUTDOWN. A simulator diagnostic with the error.
 */
export interface GuestCrashEvent {
  /** Event kind. */
  readonly type: 'guest-crash';
  /** vCPU whose guest code threw. */
  readonly vcpuIndex: number;
  /** What the guest code threw. */
  readonly error: unknown;
}

/** Events a VMM can observe ({@link EventSink}). */
export type VmmEvent = GuestPanicEvent | PluginErrorEvent | GuestCrashEvent;

/** Receives {@link VmmEvent}s. */
export type EventSink = (event: VmmEvent) => void;
