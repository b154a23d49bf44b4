import { describe, expect, it } from 'vitest';
import { auditHash, chainAuditRecord, verifyAuditChain, type AuditInput, type AuditRecord } from './audit-chain.js';
import { compareAuditWitnesses, formatCheckpointLine, formatSyslogMessage, parseCheckpointLine, parseLogLine, type AuditWitness } from './audit-witness.js';

const T0 = 1_700_000_000;

function input(i: number): AuditInput {
  return { at: T0 + i * 60, actor: 'alice', action: 'key.put', zone: 'example.com.', ticket: `CHG-${i}`, comment: null, before: null, after: { n: i } };
}

function chain(n: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (let i = 0; i < n; i++) records.push(chainAuditRecord(input(i), records.at(-1) ?? null));
  return records;
}

/** The outside copy of each record, as the checkpoint file holds it. */
function checkpointOf(records: readonly AuditRecord[]): AuditWitness[] {
  return records.map((r, i) => parseCheckpointLine(formatCheckpointLine(r).trimEnd(), `cp:${i + 1}`) as AuditWitness);
}

function compare(state: readonly AuditRecord[], witnesses: Iterable<AuditWitness>) {
  const bySeq = new Map(state.map((r) => [r.seq, r]));
  return compareAuditWitnesses(witnesses, (seq) => bySeq.get(seq), state.at(-1)?.seq ?? 0);
}

/** Rewrites record `seq` and recomputes every later hash: a chain that verifies on its own. */
function rewrite(records: readonly AuditRecord[], seq: number, change: Partial<AuditInput>): AuditRecord[] {
  const out = records.slice(0, seq - 1);
  for (const r of records.slice(seq - 1)) {
    const fields: AuditInput = {
      at: r.at,
      actor: r.actor,
      action: r.action,
      zone: r.zone,
      ticket: r.ticket,
      comment: r.comment,
      before: r.before,
      after: r.after,
    };
    out.push(chainAuditRecord(r.seq === seq ? { ...fields, ...change } : fields, out.at(-1) ?? null));
  }
  return out;
}

describe('audit witnesses', () => {
  it('a checkpoint line is short JSON that reads back as the record it names', () => {
    const [r] = chain(1);
    const line = formatCheckpointLine(r!);
    expect(line).toBe(`{"seq":1,"at":"2023-11-14T22:13:20Z","hash":"${r!.hash}"}\n`);
    expect(line.length).toBeLessThan(120);
    expect(parseCheckpointLine(line.trimEnd(), 'cp:1')).toEqual({ seq: 1, hash: r!.hash, at: T0, where: 'cp:1' });
  });

  it('names a checkpoint line that is not one', () => {
    expect(parseCheckpointLine('{"seq":1,"at":"2023-11-14T22:13:20Z","hash":"abc"}', 'cp:3')).toMatchObject({
      where: 'cp:3',
      problem: expect.stringContaining('not a checkpoint line') as unknown,
    });
    expect(parseCheckpointLine('{"seq":1,"at":"2023-11-1', 'cp:4')).toHaveProperty('problem');
    expect(parseCheckpointLine('', 'cp:5')).toHaveProperty('problem');
  });

  it('reads the audit lines of the JSON log and of syslog, and passes over the rest', () => {
    const [r] = chain(1);
    const pino = JSON.stringify({ level: 30, time: '2023-11-14T22:13:20.000Z', zone: r!.zone, action: r!.action, audit: r, msg: 'audit' });
    expect(parseLogLine(pino, 'log:7')).toEqual({ seq: 1, hash: r!.hash, at: T0, where: 'log:7' });
    const syslog = `2023-11-14T22:13:21.123+00:00 signer hms-audit[123]: ${formatSyslogMessage(r!)}`;
    expect(parseLogLine(syslog, 'syslog:2')).toEqual({ seq: 1, hash: r!.hash, at: T0, where: 'syslog:2' });
    expect(parseLogLine(JSON.stringify({ level: 30, msg: 'zone, signed', zone: 'example.com.' }), 'log:1')).toBeUndefined();
    expect(parseLogLine('not json at all', 'log:2')).toBeUndefined();
  });

  it('the syslog message holds no before/after value', () => {
    const r = chainAuditRecord({ ...input(0), after: { secret: 'c2VjcmV0' } }, null);
    expect(formatSyslogMessage(r)).toBe(`audit seq=1 hash=${r.hash} at=2023-11-14T22:13:20Z action=key.put zone=example.com. actor=alice`);
  });

  it('DP-2.4d passes a state its copies agree with, and says how far they vouch', () => {
    const records = chain(5);
    expect(compare(records, checkpointOf(records))).toEqual({ compared: 5, confirmedUpTo: 5 });
    // copies of some records only (a checkpoint begun later, a rotated log): the last one vouches for all before it
    expect(compare(records, checkpointOf(records).slice(3, 4))).toEqual({ compared: 1, confirmedUpTo: 4 });
    expect(compare(records, [])).toEqual({ compared: 0, confirmedUpTo: 0 });
  });

  it('DP-2.4d names the first rewritten record although the rewritten chain verifies on its own', () => {
    const records = chain(6);
    const forged = rewrite(records, 3, { actor: 'mallory' });
    expect(verifyAuditChain(forged).ok).toBe(true);
    expect(forged[2]!.hash).toBe(auditHash(forged[2]!));
    const result = compare(forged, checkpointOf(records).reverse());
    expect(result.firstDifference).toMatchObject({ seq: 3, at: T0 + 120, where: 'cp:3', what: expect.stringContaining('rewritten') as unknown });
    expect(result.confirmedUpTo).toBe(2);
    // with copies of the later records only, the first of them is named
    expect(compare(forged, checkpointOf(records).slice(4)).firstDifference).toMatchObject({ seq: 5, where: 'cp:5' });
  });

  it('DP-2.4d names the first record cut off the end of the state', () => {
    const records = chain(6);
    const result = compare(records.slice(0, 4), checkpointOf(records));
    expect(result.firstDifference).toMatchObject({ seq: 5, at: T0 + 240, what: expect.stringContaining('cut off') as unknown });
    expect(result.confirmedUpTo).toBe(4);
  });

  it('DP-2.4d reports the first unreadable checkpoint line apart from the records', () => {
    const records = chain(2);
    const lines = [...checkpointOf(records), parseCheckpointLine('garbage', 'cp:3'), parseCheckpointLine('more', 'cp:4')];
    const result = compareAuditWitnesses(lines, (seq) => records[seq - 1], 2);
    expect(result).toMatchObject({ compared: 2, confirmedUpTo: 2, firstUnreadable: { where: 'cp:3' } });
    expect(result.firstDifference).toBeUndefined();
  });
});
