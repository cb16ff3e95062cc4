import { inject, injectable, optional } from 'inversify';
import type { SharedMemory } from '@seamkit/core';

/** One MSI as KVM_SIGNAL_MSI takes it (`struct kvm_msi`, without the padding). */
export interface KvmMsi {
  /** address_lo: bits 19:12 hold the destination APIC ID (low 8 bits). */
  readonly addressLo: number;
  /** address_hi: the destination APIC ID bits 31:8 (x2APIC extended destination). */
  readonly addressHi: number;
  /** data: bits 7:0 the vector, bits 10:8 the delivery mode (0 = fixed). */
  readonly data: number;
  /** flags (0: no device id). */
  readonly flags: number;
  /** devid (0). */
  readonly devid: number;
}

/** MSI_ADDR_DEST_ID_SHIFT: where the destination APIC ID sits in address_lo. */
export const MSI_ADDR_DEST_ID_SHIFT = 12;
/** MSI_DATA_DELIVERY_MODE_SHIFT. */
export const MSI_DATA_DELIVERY_MODE_SHIFT = 8;
/** APIC_DM_FIXED: fixed delivery mode. */
export const APIC_DM_FIXED = 0;

/**
 * The MSI QEMU's `tdx_inject_interrupt` sends for the GetQuote notification: the destination
 * APIC ID's low 8 bits at address bits 19:12 and its bits 31:8 in the high address dword (QEMU
 * adds no 0xFEE00000 base), data = vector with fixed delivery.
 * @param apicId - APIC ID of the vCPU that called SetupEventNotifyInterrupt
 * @param vector - the vector it registered (32..255)
 */
export function eventNotifyMsi(apicId: number, vector: number): KvmMsi {
  return {
    addressLo: ((apicId & 0xff) << MSI_ADDR_DEST_ID_SHIFT) >>> 0,
    addressHi: (apicId & 0xffffff00) >>> 0,
    data: (vector | (APIC_DM_FIXED << MSI_DATA_DELIVERY_MODE_SHIFT)) >>> 0,
    flags: 0,
    devid: 0,
  };
}

/**
 * Delivers an MSI to a TD: KVM_SIGNAL_MSI on the TD's VM. `td` is the TD's memory as userspace
 * maps it ({@link @seamkit/core!UserExitContext.memory}), the object that identifies a TD to a
 * userspace half.
 */
export interface MsiInjector {
  /**
   * Injects `msi` into the TD.
   * @throws when the MSI cannot be delivered (QEMU logs "interrupt lost")
   */
  signalMsi(td: SharedMemory, msi: KvmMsi): void;
}

/** DI token of the {@link MsiInjector} used for GetQuote notifications. */
export const MSI_INJECTOR = Symbol.for('@seamkit/plugin-quote/MsiInjector');

/** What SetupEventNotifyInterrupt registered for one TD. */
export interface EventNotifyRegistration {
  /** The vector (32..255). */
  readonly vector: number;
  /** APIC ID of the vCPU that registered it. */
  readonly apicId: number;
}

/** A TD's VM that can take an MSI (KVM_SIGNAL_MSI), as the simulated KVM's `Vm` does. */
interface MsiCapable {
  signalMsi(msi: KvmMsi): unknown;
}

function isMsiCapable(td: unknown): td is MsiCapable {
  return typeof td === 'object' && td !== null && typeof (td as { signalMsi?: unknown }).signalMsi === 'function';
}

/**
 * The default {@link MsiInjector}: KVM_SIGNAL_MSI on the TD's VM. With @seamkit/kvm the
 * userspace memory of a TD is its `Vm`, which implements `signalMsi`; for any other TD the
 * injection fails (and the notification is lost, as QEMU logs it).
 */
export const vmMsiInjector: MsiInjector = {
  signalMsi(td, msi) {
    if (!isMsiCapable(td)) throw new Error('the TD has no KVM_SIGNAL_MSI');
    td.signalMsi(msi);
  },
};

/**
 * The per-TD state of SetupEventNotifyInterrupt, shared by that leaf and GetQuote (QEMU keeps
 * `event_notify_vector` and `event_notify_apicid` in its TdxGuest, both -1 until set): the last
 * registration wins, and every GetQuote completion of that TD injects the vector as an MSI to the
 * registering vCPU's APIC ID.
 */
@injectable()
export class EventNotifier {
  /** MSIs injected so far (all TDs). */
  injected = 0;
  /** Injections that failed (the interrupt was lost, as QEMU logs it). */
  lost = 0;
  readonly #injector: MsiInjector;
  readonly #byTd = new WeakMap<SharedMemory, EventNotifyRegistration>();

  /** @param injector - how MSIs reach a TD (default: KVM_SIGNAL_MSI on its VM) */
  constructor(@inject(MSI_INJECTOR) @optional() injector?: MsiInjector) {
    this.#injector = injector ?? vmMsiInjector;
  }

  /** Records `vector` and `apicId` for the TD (QEMU: under tdx->lock). */
  register(td: SharedMemory, vector: number, apicId: number): void {
    this.#byTd.set(td, { vector, apicId });
  }

  /** What the TD registered, if anything. */
  registration(td: SharedMemory): EventNotifyRegistration | undefined {
    return this.#byTd.get(td);
  }

  /**
   * QEMU's `tdx_inject_interrupt`: if the TD registered a vector in 32..255, sends it as a
   * fixed-delivery MSI to the registered APIC ID. A failure is not thrown: it is counted in
   * {@link lost} and returned as `false`, since there is no better way to tell the guest.
   * @returns true if an MSI was injected
   */
  notify(td: SharedMemory): boolean {
    const r = this.#byTd.get(td);
    if (r === undefined || r.vector < 32 || r.vector > 255) return false;
    try {
      this.#injector.signalMsi(td, eventNotifyMsi(r.apicId, r.vector));
      this.injected++;
      return true;
    } catch {
      this.lost++;
      return false;
    }
  }
}
