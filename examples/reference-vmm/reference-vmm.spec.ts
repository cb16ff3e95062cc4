import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mapGpaHypercalls } from './embed.js';

const root = new URL('../../', import.meta.url);
const bin = fileURLToPath(new URL('packages/cli/dist/bin.js', root));
const doc = readFileSync(new URL('docs/reference-vmm.md', root), 'utf8');

function seamkit(args: string[]): string {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: fileURLToPath(root), encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return r.stdout;
}

describe('docs/reference-vmm.md', () => {
  // `<!-- output: ARGS -->` before a text block: the block is what `seamkit ARGS` prints (built CLI);
  // `<!-- output-head: ARGS -->`: the block is how that output begins.
  const blocks = [...doc.matchAll(/<!-- output(-head)?: ([^>]+) -->\n```text\n([\s\S]*?)\n```/g)];

  it('shows command output', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  for (const [, head, args, block] of blocks) {
    it(`shows what \`seamkit ${args!.trim()}\` prints`, () => {
      const out = seamkit(args!.trim().split(/\s+/)).trimEnd();
      if (head !== undefined) expect(out.startsWith(block!)).toBe(true);
      else expect(out).toBe(block);
    }, 60_000);
  }
});

describe('examples/reference-vmm/embed', () => {
  it('runs map-gpa from code: three 2 MiB KVM_EXIT_HYPERCALL chunks each way', async () => {
    const { lines, failures } = await mapGpaHypercalls();
    expect(failures).toEqual([]);
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^\[vcpu0\] TDVMCALL MapGPA -> KVM_EXIT_HYPERCALL \(3\) via kvm.map-gpa: KVM_HC_MAP_GPA_RANGE 0x400000\.\.0x600000/);
    expect(lines[5]).toMatch(/^\[vcpu0\] KVM_EXIT_HYPERCALL \(3\) MapGPA continues via kvm.map-gpa: KVM_HC_MAP_GPA_RANGE 0x800000\.\.0xa00000 \(512 pages, 2 MiB\) to private/);
  });
});
