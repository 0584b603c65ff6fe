// SPDX-License-Identifier: AGPL-3.0-or-later
// One person: record, manager, roles (grant and revoke), administration, HR history.
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtDateTime, t } from '../i18n.js';
import { canAdminister, grantableRoles } from '../perms.js';
import { href } from '../router.js';
import {
  ActionStatus, ConfirmButton, CopyButton, errorText, Loading, ObjectPending, Pager, PageTitle, TableWrap, useAction, useCursorPager, useLoad,
} from '../components/ui.jsx';
import { StatusBadge, personName } from './Directory.jsx';

function Roles({ me, person, onPerson }) {
  const allowed = grantableRoles(me, person);
  const [role, setRole] = useState(allowed[0] || '');
  const [scope, setScope] = useState('');
  const [run, state] = useAction();
  const roles = person.roles || [];
  const orgs = useLoad(() => (allowed.includes('security_manager') ? api('GET', '/api/v1/org') : Promise.resolve(null)), [person.id]);

  useEffect(() => {
    if (!allowed.includes(role)) setRole(allowed[0] || '');
  }, [allowed.join()]);

  const grant = async (e) => {
    e.preventDefault();
    const body = role === 'security_manager' && scope ? { scope_org: scope } : {};
    const p = await run(() => api('PUT', `/api/v1/people/${encodeURIComponent(person.id)}/roles/${encodeURIComponent(role)}`, { json: body }),
      t('person.role_granted', { role: t(`role.${role}`, null, role) }));
    if (p) {
      setScope('');
      onPerson(p);
    }
  };
  const revoke = async (r) => {
    const p = await run(() => api('DELETE', `/api/v1/people/${encodeURIComponent(person.id)}/roles/${encodeURIComponent(r.role)}`),
      t('person.role_revoked', { role: t(`role.${r.role}`, null, r.role) }));
    if (p) onPerson(p);
  };

  return (
    <section class="panel" aria-labelledby="roles-title">
      <h2 id="roles-title">{t('person.roles')}</h2>
      {roles.length === 0 ? <p class="empty">{t('person.no_roles')}</p> : (
        <ul class="role-list">
          {roles.map((r) => (
            <li key={`${r.role}-${r.implicit ? 'i' : 'g'}`}>
              <span class="badge role">{t(`role.${r.role}`, null, r.role)}</span>
              {r.scope && <span class="sub">{t('person.scope')}: {r.scope}</span>}
              {r.implicit && <span class="sub">{t('person.implicit')}</span>}
              {!r.implicit && allowed.includes(r.role) && (
                <ConfirmButton label={t('person.revoke')} confirmLabel={t('person.revoke_confirm', { role: t(`role.${r.role}`, null, r.role) })} danger disabled={state.busy} onConfirm={() => revoke(r)} />
              )}
            </li>
          ))}
        </ul>
      )}
      {allowed.length > 0 && (
        <form class="inline-form" onSubmit={grant} aria-labelledby="grant-title">
          <h3 id="grant-title">{t('person.grant_title')}</h3>
          <div class="field">
            <label for="grant-role">{t('person.role')}</label>
            <select id="grant-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
              {allowed.map((r) => <option key={r} value={r}>{t(`role.${r}`, null, r)}</option>)}
            </select>
          </div>
          {role === 'security_manager' && (
            <div class="field">
              <label for="grant-scope">{t('person.scope')}</label>
              <select id="grant-scope" value={scope} onChange={(e) => setScope(e.currentTarget.value)} aria-describedby="scope-help">
                <option value="">{t('person.scope_own')}</option>
                {orgs.data && orgs.data.items.slice().sort((a, b) => a.path.localeCompare(b.path)).map((o) => <option key={o.id} value={o.path}>{o.path}</option>)}
              </select>
              <p id="scope-help" class="help">{t('person.scope_help')}</p>
            </div>
          )}
          <div class="actions">
            <button type="submit" class="primary" disabled={state.busy || !role}>{t('person.grant')}</button>
          </div>
        </form>
      )}
      <ActionStatus state={state} />
    </section>
  );
}

function Administer({ person }) {
  const [run, state] = useAction();
  const [secret, setSecret] = useState(null); // { kind, value, expires_at }

  const invite = async () => {
    const r = await run(() => api('POST', `/api/v1/people/${encodeURIComponent(person.id)}/invite`), t('person.invited'));
    if (r) {
      // The link as this browser reaches the console; the server's own guess
      // (activation_url) may name its listening address instead.
      const url = r.activation_token ? `${location.origin}/#/activate/${r.activation_token}` : r.activation_url;
      setSecret({ kind: 'invite', value: url, expires_at: r.expires_at });
    }
  };
  const resetPassword = async () => {
    const r = await run(() => api('POST', `/api/v1/people/${encodeURIComponent(person.id)}/password`, { json: {} }), t('person.password_reset'));
    if (r && r.temporary_password) setSecret({ kind: 'password', value: r.temporary_password });
  };
  const revokeSessions = () => run(
    () => api('POST', `/api/v1/people/${encodeURIComponent(person.id)}/sessions/revoke`),
    (r) => t('person.sessions_revoked', { n: r ? r.revoked : 0 }),
  );

  return (
    <section class="panel" aria-labelledby="admin-title">
      <h2 id="admin-title">{t('person.admin_title')}</h2>
      <div class="actions">
        {person.status === 'active' && <button type="button" onClick={invite} disabled={state.busy}>{t('person.invite')}</button>}
        <ConfirmButton label={t('person.reset_password')} confirmLabel={t('person.reset_password_confirm')} disabled={state.busy} onConfirm={resetPassword} />
        <ConfirmButton label={t('person.revoke_sessions')} confirmLabel={t('person.revoke_sessions_confirm')} danger disabled={state.busy} onConfirm={revokeSessions} />
      </div>
      <ActionStatus state={state} />
      {secret && (
        <div class="callout" role="region" aria-labelledby="secret-title">
          <h3 id="secret-title">{secret.kind === 'invite' ? t('person.invite_link') : t('person.temporary_password')}</h3>
          <p>{secret.kind === 'invite' ? t('person.invite_help', { at: fmtDateTime(secret.expires_at) }) : t('person.temporary_help')}</p>
          <p><code class="secret">{secret.value}</code></p>
          <div class="actions">
            <CopyButton text={secret.value} />
            <button type="button" onClick={() => setSecret(null)}>{t('account.token_hide')}</button>
          </div>
        </div>
      )}
    </section>
  );
}

