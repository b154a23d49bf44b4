import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { PolicyError, type PolicyProblem, quote } from '../common/errors.js';
import { DEFAULTS } from './defaults.js';
import { duplicateKeys, MapReader, offsetOf, Problems, type Scope } from './fields.js';
import { PROFILE_NAMES, type Policy, type ProfileName } from './policy.js';
import { mentionsMd5, readDenial, readKeys, readParent, readRollover, readSignatures, readSoa, readTtl, readZoneTiming } from './sections.js';

/** What reading a policy file gave: the policies that read cleanly, and every problem. */
export interface PolicyFileReading {
  readonly policies: readonly Policy[];
  readonly problems: readonly PolicyProblem[];
}

/**
 * Reads a policy file (YAML): an optional `profile` for all its policies, and `policies`, a
 * map from each policy's name to its fields. Every problem is collected, each with
 * `file:line:col`, the policy and the field: YAML syntax, duplicate keys, unknown fields, wrong
 * types, bad durations, refused algorithms, and MD5 anywhere (DP-4.2b). The compliance profiles
 * are not applied here (profiles.ts). `file` is the name messages use; nothing is read from disk.
 */
export function readPolicyFile(text: string, file: string): PolicyFileReading {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const problems = new Problems(file, lineCounter);
  const top = doc.contents as Node | null;
  for (const e of [...doc.errors, ...doc.warnings]) {
    const where = fieldAt(top, e.pos[0]);
    let message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    if (e.code === 'DUPLICATE_KEY')
      message = where.policy !== undefined && where.field === undefined ? 'a second policy of this name' : 'written twice in one map';
    problems.add(e.pos[0], message, where);
  }
  for (const d of duplicateKeys(doc)) {
    const where = fieldAt(top, d.at);
    problems.add(d.at, where.policy !== undefined && where.field === undefined ? 'a second policy of this name' : 'written twice in one map', where);
  }
  if (problems.list.length > 0) return { policies: [], problems: problems.list };

  if (!isMap(top)) {
    problems.add(offsetOf(top), 'expected a map with a `policies:` field');
    return { policies: [], problems: problems.list };
  }
  scanForMd5(problems, top, '', undefined);

  const scope: Scope = { problems, fields: {} };
  const reader = new MapReader(scope, top, '', offsetOf(top));
  const profile = reader.choice<ProfileName>('profile', DEFAULTS.profile, PROFILE_NAMES);
  const list = reader.field('policies');
  reader.finish();
  if (list === undefined) {
    if (!reader.has('policies')) problems.add(offsetOf(top), 'no `policies:` field: the file defines no policy');
    return { policies: [], problems: problems.list };
  }
  if (!isMap(list.node) || list.node.items.length === 0) {
    problems.add(list.at, 'expected a map from policy names to policies', { field: 'policies' });
    return { policies: [], problems: problems.list };
  }

  const policies: Policy[] = [];
  for (const pair of list.node.items) {
    const key = pair.key as Node;
    const name = isScalar(key) ? key.value : undefined;
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      problems.add(offsetOf(key, list.at), 'a policy name is letters, digits, dot, dash and underscore, starting with a letter or digit', {
        field: 'policies',
      });
      continue;
    }
    const policy = readPolicy(problems, name, offsetOf(key), pair.value as Node | null, profile);
    if (policy !== undefined) policies.push(policy);
  }
  // only the policies that read without a problem (MD5 included) are handed on
  const clean = policies.filter((p) => !problems.list.some((problem) => problem.policy === p.name));
  return { policies: clean, problems: problems.list.sort(byPlace) };
}

/** Orders problems as they stand in the file. */
export function byPlace(a: PolicyProblem, b: PolicyProblem): number {
  return a.line - b.line || a.col - b.col;
}

