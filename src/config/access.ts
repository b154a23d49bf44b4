import { PermissionError } from '../common/errors.js';

/** The roles of DP-2.8b: who may change zones and keys, who may approve, who may only read. */
export type Role = 'administrator' | 'operator' | 'approver' | 'auditor';
export const ROLES: readonly Role[] = ['administrator', 'operator', 'approver', 'auditor'];

/** `user:alice` or `group:hms-ops`: how a role is given. */
export interface Principal {
  readonly kind: 'user' | 'group';
  readonly name: string;
}

export type RoleTable = Readonly<Record<Role, readonly Principal[]>>;

/** Roles for every zone, and more for single zones (the union of both applies). */
export interface Access {
  readonly all: RoleTable;
  readonly zones: ReadonlyMap<string, RoleTable>;
}

/** Who runs the command: the OS user (the invoking user under sudo) and their groups. */
export interface Operator {
  readonly user: string;
  readonly groups: readonly string[];
}

/** What each role may do. An administrator may do everything an operator may. */
export type Action = 'zone.manage' | 'zone.data' | 'key.roll' | 'ds.request' | 'ds.export' | 'approve' | 'read';

const ALLOWED: Readonly<Record<Action, readonly Role[]>> = {
  'zone.manage': ['administrator'],
  'zone.data': ['administrator', 'operator'],
  'key.roll': ['administrator', 'operator'],
  'ds.request': ['administrator', 'operator'],
  'ds.export': ['administrator', 'operator'],
  approve: ['approver'],
  read: ['administrator', 'operator', 'approver', 'auditor'],
};

export function parsePrincipal(text: string): Principal | undefined {
  const m = /^(user|group):([A-Za-z0-9._][A-Za-z0-9._@-]*\$?)$/.exec(text);
  return m === null ? undefined : { kind: m[1] as 'user' | 'group', name: m[2]! };
}

/** The roles an operator has for a zone (null: for every zone). */
export function rolesOf(access: Access, who: Operator, zone: string | null): Role[] {
  const tables = [access.all, ...(zone === null ? [] : [access.zones.get(zone)].filter((t): t is RoleTable => t !== undefined))];
  const holds = (p: Principal): boolean => (p.kind === 'user' ? p.name === who.user : who.groups.includes(p.name));
  return ROLES.filter((role) => tables.some((t) => t[role].some(holds)));
}

/** Throws a PermissionError unless the operator may do `action` on `zone` (DP-2.8b). */
export function authorize(access: Access, who: Operator, action: Action, zone: string | null): Role[] {
  const roles = rolesOf(access, who, zone);
  if (!roles.some((r) => ALLOWED[action].includes(r))) {
    throw new PermissionError(
      `${who.user} may not ${action.replace('.', ' ')}${zone === null ? '' : ` for ${zone}`}: that needs the role ${ALLOWED[action].join(' or ')} (has: ${roles.join(', ') || 'none'})`,
      { user: who.user, action, zone, roles },
    );
  }
  return roles;
}
