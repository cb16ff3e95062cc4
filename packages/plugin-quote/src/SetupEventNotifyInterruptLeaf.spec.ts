import { describe, expect, it } from 'vitest';
import { Container } from 'inversify';
import { LEAF_PLUGIN, LeafRegistry, VcpuEmulation, type ExitShape } from '@seamkit/core';
import { LeafTestBed, TestMemory } from '@seamkit/core/testing';
import { EventNotifier } from './EventNotifier.js';
import { GetQuoteLeaf } from './GetQuoteLeaf.js';
import { quoteModule } from './quoteModule.js';
import { SetupEventNotifyInterruptLeaf } from './SetupEventNotifyInterruptLeaf.js';

// Reference values (kvm-tdx-abi.md 1.1, 1.6, 3; tdx-module-abi.md 7.9).
const SUCCESS = 0n;
const INVALID_OPERAND = 0x8000000000000000n;
const SUBFUNC_UNSUPPORTED = 0x8000000000000003n;
const TDX_SHAPE: ExitShape = { reason: 40, name: 'KVM_EXIT_TDX', headerEnd: 48, keyOffset: 40, keySize: 8 };

const bed = (vcpuIndex = 0, memory = new TestMemory()): LeafTestBed<SetupEventNotifyInterruptLeaf> =>
  new LeafTestBed(SetupEventNotifyInterruptLeaf, { shapes: [TDX_SHAPE], vcpuIndex, memory });

describe(SetupEventNotifyInterruptLeaf, () => {
  it('should declare 0x10004, KVM_EXIT_TDX keyed by 0x10004, ret@48 vector@56, and GetTdVmCallInfo R11 bit 1', () => {
    const { meta } = new SetupEventNotifyInterruptLeaf();
    expect(meta).toMatchObject({ name: 'tdx.setup-event-notify-interrupt', namespace: 'ghci', leaf: 0x10004, exit: { reason: 40, key: 0x10004 }, tdvmcallInfoR11: 2 });
    expect(meta.exit.layout).toEqual({ ret: { offset: 48, size: 8 }, vector: { offset: 56, size: 8 } });
  });

  it('should make the registry report R11 bit 1 (GetTdVmCallInfo leaf 1, KVM_TDX_CAPABILITIES user bits)', () => {
    const registry = new LeafRegistry([TDX_SHAPE]);
    expect(registry.userTdvmcallInfoR11()).toBe(0);
    registry.register(new SetupEventNotifyInterruptLeaf());
    registry.register(new GetQuoteLeaf());
    expect(registry.userTdvmcallInfoR11()).toBe(2);
  });

  describe('kernel half', () => {
    it.each([0n, 1n, 31n, 256n, 0xffffn, 0x1_0000_0040n, 0xffff_ffff_ffff_ffffn])('should answer vector %s with INVALID_OPERAND in the kernel, no exit', (vector) => {
      const b = bed();
      b.run.bytes.fill(0x5a);
      const out = b.tdvmcall({ r12: vector });
      expect(out.exitReason).toBe(0);
      expect(out.guest?.r10).toBe(INVALID_OPERAND);
      expect(b.run.bytes.every((x) => x === 0x5a)).toBe(true);
    });

    it.each([32n, 0x51n, 255n])('should exit for vector %s: nr 0x10004, ret preset SUBFUNC_UNSUPPORTED, vector', (vector) => {
      const b = bed();
      const out = b.tdvmcall({ r12: vector });
      expect(out.exitReason).toBe(40);
      expect(out.exit).toEqual({ ret: SUBFUNC_UNSUPPORTED, vector });
      expect(b.run.getU64(40)).toBe(0x10004n);
      expect(b.run.getU64(32)).toBe(0n);
    });

    it('should complete with R10 = ret: SUBFUNC_UNSUPPORTED when userspace ignores the exit', () => {
      const b = bed();
      b.tdvmcall({ r12: 0x40n });
      expect(b.complete().r10).toBe(SUBFUNC_UNSUPPORTED);
      b.tdvmcall({ r12: 0x40n });
      b.reply({ ret: SUCCESS });
      expect(b.complete().r10).toBe(SUCCESS);
    });
  });

  describe('userspace half (QEMU tdx_handle_setup_event_notify_interrupt)', () => {
    it('should remember the vector and the caller\'s APIC ID for the TD and answer SUCCESS', () => {
      const memory = new TestMemory();
      const b = bed(2, memory);
      b.tdvmcall({ r12: 0x51n });
      expect(b.user()).toBe(VcpuEmulation.HANDLED);
      expect(b.exitFields()['ret']).toBe(SUCCESS);
      expect(b.complete().r10).toBe(SUCCESS);
      expect(b.plugin.notifier.registration(memory)).toEqual({ vector: 0x51, apicId: 2 });
      expect(b.plugin.notifier.registration(new TestMemory())).toBeUndefined();
    });

    it('should keep the last registration of a TD (QEMU overwrites vector and APIC ID)', () => {
      const memory = new TestMemory();
      const notifier = new EventNotifier();
      const first = new LeafTestBed(new SetupEventNotifyInterruptLeaf(notifier), { shapes: [TDX_SHAPE], vcpuIndex: 0, memory });
      const second = new LeafTestBed(new SetupEventNotifyInterruptLeaf(notifier), { shapes: [TDX_SHAPE], vcpuIndex: 1, memory });
      first.tdvmcall({ r12: 0x40n });
      first.user();
      second.tdvmcall({ r12: 0x41n });
      second.user();
      expect(notifier.registration(memory)).toEqual({ vector: 0x41, apicId: 1 });
    });

    it.each([31n, 256n, 1n << 40n])('should answer INVALID_OPERAND for vector %s written by a VMM, and register nothing', (vector) => {
      const memory = new TestMemory();
      const b = bed(0, memory);
      b.tdvmcall({ r12: 0x40n });
      b.reply({ vector });
      b.user();
      expect(b.exitFields()['ret']).toBe(INVALID_OPERAND);
      expect(b.plugin.notifier.registration(memory)).toBeUndefined();
    });
  });

  it('should share one EventNotifier with GetQuote through quoteModule', () => {
    const c = new Container();
    c.load(quoteModule);
    const plugins = c.getAll(LEAF_PLUGIN);
    expect(plugins.map((p) => p.meta.name)).toEqual(['tdx.get-quote', 'tdx.setup-event-notify-interrupt']);
    expect(c.get(SetupEventNotifyInterruptLeaf).notifier).toBe(c.get(GetQuoteLeaf).notifier);
    expect(c.get(GetQuoteLeaf).notifier).toBe(c.get(EventNotifier));
  });
});
