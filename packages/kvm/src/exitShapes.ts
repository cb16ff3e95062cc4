import type { ExitShape } from '@seamkit/core';
import { KVM_EXIT_HYPERCALL, KVM_EXIT_SYSTEM_EVENT, KVM_EXIT_TDX } from './uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from './uapi/kvmRunLayout.js';

/**
 * The exit shapes of Linux 6.16 that leaf plugins can use: KVM_EXIT_TDX keyed by `tdx.nr`
 * (header: flags, nr), KVM_EXIT_SYSTEM_EVENT keyed by `system_event.type`, and
 * KVM_EXIT_HYPERCALL keyed by `hypercall.nr`.
 */
export const LINUX_EXIT_SHAPES: readonly ExitShape[] = [
  { reason: KVM_EXIT_TDX, name: 'KVM_EXIT_TDX', headerEnd: L['tdx.unknown.ret'].offset, keyOffset: L['tdx.nr'].offset, keySize: 8 },
  { reason: KVM_EXIT_SYSTEM_EVENT, name: 'KVM_EXIT_SYSTEM_EVENT', headerEnd: L['system_event.ndata'].offset, keyOffset: L['system_event.type'].offset, keySize: 4 },
  { reason: KVM_EXIT_HYPERCALL, name: 'KVM_EXIT_HYPERCALL', headerEnd: L['hypercall.args'].offset, keyOffset: L['hypercall.nr'].offset, keySize: 8 },
];
