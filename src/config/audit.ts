import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { isMap, isScalar } from 'yaml';
import type { SyslogTarget } from '../enforcer/audit-witness.js';
import { MapReader } from '../kasp/fields.js';
import { parseEndpoint } from './service.js';
import { quote } from '../common/errors.js';

/** Where the audit trail goes besides the state (DP-2.4d, DP-2.4e). */
export interface AuditConfig {
  /** The checkpoint file: a line (seq, time, hash) per committed audit record. */
  readonly checkpoint: string;
  /** Syslog, when configured. */
  readonly syslog: SyslogTarget | null;
}

/**
 * The checkpoint's place when the configuration does not give one: a folder beside the
 * state's folder, `<folder>-audit/<state file>.checkpoint` (/var/lib/hms/hms.db gives
 * /var/lib/hms-audit/hms.db.checkpoint). Outside the state's folder, so that a copy, a
 * restore or a wipe of that folder leaves it be and it can have its own owner and the
 * append-only attribute; derived from the state's path, so that every state has its own and
 * `hms audit verify --state FILE` finds it without a configuration.
 */
export function defaultCheckpointPath(stateFile: string): string {
  const folder = dirname(resolve(stateFile));
  return join(dirname(folder), `${basename(folder)}-audit`, `${basename(stateFile)}.checkpoint`);
}

const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** A syslog server as written: HOST, HOST:PORT or [IPv6]:PORT (port 514 when left out). */
export function parseServer(text: string): { host: string; port: number } | undefined {
  const ip = parseEndpoint(text, 514);
  if (ip !== undefined) return { host: ip.address, port: ip.port };
  const m = /^([^:]+)(?::(\d+))?$/.exec(text);
  const port = m?.[2] === undefined ? 514 : Number(m[2]);
  return m !== null && HOST.test(m[1]!) && port >= 1 && port <= 65535 ? { host: m[1]!, port } : undefined;
}

/** Reads the `audit:` section; problems go to the reader's list with their file and line. */
export function readAuditConfig(r: MapReader, path: (p: string) => string, stateFile: string): AuditConfig {
  const a = r.sub('audit');
  const checkpoint = a.has('checkpoint') ? path(a.string('checkpoint', '')) : defaultCheckpointPath(stateFile);
  const stateFolder = dirname(resolve(stateFile));
  const inside = relative(stateFolder, checkpoint);
  if (a.has('checkpoint') && !inside.startsWith('..') && !isAbsolute(inside)) {
    a.complain(
      'checkpoint',
      `${checkpoint} is inside the state's folder ${stateFolder}: the checkpoint must be kept apart from the state it vouches for (DP-2.4d)`,
    );
  }
  let syslog: SyslogTarget | null = null;
  const f = a.field('syslog');
  if (f !== undefined) {
    if (isScalar(f.node) && typeof f.node.value === 'boolean') {
      syslog = f.node.value ? { kind: 'local' } : null;
    } else if (isMap(f.node)) {
      const s = MapReader.of(a.scope, f)!;
      const text = s.string('server', '');
      const server = parseServer(text);
      if (server === undefined)
        s.complain(
          'server',
          text === ''
            ? 'give the syslog server as HOST or HOST:PORT (or write syslog: true for the local syslog)'
            : `${quote(text)} is not HOST, HOST:PORT or [IPv6]:PORT`,
        );
      const protocol = s.string('protocol', 'udp');
      if (protocol !== 'udp' && protocol !== 'tcp') s.complain('protocol', `${quote(protocol)} is not udp or tcp`);
      s.finish();
      if (server !== undefined) syslog = { kind: 'server', ...server, protocol: protocol === 'tcp' ? 'tcp' : 'udp' };
    } else {
      a.complain('syslog', 'expected true, false or a map (server, protocol)');
    }
  }
  a.finish();
  return { checkpoint, syslog };
}