/* [label, text] pairs for one HR change: the fields that changed, old → new. */
function changeSummary(change) {
  if (!change || typeof change !== 'object') return [];
  const show = (v) => (v === null || v === undefined || v === '' ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const before = change.before && typeof change.before === 'object' ? change.before : null;
  const after = change.after && typeof change.after === 'object' ? change.after : null;
  if (!before && !after) {
    return Object.entries(change).map(([k, v]) => [t(`field.${k}`, null, k), show(v)]);
  }
  const out = [];
  if (change.action) out.push([t('import.action'), t(`import.action_${change.action}`, null, change.action)]);
  const keys = new Set([...Object.keys(before || {}), ...Object.keys(after || {})]);
  for (const k of keys) {
    const label = t(`field.${k}`, null, k);
    if (!before) out.push([label, show(after[k])]);
    else out.push([label, `${show(before[k])} → ${show(after ? after[k] : undefined)}`]);
  }
  return out;
}

function History({ person }) {
  const pager = useCursorPager(person.id);
  const hist = useLoad(() => api('GET', `/api/v1/people/${encodeURIComponent(person.id)}/history`, { query: { limit: 20, cursor: pager.cursor } }), [person.id, pager.cursor]);
  return (
    <section class="panel" aria-labelledby="hist-title">
      <h2 id="hist-title">{t('person.history')}</h2>
      <Loading state={hist}>
        {hist.data && (hist.data.items.length === 0 ? <p class="empty">{t('person.no_history')}</p> : (
          <TableWrap label={t('person.history')}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('person.history_at')}</th>
                  <th scope="col">{t('person.history_source')}</th>
                  <th scope="col">{t('person.history_change')}</th>
                </tr>
              </thead>
              <tbody>
                {hist.data.items.map((h) => (
                  <tr key={h.id}>
                    <td>{fmtDateTime(h.at)}</td>
                    <td>{t(`source.${h.source}`, null, h.source)}</td>
                    <td class="wrap">
                      <dl class="kv">
                        {changeSummary(h.change).map(([k, v]) => <Fragment key={k}><dt>{k}</dt><dd>{v}</dd></Fragment>)}
                      </dl>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        ))}
      </Loading>
      {hist.data && (pager.page > 1 || hist.data.next) && <Pager pager={pager} next={hist.data.next} busy={hist.loading} label={t('person.history')} />}
    </section>
  );
}

export function PersonPage({ me, id }) {
  const load = useLoad(() => api('GET', `/api/v1/people/${encodeURIComponent(id)}`), [id]);
  const [person, setPerson] = useState(null);
  useEffect(() => setPerson(load.data), [load.data]);

  if (load.error || !person) {
    return <ObjectPending load={load} title={t('person.title')} notFound={t('person.not_found')} back={t('person.back')} backHref="#/directory" />;
  }
  const p = person;
  return (
    <section>
      <p class="crumbs"><a href="#/directory">{t('person.back')}</a></p>
      <PageTitle>{personName(p)}</PageTitle>
      <div class="panel">
        <dl class="facts">
          <dt>{t('person.login')}</dt><dd>{p.login || '—'}</dd>
          <dt>{t('person.employee_number')}</dt><dd>{p.employee_number || '—'}</dd>
          <dt>{t('person.email')}</dt><dd>{p.email || '—'}</dd>
          <dt>{t('person.org_unit')}</dt>
          <dd>{p.org_unit ? <a href={href(['directory'], { org: p.org_unit.path })}>{p.org_unit.path}</a> : '—'}</dd>
          <dt>{t('person.title_field')}</dt><dd>{p.title || '—'}</dd>
          <dt>{t('person.status')}</dt><dd><StatusBadge status={p.status} /></dd>
          <dt>{t('person.kind')}</dt><dd>{t(`kind.${p.kind}`, null, p.kind)}</dd>
          <dt>{t('person.manager')}</dt>
          <dd>{p.manager ? <a href={href(['people', p.manager.id])}>{p.manager.name || p.manager.employee_number}</a> : '—'}</dd>
          <dt>{t('person.updated')}</dt><dd>{fmtDateTime(p.updated_at)}</dd>
          {p.retired_at && <><dt>{t('person.retired_at')}</dt><dd>{fmtDateTime(p.retired_at)}</dd></>}
        </dl>
      </div>
      <div class="grid2">
        <Roles me={me} person={p} onPerson={setPerson} />
        {canAdminister(me, p) && <Administer person={p} />}
      </div>
      <History person={p} />
    </section>
  );
}
