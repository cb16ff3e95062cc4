import { kvmError } from '../errors.js';
import { EINVAL, ENOSPC } from '../uapi/errno.js';

/** KVM_MMIO_BUS (`enum kvm_bus`, include/linux/kvm_host.h): guest-physical MMIO. */
export const KVM_MMIO_BUS = 0;
/** KVM_PIO_BUS: x86 I/O ports. */
export const KVM_PIO_BUS = 1;
/** KVM_FAST_MMIO_BUS: zero-length MMIO writes (ioeventfds without a length), tried first for writes. */
export const KVM_FAST_MMIO_BUS = 3;
/** NR_IOBUS_DEVS: the most devices one bus holds. */
export const NR_IOBUS_DEVS = 1000;

/**
 * An in-kernel device on a {@link KvmIoBus} (`struct kvm_io_device_ops`). Each handler gets the
 * access address, its length and an 8-byte scratch buffer the bus reuses for every access
 * (little-endian data in `data[0..len)`), and returns true when it handled the access. Returning
 * false is the kernel's -EOPNOTSUPP: the bus tries the next device covering the address, and
 * with none the access goes to userspace. A missing handler declines.
 */
export interface KvmIoDevice {
  /** Read `len` bytes at `addr` into `data`. Must not keep `data`. */
  read?(addr: number, len: number, data: Uint8Array): boolean;
  /** Write the `len` bytes in `data` at `addr`. Must not keep `data`. */
  write?(addr: number, len: number, data: Uint8Array): boolean;
}

/**
 * One of KVM's I/O buses (`struct kvm_io_bus`, virt/kvm/kvm_main.c): devices registered over
 * address ranges, searched in address order. A device covering `[addr, addr + len)` with
 * `len` 0 matches only accesses at exactly `addr` (of any length), as the fast-MMIO bus of
 * length-less ioeventfds does; otherwise the access must lie inside the device's range. Overlaps
 * are allowed; the first device (lowest address, then registration order) that handles the
 * access wins. Lookups allocate nothing.
 */
export class KvmIoBus {
  /** Reused data buffer of every access (up to 8 bytes). */
  readonly data = new Uint8Array(8);
  readonly #addr: number[] = [];
  readonly #len: number[] = [];
  readonly #dev: KvmIoDevice[] = [];

  /** Number of registered devices. */
  get size(): number {
    return this.#dev.length;
  }

  /**
   * kvm_io_bus_register_dev: adds `device` over `[addr, addr + len)`.
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for a negative or non-integer range
   * @throws SEAMKIT_ERR_KVM_NOMEM (ENOSPC) when the bus already holds NR_IOBUS_DEVS devices
   */
  register(addr: number, len: number, device: KvmIoDevice): void {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || addr < 0 || len < 0) {
      throw kvmError('SEAMKIT_ERR_KVM_ARG', ['registerIoDevice', `range 0x${addr.toString(16)}+${len}`], EINVAL);
    }
    if (this.#dev.length >= NR_IOBUS_DEVS) throw kvmError('SEAMKIT_ERR_KVM_NOMEM', ['registerIoDevice', 'I/O bus device slots'], ENOSPC);
    let i = this.#addr.length;
    while (i > 0 && this.#addr[i - 1]! > addr) i--;
    this.#addr.splice(i, 0, addr);
    this.#len.splice(i, 0, len);
    this.#dev.splice(i, 0, device);
  }

  /**
   * kvm_io_bus_unregister_dev: removes every registration of `device`.
   * @returns whether the device was registered
   */
  unregister(device: KvmIoDevice): boolean {
    let found = false;
    for (let i = this.#dev.length - 1; i >= 0; i--) {
      if (this.#dev[i] !== device) continue;
      this.#addr.splice(i, 1);
      this.#len.splice(i, 1);
      this.#dev.splice(i, 1);
      found = true;
    }
    return found;
  }

  /**
   * kvm_io_bus_read: the first covering device that handles the read fills `data`.
   * @returns true when a device handled it (false: the access goes to userspace)
   */
  read(addr: number, len: number, data: Uint8Array): boolean {
    const n = this.#dev.length;
    for (let i = 0; i < n; i++) {
      if (!this.#covers(i, addr, len)) continue;
      const d = this.#dev[i]!;
      if (d.read !== undefined && d.read(addr, len, data)) return true;
    }
    return false;
  }

  /**
   * kvm_io_bus_write: the first covering device that handles the write consumes `data`.
   * @returns true when a device handled it
   */
  write(addr: number, len: number, data: Uint8Array): boolean {
    const n = this.#dev.length;
    for (let i = 0; i < n; i++) {
      if (!this.#covers(i, addr, len)) continue;
      const d = this.#dev[i]!;
      if (d.write !== undefined && d.write(addr, len, data)) return true;
    }
    return false;
  }

  /** kvm_io_bus_cmp: a zero-length device matches its address exactly; others must contain the access. */
  #covers(i: number, addr: number, len: number): boolean {
    const a = this.#addr[i]!;
    const l = this.#len[i]!;
    if (l === 0) return addr === a;
    return addr >= a && addr + len <= a + l;
  }
}
