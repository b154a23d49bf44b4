import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node, type Pair, visit, YAMLMap } from 'yaml';
import type { PolicyProblem } from '../common/errors.js';
import { quote, ValueError } from '../common/errors.js';
import { MAX_TTL, parseTtl } from '../dns/ttl.js';
import type { SourcePosition } from './policy.js';

/** The most problems an error lists; past them one more line counts the rest (the message stays bounded). */
export const MAX_PROBLEMS_LISTED = 50;

/** Every problem found in one policy file, each with its place (the first MAX_PROBLEMS_LISTED, then a count). */
export class Problems {
  readonly list: PolicyProblem[] = [];
  private unlisted = 0;

  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  position(offset: number): SourcePosition {
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  add(offset: number, message: string, where: { policy?: string; field?: string; requirement?: string } = {}): void {
    if (this.list.length < MAX_PROBLEMS_LISTED) {
      this.list.push({ file: this.file, ...this.position(offset), ...where, message });
      return;
    }
    // the last line of the list counts those not listed, from the first of them
    if (this.unlisted === 0) this.list.push({ file: this.file, ...this.position(offset), message: '' });
    this.unlisted++;
    this.list[MAX_PROBLEMS_LISTED] = { ...this.list[MAX_PROBLEMS_LISTED]!, message: `and ${this.unlisted} more problem(s), not listed (the first from here)` };
  }
}

/**
 * The keys written twice in one map, anywhere in the document, with their offsets: one pass
 * with a set per map. (The yaml package's own uniqueKeys check compares each key with every
 * other: 40,000 keys in one map took 12 s.)
 */
export function duplicateKeys(doc: Document): { key: string; at: number }[] {
  const found: { key: string; at: number }[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key: unknown = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) found.push({ key: String(key), at: offsetOf(pair.key as Node | null, offsetOf(map)) });
        seen.add(key);
      }
    },
  });
  return found;
}

/** The reading of one policy (or of the file's top level): its name and where its fields stand. */
export interface Scope {
  readonly problems: Problems;
  readonly policy?: string;
  readonly fields: Record<string, SourcePosition>;
}

export function offsetOf(node: Node | null | undefined, fallback = 0): number {
  return node?.range?.[0] ?? fallback;
}

/** A YAML node read as a field: where it stands and the path that names it. */
export interface FieldNode {
  readonly path: string;
  readonly node: Node;
  /** Offset of the field's key (or of a list item), where messages point. */
  readonly at: number;
}

/** Reports a problem with a field, naming the policy and the field. */
export function report(scope: Scope, field: FieldNode, message: string, requirement?: string): void {
  scope.problems.add(field.at, message, {
    ...(scope.policy === undefined ? {} : { policy: scope.policy }),
    field: field.path,
    ...(requirement === undefined ? {} : { requirement }),
  });
}

/** Unknown fields of one map listed each; the rest are counted. */
const UNKNOWN_LISTED = 5;

/** Durations: seconds, or units as in zone-file TTLs (`32d`, `1h30m`, `2w`). */
const DURATION_HELP = 'a duration (seconds, or with units w, d, h, m, s: 32d, 1h30m)';

/** Shows a scalar as it is written, for messages. */
function shown(node: Node): string {
  if (isScalar(node)) return node.source ?? String(node.value);
  return isMap(node) ? 'a map' : isSeq(node) ? 'a list' : 'an alias';
}

/**
 * Reads the fields of one YAML map, each once. Fields left out get their default; a field of
 * the wrong type or value is reported and its default used, so that reading goes on and every
 * problem is found. `finish()` reports the fields nobody asked for (typos are not ignored).
 */
export class MapReader {
  private readonly known = new Set<string>();
  /** The map's pairs by key (the first of a key written twice), made on first use. */
  private index: Map<string, Pair> | undefined;

  /** `at`: the offset of the map's own key, where problems with a field left out point. */
  constructor(
    readonly scope: Scope,
    readonly map: YAMLMap,
    readonly path: string,
    readonly at: number,
  ) {}

  /** Checks that a node is a map, else reports it; the reader of that map, or undefined. */
  static of(scope: Scope, field: FieldNode): MapReader | undefined {
    if (!isMap(field.node)) {
      report(scope, field, `expected a map of fields, found ${shown(field.node)}`);
      return undefined;
    }
    return new MapReader(scope, field.node, field.path, field.at);
  }

