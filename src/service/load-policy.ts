import { readFileSync } from 'node:fs';
import { SignerError } from '../common/errors.js';
import { loadPolicies, type LoadedPolicies } from '../kasp/load.js';

/** Reads a policy file and holds each policy to its profile; throws PolicyError or IO. */
export function loadPolicyFile(path: string): LoadedPolicies {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new SignerError('IO', `${path}: cannot read the policy file (${reason})`, { cause: e });
  }
  return loadPolicies(text, path);
}
