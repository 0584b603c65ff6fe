// SPDX-License-Identifier: AGPL-3.0-or-later
// Log in: login and password, then a one-time code when TOTP is enrolled.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtDateTime, t } from '../i18n.js';
import { PageTitle, errorText } from '../components/ui.jsx';

function loginError(e, step) {
  if (e.code === 'unauthenticated') return step === 'totp' ? t('login.wrong_code') : t('login.wrong_password');
  if (e.code === 'locked') {
    // The server says until when ("... try again after 2026-11-26T09:14:41Z ..."); show it in local time.
    const m = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/.exec(e.message || '');
    return m ? `${t('login.locked')} ${t('login.locked_until', { at: fmtDateTime(m[0]) })}` : `${t('login.locked')} ${e.message || ''}`.trim();
  }
  if (e.code === 'rate_limited') return t('login.rate_limited');
  return errorText(e);
}

export function LoginPage({ notice, onLoggedIn, langSelect }) {
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [step, setStep] = useState('password'); // password | totp
  const [useRecovery, setUseRecovery] = useState(false);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const codeRef = useRef(null);
  const loginRef = useRef(null);

  useEffect(() => {
    if (step === 'totp' && codeRef.current) codeRef.current.focus();
  }, [step, useRecovery]);
  useEffect(() => {
    if (loginRef.current) loginRef.current.focus();
  }, []);

  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError('');
    const body = { login: login.trim(), password, client: 'browser' };
    if (step === 'totp') {
      if (useRecovery) body.recovery_code = code.trim();
      else body.totp = code.replace(/\s+/g, '');
    }
    try {
      const res = await api('POST', '/api/v1/auth/login', { json: body });
      setPassword('');
      setCode('');
      await onLoggedIn(res);
    } catch (e) {
      if (e.code === 'totp_required') {
        setStep('totp');
        setError('');
      } else {
        setError(loginError(e, step));
        if (step === 'totp') setCode('');
      }
    } finally {
      setBusy(false);
    }
  };

  const back = () => {
    setStep('password');
    setCode('');
    setPassword('');
    setError('');
  };

  return (
    <main id="main" class="center" tabIndex={-1}>
      <div class="login-top">{langSelect}</div>
      <section class="card login">
        <div class="brand brand-big">
          <img src="/favicon.svg" alt="" width="40" height="40" />
          <span>Rampart</span>
        </div>
        <PageTitle>{t('login.title')}</PageTitle>
        {notice && <p class="msg msg-info" role="status">{t(`login.notice_${notice}`)}</p>}
        <form onSubmit={submit} noValidate={false}>
          {step === 'password' ? (
            <>
              <div class="field">
                <label for="login">{t('login.login')}</label>
                <input id="login" ref={loginRef} name="username" autocomplete="username" required value={login} onInput={(e) => setLogin(e.currentTarget.value)} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'login-error' : undefined} />
              </div>
              <div class="field">
                <label for="password">{t('login.password')}</label>
                <input id="password" type="password" name="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'login-error' : undefined} />
              </div>
            </>
          ) : (
            <>
              <p>{useRecovery ? t('login.recovery_help') : t('login.totp_help')}</p>
              <div class="field">
                <label for="code">{useRecovery ? t('login.recovery_code') : t('login.totp')}</label>
                <input
                  id="code"
                  ref={codeRef}
                  name="code"
                  required
                  autocomplete="one-time-code"
                  inputMode={useRecovery ? 'text' : 'numeric'}
                  pattern={useRecovery ? undefined : '[0-9 ]{6,8}'}
                  maxLength={useRecovery ? 40 : 8}
                  value={code}
                  onInput={(e) => setCode(e.currentTarget.value)}
                  aria-invalid={error ? 'true' : undefined}
                  aria-describedby={error ? 'login-error' : undefined}
                />
              </div>
              <p>
                <button type="button" class="link" onClick={() => { setUseRecovery(!useRecovery); setCode(''); setError(''); }}>
                  {useRecovery ? t('login.use_totp') : t('login.use_recovery')}
                </button>
              </p>
            </>
          )}
          <div id="login-error" aria-live="assertive">
            {error && <p class="msg msg-error" role="alert">{error}</p>}
          </div>
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              {busy && <span class="spinner" aria-hidden="true" />}
              {busy ? t('login.checking') : step === 'totp' ? t('login.verify') : t('login.submit')}
            </button>
            {step === 'totp' && <button type="button" onClick={back} disabled={busy}>{t('login.back')}</button>}
          </div>
        </form>
      </section>
    </main>
  );
}
