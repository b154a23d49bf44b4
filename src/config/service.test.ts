import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { parseConfig } from './config.js';
import { describeSource, parseEndpoint } from './service.js';

const SECRET = 'c2VydmljZS10ZXN0LXNlY3JldC1mb3ItdHNpZy0zMi1v';
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hms-config-'));
  writeFileSync(join(dir, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'open.secret'), `${SECRET}\n`);
  chmodSync(join(dir, 'open.secret'), 0o644);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (service: string): string => `state: state/hms.db
policies: [kasp/default.yaml]
${service}`;

const GOOD = `service:
  listen: ["127.0.0.1:5300", "[::1]:5300"]
  resign: "17 3 * * *"
  alarm-validity: 5d
tsig-keys:
  xfr-key: { algorithm: hmac-sha256, secret-file: xfr.secret }
secondaries:
  ns1: { address: 192.0.2.53, key: xfr-key }
  ns2: { address: "2001:db8::53", notify: "[2001:db8::53]:5353", key: xfr-key }
zones:
  Example.COM:
    input: zones/example.com.zone
    policy: dp
    secondaries: [ns1]
  example.net:
    primary: { address: 192.0.2.1, port: 5301, key: xfr-key }
    parent-servers: [192.0.2.99, "192.0.2.98:5353"]
`;

