import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const typedoc = fileURLToPath(new URL('../../../node_modules/typedoc/bin/typedoc', import.meta.url));

/** Budget for a full typedoc run (it takes a few seconds); a slower run is a regression. */
const BUDGET_MS = 30_000;

describe('npx typedoc (typedoc.json)', () => {
  it('should document every export with zero warnings, well under a minute', () => {
    const start = performance.now();
    // --emit none: convert and validate everything, write nothing.
    const r = spawnSync(process.execPath, [typedoc, '--emit', 'none'], { cwd: root, encoding: 'utf8' });
    const elapsed = performance.now() - start;
    const output = `${r.stdout}${r.stderr}`;
    expect(output, output).not.toMatch(/\[(warning|error)\]/);
    expect(r.status, output).toBe(0);
    expect(elapsed, `typedoc took ${Math.round(elapsed)} ms`).toBeLessThan(BUDGET_MS);
  }, 120_000);
});