  private pair(key: string): Pair | undefined {
    if (this.index === undefined) {
      this.index = new Map();
      for (const p of this.map.items) if (isScalar(p.key) && typeof p.key.value === 'string' && !this.index.has(p.key.value)) this.index.set(p.key.value, p);
    }
    return this.index.get(key);
  }

  /** Reports a problem with a field of this map: at the field when written, else at the map. */
  complain(key: string, message: string, requirement?: string): void {
    const pair = this.pair(key);
    const at = pair === undefined ? this.at : offsetOf(pair.key as Node, this.at);
    report(this.scope, { path: this.pathOf(key), node: this.map, at }, message, requirement);
  }

  /** Whether the field is written in the file. */
  has(key: string): boolean {
    return this.pair(key) !== undefined;
  }

  private pathOf(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  /** The field `key`, if written; marked as known, its place recorded. */
  field(key: string): FieldNode | undefined {
    this.known.add(key);
    const pair = this.pair(key);
    if (pair === undefined) return undefined;
    const at = offsetOf(pair.key as Node);
    const path = this.pathOf(key);
    this.scope.fields[path] = this.scope.problems.position(at);
    const value = pair.value as Node | null;
    if (value === null || (isScalar(value) && value.value === null)) {
      report(this.scope, { path, node: pair.key as Node, at }, 'has no value');
      return undefined;
    }
    if (isAlias(value)) {
      report(this.scope, { path, node: value, at }, 'YAML aliases (*name) are not supported; write the value out');
      return undefined;
    }
    return { path, node: value, at };
  }

  /**
   * Reports the fields of the map that were not asked for: the first few each, then how many
   * more (with the first of those), so that a file of 40,000 typos gives a short message.
   */
  finish(): void {
    let unknown = 0;
    for (const pair of this.map.items) {
      const at = offsetOf(pair.key as Node | null, offsetOf(this.map));
      if (!isScalar(pair.key) || typeof pair.key.value !== 'string') {
        this.scope.problems.add(at, 'field names must be plain words', {
          ...(this.scope.policy === undefined ? {} : { policy: this.scope.policy }),
          field: this.path === '' ? '(top level)' : this.path,
        });
      } else if (!this.known.has(pair.key.value) && ++unknown <= UNKNOWN_LISTED) {
        const expected = [...this.known].join(', ');
        report(this.scope, { path: this.pathOf(pair.key.value), node: pair.key, at }, `unknown field (expected one of: ${expected})`);
      } else if (!this.known.has(pair.key.value) && unknown === UNKNOWN_LISTED + 1) {
        const more = this.map.items.filter((p) => isScalar(p.key) && typeof p.key.value === 'string' && !this.known.has(p.key.value)).length - UNKNOWN_LISTED;
        report(
          this.scope,
          { path: this.path === '' ? '(top level)' : this.path, node: pair.key as Node, at },
          `and ${more} more unknown field(s), the first of them ${quote(pair.key.value)}`,
        );
      }
    }
  }

  /** A nested map; when it is left out (or is no map) an empty one, so its fields get defaults. */
  sub(key: string): MapReader {
    const f = this.field(key);
    const reader = f === undefined ? undefined : MapReader.of(this.scope, f);
    return reader ?? new MapReader(this.scope, new YAMLMap(), this.pathOf(key), f?.at ?? this.at);
  }

  string(key: string, fallback: string): string {
    const f = this.field(key);
    if (f === undefined) return fallback;
    if (isScalar(f.node) && typeof f.node.value === 'string') return f.node.value;
    report(this.scope, f, `expected text, found ${shown(f.node)}`);
    return fallback;
  }

  /** A list of short texts (`[user:alice, group:hms-ops]`); left out, an empty list. */
  strings(key: string): string[] {
    const f = this.field(key);
    if (f === undefined) return [];
    if (isSeq(f.node) && f.node.items.every((i) => isScalar(i) && typeof i.value === 'string')) {
      return f.node.items.map((i) => (i as { value: string }).value);
    }
    report(this.scope, f, `expected a list of texts, found ${shown(f.node)}`);
    return [];
  }

  /** The names of a map's fields that the caller reads itself (zones by name); each marked known. */
  keys(key: string): { name: string; reader: MapReader }[] {
    const f = this.field(key);
    if (f === undefined) return [];
    const outer = MapReader.of(this.scope, f);
    if (outer === undefined) return [];
    return outer.map.items.flatMap((pair) => {
      const name = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof name !== 'string') return [];
      const inner = outer.field(name);
      const reader = inner === undefined ? undefined : MapReader.of(this.scope, inner);
      return reader === undefined ? [] : [{ name, reader }];
    });
  }

