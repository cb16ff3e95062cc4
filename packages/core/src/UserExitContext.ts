import type { ExitBuffer } from './ExitBuffer.js';
import type { LeafRegistry } from './LeafRegistry.js';
import type { EventSink } from './VmmEvent.js';

/**
 * Userspace view of a TD's shared memory, as the VMM has it mapped (memslots). GPAs are without
 * the shared bit, as KVM hands them to userspace.
 */
export interface SharedMemory {
  /** Reads guest memory at `gpa` into `dst`. Throws a coded error outside every memslot. */
  read(gpa: number, dst: Uint8Array): void;
  /** Writes `src` into guest memory at `gpa`. Throws a coded error outside every memslot. */
  write(gpa: number, src: Uint8Array): void;
  /** True if [gpa, gpa + length) lies inside memslots. */
  contains(gpa: number, length: number): boolean;
  /**
   * Converts [gpa, gpa + size) to private (`toPrivate`) or shared memory, as a VMM does for a
   * MapGPA request or a memory-fault exit (QEMU's `kvm_convert_memory`): sets the memory
   * attributes and discards the backing of the side no longer used. Optional: absent when the
   * hypervisor has no private memory.
   * @throws a coded error when the range cannot be converted
   */
  convertMemory?(gpa: number, size: number, toPrivate: boolean): void;
}

/** What a userspace half sees when the run loop hands it an exit. */
export interface UserExitContext {
  /** The vCPU's kvm_run, holding the exit; write the reply here. */
  readonly run: ExitBuffer;
  /** Index of the vCPU. */
  readonly vcpuIndex: number;
  /** Guest memory as userspace maps it. */
  readonly memory: SharedMemory;
  /** Observable channel for panics and other events. */
  readonly emit: EventSink;
  /** The VMM's (frozen) registry: what is registered. */
  readonly registry: LeafRegistry;
}
