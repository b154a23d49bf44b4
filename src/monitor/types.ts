import type { Seconds, UnixSeconds } from '../common/clock.js';
import type { Name } from '../dns/name.js';
import type { TsigKey } from '../dns/tsig.js';

/** The plugin states of Nagios and Icinga, as `hms monitor` exits with them (0, 1, 2, 3). */
export type MonitorStatus = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

/** What a check looks at (DP-2.9a-e, and the DS at the parent). */
export type CheckName = 'answer' | 'serial' | 'rrsig-validity' | 'positive' | 'negative' | 'clock' | 'parent-ds';

/** One thing a check saw at one server. */
export interface Finding {
  readonly zone: string;
  /** The server, as `label address@port` (a secondary's name, an NS target, a parent server). */
  readonly server: string;
  readonly check: CheckName;
  readonly status: MonitorStatus;
  /** What it saw, for a person. */
  readonly message: string;
  /** Seconds: the serial's lag, the smallest RRSIG validity left, the clock's skew. */
  readonly value?: number;
}

/** A record of an answer, its names written out in full (as a zone holds it). */
export interface Rec {
  readonly owner: Name;
  readonly type: number;
  readonly ttl: number;
  readonly rdata: Uint8Array;
}

/** An answer, read far enough to check it. */
export interface Reply {
  readonly rcode: number;
  readonly authoritative: boolean;
  readonly answer: readonly Rec[];
  readonly authority: readonly Rec[];
  /** The TSIG record of a signed answer: Time Signed, its error, and Other Data (the server's time with BADTIME). */
  readonly tsig?: { readonly timeSigned: UnixSeconds; readonly error: number; readonly otherData: Uint8Array };
}

/** A server to ask: its address and port, and the TSIG key it shares with us, if any. */
export interface Target {
  /** `name address@port`, as findings name it. */
  readonly label: string;
  readonly address: string;
  readonly port: number;
  readonly key?: TsigKey;
}

/** The IO the checks need: a question to a server, a zone transfer; each bounded in time, each rejecting on failure. */
export interface MonitorIo {
  ask(target: Target, name: Name, type: number, options?: { readonly tsig?: TsigKey; readonly anyTime?: boolean }): Promise<Reply>;
  /** AXFR with TSIG: every record of the zone. */
  transfer(target: Target, zone: Name, key: TsigKey): Promise<Rec[]>;
}

/** A zone as published here, and where it is served. */
export interface ZoneFacts {
  readonly zone: Name;
  /** The serial published, and when it was made (null: not known). */
  readonly serial: number;
  readonly signedAt: UnixSeconds | null;
  /** The DS the chain of trust starts from (the keys' DS hms holds at the parent, or would submit). */
  readonly anchors: readonly Uint8Array[];
  /** A type absent at the apex: the NODATA question. */
  readonly nodataType: number;
  /** The secondaries listed, and the zone's NS set asked at their addresses. */
  readonly targets: readonly Target[];
  /** NS targets whose address could not be found, with why. */
  readonly unresolved: readonly { readonly label: string; readonly problem: string }[];
  /** The parent's name servers (none: the DS is not checked), with the DNSKEYs published and those whose DS the state says are there. */
  readonly parent: {
    readonly servers: readonly Target[];
    readonly published: readonly Uint8Array[];
    readonly atParent: readonly Uint8Array[];
  };
}

/** When a check warns and when it is critical. */
export interface MonitorThresholds {
  readonly serialLagWarning: Seconds;
  readonly serialLagCritical: Seconds;
  readonly validityWarning: Seconds;
  readonly validityCritical: Seconds;
  readonly clockWarning: Seconds;
  readonly clockCritical: Seconds;
}

export const DEFAULT_THRESHOLDS: MonitorThresholds = {
  serialLagWarning: 1800,
  serialLagCritical: 6 * 3600,
  validityWarning: 7 * 86400,
  validityCritical: 2 * 86400,
  clockWarning: 30,
  clockCritical: 300,
};
