// SPDX-License-Identifier: AGPL-3.0-or-later
// Audit log: the chain's verification, filters, paging, each entry's details.
// Filters live in the address (#/audit?actor=&action=&object=&outcome=&since=&until=).
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtDateTime, fmtNumber, t } from '../i18n.js';
import { href, navigate } from '../router.js';
import { ActionStatus, PageTitle, Pager, TableWrap, errorText, useAction, useCursorPager, useLoad } from '../components/ui.jsx';

const FIELDS = ['actor', 'action', 'object', 'outcome', 'since', 'until'];
// Suggestions for the action filter: what the identity domain records.
const ACTIONS = [
  'auth.login', 'auth.lockout', 'auth.logout', 'auth.logout_all', 'auth.password_change',
  'auth.session_revoke', 'auth.token_create', 'auth.token_revoke', 'auth.totp_enroll',
  'auth.totp_confirm', 'auth.totp_disable', 'authz.denied', 'hr.import', 'person.activate',
  'person.invite', 'person.password_set', 'person.sessions_revoke', 'role.grant', 'role.revoke',
];

/* "2026-11-26T09:30" (local, from datetime-local) -> RFC 3339 UTC. */
function localToIso(v) {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
function isoToLocal(v) {
  if (!v) return '';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function Verify() {
  const [run, state] = useAction();
  const [result, setResult] = useState(null);
  const check = () => run(async () => setResult(await api('GET', '/api/v1/audit/verify')));
  useEffect(() => { check(); }, []);
  return (
    <section class={`panel verify ${result ? (result.intact ? 'verify-ok' : 'verify-bad') : ''}`} aria-labelledby="verify-title">
      <h2 id="verify-title">{t('audit.chain')}</h2>
      {result && !state.busy && (
        <p role="status" class={result.intact ? 'ok' : 'bad'}>
          <strong>{result.intact ? t('audit.intact') : t('audit.broken', { id: result.first_broken })}</strong>{' '}
          {t('audit.entries_checked', { n: fmtNumber(result.entries) })}
          {result.reason && <span> — {result.reason}</span>}
        </p>
      )}
      <ActionStatus state={state} busyText={t('audit.verifying')} />
      <button type="button" onClick={check} disabled={state.busy}>{t('audit.verify_again')}</button>
    </section>
  );
}

function Details({ e }) {
  const d = e.details && typeof e.details === 'object' ? Object.entries(e.details) : [];
  return (
    <dl class="kv details">
      <dt>{t('audit.id')}</dt><dd>{e.id}</dd>
      <dt>{t('audit.time')}</dt><dd>{e.time}</dd>
      <dt>{t('audit.actor')}</dt><dd>{[e.actor_login, e.actor_id].filter(Boolean).join(' · ') || '—'}</dd>
      <dt>{t('audit.source')}</dt><dd>{e.source || '—'}</dd>
      <dt>{t('audit.object')}</dt><dd>{[e.object_type, e.object_id].filter(Boolean).join(' ') || '—'}</dd>
      <dt>{t('audit.request_id')}</dt><dd>{e.request_id || '—'}</dd>
      {d.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</dd>
        </Fragment>
      ))}
      <dt>{t('audit.hash')}</dt><dd class="hash">{e.hash}</dd>
      <dt>{t('audit.prev_hash')}</dt><dd class="hash">{e.prev_hash}</dd>
    </dl>
  );
}

