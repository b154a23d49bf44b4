import { execFile, execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { PermissionError } from '../common/errors.js';
import type { Operator } from './access.js';

/**
 * Who runs hms in this process (DP-2.7a/b): the OS user, authenticated by the system's own
 * login (PAM, SSSD, Kerberos), or under sudo the user who invoked it (SUDO_USER is believed
 * only when running as root, where sudo sets it). Groups come from the system's name service
 * (`id -Gn`), so LDAP and SSSD groups count too. The running service does not use this: it
 * asks the kernel who is at the other end of its socket (`peerOperator`).
 */
export function currentOperator(env: NodeJS.ProcessEnv = process.env): Operator {
  const me = userInfo();
  const user = me.uid === 0 ? (sudoUser(env.SUDO_USER) ?? me.username) : me.username;
  return { user, groups: groupsOf(user) };
}

/** A SUDO_USER worth taking: a name, not root. */
function sudoUser(text: string | undefined): string | undefined {
  return text !== undefined && text !== '' && text !== 'root' && /^[A-Za-z0-9._][A-Za-z0-9._@-]*\$?$/.test(text) ? text : undefined;
}

function groupsOf(user: string): string[] {
  try {
    return execFileSync('id', ['-Gn', '--', user], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split(/\s+/)
      .filter((g) => g !== '');
  } catch {
    // a user the name service does not know has no groups; a role by user name still holds
    return [];
  }
}

function id(args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('id', [...args], { encoding: 'utf8', timeout: 5000 }, (error, stdout) => resolve(error === null ? stdout.trim() : undefined));
  });
}

/**
 * The operator at the other end of the control socket, on the kernel's word (DP-2.7a): the
 * uid it gives (SO_PEERCRED) is mapped to the user and their groups through the system's name
 * service, so LDAP and SSSD accounts and groups count (DP-2.7b). A name the request gives is
 * never believed; `claimedSudoUser` (the CLI's SUDO_USER) counts only when the peer is root,
 * as sudo runs it.
 */
export async function peerOperator(uid: number, claimedSudoUser?: string): Promise<Operator> {
  const name = await id(['-nu', String(uid)]);
  if (name === undefined || name === '') throw new PermissionError(`uid ${uid} is not known to the system's name service: refused`, { uid });
  const user = uid === 0 ? (sudoUser(claimedSudoUser) ?? name) : name;
  const groups = await id(['-Gn', '--', user]);
  return { user, groups: groups === undefined ? [] : groups.split(/\s+/).filter((g) => g !== '') };
}
