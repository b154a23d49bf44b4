import { PolicyError } from '../common/errors.js';
import { byPlace, readPolicyFile } from './parse.js';
import type { Policy } from './policy.js';
import { checkCompliance, type ComplianceFinding } from './profiles.js';

export interface LoadedPolicies {
  readonly policies: readonly Policy[];
  /** What the profiles warn of; warnings do not refuse a policy. */
  readonly warnings: readonly ComplianceFinding[];
}

/**
 * Reads a policy file and holds each policy to its profile: the policies, or a PolicyError that
 * lists every problem in file order, those of reading and those of the profiles together.
 */
export function loadPolicies(text: string, file: string): LoadedPolicies {
  const { policies, problems } = readPolicyFile(text, file);
  const findings = policies.flatMap((p) => checkCompliance(p));
  const errors = [...problems, ...findings.filter((f) => f.severity === 'error')].sort(byPlace);
  if (errors.length > 0) throw new PolicyError(file, errors);
  return { policies, warnings: findings.filter((f) => f.severity === 'warning').sort(byPlace) };
}
