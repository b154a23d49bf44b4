import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DPS_RULE_IDS } from './dps.js';
import { REQUIREMENTS } from './requirements.js';

/** The requirement list of docs/compliance.md ("The requirements"): ID and title per row. */
function documented(): { id: string; title: string }[] {
  const text = readFileSync(join(import.meta.dirname, '../../docs/compliance.md'), 'utf8');
  const section = text.slice(text.indexOf('\n## The requirements'));
  return [...section.matchAll(/^\| (D[PK]-\d+(?:\.\d+[a-z]?)?) \| (.+?) \| .+ \|$/gm)].map((m) => ({ id: m[1]!, title: m[2]! }));
}

describe('the requirement table', () => {
  it('DP-5.1 lists the same IDs and titles as docs/compliance.md, both ways', () => {
    const docs = documented();
    expect(docs.length).toBeGreaterThan(60);
    expect(REQUIREMENTS.map((r) => `${r.id} ${r.title}`)).toEqual(docs.map((r) => `${r.id} ${r.title}`));
  });

  it('DP-5.1 every requirement has exactly one rule in the DPS report, and every rule a requirement', () => {
    expect([...DPS_RULE_IDS].sort()).toEqual(REQUIREMENTS.map((r) => r.id).sort());
    expect(new Set(REQUIREMENTS.map((r) => r.id)).size).toBe(REQUIREMENTS.length);
  });
});
