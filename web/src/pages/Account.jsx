// SPDX-License-Identifier: AGPL-3.0-or-later
// My account: sessions, two-step verification (TOTP), API tokens, password.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtDateTime, t } from '../i18n.js';
import { canCreateScimToken } from '../perms.js';
import { Qr } from '../components/Qr.jsx';
import {
  ActionStatus, ConfirmButton, CopyButton, Loading, PageTitle, TableWrap, useAction, useLoad,
} from '../components/ui.jsx';

export function PasswordForm({ onChanged }) {
  const [cur, setCur] = useState('');
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const [run, state] = useAction();

  const submit = async (e) => {
    e.preventDefault();
    if (pw !== pw2) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    const ok = await run(
      () => api('POST', '/api/v1/me/password', { json: { current_password: cur, new_password: pw } }).then(() => true),
      t('account.password_changed'),
    );
    if (ok) {
      setCur('');
      setPw('');
      setPw2('');
      if (onChanged) onChanged();
    }
  };

  return (
    <form onSubmit={submit} class="stack" aria-labelledby="pw-title">
      <h2 id="pw-title">{t('account.password_title')}</h2>
      <div class="field">
        <label for="cur-password">{t('account.current_password')}</label>
        <input id="cur-password" type="password" autocomplete="current-password" required value={cur} onInput={(e) => setCur(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="new-password">{t('account.new_password')}</label>
        <input id="new-password" type="password" autocomplete="new-password" required minLength={12} value={pw} onInput={(e) => setPw(e.currentTarget.value)} aria-describedby="new-pw-help" />
        <p id="new-pw-help" class="help">{t('account.password_rules')}</p>
      </div>
      <div class="field">
        <label for="new-password2">{t('account.repeat_password')}</label>
        <input id="new-password2" type="password" autocomplete="new-password" required value={pw2} onInput={(e) => setPw2(e.currentTarget.value)} aria-invalid={mismatch ? 'true' : undefined} />
      </div>
      {mismatch && <p class="msg msg-error" role="alert">{t('account.mismatch')}</p>}
      <ActionStatus state={state} />
      <div class="actions">
        <button type="submit" class="primary" disabled={state.busy}>{t('account.change_password')}</button>
      </div>
    </form>
  );
}

function Sessions({ onLoggedOutAll }) {
  const list = useLoad(() => api('GET', '/api/v1/me/sessions'), []);
  const [run, state] = useAction();

  const end = async (s) => {
    const ok = await run(() => api('DELETE', `/api/v1/me/sessions/${encodeURIComponent(s.id)}`).then(() => true), t('account.session_ended'));
    if (ok) {
      if (s.current) onLoggedOutAll();
      else list.reload();
    }
  };
  const endAll = async () => {
    const ok = await run(() => api('POST', '/api/v1/auth/logout-all').then(() => true));
    if (ok) onLoggedOutAll();
  };

  return (
    <section aria-labelledby="sessions-title" class="panel">
      <h2 id="sessions-title">{t('account.sessions_title')}</h2>
      <Loading state={list}>
        {list.data && (
          <TableWrap label={t('account.sessions_title')}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('account.session_started')}</th>
                  <th scope="col">{t('account.session_last_seen')}</th>
                  <th scope="col">{t('account.session_expires')}</th>
                  <th scope="col">{t('account.session_client')}</th>
                  <th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((s) => (
                  <tr key={s.id}>
                    <td>{fmtDateTime(s.created_at)} {s.current && <span class="badge">{t('account.this_session')}</span>}</td>
                    <td>{fmtDateTime(s.last_seen_at)}</td>
                    <td>{fmtDateTime(s.expires_at)}</td>
                    <td class="wrap">{[s.source, s.user_agent].filter(Boolean).join(' · ')}</td>
                    <td>
                      <ConfirmButton label={t('account.end_session')} confirmLabel={t('account.end_session_confirm')} danger disabled={state.busy} onConfirm={() => end(s)} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </Loading>
      <ActionStatus state={state} />
      <div class="actions">
        <ConfirmButton label={t('account.end_all')} confirmLabel={t('account.end_all_confirm')} danger disabled={state.busy} onConfirm={endAll} />
      </div>
    </section>
  );
}

function Totp({ me, onChanged }) {
  const [enroll, setEnroll] = useState(null); // { secret, otpauth_uri }
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState(null);
  const [password, setPassword] = useState('');
  const [showDisable, setShowDisable] = useState(false);
  const [run, state] = useAction();
  const enabled = !!me.totp_enabled;

  const start = () => run(async () => {
    const r = await api('POST', '/api/v1/me/totp');
    setEnroll(r);
  });
  const confirm = async (e) => {
    e.preventDefault();
    const r = await run(() => api('POST', '/api/v1/me/totp/confirm', { json: { code: code.replace(/\s+/g, '') } }), t('account.totp_enabled_now'));
    if (r) {
      setRecovery(r.recovery_codes || []);
      setEnroll(null);
      setCode('');
    }
  };
  const disable = async (e) => {
    e.preventDefault();
    const ok = await run(() => api('DELETE', '/api/v1/me/totp', { json: { password } }).then(() => true), t('account.totp_disabled_now'));
    if (ok) {
      setPassword('');
      setShowDisable(false);
      onChanged();
    }
  };

  return (
    <section aria-labelledby="totp-title" class="panel">
      <h2 id="totp-title">{t('account.totp_title')}</h2>
      <p>
        {t('account.totp_status')}{' '}
        <strong class={enabled ? 'ok' : 'warn'}>{enabled ? t('account.totp_on') : t('account.totp_off')}</strong>
      </p>
      {recovery && (
        <div class="callout" role="region" aria-labelledby="rc-title">
          <h3 id="rc-title">{t('account.recovery_title')}</h3>
          <p>{t('account.recovery_help')}</p>
          <ul class="codes">{recovery.map((c) => <li key={c}><code>{c}</code></li>)}</ul>
          <div class="actions">
            <CopyButton text={recovery.join('\n')} />
            <button type="button" class="primary" onClick={() => { setRecovery(null); onChanged(); }}>{t('account.recovery_saved')}</button>
          </div>
        </div>
      )}
      {!enabled && !enroll && !recovery && (
        <div class="actions">
          <button type="button" class="primary" onClick={start} disabled={state.busy}>{t('account.totp_setup')}</button>
        </div>
      )}
      {enroll && (
        <form onSubmit={confirm} class="enroll">
          <ol class="steps">
            <li>
              <p>{t('account.totp_scan')}</p>
              <Qr text={enroll.otpauth_uri} label={t('account.totp_qr_label')} />
              <p class="help">
                {t('account.totp_manual')} <code class="secret" data-testid="totp-secret">{enroll.secret}</code>
              </p>
            </li>
            <li>
              <div class="field">
                <label for="totp-code">{t('account.totp_enter_code')}</label>
                <input id="totp-code" required inputMode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,8}" maxLength={8} value={code} onInput={(e) => setCode(e.currentTarget.value)} />
              </div>
            </li>
          </ol>
          <div class="actions">
            <button type="submit" class="primary" disabled={state.busy}>{t('account.totp_confirm')}</button>
            <button type="button" onClick={() => { setEnroll(null); setCode(''); }} disabled={state.busy}>{t('common.cancel')}</button>
          </div>
        </form>
      )}
      {enabled && !recovery && (
        showDisable ? (
          <form onSubmit={disable} class="inline-form">
            <div class="field">
              <label for="totp-off-pw">{t('account.current_password')}</label>
              <input id="totp-off-pw" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
            </div>
            <div class="actions">
              <button type="submit" class="danger" disabled={state.busy}>{t('account.totp_disable')}</button>
              <button type="button" onClick={() => setShowDisable(false)}>{t('common.cancel')}</button>
            </div>
          </form>
        ) : (
          <div class="actions">
            <button type="button" onClick={() => setShowDisable(true)}>{t('account.totp_disable')}</button>
          </div>
        )
      )}
      <ActionStatus state={state} />
    </section>
  );
}

function Tokens({ me }) {
  const list = useLoad(() => api('GET', '/api/v1/tokens'), []);
  const [name, setName] = useState('');
  const [scope, setScope] = useState('api');
  const [expires, setExpires] = useState('90d');
  const [created, setCreated] = useState(null);
  const [run, state] = useAction();

  const create = async (e) => {
    e.preventDefault();
    const r = await run(() => api('POST', '/api/v1/tokens', { json: { name: name.trim(), scope, expires_in: expires } }), t('account.token_created'));
    if (r) {
      setCreated(r);
      setName('');
      list.reload();
    }
  };
  const revoke = async (tok) => {
    const ok = await run(() => api('DELETE', `/api/v1/tokens/${encodeURIComponent(tok.id)}`).then(() => true), t('account.token_revoked'));
    if (ok) list.reload();
  };
  const items = list.data ? list.data.items.filter((x) => !x.revoked_at) : [];

  return (
    <section aria-labelledby="tokens-title" class="panel">
      <h2 id="tokens-title">{t('account.tokens_title')}</h2>
      <p class="help">{t('account.tokens_help')}</p>
      {created && (
        <div class="callout" role="region" aria-labelledby="newtok-title">
          <h3 id="newtok-title">{t('account.token_once_title', { name: created.name })}</h3>
          <p>{t('account.token_once_help')}</p>
          <p><code class="secret" data-testid="new-token">{created.token}</code></p>
          <div class="actions">
            <CopyButton text={created.token} />
            <button type="button" onClick={() => setCreated(null)}>{t('account.token_hide')}</button>
          </div>
        </div>
      )}
      <form onSubmit={create} class="inline-form">
        <div class="field">
          <label for="tok-name">{t('account.token_name')}</label>
          <input id="tok-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        {canCreateScimToken(me) && (
          <div class="field">
            <label for="tok-scope">{t('account.token_scope')}</label>
            <select id="tok-scope" value={scope} onChange={(e) => setScope(e.currentTarget.value)}>
              <option value="api">{t('account.scope_api')}</option>
              <option value="scim">{t('account.scope_scim')}</option>
            </select>
          </div>
        )}
        <div class="field">
          <label for="tok-exp">{t('account.token_expires')}</label>
          <select id="tok-exp" value={expires} onChange={(e) => setExpires(e.currentTarget.value)}>
            {['7d', '30d', '90d', '365d'].map((d) => <option key={d} value={d}>{t('account.days', { n: parseInt(d, 10) })}</option>)}
          </select>
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={state.busy}>{t('account.token_create')}</button>
        </div>
      </form>
      <ActionStatus state={state} />
      <Loading state={list}>
        {list.data && (items.length === 0 ? (
          <p class="empty">{t('account.no_tokens')}</p>
        ) : (
          <TableWrap label={t('account.tokens_title')}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('account.token_name')}</th>
                  <th scope="col">{t('account.token_scope')}</th>
                  <th scope="col">{t('account.token_created_at')}</th>
                  <th scope="col">{t('account.token_expires_at')}</th>
                  <th scope="col">{t('account.token_last_used')}</th>
                  <th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th>
                </tr>
              </thead>
              <tbody>
                {items.map((x) => (
                  <tr key={x.id}>
                    <td>{x.name}</td>
                    <td>{x.scope}</td>
                    <td>{fmtDateTime(x.created_at)}</td>
                    <td>{fmtDateTime(x.expires_at)}</td>
                    <td>{x.last_used_at ? fmtDateTime(x.last_used_at) : t('common.never')}</td>
                    <td>
                      <ConfirmButton label={t('account.token_revoke')} confirmLabel={t('account.token_revoke_confirm')} danger disabled={state.busy} onConfirm={() => revoke(x)} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        ))}
      </Loading>
    </section>
  );
}

export function AccountPage({ me, onLoggedOutAll, onChanged }) {
  const name = [me.family_name, me.given_name].filter(Boolean).join(' ');
  return (
    <section>
      <PageTitle>{t('account.title')}</PageTitle>
      <dl class="facts">
        <dt>{t('person.login')}</dt><dd>{me.login}</dd>
        {name && <><dt>{t('person.name')}</dt><dd>{name}</dd></>}
        {me.org_unit && <><dt>{t('person.org_unit')}</dt><dd>{me.org_unit.path}</dd></>}
        <dt>{t('person.roles')}</dt>
        <dd>{(me.roles || []).map((r) => (typeof r === 'string' ? r : r.role)).map((r) => <span class="badge" key={r}>{t(`role.${r}`, null, r)}</span>)}</dd>
      </dl>
      <div class="grid2">
        <Totp me={me} onChanged={onChanged} />
        <div class="panel"><PasswordForm /></div>
      </div>
      <Sessions onLoggedOutAll={onLoggedOutAll} />
      <Tokens me={me} />
    </section>
  );
}
