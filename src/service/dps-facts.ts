import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { UnixSeconds } from '../common/clock.js';
import { ConfigError, SignerError } from '../common/errors.js';
import { checkZoneRecords, type ComplianceItem } from '../compliance/check-zone.js';
import type { DpsFacts, DpsZone } from '../compliance/dps.js';
import { loadConfig, type HmsConfig } from '../config/config.js';
import type { Principal } from '../config/access.js';
import { keyState } from '../enforcer/keys.js';
import { StateStore } from '../storage/state.js';
import { Name } from '../dns/name.js';
import { loadPolicyFile } from './load-policy.js';
import { loadZoneFile, SIGNED_FILE_LIMITS } from './load-zone.js';

/**
 * What `hms report dps` holds against the requirements, read from what runs: the
 * configuration (with the TSIG keys' algorithms when this user may read their files), every
 * policy file it names, and the state (read-only): the zones, their keys and the audit trail.
 */
export function readDpsFacts(configFile: string, now: UnixSeconds): DpsFacts {
  let config: HmsConfig;
  let tsigKeys: DpsFacts['tsigKeys'];
  try {
    config = loadConfig(configFile);
    tsigKeys = config.service.tsigKeys.map((k) => ({ name: k.name.toString(), algorithm: k.algorithm }));
  } catch (e) {
    // most often: the TSIG secret files are for the service's user only; their algorithms are then not known here
    if (!(e instanceof ConfigError)) throw e;
    config = loadConfig(configFile, { secrets: false });
    tsigKeys = null;
  }
  const policies = config.policies.flatMap((file) => loadPolicyFile(file).policies);
  type ZoneFacts = Omit<DpsZone, 'records' | 'recordsFrom'> & { readonly input: string | null };
  const zones = new Map<string, ZoneFacts>();
  for (const z of config.service.zones) {
    zones.set(z.name, {
      name: z.name,
      policy: z.policy,
      secondaries: z.secondaries,
      keys: null,
      lastSigned: null,
      insecure: false,
      input: z.input.kind === 'file' ? z.input.file : null,
    });
  }
  let auditRecords: number | null = null;
  if (existsSync(config.state)) {
    const store = StateStore.open(config.state, { readonly: true });
    try {
      auditRecords = store.lastAuditSeq();
      for (const row of store.listZones()) {
        const keys = store
          .keys(row.name)
          .map((k) => ({
            role: k.role,
            algorithm: k.algorithm,
            bits: k.bits,
            keyTag: k.keyTag,
            state: keyState(k, now, 0),
            dsSeen: k.dsSeen !== null && k.dsWithdrawn === null,
          }))
          .filter((k) => k.state !== 'removed');
        const known = zones.get(row.name);
        zones.set(row.name, {
          name: row.name,
          policy: row.policy,
          secondaries: known?.secondaries ?? [],
          keys,
          lastSigned: row.lastSigned,
          insecure: row.insecureSince !== null,
          input: known?.input ?? row.input,
        });
      }
    } finally {
      store.close();
    }
  }
  const pinFileMode = config.hsm.pinFile !== undefined && existsSync(config.hsm.pinFile) ? statSync(config.hsm.pinFile).mode : null;
  const syslog = config.audit.syslog;
  const principals = (list: readonly Principal[]): string[] => list.map((p) => `${p.kind}:${p.name}`);
  const access = config.access.all;
  const resolver = config.compliance.resolver;
  return {
    now,
    configFile: config.file,
    stateFile: config.state,
    auditRecords,
    policies,
    zones: [...zones.values()].map(({ input, ...z }) => ({ ...z, ...zoneRecords(config, z.name, input) })),
    tsigKeys,
    secondaries: config.service.secondaries.map((s) => ({ name: s.name, address: s.address, key: s.key })),
    listen: config.service.listen.map((e) => (e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`)),
    resign: config.service.resign,
    alarmValidity: config.service.alarmValidity,
    monitor: {
      interval: config.service.monitor.interval,
      validityWarning: config.service.monitor.validityWarning,
      serialLagWarning: config.service.monitor.serialLagWarning,
      clockWarning: config.service.monitor.clockWarning,
    },
    hsm: {
      module: config.hsm.module ?? process.env.HMS_PKCS11_MODULE ?? 'SoftHSM2 (the default module)',
      token: config.hsm.token,
      pinFile: config.hsm.pinFile ?? null,
      pinFileMode,
    },
    audit: {
      checkpoint: config.audit.checkpoint,
      syslog: syslog === null ? null : syslog.kind === 'local' ? 'local' : `${syslog.protocol}://${syslog.host}:${syslog.port}`,
    },
    access: {
      administrator: principals(access.administrator),
      operator: principals(access.operator),
      approver: principals(access.approver),
      auditor: principals(access.auditor),
    },
    resolver: resolver === null ? null : `${resolver.address}:${resolver.port}`,
  };
}

/**
 * The items the zone's records decide (checkZoneRecords), from the version served (the signed
 * file in the data folder), else the input file; null, with why, when neither can be read.
 */
function zoneRecords(config: HmsConfig, zone: string, input: string | null): { records: ComplianceItem[] | null; recordsFrom: string } {
  const signed = join(config.service.data, 'signed', `${zone}signed`);
  const path = existsSync(signed) ? signed : input;
  if (path === null) return { records: null, recordsFrom: 'no signed version, and the input comes from an upstream primary' };
  try {
    return {
      records: checkZoneRecords(loadZoneFile(path, Name.parse(zone), undefined, path === signed ? SIGNED_FILE_LIMITS : config.service.zoneInput)),
      recordsFrom: path,
    };
  } catch (e) {
    if (!(e instanceof SignerError)) throw e;
    return { records: null, recordsFrom: e.message };
  }
}
