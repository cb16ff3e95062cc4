import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const docs = ['README.md', ...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('code in the docs comes from files CI runs', () => {
  for (const doc of docs) {
    const text = readFileSync(new URL(doc, root), 'utf8');
    const includes = [...text.matchAll(/<!-- include: (\S+) -->\n```[a-z]*\n([\s\S]*?)\n```/g)];
    for (const [, file, block] of includes) {
      it(`${doc} shows ${file} verbatim`, () => {
        expect(block).toBe(readFileSync(new URL(file!, root), 'utf8').trim());
      });
    }
  }

  it('docs/plugins.md includes the examples', () => {
    const text = readFileSync(new URL('docs/plugins.md', root), 'utf8');
    expect(text.match(/<!-- include: /g)?.length).toBeGreaterThanOrEqual(4);
  });
});
