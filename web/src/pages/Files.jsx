// SPDX-License-Identifier: AGPL-3.0-or-later
// Protected files: the list of files the person may see (their own; all of
// them for security officers and auditors; their scope's for a security
// manager), and one file's page: its access list (grant, ungrant), expiry,
// revocation and access history.  Controls appear only to those who may
// manage the file; the API decides all the same.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtDateTime, fmtNumber, t } from '../i18n.js';
import { has, pathWithin } from '../perms.js';
import { href, navigate } from '../router.js';
import {
  ActionStatus, ConfirmButton, errorText, Loading, ObjectPending, Pager, PageTitle, TableWrap, useAction, useCursorPager, useLoad,
} from '../components/ui.jsx';

const KINDS = ['user', 'group', 'org', 'role'];
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/* Mirrors the API: the owner, an admin, a security officer, or the owner's security manager. */
export function canManageFile(me, file) {
  if (!me || !file || !file.owner) return false;
  if (file.owner.id === me.id) return true;
  if (has(me, 'admin', 'security_officer')) return true;
  return has(me, 'security_manager') && pathWithin(file.owner.org_path, me.manages_path);
}

function FileStatus({ status }) {
  const cls = status === 'active' ? 'status-active' : status === 'expired' ? 'status-on_leave' : 'status-retired';
  return <span class={`badge ${cls}`}>{t(`files.status_${status}`, null, status)}</span>;
}

