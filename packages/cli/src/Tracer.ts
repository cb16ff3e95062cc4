import type { ExitBuffer, LeafContext, LeafHooks, LeafNamespace, LeafPlugin, VmmEvent } from '@seamkit/core';
import {
  KVM_EXIT_HYPERCALL, KVM_EXIT_INTR, KVM_EXIT_IO, KVM_EXIT_IO_OUT, KVM_EXIT_MEMORY_FAULT, KVM_EXIT_MMIO, KVM_EXIT_SHUTDOWN,
  KVM_EXIT_SYSTEM_EVENT, KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MEMORY_EXIT_FLAG_PRIVATE, KVM_RUN_LAYOUT as L,
} from '@seamkit/kvm/uapi';
import { R10, R11 } from '@seamkit/seam-cpu/abi';
import { exitName, hex, leafName, statusName, systemEventName, vmxExitName } from './names.js';

/** One line of a trace. */
export interface TraceRecord {
  /**
   * What happened: a TD exit (only with `tdExits`), a TDVMCALL answered in the kernel model, a
   * TDVMCALL's exit to userspace, the completion of one (what the guest got back), another exit
   * to userspace (`kvm-exit`: the next chunk of a TDVMCALL in progress, KVM_EXIT_MEMORY_FAULT,
   * KVM_EXIT_SHUTDOWN, a halted vCPU's KVM_RUN returning EINTR), a note of the scenario's VMM side
   * (`vmm`), or a VMM event.
   */
  readonly kind: 'td-exit' | 'kernel' | 'exit' | 'complete' | 'kvm-exit' | 'vmm' | 'event';
  /** Milliseconds since the tracer started (only with `timing`). */
  readonly t?: number;
  /** For `kernel` and `complete`: microseconds from the TD exit to the answer being ready (only with `timing`). */
  readonly latencyUs?: number;
  /** For `td-exit`: the TDH.VP.ENTER status, hex. */
  readonly status?: string;
  /** vCPU index (-1 when no vCPU is concerned). */
  readonly vcpu: number;
  /** TDVMCALL leaf (R11, or the hypercall number), if any. */
  readonly leaf?: number;
  /** Readable leaf name. */
  readonly leafName?: string;
  /** Plugin that handled it ('' if none). */
  readonly plugin?: string;
  /** KVM_EXIT_* reason of an exit to userspace (for `td-exit`: the VMX exit reason). */
  readonly reason?: number;
  /** Its name. */
  readonly reasonName?: string;
  /** Decoded exit struct (hex strings), from the plugin's declared layout. */
  readonly fields?: Readonly<Record<string, string | string[]>>;
  /** For `exit` and `kvm-exit`: the exit struct in words, e.g. `OUT port 0x31, 4 bytes: 0x1`. */
  readonly detail?: string;
  /** What the guest got back in R10 (and R11). */
  readonly guest?: {
    /** R10 (the TDVMCALL status), hex. */ readonly r10: string;
    /** Its name (SUCCESS, INVALID_OPERAND, ...). */ readonly r10Name: string;
    /** R11, hex. */ readonly r11: string;
  };
  /** Event (for kind 'event'). */
  readonly event?: Readonly<Record<string, unknown>>;
  /** For `vmm`: what the scenario's VMM side reports. */
  readonly message?: string;
  /** For `vmm`: values behind the message. */
  readonly data?: Readonly<Record<string, string | number | boolean>>;
  /** For `vmm`: false for a failed check (the run fails). */
  readonly ok?: boolean;
}

function decodeFields(run: ExitBuffer, plugin: LeafPlugin): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const layout = plugin.meta.exit?.layout ?? {};
  for (const [name, f] of Object.entries(layout)) {
    if (f.size === 8) out[name] = hex(run.getU64(f.offset));
    else if (f.size === 4) out[name] = hex(run.view.getUint32(f.offset, true));
    else if (f.size === 2) out[name] = hex(run.view.getUint16(f.offset, true));
    else if (f.size === 1) out[name] = hex(run.bytes[f.offset]!);
    else {
      const words: string[] = [];
      for (let o = 0; o + 8 <= f.size; o += 8) words.push(hex(run.getU64(f.offset + o)));
      out[name] = words;
    }
  }
  return out;
}

/** Little-endian value of `len` bytes at `offset`. */
function bytesValue(run: ExitBuffer, offset: number, len: number): bigint {
  let v = 0n;
  for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(run.bytes[offset + i] ?? 0);
  return v;
}

