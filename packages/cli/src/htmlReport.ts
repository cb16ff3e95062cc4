import type { RunScenarioResult } from './runScenario.js';
import type { TraceRecord } from './Tracer.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Latency buckets in microseconds (upper bounds), log scale. */
export const LATENCY_BUCKETS_US = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, Infinity] as const;

/** Per-leaf statistics of a run. */
export interface LeafStats {
  /** Leaf name. */
  readonly leaf: string;
  /** TDVMCALLs. */
  readonly count: number;
  /** Of which exited to userspace. */
  readonly exits: number;
  /** Counts per {@link LATENCY_BUCKETS_US} bucket. */
  readonly histogram: number[];
}

/** Groups a trace by leaf, with a latency histogram (needs records with `latencyUs`). */
export function leafStats(records: readonly TraceRecord[]): LeafStats[] {
  const by = new Map<string, { count: number; exits: number; histogram: number[] }>();
  const get = (leaf: string): { count: number; exits: number; histogram: number[] } => {
    let s = by.get(leaf);
    if (s === undefined) {
      s = { count: 0, exits: 0, histogram: LATENCY_BUCKETS_US.map(() => 0) };
      by.set(leaf, s);
    }
    return s;
  };
  for (const r of records) {
    if (r.leafName === undefined) continue;
    const s = get(r.leafName);
    if (r.kind === 'kernel' || r.kind === 'exit') s.count++;
    if (r.kind === 'exit') s.exits++;
    if ((r.kind === 'kernel' || r.kind === 'complete') && r.latencyUs !== undefined) {
      const b = LATENCY_BUCKETS_US.findIndex((u) => r.latencyUs! <= u);
      s.histogram[b]!++;
    }
  }
  return [...by.entries()].map(([leaf, s]) => ({ leaf, ...s }));
}

/**
 * A self-contained HTML page for a run: summary, an exit timeline per vCPU (SVG), per-leaf
 * counts, and a latency histogram per leaf. No external resources; the small script only adds
 * hover details and marks the page ready (`data-ready="1"` on body, or `data-error` on a script
 * error), which the browser test checks.
 */
export function htmlReport(result: RunScenarioResult): string {
  const recs = result.records.filter((r) => r.kind !== 'td-exit');
  const tMax = Math.max(0.001, ...recs.map((r) => r.t ?? 0));
  const W = 900;
  const rowH = 28;
  const color: Record<string, string> = { kernel: '#3b82f6', exit: '#f59e0b', 'kvm-exit': '#a855f7', complete: '#10b981', vmm: '#06b6d4', event: '#ef4444' };
  const marks = recs.map((r, i) => {
    const x = 60 + ((r.t ?? 0) / tMax) * (W - 80);
    const y = 20 + Math.max(0, r.vcpu) * rowH;
    const label = `${r.kind} ${r.leafName ?? r.message ?? String(r.event?.['type'] ?? '')}${r.reasonName ? ` -> ${r.reasonName}` : ''}${r.detail !== undefined ? `: ${r.detail}` : ''}${r.guest ? ` R10=${r.guest.r10Name}` : ''}${r.latencyUs !== undefined ? ` (${r.latencyUs} us)` : ''} at ${r.t ?? 0} ms`;
    return `<circle data-i="${i}" cx="${x.toFixed(1)}" cy="${y}" r="5" fill="${color[r.kind] ?? '#888'}"><title>${esc(label)}</title></circle>`;
  }).join('');
  const rows = Array.from({ length: result.vcpus }, (_, v) => `<text x="4" y="${24 + v * rowH}" font-size="12">vcpu${v}</text><line x1="60" x2="${W - 20}" y1="${20 + v * rowH}" y2="${20 + v * rowH}" stroke="#ddd"/>`).join('');
  const stats = leafStats(result.records);
  const maxBucket = Math.max(1, ...stats.flatMap((s) => s.histogram));
  const hist = stats.map((s) => {
    const bars = s.histogram.map((n, b) => {
      const h = (n / maxBucket) * 60;
      return `<rect x="${b * 34}" y="${70 - h}" width="28" height="${h}" fill="#6366f1"><title>${n} within ${LATENCY_BUCKETS_US[b] === Infinity ? '>5000' : `<=${LATENCY_BUCKETS_US[b]}`} us</title></rect><text x="${b * 34 + 14}" y="84" font-size="9" text-anchor="middle">${LATENCY_BUCKETS_US[b] === Infinity ? 'more' : LATENCY_BUCKETS_US[b]}</text>`;
    }).join('');
    return `<div class="h"><h3>${esc(s.leaf)}</h3><svg width="${LATENCY_BUCKETS_US.length * 34}" height="90" role="img" aria-label="latency histogram of ${esc(s.leaf)}">${bars}</svg></div>`;
  }).join('');
  const table = stats.map((s) => `<tr><td>${esc(s.leaf)}</td><td>${s.count}</td><td>${s.exits}</td><td>${s.count - s.exits}</td></tr>`).join('');
  const exits = Object.entries(result.exits).map(([k, v]) => `${esc(k)} &times;${v}`).join(', ') || 'none';
  const panics = result.panics.map((p) => `<li><code>${esc(p.log)}</code></li>`).join('');
  const failures = result.failures.map((f) => `<li>${esc(f)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>seamkit run ${esc(result.scenario)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#111}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
code{font-size:12px}.h{display:inline-block;margin:0 24px 12px 0}.legend span{margin-right:12px}#detail{min-height:1.4em;color:#444}</style></head>
<body>
<h1>seamkit run ${esc(result.scenario)}</h1>
<p>${result.vcpus} vCPU(s), MRTD <code>${esc(result.mrtd)}</code></p>
<p>${result.tdvmcalls} TDVMCALLs: ${result.kernelAnswered} answered in the kernel model, ${result.tdvmcalls - result.kernelAnswered} exited to userspace (${exits}).</p>
${panics ? `<h2>Guest panics</h2><ul>${panics}</ul>` : ''}
${failures ? `<h2>Failed checks</h2><ul>${failures}</ul>` : ''}
<h2>Exit timeline</h2>
<p class="legend"><span style="color:${color['kernel']}">&#9679; answered in kernel</span><span style="color:${color['exit']}">&#9679; exit to userspace</span><span style="color:${color['kvm-exit']}">&#9679; other exit to userspace</span><span style="color:${color['complete']}">&#9679; completion</span><span style="color:${color['vmm']}">&#9679; VMM note</span><span style="color:${color['event']}">&#9679; event</span></p>
<svg id="timeline" width="${W}" height="${20 + result.vcpus * rowH}" role="img" aria-label="exit timeline">${rows}${marks}</svg>
<p id="detail"></p>
<h2>Per leaf</h2>
<table><tr><th>leaf</th><th>TDVMCALLs</th><th>exits to userspace</th><th>answered in kernel</th></tr>${table}</table>
<h2>Latency (TD exit to answer, microseconds)</h2>
${hist}
<script>
window.addEventListener('error', function (e) { document.body.setAttribute('data-error', String(e.message)); });
(function () {
  var detail = document.getElementById('detail');
  var marks = document.querySelectorAll('#timeline circle');
  for (var i = 0; i < marks.length; i++) {
    marks[i].addEventListener('mouseenter', function (ev) { detail.textContent = ev.target.querySelector('title').textContent; });
  }
  document.body.setAttribute('data-ready', String(marks.length));
})();
</script>
</body></html>
`;
}
