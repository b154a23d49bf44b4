import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { parseConfig } from './config.js';

const config = (service: string): string => `state: state/hms.db
policies: [kasp/default.yaml]
service:
${service}`;

const read = (service: string) => parseConfig(config(service), '/etc/hms/hms.yaml').service;

function problems(service: string): string {
  try {
    read(service);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error('the configuration was accepted');
}

describe('service.alarms and service.metrics-listen (issue 19)', () => {
  it('alarms go to the log and there is no metrics endpoint when neither is written', () => {
    const s = read('  data: state\n');
    expect(s.alarms).toEqual([{ kind: 'log' }]);
    expect(s.metricsListen).toBeUndefined();
  });

  it('DK-16 reads the log, syslog to a collector (UDP or TCP, a facility), a command and a webhook, each with its time bound', () => {
    const s = read(`  metrics-listen: 127.0.0.1:9153
  alarms:
    - log: {}
    - syslog: { server: "192.0.2.7:6514", protocol: tcp, facility: local3 }
    - syslog: { server: logs.example.net }
    - syslog: {}
    - command: { run: [/usr/local/bin/page, --team, dns], timeout: 30s }
    - webhook: { url: "https://hooks.example.net/hms/T0KEN" }
`);
    expect(s.metricsListen).toEqual({ address: '127.0.0.1', port: 9153 });
    expect(s.alarms).toEqual([
      { kind: 'log' },
      { kind: 'syslog', target: { kind: 'server', host: '192.0.2.7', port: 6514, protocol: 'tcp' }, facility: 'local3', timeoutMs: 10_000 },
      { kind: 'syslog', target: { kind: 'server', host: 'logs.example.net', port: 514, protocol: 'udp' }, facility: 'daemon', timeoutMs: 10_000 },
      { kind: 'syslog', target: { kind: 'local' }, facility: 'daemon', timeoutMs: 10_000 },
      { kind: 'command', run: ['/usr/local/bin/page', '--team', 'dns'], timeoutMs: 30_000 },
      { kind: 'webhook', url: 'https://hooks.example.net/hms/T0KEN', timeoutMs: 10_000 },
    ]);
    expect(read('  metrics-listen: "[::1]:9100"\n').metricsListen).toEqual({ address: '::1', port: 9100 });
    expect(read('  metrics-listen: 127.0.0.2\n').metricsListen).toEqual({ address: '127.0.0.2', port: 9153 });
  });

  it('refuses a metrics-listen that is no address, at its line', () => {
    expect(problems('  data: state\n  metrics-listen: localhost:9153\n')).toMatch(
      /hms\.yaml:5:3: service\.metrics-listen: 'localhost:9153' is not ADDRESS, ADDRESS:PORT or \[IPv6\]:PORT/,
    );
    expect(problems('  metrics-listen: "127.0.0.1:99999"\n')).toMatch(/hms\.yaml:4:3: service\.metrics-listen: /);
  });

  it('refuses each bad sink at its line, naming the field: unknown kind, two kinds in one item, bad server, protocol, facility, command, URL, timeout', () => {
    const text = problems(`  alarms:
    - pager: {}
    - { log: {}, syslog: {} }
    - syslog: { server: "not a host", protocol: sctp, facility: local9 }
    - command: { run: [page-oncall] }
    - command: { run: [] }
    - webhook: { url: "ftp://example.net/x" }
    - webhook: { url: "http://example.net/x", timeout: 1h }
    - webhook: { url: "http://example.net/x", method: PUT }
    - log
`);
    expect(text).toMatch(
      /hms\.yaml:5:7: service\.alarms\[0\]: expected one of log: \{\.\.\.\}, syslog: \{\.\.\.\}, command: \{\.\.\.\}, webhook: \{\.\.\.\} \(one per list item\), found 'pager'/,
    );
    expect(text).toMatch(/hms\.yaml:6:7: service\.alarms\[1\]: .*found 'log', 'syslog'/);
    expect(text).toMatch(/hms\.yaml:7:\d+: service\.alarms\[2\]\.syslog\.server: 'not a host' is not HOST, HOST:PORT or \[IPv6\]:PORT/);
    expect(text).toMatch(/hms\.yaml:7:\d+: service\.alarms\[2\]\.syslog\.protocol: expected 'udp' or 'tcp', found sctp/);
    expect(text).toMatch(/hms\.yaml:7:\d+: service\.alarms\[2\]\.syslog\.facility: 'local9' is not a syslog facility/);
    expect(text).toMatch(/hms\.yaml:8:\d+: service\.alarms\[3\]\.command\.run: 'page-oncall': give the program's absolute path/);
    expect(text).toMatch(/hms\.yaml:9:\d+: service\.alarms\[4\]\.command\.run: give the command as a list/);
    expect(text).toMatch(/hms\.yaml:10:\d+: service\.alarms\[5\]\.webhook\.url: 'ftp:\/\/example\.net\/x' is not an http:\/\/ or https:\/\/ URL/);
    expect(text).toMatch(/hms\.yaml:11:\d+: service\.alarms\[6\]\.webhook\.timeout: expected from 1 s to 300 s, found 3600 s/);
    expect(text).toMatch(/hms\.yaml:12:\d+: service\.alarms\[7\]\.webhook\.method: unknown field/);
    expect(text).toMatch(/hms\.yaml:13:7: service\.alarms\[8\]: expected a map such as \{log: \{\}\}/);
  });

  it('refuses an empty list of sinks: alarms that go nowhere are a mistake', () => {
    expect(problems('  alarms: []\n')).toMatch(/hms\.yaml:4:3: service\.alarms: an empty list: name at least one sink/);
  });
});
