import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import type { Operator } from './access.js';

/**
 * Who runs hms (DP-2.7a/b): the OS user, authenticated by the system's own login (PAM, SSSD,
 * Kerberos), or under sudo the user who invoked it (SUDO_USER is believed only when running
 * as root, where sudo sets it). Groups come from the system's name service (`id -Gn`), so
 * LDAP and SSSD groups count too.
 */
export function currentOperator(env: NodeJS.ProcessEnv = process.env): Operator {
  const me = userInfo();
  const sudo = env.SUDO_USER;
  const user = me.uid === 0 && sudo !== undefined && sudo !== '' && sudo !== 'root' ? sudo : me.username;
  return { user, groups: groupsOf(user) };
}

function groupsOf(user: string): string[] {
  try {
    return execFileSync('id', ['-Gn', '--', user], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim().split(/\s+/).filter((g) => g !== '');
  } catch {
    // a user the name service does not know has no groups; a role by user name still holds
    return [];
  }
}
