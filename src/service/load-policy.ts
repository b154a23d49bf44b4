import { MAX_CONFIG_OCTETS, readRegularTextFile } from '../files/regular-file.js';
import { loadPolicies, type LoadedPolicies } from '../kasp/load.js';

/** Reads a policy file (a regular file, bounded) and holds each policy to its profile; throws PolicyError, IO or INPUT_REFUSED. */
export function loadPolicyFile(path: string): LoadedPolicies {
  return loadPolicies(readRegularTextFile(path, 'policy file', MAX_CONFIG_OCTETS), path);
}