export function AuditPage({ route }) {
  const filters = Object.fromEntries(FIELDS.map((f) => [f, route.query.get(f) || '']));
  const key = JSON.stringify(filters);
  const [form, setForm] = useState(filters);
  useEffect(() => setForm(filters), [key]);
  const pager = useCursorPager(key);
  const list = useLoad(() => api('GET', '/api/v1/audit', { query: { ...filters, limit: 50, cursor: pager.cursor } }), [key, pager.cursor]);
  const [open, setOpen] = useState(() => new Set());

  const submit = (ev) => {
    ev.preventDefault();
    const q = {};
    for (const f of FIELDS) q[f] = (form[f] || '').trim();
    navigate(href(['audit'], q));
  };
  const toggle = (id) => setOpen((s) => {
    const n = new Set(s);
    if (n.has(id)) n.delete(id);
    else n.add(id);
    return n;
  });
  const set = (f) => (e) => setForm({ ...form, [f]: e.currentTarget.value });

  return (
    <section>
      <PageTitle>{t('audit.title')}</PageTitle>
      <Verify />
      <form class="panel filters" onSubmit={submit} role="search" aria-label={t('audit.filters')}>
        <div class="field">
          <label for="au-actor">{t('audit.actor')}</label>
          <input id="au-actor" value={form.actor} onInput={set('actor')} placeholder={t('audit.actor_placeholder')} />
        </div>
        <div class="field">
          <label for="au-action">{t('audit.action')}</label>
          <input id="au-action" value={form.action} onInput={set('action')} list="au-actions" placeholder="auth.login" />
          <datalist id="au-actions">
            {ACTIONS.map((a) => <option key={a} value={a} />)}
          </datalist>
        </div>
        <div class="field">
          <label for="au-object">{t('audit.object_id')}</label>
          <input id="au-object" value={form.object} onInput={set('object')} />
        </div>
        <div class="field">
          <label for="au-outcome">{t('audit.outcome')}</label>
          <select id="au-outcome" value={form.outcome} onChange={set('outcome')}>
            <option value="">{t('common.any')}</option>
            {['success', 'failure', 'denied'].map((o) => <option key={o} value={o}>{t(`outcome.${o}`)}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="au-since">{t('audit.since')}</label>
          <input id="au-since" type="datetime-local" value={isoToLocal(form.since)} onInput={(e) => setForm({ ...form, since: localToIso(e.currentTarget.value) })} />
        </div>
        <div class="field">
          <label for="au-until">{t('audit.until')}</label>
          <input id="au-until" type="datetime-local" value={isoToLocal(form.until)} onInput={(e) => setForm({ ...form, until: localToIso(e.currentTarget.value) })} />
        </div>
        <div class="actions">
          <button type="submit" class="primary">{t('audit.apply_filters')}</button>
          <button type="button" onClick={() => navigate(href(['audit']))}>{t('dir.clear_filters')}</button>
        </div>
      </form>
      <div class="panel">
        {list.error ? <p class="msg msg-error" role="alert">{errorText(list.error)}</p> : (
          <>
            <p class="msg" role="status" aria-live="polite">
              {list.loading ? <><span class="spinner" aria-hidden="true" />{t('common.loading')}</> : list.data && t('audit.shown', { n: list.data.items.length })}
            </p>
            {list.data && (list.data.items.length === 0 ? <p class="empty">{t('audit.none')}</p> : (
              <TableWrap label={t('audit.title')}>
                <table class="audit">
                  <thead>
                    <tr>
                      <th scope="col">{t('audit.time')}</th>
                      <th scope="col">{t('audit.actor')}</th>
                      <th scope="col">{t('audit.action')}</th>
                      <th scope="col">{t('audit.object')}</th>
                      <th scope="col">{t('audit.outcome')}</th>
                      <th scope="col"><span class="visually-hidden">{t('audit.details')}</span></th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.data.items.map((e) => (
                      <Fragment key={e.id}>
                        <tr class={open.has(e.id) ? 'open' : ''}>
                          <td>{fmtDateTime(e.time)}</td>
                          <td>{e.actor_login || '—'}</td>
                          <td><code>{e.action}</code></td>
                          <td class="wrap">{[e.object_type, e.object_id].filter(Boolean).join(' ')}</td>
                          <td><span class={`badge outcome-${e.outcome}`}>{t(`outcome.${e.outcome}`, null, e.outcome)}</span></td>
                          <td>
                            <button type="button" class="small" aria-expanded={open.has(e.id) ? 'true' : 'false'} aria-controls={`au-d-${e.id}`} onClick={() => toggle(e.id)}>
                              {t('audit.details')}<span class="visually-hidden"> {e.id}</span>
                            </button>
                          </td>
                        </tr>
                        {open.has(e.id) && (
                          <tr class="details-row" id={`au-d-${e.id}`}>
                            <td colSpan={6}><Details e={e} /></td>
                          </tr>
                        )}
                      </Fragment>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            ))}
            <Pager pager={pager} next={list.data && list.data.next} busy={list.loading} label={t('audit.pages')} />
          </>
        )}
      </div>
    </section>
  );
}
