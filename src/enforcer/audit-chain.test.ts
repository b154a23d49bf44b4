import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, auditHash, chainAuditRecord, verifyAuditChain, type AuditInput, type AuditRecord } from './audit-chain.js';

const T0 = 1_700_000_000;

function input(i: number): AuditInput {
  return {
    at: T0 + i,
    actor: i % 2 ? 'alice' : 'bob',
    action: 'zone.update',
    zone: 'example.com.',
    ticket: `CHG-${i}`,
    comment: null,
    before: { lastSerial: i },
    after: { lastSerial: i + 1 },
  };
}

function chain(n: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (let i = 0; i < n; i++) records.push(chainAuditRecord(input(i), records.at(-1) ?? null));
  return records;
}

describe('audit chain', () => {
  it('starts at seq 1 from the genesis hash and links each record to the one before', () => {
    const [a, b] = chain(2);
    expect(a).toMatchObject({ seq: 1, prevHash: GENESIS_HASH });
    expect(b).toMatchObject({ seq: 2, prevHash: a!.hash });
    expect(a!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(auditHash(a!)).toBe(a!.hash);
  });

  it('hashes the same content the same way whatever the key order of before/after', () => {
    const one = chainAuditRecord({ ...input(0), after: { a: 1, b: 2 } }, null);
    const two = chainAuditRecord({ ...input(0), after: { b: 2, a: 1 } }, null);
    expect(one.hash).toBe(two.hash);
  });

  it('DP-2.4d passes an untouched chain and reports its head', () => {
    const records = chain(5);
    expect(verifyAuditChain(records)).toEqual({ ok: true, checked: 5, head: { seq: 5, hash: records[4]!.hash } });
    expect(verifyAuditChain([])).toEqual({ ok: true, checked: 0 });
  });

  it('DP-2.4d names an edited record', () => {
    const records = chain(5);
    records[2] = { ...records[2]!, actor: 'mallory' };
    const result = verifyAuditChain(records);
    expect(result).toMatchObject({ ok: false, checked: 5, firstBad: { seq: 3 }, head: { seq: 2 } });
    expect(result.firstBad?.reason).toContain('edited');
  });

  it('DP-2.4d names the record after a deleted one', () => {
    const records = chain(5);
    records.splice(1, 1);
    expect(verifyAuditChain(records).firstBad).toEqual({ seq: 3, reason: 'record(s) 2 missing before it' });
  });

  it('DP-2.4d sees a deleted first record', () => {
    expect(verifyAuditChain(chain(3).slice(1)).firstBad).toMatchObject({ seq: 2 });
  });

  it('DP-2.4d sees records reordered, even when their seq numbers are rewritten to fit', () => {
    const records = chain(4);
    const swapped = [records[0]!, records[2]!, records[1]!, records[3]!];
    expect(verifyAuditChain(swapped).firstBad).toEqual({ seq: 3, reason: 'record(s) 2 missing before it' });
    expect(verifyAuditChain([records[1]!, records[0]!]).firstBad).toMatchObject({ seq: 2 });
    expect(verifyAuditChain([records[0]!, records[1]!, records[0]!]).firstBad).toEqual({ seq: 1, reason: 'out of order: expected record 3' });
    const renumbered = swapped.map((r, i) => ({ ...r, seq: i + 1 }));
    expect(verifyAuditChain(renumbered).firstBad?.seq).toBe(2);
  });

  it('DP-2.4d sees a record whose hash was recomputed after an edit: the next link breaks', () => {
    const records = chain(3);
    const forged = { ...records[1]!, actor: 'mallory' };
    records[1] = { ...forged, hash: auditHash(forged) };
    expect(verifyAuditChain(records).firstBad).toMatchObject({ seq: 3, reason: expect.stringContaining('prevHash') as unknown });
  });
});
