import type { ExitBuffer, LeafContext, LeafHooks, LeafNamespace, LeafPlugin, VmmEvent } from '@seamkit/core';
import { R10, R11 } from '@seamkit/seam-cpu';
import { exitName, hex, leafName, statusName } from './names.js';

/** One line of a trace. */
export interface TraceRecord {
  /**
   * What happened: a TD exit (only with `tdExits`), a TDVMCALL answered in the kernel model, a
   * userspace exit, the completion of one, or a VMM event.
   */
  readonly kind: 'td-exit' | 'kernel' | 'exit' | 'complete' | 'event';
  /** Milliseconds since the tracer started (only with `timing`). */
  readonly t?: number;
  /** For `kernel` and `complete`: microseconds from the TD exit to the answer being ready (only with `timing`). */
  readonly latencyUs?: number;
  /** For `td-exit`: the TDH.VP.ENTER status, hex. */
  readonly status?: string;
  /** vCPU index. */
  readonly vcpu: number;
  /** TDVMCALL leaf (R11, or the hypercall number), if any. */
  readonly leaf?: number;
  /** Readable leaf name. */
  readonly leafName?: string;
  /** Plugin that handled it ('' if none). */
  readonly plugin?: string;
  /** KVM_EXIT_* reason of a userspace exit. */
  readonly reason?: number;
  /** Its name. */
  readonly reasonName?: string;
  /** Decoded exit struct (hex strings), from the plugin's declared layout. */
  readonly fields?: Readonly<Record<string, string | string[]>>;
  /** What the guest got back in R10 (and R11). */
  readonly guest?: { readonly r10: string; readonly r10Name: string; readonly r11: string };
  /** Event (for kind 'event'). */
  readonly event?: Readonly<Record<string, unknown>>;
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

/**
 * Collects a trace of a TD's TDVMCALLs through the leaf hooks (kernel dispatch and completion)
 * and VMM events, and hands each record to a sink as it happens.
 */
export class Tracer implements LeafHooks {
  /** Every record so far. */
  readonly records: TraceRecord[] = [];
  readonly #sink: (r: TraceRecord) => void;
  readonly #timing: boolean;
  readonly #tdExits: boolean;
  readonly #t0 = performance.now();
  readonly #exitAt = new Map<number, number>();

  /**
   * @param sink - receives each record (e.g. prints it)
   * @param options - `timing`: timestamps and latencies; `tdExits`: a record for every TD exit
   */
  constructor(sink: (r: TraceRecord) => void = () => undefined, options: { readonly timing?: boolean; readonly tdExits?: boolean } = {}) {
    this.#sink = sink;
    this.#timing = options.timing === true || options.tdExits === true;
    this.#tdExits = options.tdExits === true;
  }

  #add(r: TraceRecord, vcpu = -1): void {
    let rec = r;
    if (this.#timing) {
      const now = performance.now();
      const at = this.#exitAt.get(vcpu);
      rec = {
        ...r, t: Math.round((now - this.#t0) * 1000) / 1000,
        ...((r.kind === 'kernel' || r.kind === 'complete') && at !== undefined ? { latencyUs: Math.round((now - at) * 1000 * 10) / 10 } : {}),
      };
    }
    this.records.push(rec);
    this.#sink(rec);
  }

  /** {@inheritDoc @seamkit/core!LeafHooks.onTdExit} */
  onTdExit(ctx: LeafContext, statusLo: number, statusHi: number): void {
    if (!this.#timing) return;
    this.#exitAt.set(ctx.vcpuIndex, performance.now());
    if (this.#tdExits) {
      this.#add({ kind: 'td-exit', vcpu: ctx.vcpuIndex, reason: statusLo & 0xffff, status: `0x${((BigInt(statusHi) << 32n) | BigInt(statusLo)).toString(16)}` }, ctx.vcpuIndex);
    }
  }

  /** {@inheritDoc @seamkit/core!LeafHooks.onDispatch} */
  onDispatch(ctx: LeafContext, namespace: LeafNamespace, leaf: number, plugin: LeafPlugin | undefined, exitReason: number): void {
    const name = namespace === 'ghci' ? leafName(leaf) : `${namespace === 'vendor' ? 'vendor leaf' : 'hypercall'} ${hex(leaf)}`;
    if (exitReason === 0) {
      const r10 = ctx.regs.get(R10);
      this.#add({
        kind: 'kernel', vcpu: ctx.vcpuIndex, leaf, leafName: name, plugin: plugin?.meta.name ?? '',
        guest: { r10: hex(r10), r10Name: statusName(r10), r11: hex(ctx.regs.get(R11)) },
      }, ctx.vcpuIndex);
      return;
    }
    this.#add({
      kind: 'exit', vcpu: ctx.vcpuIndex, leaf, leafName: name, plugin: plugin?.meta.name ?? '', reason: exitReason,
      reasonName: exitName(exitReason), fields: plugin === undefined ? {} : decodeFields(ctx.run, plugin),
    }, ctx.vcpuIndex);
  }

  /** {@inheritDoc @seamkit/core!LeafHooks.onComplete} */
  onComplete(ctx: LeafContext, plugin: LeafPlugin): void {
    const r10 = ctx.regs.get(R10);
    this.#add({
      kind: 'complete', vcpu: ctx.vcpuIndex, leaf: plugin.meta.leaf, leafName: leafName(plugin.meta.leaf), plugin: plugin.meta.name,
      guest: { r10: hex(r10), r10Name: statusName(r10), r11: hex(ctx.regs.get(R11)) },
    }, ctx.vcpuIndex);
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

/** One readable line for a record. */
export function formatRecord(r: TraceRecord): string {
  const p = `[vcpu${r.vcpu}]`;
  switch (r.kind) {
    case 'td-exit':
      return `${p} TD exit: TDH.VP.ENTER returned ${r.status} (VMX exit reason ${r.reason})`;
    case 'kernel':
      return `${p} TDVMCALL ${r.leafName} answered in the kernel model${r.plugin ? ` by ${r.plugin}` : ' (no plugin registered)'} -> guest R10=${r.guest!.r10} (${r.guest!.r10Name})`;
    case 'exit': {
      const f = Object.entries(r.fields ?? {}).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : v}`).join(' ');
      return `${p} TDVMCALL ${r.leafName} -> ${r.reasonName} (${r.reason}) via ${r.plugin}: ${f}`;
    }
    case 'complete':
      return `${p}   completion of ${r.leafName} -> guest R10=${r.guest!.r10} (${r.guest!.r10Name}) R11=${r.guest!.r11}`;
    case 'event':
      if (r.event?.['type'] === 'guest-panic') return `${p}   guest panic: ${String(r.event['log'])}`;
      if (r.event?.['type'] === 'guest-crash') return `${p}   guest code threw: ${String(r.event['error'])} (the vCPU triple faulted)`;
      return `${p}   ${String(r.event?.['type'])}: ${JSON.stringify(r.event, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`;
  }
}
