import { quote } from '../common/errors.js';
import type { MapReader } from '../kasp/fields.js';
import { parseEndpoint, type Endpoint } from './service.js';

/** The `compliance:` section: the validating resolver `hms check compliance` asks (docs/compliance.md). */
export interface ComplianceConfig {
  /** A validating resolver; null: none configured (then `--resolver` must name one). */
  readonly resolver: Endpoint | null;
  /** Trust the AD bit of a resolver that is not on this host (the path to it is protected otherwise). */
  readonly trustAd: boolean;
  /** Each query's bound. */
  readonly timeoutMs: number;
}

/** Reads `compliance:`; problems go to the reader's list with their file and line. */
export function readComplianceConfig(r: MapReader): ComplianceConfig {
  const c = r.sub('compliance');
  const text = c.string('resolver', '');
  const resolver = text === '' ? null : (parseEndpoint(text) ?? null);
  if (text !== '' && resolver === null) c.complain('resolver', `${quote(text)} is not ADDRESS, ADDRESS:PORT or [IPv6]:PORT`);
  const trustAd = c.boolean('trust-ad', false);
  const timeoutMs = c.integer('timeout-ms', 3000, 100, 60_000);
  c.finish();
  return { resolver, trustAd, timeoutMs };
}