/** A size in bytes as KiB / MiB when it is a whole number of them. */
function sizeText(bytes: number): string {
  if (bytes >= 2 ** 20 && bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  if (bytes >= 2 ** 10 && bytes % 2 ** 10 === 0) return `${bytes / 2 ** 10} KiB`;
  return `${bytes} bytes`;
}

/**
 * The exit struct of a userspace exit in words, for the exits where the raw fields need reading
 * (IO, MMIO, HYPERCALL / KVM_HC_MAP_GPA_RANGE, MEMORY_FAULT, SYSTEM_EVENT, SHUTDOWN); undefined
 * for other reasons. Reads `run` as it is when the exit reaches userspace.
 */
export function describeExit(reason: number, run: ExitBuffer): string | undefined {
  switch (reason) {
    case KVM_EXIT_IO: {
      const out = run.bytes[L['io.direction'].offset] === KVM_EXIT_IO_OUT;
      const size = run.bytes[L['io.size'].offset]!;
      const port = run.view.getUint16(L['io.port'].offset, true);
      const dataAt = run.getU64Number(L['io.data_offset'].offset);
      return out ? `OUT port ${hex(port)}, ${size} byte(s): ${hex(bytesValue(run, dataAt, size))}` : `IN port ${hex(port)}, ${size} byte(s)`;
    }
    case KVM_EXIT_MMIO: {
      const gpa = run.getU64(L['mmio.phys_addr'].offset);
      const len = run.getU32(L['mmio.len'].offset);
      return run.bytes[L['mmio.is_write'].offset] !== 0
        ? `MMIO write ${hex(gpa)}, ${len} byte(s): ${hex(bytesValue(run, L['mmio.data'].offset, len))}`
        : `MMIO read ${hex(gpa)}, ${len} byte(s)`;
    }
    case KVM_EXIT_HYPERCALL: {
      const nr = run.getU64Number(L['hypercall.nr'].offset);
      if (nr !== KVM_HC_MAP_GPA_RANGE) return `hypercall ${nr}`;
      const a = L['hypercall.args'].offset;
      const gpa = run.getU64Number(a);
      const pages = run.getU64Number(a + 8);
      const toPrivate = (run.getU64(a + 16) & BigInt(KVM_MAP_GPA_RANGE_ENCRYPTED)) !== 0n;
      return `KVM_HC_MAP_GPA_RANGE ${hex(gpa)}..${hex(gpa + pages * 4096)} (${pages} pages, ${sizeText(pages * 4096)}) to ${toPrivate ? 'private' : 'shared'}`;
    }
    case KVM_EXIT_MEMORY_FAULT: {
      const flags = run.getU64(L['memory_fault.flags'].offset);
      const gpa = run.getU64(L['memory_fault.gpa'].offset);
      const size = run.getU64Number(L['memory_fault.size'].offset);
      const priv = (flags & BigInt(KVM_MEMORY_EXIT_FLAG_PRIVATE)) !== 0n;
      return `${priv ? 'private' : 'shared'} access to ${priv ? 'shared' : 'private'} memory at ${hex(gpa)}, ${sizeText(size)} (flags ${hex(flags)}${priv ? ' PRIVATE' : ''}): convert it to ${priv ? 'private' : 'shared'}`;
    }
    case KVM_EXIT_SYSTEM_EVENT:
      return `system event ${systemEventName(run.getU32(L['system_event.type'].offset))}`;
    case KVM_EXIT_SHUTDOWN:
      return 'triple fault: the guest has nothing left to run (or its code threw)';
    default:
      return undefined;
  }
}

/**
 * Collects a trace of a TD's TDVMCALLs through the leaf hooks (kernel dispatch and completion),
 * the run loop's userspace exits ({@link userExit}), halted vCPUs, VMM notes and VMM events, and
 * hands each record to a sink as it happens. A completion is recorded once the guest runs again:
 * a completion that exits to userspace once more (the next 2 MiB chunk of a MapGPA) is recorded
 * as that exit instead, since the guest got nothing yet.
 */
export class Tracer implements LeafHooks {
  /** Every record so far. */
  readonly records: TraceRecord[] = [];
  readonly #sink: (r: TraceRecord) => void;
  readonly #timing: boolean;
  readonly #tdExits: boolean;
  readonly #t0 = performance.now();
  readonly #exitAt = new Map<number, number>();
  /** vCPUs whose current userspace exit was recorded at dispatch. */
  readonly #dispatched = new Set<number>();
  /** Completions not recorded yet, by vCPU, with their plugin. */
  readonly #held = new Map<number, { readonly record: TraceRecord; readonly plugin: LeafPlugin }>();

  /**
   * @param sink - receives each record (e.g. prints it)
   * @param options - `timing`: timestamps and latencies; `tdExits`: a record for every TD exit
   */
  constructor(sink: (r: TraceRecord) => void = () => undefined, options: { readonly timing?: boolean; readonly tdExits?: boolean } = {}) {
    this.#sink = sink;
    this.#timing = options.timing === true || options.tdExits === true;
    this.#tdExits = options.tdExits === true;
  }

  #stamp(r: TraceRecord, vcpu: number): TraceRecord {
    if (!this.#timing) return r;
    const now = performance.now();
    const at = this.#exitAt.get(vcpu);
    return {
      ...r, t: Math.round((now - this.#t0) * 1000) / 1000,
      ...((r.kind === 'kernel' || r.kind === 'complete') && at !== undefined ? { latencyUs: Math.round((now - at) * 1000 * 10) / 10 } : {}),
    };
  }

  #emit(r: TraceRecord): void {
    this.records.push(r);
    this.#sink(r);
  }

  #add(r: TraceRecord, vcpu = -1): void {
    this.#flush(vcpu);
    this.#emit(this.#stamp(r, vcpu));
  }

  /** Records the held completion of `vcpu`, if any. */
  #flush(vcpu: number): void {
    const held = this.#held.get(vcpu);
    if (held === undefined) return;
    this.#held.delete(vcpu);
    this.#emit(held.record);
  }

  /** Records every completion still held (call at the end of a run). */
  flush(): void {
    for (const vcpu of [...this.#held.keys()]) this.#flush(vcpu);
  }

  /** {@inheritDoc @seamkit/core!LeafHooks.onTdExit} */
  onTdExit(ctx: LeafContext, statusLo: number, statusHi: number): void {
    const vcpu = ctx.vcpuIndex;
    this.#flush(vcpu);
    if (!this.#timing) return;
    this.#exitAt.set(vcpu, performance.now());
    if (this.#tdExits) {
      const reason = statusLo & 0xffff;
      this.#add({
        kind: 'td-exit', vcpu, reason, reasonName: vmxExitName(reason),
        status: `0x${((BigInt(statusHi) << 32n) | BigInt(statusLo >>> 0)).toString(16)}`,
      }, vcpu);
    }
  }

  /** {@inheritDoc @seamkit/core!LeafHooks.onDispatch} */
  onDispatch(ctx: LeafContext, namespace: LeafNamespace, leaf: number, plugin: LeafPlugin | undefined, exitReason: number): void {
    const vcpu = ctx.vcpuIndex;
    const name = namespace === 'ghci' ? leafName(leaf) : `${namespace === 'vendor' ? 'vendor leaf' : 'hypercall'} ${hex(leaf)}`;
    if (exitReason === 0) {
      const r10 = ctx.regs.get(R10);
      this.#add({
        kind: 'kernel', vcpu, leaf, leafName: name, plugin: plugin?.meta.name ?? '',
        guest: { r10: hex(r10), r10Name: statusName(r10), r11: hex(ctx.regs.get(R11)) },
      }, vcpu);
      return;
    }
    const detail = describeExit(exitReason, ctx.run);
    this.#add({
      kind: 'exit', vcpu, leaf, leafName: name, plugin: plugin?.meta.name ?? '', reason: exitReason,
      reasonName: exitName(exitReason), fields: plugin === undefined ? {} : decodeFields(ctx.run, plugin), ...(detail !== undefined ? { detail } : {}),
    }, vcpu);
    this.#dispatched.add(vcpu);
  }

  /** {@inheritDoc @seamkit/core!LeafHooks.onComplete} */
  onComplete(ctx: LeafContext, plugin: LeafPlugin): void {
    const vcpu = ctx.vcpuIndex;
    this.#flush(vcpu);
    const r10 = ctx.regs.get(R10);
    const record = this.#stamp({
      kind: 'complete', vcpu, leaf: plugin.meta.leaf, leafName: leafName(plugin.meta.leaf), plugin: plugin.meta.name,
      guest: { r10: hex(r10), r10Name: statusName(r10), r11: hex(ctx.regs.get(R11)) },
    }, vcpu);
    this.#held.set(vcpu, { record, plugin });
  }

  /**
   * An exit reached userspace (the run loop's `onUserExit`): records it unless it is the exit of
   * a TDVMCALL already recorded at dispatch. An exit right after a completion, with no guest run
   * between, continues that TDVMCALL (the next MapGPA chunk).
   */
  userExit(vcpu: number, reason: number, run: ExitBuffer): void {
    if (this.#dispatched.delete(vcpu)) return;
    const held = this.#held.get(vcpu);
    this.#held.delete(vcpu);
    const detail = describeExit(reason, run);
    const base = { kind: 'kvm-exit', vcpu, reason, reasonName: exitName(reason), ...(detail !== undefined ? { detail } : {}) } as const;
    if (held === undefined) {
      this.#add(base, vcpu);
      return;
    }
    const p = held.plugin;
    this.#add({ ...base, leaf: p.meta.leaf, leafName: held.record.leafName ?? leafName(p.meta.leaf), plugin: p.meta.name, fields: decodeFields(run, p) }, vcpu);
  }

  /** A vCPU's KVM_RUN returned EINTR: it halted and nothing pending wakes it (yet). */
  halted(vcpu: number): void {
    this.#add({
      kind: 'kvm-exit', vcpu, reason: KVM_EXIT_INTR, reasonName: exitName(KVM_EXIT_INTR),
      detail: 'KVM_RUN returned -EINTR: the vCPU halted and nothing pending wakes it yet',
    }, vcpu);
  }

  /** Records a note of the VMM side (`ok` false: a failed check). */
  note(vcpu: number, message: string, data?: Readonly<Record<string, string | number | boolean>>, ok = true): void {
    this.#add({ kind: 'vmm', vcpu, message, ...(data !== undefined ? { data } : {}), ...(ok ? {} : { ok: false }) }, vcpu);
  }

  /** Records a VMM event (panic, plugin error). */
  onEvent(e: VmmEvent): void {
    const { type, ...rest } = e;
    const event: Record<string, unknown> = { type };
    for (const [k, v] of Object.entries(rest)) event[k] = v instanceof Error ? v.message : typeof v === 'bigint' ? `0x${v.toString(16)}` : v;
    const vcpu = 'vcpuIndex' in e ? e.vcpuIndex : -1;
    this.#add({ kind: 'event', vcpu, event }, vcpu);
  }
}