function fmtSize(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return t('files.bytes', { n: fmtNumber(n) });
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${fmtNumber(Math.round(v * 10) / 10)} ${units[i]}`;
}

function grantLabel(g) {
  return `${t(`files.kind_${g.kind}`, null, g.kind)}: ${g.value}`;
}

export function FilesPage({ route }) {
  const status = route.query.get('status') || '';
  const pager = useCursorPager(status);
  const list = useLoad(
    () => api('GET', '/api/v1/files', { query: { status, limit: 25, cursor: pager.cursor } }),
    [status, pager.cursor],
  );
  return (
    <section>
      <PageTitle>{t('files.title')}</PageTitle>
      <p class="help">{t('files.intro')}</p>
      <form class="filters" aria-label={t('files.filters')} onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="files-status">{t('files.status')}</label>
          <select id="files-status" value={status} onChange={(e) => navigate(href(['files'], { status: e.currentTarget.value }))}>
            <option value="">{t('common.any')}</option>
            <option value="active">{t('files.status_active')}</option>
            <option value="revoked">{t('files.status_revoked')}</option>
          </select>
        </div>
      </form>
      <Loading state={list}>
        {list.data && (list.data.items.length === 0 ? <p class="empty">{t('files.none')}</p> : (
          <TableWrap label={t('files.title')}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('files.name')}</th>
                  <th scope="col">{t('files.owner')}</th>
                  <th scope="col">{t('files.status')}</th>
                  <th scope="col">{t('files.access_list')}</th>
                  <th scope="col">{t('files.expires')}</th>
                  <th scope="col">{t('files.created')}</th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((f) => (
                  <tr key={f.id}>
                    <td><a href={href(['files', f.id])}>{f.name}</a></td>
                    <td>{f.owner.login || f.owner.id}</td>
                    <td><FileStatus status={f.status} /></td>
                    <td>{t('files.grant_count', { n: (f.grants || []).length })}</td>
                    <td>{f.expires_at ? fmtDateTime(f.expires_at) : t('common.never')}</td>
                    <td>{fmtDateTime(f.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        ))}
      </Loading>
      {list.data && (pager.page > 1 || list.data.next) && <Pager pager={pager} next={list.data.next} busy={list.loading} label={t('files.title')} />}
    </section>
  );
}

/* A person grantee is named by id; a login or e-mail is looked up in the directory first. */
async function personId(value) {
  if (ULID.test(value)) return value;
  const res = await api('GET', '/api/v1/people', { query: { q: value, limit: 5 } });
  const hit = (res.items || []).find((p) => p.login === value || p.email === value || p.employee_number === value);
  if (!hit) {
    const e = new Error(t('files.person_unknown', { who: value }));
    e.code = 'person_unknown';
    throw e;
  }
  return hit.id;
}

function AccessList({ file, manage, onFile }) {
  const [kind, setKind] = useState('group');
  const [value, setValue] = useState('');
  const [run, state] = useAction();
  const patch = (body) => api('PATCH', `/api/v1/files/${encodeURIComponent(file.id)}`, { json: body });
  const grants = file.grants || [];
  const editable = manage && file.status !== 'revoked';

  const grant = async (e) => {
    e.preventDefault();
    const v = value.trim();
    if (!v) return;
    const f = await run(async () => {
      const id = kind === 'user' ? await personId(v) : v;
      return patch({ grant: [`${kind}:${id}`] });
    }, t('files.granted', { who: `${t(`files.kind_${kind}`)}: ${v}` }));
    if (f) {
      setValue('');
      onFile(f);
    }
  };
  const ungrant = async (g) => {
    const f = await run(() => patch({ ungrant: [g.grantee] }), t('files.ungranted', { who: grantLabel(g) }));
    if (f) onFile(f);
  };

  return (
    <section class="panel" aria-labelledby="access-title">
      <h2 id="access-title">{t('files.access_list')}</h2>
      <p class="help">{t('files.owner_always')}</p>
      {grants.length === 0 ? <p class="empty">{t('files.no_grants')}</p> : (
        <ul class="role-list">
          {grants.map((g) => (
            <li key={g.grantee}>
              <span class="badge role">{grantLabel(g)}</span>
              <span class="sub">{fmtDateTime(g.granted_at)}</span>
              {editable && (
                <ConfirmButton label={t('files.ungrant')} confirmLabel={t('files.ungrant_confirm', { who: grantLabel(g) })} danger disabled={state.busy} onConfirm={() => ungrant(g)} />
              )}
            </li>
          ))}
        </ul>
      )}
      {editable && (
        <form class="inline-form" onSubmit={grant} aria-labelledby="file-grant-title">
          <h3 id="file-grant-title">{t('files.grant_title')}</h3>
          <div class="field">
            <label for="file-grant-kind">{t('files.kind')}</label>
            <select id="file-grant-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
              {KINDS.map((k) => <option key={k} value={k}>{t(`files.kind_${k}`)}</option>)}
            </select>
          </div>
          <div class="field">
            <label for="file-grant-value">{t('files.grantee')}</label>
            <input id="file-grant-value" value={value} required aria-describedby="file-grant-help" onInput={(e) => setValue(e.currentTarget.value)} />
          </div>
          <div class="actions">
            <button type="submit" class="primary" disabled={state.busy || !value.trim()}>{t('files.grant')}</button>
          </div>
          <p id="file-grant-help" class="help">{t(`files.grantee_help_${kind}`)}</p>
        </form>
      )}
      <ActionStatus state={state} />
    </section>
  );
}

function Manage({ file, onFile }) {
  const [day, setDay] = useState(file.expires_at ? file.expires_at.slice(0, 10) : '');
  const [run, state] = useAction();
  useEffect(() => setDay(file.expires_at ? file.expires_at.slice(0, 10) : ''), [file.expires_at]);
  const path = `/api/v1/files/${encodeURIComponent(file.id)}`;
  const revoked = file.status === 'revoked';

  const setExpiry = async (e) => {
    e.preventDefault();
    if (!day) return;
    const f = await run(() => api('PATCH', path, { json: { expires_at: day } }), t('files.expiry_set', { at: day }));
    if (f) onFile(f);
  };
  const clearExpiry = async () => {
    const f = await run(() => api('PATCH', path, { json: { expires_at: null } }), t('files.expiry_cleared'));
    if (f) onFile(f);
  };
  const revoke = async () => {
    const f = await run(() => api('POST', `${path}/revoke`), t('files.revoked_done'));
    if (f) onFile(f);
  };

  return (
    <section class="panel" aria-labelledby="manage-title">
      <h2 id="manage-title">{t('files.manage')}</h2>
      {revoked ? <p>{t('files.revoked_text')}</p> : (
        <>
          <form class="inline-form" onSubmit={setExpiry} aria-labelledby="expiry-title">
            <h3 id="expiry-title">{t('files.expiry')}</h3>
            <div class="field">
              <label for="file-expiry">{t('files.expires_on')}</label>
              <input id="file-expiry" type="date" value={day} aria-describedby="file-expiry-help" onInput={(e) => setDay(e.currentTarget.value)} />
            </div>
            <div class="actions">
              <button type="submit" disabled={state.busy || !day}>{t('files.set_expiry')}</button>
              {file.expires_at && <button type="button" disabled={state.busy} onClick={clearExpiry}>{t('files.clear_expiry')}</button>}
            </div>
            <p id="file-expiry-help" class="help">{t('files.expiry_help')}</p>
          </form>
          <h3 id="revoke-title">{t('files.revoke_title')}</h3>
          <p id="revoke-help" class="help">{t('files.revoke_help')}</p>
          <div class="actions">
            <ConfirmButton label={t('files.revoke')} confirmLabel={t('files.revoke_confirm')} danger disabled={state.busy} describedBy="revoke-help" onConfirm={revoke} />
          </div>
        </>
      )}
      <ActionStatus state={state} />
    </section>
  );
}

function AccessHistory({ file }) {
  const pager = useCursorPager(file.id);
  const hist = useLoad(
    () => api('GET', `/api/v1/files/${encodeURIComponent(file.id)}/access`, { query: { limit: 25, cursor: pager.cursor } }),
    [file.id, file.updated_at, pager.cursor],
  );
  return (
    <section class="panel" aria-labelledby="file-hist-title">
      <h2 id="file-hist-title">{t('files.history')}</h2>
      <Loading state={hist}>
        {hist.data && (hist.data.items.length === 0 ? <p class="empty">{t('files.no_history')}</p> : (
          <TableWrap label={t('files.history')}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('files.history_at')}</th>
                  <th scope="col">{t('files.history_who')}</th>
                  <th scope="col">{t('files.history_from')}</th>
                  <th scope="col">{t('files.history_outcome')}</th>
                  <th scope="col">{t('files.history_reason')}</th>
                </tr>
              </thead>
              <tbody>
                {hist.data.items.map((h) => (
                  <tr key={h.id}>
                    <td>{fmtDateTime(h.at)}</td>
                    <td>{h.person_id ? <a href={href(['people', h.person_id])}>{h.login || h.person_id}</a> : (h.login || '—')}</td>
                    <td>{h.source || '—'}</td>
                    <td>
                      <span class={`badge ${h.outcome === 'allowed' ? 'outcome-success' : 'outcome-denied'}`}>
                        {t(`files.outcome_${h.outcome}`, null, h.outcome)}
                      </span>
                    </td>
                    <td>{t(`files.reason_${h.reason}`, null, h.reason || '—')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        ))}
      </Loading>
      {hist.data && (pager.page > 1 || hist.data.next) && <Pager pager={pager} next={hist.data.next} busy={hist.loading} label={t('files.history')} />}
    </section>
  );
}

export function FilePage({ me, id }) {
  const load = useLoad(() => api('GET', `/api/v1/files/${encodeURIComponent(id)}`), [id]);
  const [file, setFile] = useState(null);
  useEffect(() => setFile(load.data), [load.data]);

  if (load.error || !file) {
    return <ObjectPending load={load} title={t('files.file_title')} notFound={t('files.not_found')} back={t('files.back')} backHref="#/files" />;
  }
  const manage = canManageFile(me, file);
  return (
    <section>
      <p class="crumbs"><a href="#/files">{t('files.back')}</a></p>
      <PageTitle>{file.name}</PageTitle>
      <div class="panel">
        <dl class="facts">
          <dt>{t('files.status')}</dt><dd><FileStatus status={file.status} /></dd>
          <dt>{t('files.id')}</dt><dd><code>{file.id}</code></dd>
          <dt>{t('files.owner')}</dt>
          <dd><a href={href(['people', file.owner.id])}>{file.owner.login || file.owner.id}</a>{file.owner.org_path && <span class="sub"> {file.owner.org_path}</span>}</dd>
          <dt>{t('files.size')}</dt><dd>{fmtSize(file.size)}</dd>
          <dt>{t('files.created')}</dt><dd>{fmtDateTime(file.created_at)}</dd>
          <dt>{t('files.expires')}</dt><dd>{file.expires_at ? fmtDateTime(file.expires_at) : t('common.never')}</dd>
          {file.revoked_at && <><dt>{t('files.revoked_at')}</dt><dd>{fmtDateTime(file.revoked_at)}</dd></>}
        </dl>
        {!manage && <p class="help">{t('files.read_only')}</p>}
      </div>
      <div class="grid2">
        <AccessList file={file} manage={manage} onFile={setFile} />
        {manage && <Manage file={file} onFile={setFile} />}
      </div>
      <AccessHistory file={file} />
    </section>
  );
}
