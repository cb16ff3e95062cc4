import { describe, expect, it } from 'vitest';
import { SeamkitError } from '@seamkit/seam-cpu';
import { Kvm } from '../Kvm.js';
import { KVM_X86_TDX_VM } from '../uapi/tdx.js';
import { KvmIoBus, NR_IOBUS_DEVS, type KvmIoDevice } from './IoBus.js';

function fail(fn: () => unknown): SeamkitError {
  try {
    fn();
  } catch (err) {
    if (SeamkitError.is(err)) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('KvmIoBus (kvm_io_bus)', () => {
  const tag = (name: string, log: string[]): KvmIoDevice => ({
    read: (addr, len, data) => {
      log.push(`${name} r ${addr} ${len}`);
      data[0] = name.charCodeAt(0);
      return true;
    },
    write: (addr, len) => (log.push(`${name} w ${addr} ${len}`), true),
  });

  it('should match accesses inside a device range, and zero-length devices only at their address', () => {
    const log: string[] = [];
    const bus = new KvmIoBus();
    bus.register(0x100, 0x10, tag('a', log));
    bus.register(0x200, 0, tag('z', log));
    expect(bus.read(0x100, 4, bus.data)).toBe(true);
    expect(bus.read(0x10e, 2, bus.data)).toBe(true);
    expect(bus.read(0x10e, 4, bus.data)).toBe(false); // runs past the end
    expect(bus.write(0x200, 8, bus.data)).toBe(true);
    expect(bus.write(0x201, 0, bus.data)).toBe(false);
    expect(log).toEqual(['a r 256 4', 'a r 270 2', 'z w 512 8']);
  });

  it('should try overlapping devices in address order until one handles the access', () => {
    const log: string[] = [];
    const bus = new KvmIoBus();
    bus.register(0x104, 4, tag('b', log));
    bus.register(0x100, 0x10, { read: () => (log.push('declined'), false) });
    expect(bus.read(0x104, 1, bus.data)).toBe(true);
    expect(bus.data[0]).toBe('b'.charCodeAt(0));
    expect(log).toEqual(['declined', 'b r 260 1']);
  });

  it('should refuse bad ranges (EINVAL) and more than NR_IOBUS_DEVS devices (ENOSPC), and unregister every registration', () => {
    const bus = new KvmIoBus();
    expect(fail(() => bus.register(-1, 1, {})).errno).toBe(22);
    expect(fail(() => bus.register(0, 0.5, {})).errno).toBe(22);
    const dev: KvmIoDevice = {};
    for (let i = 0; i < NR_IOBUS_DEVS; i++) bus.register(i, 1, dev);
    const err = fail(() => bus.register(0, 1, {}));
    expect([err.code, err.errno]).toEqual(['SEAMKIT_ERR_KVM_NOMEM', 28]);
    expect(bus.unregister(dev)).toBe(true);
    expect(bus.size).toBe(0);
  });

  it('should refuse an unknown bus id on the VM with EINVAL', () => {
    const vm = new Kvm().createVm(KVM_X86_TDX_VM);
    expect(fail(() => vm.registerIoDevice(2, 0, 1, {})).errno).toBe(22);
    expect(fail(() => vm.unregisterIoDevice(7, {})).errno).toBe(22);
  });
});