  boolean(key: string, fallback: boolean): boolean {
    const f = this.field(key);
    if (f === undefined) return fallback;
    if (isScalar(f.node) && typeof f.node.value === 'boolean') return f.node.value;
    report(this.scope, f, `expected true or false, found ${shown(f.node)}`);
    return fallback;
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    const f = this.field(key);
    if (f === undefined) return fallback;
    const n = isScalar(f.node) ? f.node.value : undefined;
    if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) return n;
    report(this.scope, f, `expected a whole number from ${min} to ${max}, found ${shown(f.node)}`);
    return fallback;
  }

  /**
   * A size in octets: a whole number, or text with K, M or G (powers of 1024: `256M`), from
   * `min` to `max`.
   */
  size(key: string, fallback: number, min: number, max: number): number {
    const f = this.field(key);
    if (f === undefined) return fallback;
    const v = isScalar(f.node) ? f.node.value : undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' ? parseSize(v) : undefined;
    if (n !== undefined && Number.isInteger(n) && n >= min && n <= max) return n;
    report(this.scope, f, `expected a size from ${sizeText(min)} to ${sizeText(max)} (octets, or a number with K, M or G), found ${shown(f.node)}`);
    return fallback;
  }

  /** One of a few words (`nsec3`, `double-ds`). */
  choice<T extends string>(key: string, fallback: T, options: readonly T[]): T {
    const f = this.field(key);
    if (f === undefined) return fallback;
    const v = isScalar(f.node) ? f.node.value : undefined;
    if (typeof v === 'string' && (options as readonly string[]).includes(v)) return v as T;
    report(this.scope, f, `expected ${options.map((o) => `${quote(o)}`).join(' or ')}, found ${shown(f.node)}`);
    return fallback;
  }

  /**
   * A duration in seconds; `words` names the few words the field also takes (`manual` for a
   * key lifetime, `always` for the signature refresh), with what each means.
   */
  duration<W>(key: string, fallback: number | W, words: Readonly<Record<string, W>> = {}): number | W {
    const f = this.field(key);
    if (f === undefined) return fallback;
    const v = isScalar(f.node) ? f.node.value : undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TTL) return v;
    if (typeof v === 'string') {
      if (Object.hasOwn(words, v)) return words[v]!;
      try {
        return parseTtl(v);
      } catch (e) {
        if (!(e instanceof ValueError)) throw e;
      }
    }
    const alternatives = Object.keys(words)
      .map((w) => `, or ${quote(w)}`)
      .join('');
    report(this.scope, f, `expected ${DURATION_HELP}${alternatives}, found ${shown(f.node)}`);
    return fallback;
  }

  /** A list whose items `each` reads; undefined when left out or not a list. */
  list<T>(key: string, each: (item: FieldNode) => T | undefined): T[] | undefined {
    const f = this.field(key);
    if (f === undefined) return undefined;
    if (!isSeq(f.node)) {
      report(this.scope, f, `expected a list, found ${shown(f.node)}`);
      return undefined;
    }
    const items: T[] = [];
    f.node.items.forEach((item, i) => {
      const node = item as Node;
      const value = each({ path: `${f.path}[${i}]`, node, at: offsetOf(node, f.at) });
      if (value !== undefined) items.push(value);
    });
    return items;
  }
}

/** A size as the configuration writes it: octets, or a number with K, M or G (powers of 1024). */
function parseSize(text: string): number | undefined {
  const m = /^([0-9]{1,13})\s*([KMG]?)$/i.exec(text.trim());
  if (m === null) return undefined;
  return Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
}

/** Octets as the configuration would write them: `64K`, `4G`. */
function sizeText(n: number): string {
  for (const [unit, scale] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const)
    if (n % scale === 0 && n >= scale) return `${n / scale}${unit}`;
  return String(n);
}
