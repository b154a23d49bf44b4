import { existsSync, statSync } from 'node:fs';
import type { UnixSeconds } from '../common/clock.js';
import { ConfigError } from '../common/errors.js';
import type { DpsFacts, DpsZone } from '../compliance/dps.js';
import { loadConfig, type HmsConfig } from '../config/config.js';
import type { Principal } from '../config/access.js';
import { keyState } from '../enforcer/keys.js';
import { StateStore } from '../storage/state.js';
import { loadPolicyFile } from './load-policy.js';

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
  const zones = new Map<string, DpsZone>();
  for (const z of config.service.zones) {
    zones.set(z.name, { name: z.name, policy: z.policy, secondaries: z.secondaries, keys: null, lastSigned: null, insecure: false });
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
    zones: [...zones.values()],
    tsigKeys,
    secondaries: config.service.secondaries.map((s) => ({ name: s.name, address: s.address, key: s.key })),
    listen: config.service.listen.map((e) => (e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`)),
    resign: config.service.resign,
    alarmValidity: config.service.alarmValidity,
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
