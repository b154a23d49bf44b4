import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The rings of ARCHITECTURE.md: imports point inwards only, and edges do not import each other. */
const RING: Record<string, 'inner' | 'edge' | 'outer'> = {
  common: 'inner',
  dns: 'inner',
  zone: 'inner',
  dnssec: 'inner',
  kasp: 'inner',
  enforcer: 'inner',
  signer: 'inner',
  compliance: 'inner',
  hsm: 'edge',
  storage: 'edge',
  transfer: 'edge',
  audit: 'edge',
  monitor: 'edge',
  scheduler: 'edge',
  config: 'edge',
  // files: the one reader of files others write (regular files only, bounded); every edge may use it
  files: 'edge',
  service: 'outer',
  cli: 'outer',
};
const INNER_FORBIDDEN = /^(node:)?(fs|net|dgram|child_process|fs\/promises)$|^(pino|pkcs11js|graphene-pk11|node-cron|commander)$/;
const SRC = join(import.meta.dirname, '../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

function moduleOf(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

describe('architecture', () => {
  const files = sourceFiles(SRC);

  it('knows the ring of every module under src/', () => {
    for (const file of files) expect(RING[moduleOf(file)], file).toBeDefined();
  });

  for (const file of files) {
    const mod = moduleOf(file);
    it(`${relative(SRC, file)} keeps to its ring`, () => {
      const text = readFileSync(file, 'utf8');
      const ring = RING[mod];
      for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
        const spec = m[1]!;
        if (spec.startsWith('.')) {
          const target = moduleOf(join(file, '..', spec));
          const targetRing = RING[target];
          if (target === mod) continue;
          if (ring === 'inner') expect(targetRing, `${file} imports ${spec}`).toBe('inner');
          if (ring === 'edge')
            expect(targetRing === 'inner' || target === 'files' || (mod === 'monitor' && target === 'transfer'), `${file} imports ${spec}`).toBe(true);
        } else if (ring === 'inner') {
          expect(INNER_FORBIDDEN.test(spec), `${file} imports ${spec}`).toBe(false);
        }
      }
      if (ring === 'inner') {
        expect(/Date\.now\(\)|Math\.random\(\)|new Date\(\)/.test(text), `${file} reads the clock or randomness`).toBe(false);
      }
      if (!file.endsWith('cli/main.ts')) expect(/process\.exit\(/.test(text), `${file} calls process.exit`).toBe(false);
    });
  }
});
