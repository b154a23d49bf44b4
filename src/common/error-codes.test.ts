import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, EXIT, FINDING_CODES } from './error-codes.js';

const doc = readFileSync(join(import.meta.dirname, '../../docs/errors.md'), 'utf8');

function documented(section: string): string[] {
  const part = doc.split(/^## /m).find((s) => s.startsWith(section))!;
  return [...part.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]!);
}

describe('error catalogue', () => {
  it('docs/errors.md documents every error code, and nothing else', () => {
    expect(documented('Errors').sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('docs/errors.md documents every finding code, and nothing else', () => {
    expect(documented('Zone-check findings').sort()).toEqual(Object.keys(FINDING_CODES).sort());
  });

  it('docs/errors.md lists the exit codes of the catalogue', () => {
    const part = doc.split(/^## /m).find((s) => s.startsWith('Exit codes'))!;
    const codes = [...part.matchAll(/^\| (\d) \|/gm)].map((m) => Number(m[1]));
    expect(codes).toEqual(Object.values(EXIT));
  });
});
