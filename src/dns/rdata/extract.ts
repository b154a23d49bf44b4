import { ByteReader } from '../bytes.js';
import type { Name } from '../name.js';
import { RRType } from '../types.js';

export interface SoaFields {
  readonly mname: Name;
  readonly rname: Name;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}

export function decodeSoa(rdata: Uint8Array): SoaFields {
  const d = new ByteReader(rdata);
  const mname = d.name();
  const rname = d.name();
  return { mname, rname, serial: d.u32(), refresh: d.u32(), retry: d.u32(), expire: d.u32(), minimum: d.u32() };
}

/** Where the target name of a type sits in its RDATA (NS, CNAME, MX, SRV, ...). */
const TARGET_OFFSET = new Map<number, number>([
  [RRType.NS, 0],
  [RRType.CNAME, 0],
  [RRType.DNAME, 0],
  [RRType.PTR, 0],
  [RRType.MX, 2],
  [RRType.KX, 2],
  [RRType.AFSDB, 2],
  [RRType.SRV, 6],
]);

/** The name a record points at, for the types that point at one name. */
export function targetName(type: number, rdata: Uint8Array): Name | undefined {
  const offset = TARGET_OFFSET.get(type);
  if (offset === undefined) return undefined;
  const d = new ByteReader(rdata, offset);
  return d.name();
}