function problems(text: string): string {
  try {
    parseConfig(text, join(dir, 'hms.yaml'));
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error('the configuration was accepted');
}

describe('the service sections of the configuration', () => {
  it('reads listen addresses, the schedule, TSIG keys from their files, secondaries and zones', () => {
    const c = parseConfig(config(GOOD), join(dir, 'hms.yaml')).service;
    expect(c.listen).toEqual([
      { address: '127.0.0.1', port: 5300 },
      { address: '::1', port: 5300 },
    ]);
    expect(c.source).toEqual({ ipv4: '127.0.0.1', ipv6: '::1' });
    expect(c.data).toBe(join(dir, 'state'));
    expect(c.control).toBe(join(dir, 'state/hms.sock'));
    expect(c.alarmValidity).toBe(5 * 86400);
    expect(c.tsigKeys.map((k) => [k.name.toString(), k.algorithm, Buffer.from(k.secret).toString('base64')])).toEqual([['xfr-key.', 'hmac-sha256', SECRET]]);
    expect(c.secondaries).toEqual([
      { name: 'ns1', address: '192.0.2.53', key: 'xfr-key', notify: { address: '192.0.2.53', port: 53 } },
      { name: 'ns2', address: '2001:db8::53', key: 'xfr-key', notify: { address: '2001:db8::53', port: 5353 } },
    ]);
    expect(c.zones).toEqual([
      { name: 'example.com.', input: { kind: 'file', file: join(dir, 'zones/example.com.zone') }, policy: 'dp', secondaries: ['ns1'], parentServers: [] },
      {
        name: 'example.net.',
        input: { kind: 'primary', primary: { address: '192.0.2.1', port: 5301 }, key: 'xfr-key' },
        policy: 'dp',
        secondaries: ['ns1', 'ns2'],
        parentServers: ['192.0.2.99', '192.0.2.98:5353'],
      },
    ]);
  });

  it("issue 17 item 5 reads the journal's byte bound (256M unless written) and refuses a size it cannot take, at its line", () => {
    const size = (written: string): string => config(GOOD.replace('  resign: "17 3 * * *"\n', `  resign: "17 3 * * *"\n  journal-size: ${written}\n`));
    expect(parseConfig(config(GOOD), join(dir, 'hms.yaml')).service.journalBytes).toBe(256 * 1024 * 1024);
    expect(parseConfig(size('1G'), join(dir, 'hms.yaml')).service.journalBytes).toBe(1024 ** 3);
    expect(parseConfig(size('"65536"'), join(dir, 'hms.yaml')).service.journalBytes).toBe(65536);
    expect(parseConfig(size('131072'), join(dir, 'hms.yaml')).service.journalBytes).toBe(131072);
    for (const bad of ['12X', '1K', '5G', '-1', '1.5'])
      expect(problems(size(bad)), bad).toMatch(
        new RegExp(`hms\\.yaml:6:3: service\\.journal-size: expected a size from 64K to 4G \\(octets, or a number with K, M or G\\), found`),
      );
  });

  it('DP-3.5c refuses hmac-md5 with the file, line and field, and reports the key only once', () => {
    const message = problems(config(GOOD.replace('algorithm: hmac-sha256', 'algorithm: hmac-md5')));
    expect(message).toMatch(/1 problem\(s\)/);
    expect(message).toMatch(/hms\.yaml:8:\d+: tsig-keys\.xfr-key\.algorithm: TSIG algorithm hmac-md5 is refused: no HMAC-MD5 \(DP-3\.5c/);
  });

  it('DP-3.5a never takes a secret written in the configuration, nor from a file others can read, and never shows it', () => {
    const inline = problems(config(GOOD.replace('secret-file: xfr.secret', `secret: ${SECRET}`)));
    expect(inline).toMatch(/tsig-keys\.xfr-key\.secret: a TSIG secret is never written in the configuration/);
    const open = problems(config(GOOD.replace('secret-file: xfr.secret', 'secret-file: open.secret')));
    expect(open).toMatch(/open\.secret is readable by others \(mode 644\): chmod 600 it/);
    for (const m of [inline, open]) expect(m).not.toContain(SECRET);
  });

  it('reports every wrong value at its line: an address, a key not listed, a secondary not listed, a bad schedule, input and primary together', () => {
    const message = problems(
      config(
        GOOD.replace('"127.0.0.1:5300"', '"localhost:5300"')
          .replace('resign: "17 3 * * *"', 'resign: "daily"')
          .replace('ns1: { address: 192.0.2.53, key: xfr-key }', 'ns1: { address: 192.0.2.53, key: other-key }')
          .replace('secondaries: [ns1]', 'secondaries: [ns9]')
          .replace('    primary: {', '    input: x.zone\n    primary: {'),
      ),
    );
    expect(message).toMatch(/:4:\d+: service\.listen: 'localhost:5300' is not ADDRESS/);
    expect(message).toMatch(/:5:\d+: service\.resign: 'daily' is not a cron expression/);
    expect(message).toMatch(/:10:\d+: secondaries\.ns1\.key: no TSIG key 'other-key' in tsig-keys/);
    expect(message).toMatch(/:16:\d+: zones\.Example\.COM\.secondaries: no secondary 'ns9'/);
    expect(message).toMatch(/zones\.example\.net\.input: give either input \(a zone file\) or primary/);
  });

  it('issue 20 item 4 resign-spread of a day or more is refused at its line', () => {
    expect(problems(config(GOOD.replace('resign: "17 3 * * *"', 'resign: "17 3 * * *"\n  resign-spread: 1d')))).toMatch(
      /:6:\d+: service\.resign-spread: 86400 s: the daily re-signs must start within a day/,
    );
  });

  it('issue 16 takes the source addresses as written, or the one listen address of each family, or leaves the choice to the kernel', () => {
    const source = (listen: string, written?: string): unknown =>
      parseConfig(
        config(GOOD.replace('  listen: ["127.0.0.1:5300", "[::1]:5300"]\n', `  listen: ${listen}\n${written === undefined ? '' : `  source: ${written}\n`}`)),
        join(dir, 'hms.yaml'),
      ).service.source;
    expect(source('["127.0.0.4:5300"]')).toEqual({ ipv4: '127.0.0.4' });
    expect(source('["127.0.0.4:5300", "[::1]:5300"]', '{ ipv4: 192.0.2.10, ipv6: "2001:db8::10" }')).toEqual({ ipv4: '192.0.2.10', ipv6: '2001:db8::10' });
    expect(source('["127.0.0.4:5300", "[::1]:5300"]', '{ ipv6: ::1 }')).toEqual({ ipv4: '127.0.0.4', ipv6: '::1' });
    // two addresses of a family, or a wildcard: the kernel chooses
    expect(source('["127.0.0.4:5300", "127.0.0.5:5300", "[::1]:5300"]')).toEqual({ ipv6: '::1' });
    expect(source('["0.0.0.0:5300", "[::]:5300"]')).toEqual({});
    expect(source('["127.0.0.4:5300", "[::1]:5300"]', '{ ipv4: 0.0.0.0, ipv6: "::" }')).toEqual({});
    expect(source('[]')).toEqual({});
    expect(describeSource({ ipv4: '127.0.0.4' })).toEqual({ ipv4: '127.0.0.4', ipv6: 'chosen by the kernel' });
  });

  it('issue 16 refuses a source address of the wrong family, with a port, a name, an unknown field or no map, at its line', () => {
    const bad = (written: string): string => problems(config(GOOD.replace('  resign: "17 3 * * *"\n', `  source: ${written}\n  resign: "17 3 * * *"\n`)));
    expect(bad('{ ipv4: "::1", ipv6: 127.0.0.1 }')).toMatch(
      /2 problem\(s\)[\s\S]*hms\.yaml:5:\d+: service\.source\.ipv4: '::1' is not an IPv4 address[\s\S]*hms\.yaml:5:\d+: service\.source\.ipv6: '127\.0\.0\.1' is not an IPv6 address/,
    );
    expect(bad('{ ipv4: "127.0.0.1:53" }')).toMatch(
      /hms\.yaml:5:\d+: service\.source\.ipv4: '127\.0\.0\.1:53' is not an IPv4 address \(an address only: requests leave from any free port\)/,
    );
    expect(bad('{ ipv6: localhost }')).toMatch(/service\.source\.ipv6: 'localhost' is not an IPv6 address/);
    expect(bad('{ ipv5: 127.0.0.1 }')).toMatch(/service\.source\.ipv5: unknown field \(expected one of: ipv4, ipv6\)/);
    expect(bad('127.0.0.1')).toMatch(/hms\.yaml:5:\d+: service\.source: expected a map of fields, found 127\.0\.0\.1/);
  });

  it('reads endpoints as address, address:port and [IPv6]:port', () => {
    expect(parseEndpoint('192.0.2.1')).toEqual({ address: '192.0.2.1', port: 53 });
    expect(parseEndpoint('192.0.2.1:5300')).toEqual({ address: '192.0.2.1', port: 5300 });
    expect(parseEndpoint('[2001:db8::1]:5300')).toEqual({ address: '2001:db8::1', port: 5300 });
    expect(parseEndpoint('2001:db8::1')).toEqual({ address: '2001:db8::1', port: 53 });
    for (const bad of ['ns1.example.com', '192.0.2.1:0', '192.0.2.1:70000', '[::1]:x', '']) expect(parseEndpoint(bad), bad).toBeUndefined();
  });

  it('issue 17 item 3 reads the TCP caps and timeouts and the refusal log interval, with the defaults when left out, and refuses values out of range at their line', () => {
    const limits = (lines: string): unknown =>
      parseConfig(config(GOOD.replace('  alarm-validity: 5d\n', `  alarm-validity: 5d\n${lines}`)), join(dir, 'hms.yaml')).service.transferLimits;
    expect(limits('')).toEqual({ maxClients: 256, maxClientsPerAddress: 16, idleTimeoutMs: 10_000, ioTimeoutMs: 2_000, refusalLogIntervalMs: 60_000 });
    expect(
      limits('  tcp-max-clients: 1000\n  tcp-max-clients-per-address: 50\n  tcp-idle-timeout: 30s\n  tcp-io-timeout: 5\n  refusal-log-interval: 0\n'),
    ).toEqual({ maxClients: 1000, maxClientsPerAddress: 50, idleTimeoutMs: 30_000, ioTimeoutMs: 5_000, refusalLogIntervalMs: 0 });
    expect(limits('  tcp-max-clients: 8\n')).toMatchObject({ maxClients: 8, maxClientsPerAddress: 8 });
    const text = problems(
      config(GOOD.replace('  alarm-validity: 5d\n', '  alarm-validity: 5d\n  tcp-max-clients: 0\n  tcp-io-timeout: 0\n  tcp-idle-timeout: 2h\n')),
    );
    expect(text).toMatch(/hms\.yaml:7:3: service\.tcp-max-clients: expected a whole number from 1 to 100000, found 0/);
    expect(text).toMatch(/hms\.yaml:8:3: service\.tcp-io-timeout: expected from 1 s to 600 s, found 0 s/);
    expect(text).toMatch(/hms\.yaml:9:3: service\.tcp-idle-timeout: expected from 1 s to 3600 s, found 7200 s/);
  });
});

describe('service.zone-input-* (issue 17: zone input limits)', () => {
  const read = (lines: string) => parseConfig(config(`service:\n${lines}`), join(dir, 'hms.yaml')).service.zoneInput;

  it('defaults to 4 GiB a zone, 1 MiB a line, 20 $INCLUDE levels; takes sizes in octets or with k, M, G', () => {
    expect(read('  data: state\n')).toEqual({ maxOctets: 4 * 2 ** 30, maxLine: 2 ** 20, maxIncludeDepth: 20 });
    expect(read('  zone-input-max-size: 512M\n  zone-input-max-line: 65536\n  zone-input-max-include-depth: 0\n')).toEqual({
      maxOctets: 512 * 2 ** 20,
      maxLine: 65536,
      maxIncludeDepth: 0,
    });
    expect(read('  zone-input-max-size: 8G\n  zone-input-max-line: 2k\n').maxOctets).toBe(8 * 2 ** 30);
  });

  it('OPS-6 refuses a size that is not one, or out of range, with file:line', () => {
    const e = (() => {
      try {
        read('  zone-input-max-size: lots\n  zone-input-max-line: 10\n  zone-input-max-include-depth: 1000\n');
      } catch (error) {
        return error as ConfigError;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.problems.map((p) => `${p.line}: ${p.field}`)).toEqual([
      '4: service.zone-input-max-size',
      '5: service.zone-input-max-line',
      '6: service.zone-input-max-include-depth',
    ]);
    expect(e.problems[0]!.message).toMatch(/expected a size from 1K to \d+G \(octets, or a number with K, M or G\), found lots/);
  });
});