function fieldsText(fields: TraceRecord['fields']): string {
  return Object.entries(fields ?? {}).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : v}`).join(' ');
}

/** One readable line for a record. */
export function formatRecord(r: TraceRecord): string {
  const p = r.vcpu < 0 ? '[vmm]' : `[vcpu${r.vcpu}]`;
  switch (r.kind) {
    case 'td-exit':
      return `${p} TD exit: TDH.VP.ENTER returned ${r.status} (VMX exit reason ${r.reason}) ${r.reasonName ?? ''}`.trimEnd();
    case 'kernel':
      return `${p} TDVMCALL ${r.leafName} answered in the kernel model${r.plugin ? ` by ${r.plugin}` : ' (no plugin registered)'} -> guest R10=${r.guest!.r10} (${r.guest!.r10Name}) R11=${r.guest!.r11}`;
    case 'exit': {
      const f = fieldsText(r.fields);
      return `${p} TDVMCALL ${r.leafName} -> ${r.reasonName} (${r.reason}) via ${r.plugin}: ${r.detail !== undefined ? `${r.detail} (${f})` : f}`;
    }
    case 'kvm-exit': {
      const what = r.leafName !== undefined ? ` ${r.leafName} continues via ${r.plugin}` : '';
      const f = r.fields !== undefined ? ` (${fieldsText(r.fields)})` : '';
      return `${p} ${r.reasonName} (${r.reason})${what}: ${r.detail ?? 'exit to userspace'}${f}`;
    }
    case 'complete':
      return `${p}   completion of ${r.leafName} -> guest R10=${r.guest!.r10} (${r.guest!.r10Name}) R11=${r.guest!.r11}`;
    case 'vmm':
      return `${p}   vmm: ${r.ok === false ? 'FAILED: ' : ''}${r.message}`;
    case 'event':
      if (r.event?.['type'] === 'guest-panic') return `${p}   guest panic: ${String(r.event['log'])}`;
      if (r.event?.['type'] === 'guest-crash') return `${p}   guest code threw: ${String(r.event['error'])} (the vCPU triple faulted)`;
      return `${p}   ${String(r.event?.['type'])}: ${JSON.stringify(r.event, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`;
  }
}
