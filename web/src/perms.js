// SPDX-License-Identifier: AGPL-3.0-or-later
// What the console offers to whom.  It mirrors the API's decisions so that
// controls that would be refused are not shown; the API remains the
// protection and its refusals are shown as errors all the same.

export const ROLES = ['admin', 'security_officer', 'security_manager', 'manager', 'auditor', 'employee', 'partner_staff'];
// Roles that can be granted explicitly (employee and partner_staff follow from
// the person's kind, manager from having reports, but may also be granted).
export const GRANTABLE = ['admin', 'security_officer', 'security_manager', 'manager', 'auditor'];

export function roleNames(me) {
  const out = new Set();
  for (const r of (me && me.roles) || []) out.add(typeof r === 'string' ? r : r.role);
  return out;
}

export function has(me, ...roles) {
  const mine = roleNames(me);
  return roles.some((r) => mine.has(r));
}

export const canReadAudit = (me) => has(me, 'admin', 'security_officer', 'auditor');
export const canImportHr = (me) => has(me, 'admin', 'security_officer');
export const canBrowseDirectory = (me) =>
  has(me, 'admin', 'security_officer', 'security_manager', 'manager', 'auditor');
export const canCreateScimToken = (me) => has(me, 'admin');
export const canSeeAllTokens = (me) => has(me, 'admin');
// Exchange: everyone sends and requests; these see the transfers of others in scope.
export const canSeeAllTransfers = (me) => has(me, 'admin', 'security_officer', 'security_manager', 'auditor');
export const canConfigureExchange = (me) => has(me, 'admin');
// Endpoints: devices, enrollment tokens, policies.  A security manager's are their subtree's.
export const canSeeDevices = (me) => has(me, 'admin', 'security_officer', 'security_manager', 'auditor');
export const canManageEndpoints = (me) => has(me, 'admin', 'security_officer', 'security_manager');

/* True when org path @path is @scope or below it. */
export function pathWithin(path, scope) {
  if (!path || !scope) return false;
  return path === scope || path.startsWith(scope.endsWith('/') ? scope : scope + '/');
}

function inScope(me, person) {
  const path = person && person.org_unit && person.org_unit.path;
  return pathWithin(path, me && me.manages_path);
}

/* Roles explicitly granted to @person (not the implicit ones from kind or reports). */
function grants(person) {
  return new Set(((person && person.roles) || []).filter((r) => !r.implicit).map((r) => r.role));
}

const PRIVILEGED = ['admin', 'security_officer', 'security_manager', 'auditor'];

/*
 * The roles @me may grant to (or revoke from) @person.  Nobody changes their
 * own roles here; a person holding admin is managed only by an admin; a
 * security manager grants only "manager", in scope, to people without a
 * privileged grant.
 */
export function grantableRoles(me, person) {
  if (!person || (me && person.id === me.id)) return [];
  const g = grants(person);
  if (has(me, 'admin')) return GRANTABLE;
  if (g.has('admin')) return [];
  if (has(me, 'security_officer')) return GRANTABLE.filter((r) => r !== 'admin');
  if (has(me, 'security_manager') && inScope(me, person) && !PRIVILEGED.some((r) => g.has(r))) return ['manager'];
  return [];
}

/* Invite, set a password, end sessions: people administration, with the same limits. */
export function canAdminister(me, person) {
  if (!person || (me && person.id === me.id)) return false;
  const g = grants(person);
  if (has(me, 'admin')) return true;
  if (g.has('admin')) return false;
  if (has(me, 'security_officer')) return true;
  return has(me, 'security_manager') && inScope(me, person) && !PRIVILEGED.some((r) => g.has(r));
}