/** Reads a policy file and returns its policies; throws a PolicyError listing every problem. */
export function parsePolicies(text: string, file: string): Policy[] {
  const { policies, problems } = readPolicyFile(text, file);
  if (problems.length > 0) throw new PolicyError(file, problems);
  return [...policies];
}

function readPolicy(problems: Problems, name: string, at: number, node: Node | null, fileProfile: ProfileName): Policy | undefined {
  const scope: Scope = { problems, policy: name, fields: {} };
  if (!isMap(node)) {
    problems.add(at, 'expected a map of policy fields (an empty map `{}` gives the DP policy)', { policy: name });
    return undefined;
  }
  const r = new MapReader(scope, node, '', at);
  const description = r.string('description', DEFAULTS.description);
  const profile = r.choice<ProfileName>('profile', fileProfile, PROFILE_NAMES);
  const policy: Policy = {
    name,
    description,
    profile,
    keys: readKeys(r.sub('keys')),
    rollover: readRollover(r.sub('rollover')),
    signatures: readSignatures(r.sub('signatures')),
    denial: readDenial(r.sub('denial')),
    ttl: readTtl(r.sub('ttl')),
    soa: readSoa(r.sub('soa')),
    zone: readZoneTiming(r.sub('zone')),
    parent: readParent(r.sub('parent')),
    source: { file: problems.file, at: problems.position(at), fields: scope.fields },
  };
  r.finish();
  return policy;
}

/**
 * DP-4.2b: nothing that uses MD5, anywhere in the file (an RSAMD5 key, an HMAC-MD5 name, an
 * MD5 digest), whatever field it stands in; only descriptions may mention it.
 */
function scanForMd5(problems: Problems, node: Node | null, path: string, policy: string | undefined): void {
  const report = (at: Node, field: string, text: string): void => {
    problems.add(offsetOf(at), `${quote(text)} uses MD5, which hms never allows`, {
      ...(policy === undefined ? {} : { policy }),
      field: field === '' ? '(top level)' : field,
      requirement: 'DP-4.2b',
    });
  };
  if (isScalar(node)) {
    if (typeof node.value === 'string' && mentionsMd5(node.value)) report(node, path, node.value);
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => scanForMd5(problems, item as Node, `${path}[${i}]`, policy));
  } else if (isMap(node)) {
    for (const pair of node.items) {
      const key = pair.key as Node;
      const name = isScalar(key) ? String(key.value) : '?';
      const field = path === '' ? name : `${path}.${name}`;
      if (isScalar(key) && mentionsMd5(name)) report(key, field, name);
      if (path === '' && policy === undefined && name === 'policies' && isMap(pair.value)) {
        for (const p of pair.value.items) scanForMd5(problems, p.value as Node, '', isScalar(p.key) ? String(p.key.value) : '?');
      } else if (name !== 'description') {
        scanForMd5(problems, pair.value as Node, field, policy);
      }
    }
  }
}

/** The policy and field a YAML syntax error stands in, found by its offset; {} when outside. */
function fieldAt(top: Node | null, offset: number): { policy?: string; field?: string } {
  const inside = (n: Node | null | undefined): boolean => n?.range !== undefined && n.range !== null && offset >= n.range[0] && offset < n.range[2];
  let node = top;
  const path: string[] = [];
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => inside(p.key as Node) || inside(p.value as Node));
      if (pair === undefined || !isScalar(pair.key)) break;
      path.push(String(pair.key.value));
      if (inside(pair.key)) break;
      node = pair.value as Node;
    } else if (isSeq(node)) {
      const i = node.items.findIndex((item) => inside(item as Node));
      if (i < 0) break;
      path[path.length - 1] += `[${i}]`;
      node = node.items[i] as Node;
    } else {
      break;
    }
  }
  if (path[0] === 'policies' && path.length >= 2) {
    return path.length === 2 ? { policy: path[1]! } : { policy: path[1]!, field: path.slice(2).join('.') };
  }
  return path.length === 0 ? {} : { field: path.join('.') };
}
