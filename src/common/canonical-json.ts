/**
 * Canonical JSON: object keys sorted by code unit, no white space, numbers as JavaScript
 * prints them. Parsing the text and writing it again gives the same bytes, which is what a
 * hash over stored values needs. Values JSON cannot hold faithfully (undefined in an array,
 * NaN, Infinity, bigint, functions, byte arrays, class instances) are refused rather than
 * quietly changed; an object member whose value is undefined is left out, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${path} is ${value}`);
      return JSON.stringify(value);
    case 'object':
      if (Array.isArray(value)) return `[${value.map((v, i) => write(v, `${path}[${i}]`)).join(',')}]`;
      if (!isPlainObject(value)) throw new TypeError(`canonical JSON: ${path} is not a plain object (${Object.prototype.toString.call(value)})`);
      return `{${Object.keys(value)
        .sort()
        .filter((k) => value[k] !== undefined)
        .map((k) => `${JSON.stringify(k)}:${write(value[k], `${path}.${k}`)}`)
        .join(',')}}`;
    default:
      throw new TypeError(`canonical JSON: ${path} is ${typeof value}`);
  }
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
