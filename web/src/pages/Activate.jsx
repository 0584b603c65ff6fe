// SPDX-License-Identifier: AGPL-3.0-or-later
// Account activation from a one-time link: #/activate/TOKEN.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { ActionStatus, PageTitle, useAction } from '../components/ui.jsx';

export function ActivatePage({ token, langSelect }) {
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const [done, setDone] = useState(false);
  const [run, state] = useAction();

  const submit = async (e) => {
    e.preventDefault();
    if (pw !== pw2) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    const ok = await run(() => api('POST', '/api/v1/auth/activate', { json: { token, password: pw } }).then(() => true));
    if (ok) {
      setPw('');
      setPw2('');
      setDone(true);
      // The token must not stay in the address bar or history.
      history.replaceState(null, '', '#/activate');
    }
  };

  return (
    <main id="main" class="center" tabIndex={-1}>
      <div class="login-top">{langSelect}</div>
      <section class="card login">
        <PageTitle>{t('activate.title')}</PageTitle>
        {done ? (
          <>
            <p class="msg msg-ok" role="status">{t('activate.done')}</p>
            <p><a class="button primary" href="#/">{t('activate.to_login')}</a></p>
          </>
        ) : !token ? (
          <p class="msg msg-error" role="alert">{t('activate.no_token')}</p>
        ) : (
          <form onSubmit={submit}>
            <p>{t('activate.help')}</p>
            <div class="field">
              <label for="new-password">{t('account.new_password')}</label>
              <input id="new-password" type="password" autocomplete="new-password" required minLength={12} value={pw} onInput={(e) => setPw(e.currentTarget.value)} aria-describedby="pw-help" />
              <p id="pw-help" class="help">{t('account.password_rules')}</p>
            </div>
            <div class="field">
              <label for="new-password2">{t('account.repeat_password')}</label>
              <input id="new-password2" type="password" autocomplete="new-password" required value={pw2} onInput={(e) => setPw2(e.currentTarget.value)} aria-invalid={mismatch ? 'true' : undefined} />
            </div>
            {mismatch && <p class="msg msg-error" role="alert">{t('account.mismatch')}</p>}
            <ActionStatus state={state} />
            <div class="actions">
              <button class="primary" type="submit" disabled={state.busy}>{t('activate.submit')}</button>
            </div>
          </form>
        )}
      </section>
    </main>
  );
}
