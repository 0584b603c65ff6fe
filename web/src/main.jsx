// SPDX-License-Identifier: AGPL-3.0-or-later
// The console's shell: who is logged in, the navigation, the pages.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import './styles.css';
import { api, csrfToken, onAuthProblem, setCsrfToken } from './api.js';
import { LANGS, getLang, onLangChange, setLang, t } from './i18n.js';
import { canBrowseDirectory, canConfigureExchange, canImportHr, canReadAudit, canSeeDevices } from './perms.js';
import { navigate, useRoute } from './router.js';
import { LoginPage } from './pages/Login.jsx';
import { ActivatePage } from './pages/Activate.jsx';
import { HomePage } from './pages/Home.jsx';
import { AccountPage, PasswordForm } from './pages/Account.jsx';
import { DirectoryPage } from './pages/Directory.jsx';
import { PersonPage } from './pages/Person.jsx';
import { ImportPage } from './pages/Import.jsx';
import { AuditPage } from './pages/Audit.jsx';
import { FilePage, FilesPage } from './pages/Files.jsx';
import { ApprovalSettingsPage, RequestsPage, SendPage, TransferPage, TransfersPage } from './pages/Exchange.jsx';
import { DevicePage, DevicesPage, EnrollmentTokensPage, PoliciesPage } from './pages/Devices.jsx';
import { EventsPage } from './pages/Events.jsx';
import { PageTitle } from './components/ui.jsx';

function LangSelect() {
  return (
    <label class="lang">
      <span class="visually-hidden">{t('nav.language')}</span>
      <select value={getLang()} onChange={(e) => setLang(e.currentTarget.value)} aria-label={t('nav.language')}>
        {LANGS.map((l) => <option value={l.code} key={l.code} lang={l.code}>{l.name}</option>)}
      </select>
    </label>
  );
}

/*
 * The navigation: direct links and menu groups, so that every page stays
 * one or two steps away and the bar keeps to one row at 1280 px.  A group
 * the person has only one page of becomes a direct link.
 */
function navItems(me) {
  const people = [];
  if (canBrowseDirectory(me)) people.push({ to: '#/directory', key: 'nav.directory', match: (p) => p.startsWith('/directory') || p.startsWith('/people') });
  else people.push({ to: `#/people/${me.id}`, key: 'nav.my_record', match: (p) => p.startsWith('/people') });
  if (canImportHr(me)) people.push({ to: '#/import', key: 'nav.import', match: (p) => p.startsWith('/import') });

  // Anyone may own protected files, send and request files; approval settings are the administrator's.
  const files = [
    { to: '#/files', key: 'nav.files', match: (p) => p.startsWith('/files') },
    { to: '#/send', key: 'nav.send', match: (p) => p.startsWith('/send') },
    { to: '#/transfers', key: 'nav.transfers', match: (p) => p.startsWith('/transfers') },
    { to: '#/requests', key: 'nav.requests', match: (p) => p.startsWith('/requests') },
  ];
  if (canConfigureExchange(me)) files.push({ to: '#/exchange-approval', key: 'nav.exchange_approval', match: (p) => p.startsWith('/exchange-approval') });

  const endpoints = [];
  if (canSeeDevices(me)) {
    endpoints.push({ to: '#/devices', key: 'nav.devices', match: (p) => p.startsWith('/devices') });
    endpoints.push({ to: '#/enrollment-tokens', key: 'nav.enrollment_tokens', match: (p) => p.startsWith('/enrollment-tokens') });
    endpoints.push({ to: '#/policies', key: 'nav.policies', match: (p) => p.startsWith('/policies') });
    endpoints.push({ to: '#/events', key: 'nav.events', match: (p) => p.startsWith('/events') });
  }

  const items = [{ to: '#/', key: 'nav.home', match: (p) => p === '/' }];
  const group = (key, list) => {
    if (list.length === 1) items.push(list[0]);
    else if (list.length > 1) items.push({ key, items: list });
  };
  group('nav.group_people', people);
  group('nav.group_files', files);
  group('nav.group_endpoints', endpoints);
  if (canReadAudit(me)) items.push({ to: '#/audit', key: 'nav.audit', match: (p) => p.startsWith('/audit') });
  items.push({ to: '#/account', key: 'nav.account', match: (p) => p.startsWith('/account') });
  return items;
}

function NavLink({ it, route }) {
  return <a href={it.to} aria-current={it.match(route.path) ? 'page' : undefined}>{t(it.key)}</a>;
}

/* A menu group: a button that shows its links below it (at phone width, a plain heading and list). */
function NavGroup({ g, route, open, onToggle }) {
  const id = `nav-${g.key.replace(/\W/g, '-')}`;
  const current = g.items.some((it) => it.match(route.path));
  return (
    <li class="nav-group">
      <button type="button" class={current ? 'nav-group-toggle current' : 'nav-group-toggle'} aria-expanded={open ? 'true' : 'false'} aria-controls={id} onClick={onToggle}>
        {t(g.key)}<span class="caret" aria-hidden="true" />
      </button>
      <span class="nav-group-label">{t(g.key)}</span>
      <ul id={id} class={open ? 'nav-sub open' : 'nav-sub'}>
        {g.items.map((it) => <li key={it.key}><NavLink it={it} route={route} /></li>)}
      </ul>
    </li>
  );
}

function Layout({ me, route, onLogout, children }) {
  const [open, setOpen] = useState(false);
  const [group, setGroup] = useState(null); // the open menu group's key
  const navRef = useRef(null);
  useEffect(() => { setOpen(false); setGroup(null); }, [route.path]);
  // A click elsewhere or Escape closes the open menu group (Escape gives its button the focus).
  useEffect(() => {
    if (!group) return undefined;
    const onClick = (e) => { if (navRef.current && !navRef.current.contains(e.target)) setGroup(null); };
    const onKey = (e) => {
      if (e.key !== 'Escape') return;
      const btn = navRef.current && navRef.current.querySelector('.nav-group-toggle[aria-expanded="true"]');
      setGroup(null);
      if (btn) btn.focus();
    };
    document.addEventListener('click', onClick);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('click', onClick);
      document.removeEventListener('keydown', onKey);
    };
  }, [group]);
  const name = [me.family_name, me.given_name].filter(Boolean).join(' ') || me.login;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>
        {t('nav.skip')}
      </a>
      <header class="top">
        <a class="brand" href="#/">
          <img src="/favicon.svg" alt="" width="24" height="24" />
          <span>Rampart</span>
        </a>
        <button type="button" class="menu-toggle" aria-expanded={open ? 'true' : 'false'} aria-controls="mainnav" onClick={() => setOpen(!open)}>
          {t('nav.menu')}
        </button>
        <nav id="mainnav" ref={navRef} class={open ? 'nav open' : 'nav'} aria-label={t('nav.main')} onClick={(e) => { if (e.target.closest('a')) setGroup(null); }}>
          <ul>
            {navItems(me).map((it) => (it.items
              ? <NavGroup key={it.key} g={it} route={route} open={group === it.key} onToggle={() => setGroup(group === it.key ? null : it.key)} />
              : <li key={it.key}><NavLink it={it} route={route} /></li>))}
          </ul>
        </nav>
        <div class="who">
          <LangSelect />
          <span class="who-name" title={me.login}>{name}</span>
          <button type="button" onClick={onLogout}>{t('nav.logout')}</button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
    </>
  );
}

function NotFound() {
  return (
    <section>
      <PageTitle>{t('common.not_found_title')}</PageTitle>
      <p>{t('common.not_found_text')}</p>
      <p><a href="#/">{t('nav.home')}</a></p>
    </section>
  );
}

function ForcedPasswordChange({ me, onChanged }) {
  return (
    <section class="narrow">
      <PageTitle>{t('account.must_change_title')}</PageTitle>
      <p>{t('account.must_change_text')}</p>
      <PasswordForm onChanged={onChanged} />
    </section>
  );
}

function App() {
  const route = useRoute();
  const [, setLangTick] = useState(0);
  const [me, setMe] = useState(undefined); // undefined: checking; null: logged out
  const [notice, setNotice] = useState(null);
  const [mustChange, setMustChange] = useState(false);

  useEffect(() => onLangChange(() => setLangTick((x) => x + 1)), []);

  const loadMe = async () => {
    try {
      const m = await api('GET', '/api/v1/me');
      if (m && m.csrf_token) setCsrfToken(m.csrf_token);
      if (!csrfToken()) {
        // A new tab: the session cookie is there but not the CSRF token that
        // goes with it; logging in again gives both.
        setNotice('relogin');
        setMe(null);
        return;
      }
      setMustChange(!!m.must_change_password);
      setMe(m);
    } catch (e) {
      if (e.code === 'password_change_required') {
        setMustChange(true);
        setMe({ login: '', roles: [] });
        return;
      }
      setMe(null);
    }
  };

  useEffect(() => {
    loadMe();
  }, []);

  useEffect(() => onAuthProblem((kind) => {
    if (kind === 'password') {
      setMustChange(true);
      return;
    }
    setCsrfToken(null);
    setNotice(kind === 'csrf' ? 'relogin' : 'expired');
    setMe(null);
  }), []);

  const onLoggedIn = async (res) => {
    setCsrfToken(res.csrf_token);
    setNotice(null);
    setMustChange(!!res.must_change_password);
    await loadMe();
  };

  const onLogout = async () => {
    try {
      await api('POST', '/api/v1/auth/logout');
    } catch {
      /* already gone: still forget it here */
    }
    setCsrfToken(null);
    setNotice('logged_out');
    setMe(null);
  };

  if (route.parts[0] === 'activate') return <ActivatePage token={route.parts[1] || ''} langSelect={<LangSelect />} />;
  if (me === undefined) {
    return (
      <main id="main" class="center">
        <p class="msg msg-busy" role="status"><span class="spinner" aria-hidden="true" />{t('common.loading')}</p>
      </main>
    );
  }
  if (me === null) return <LoginPage notice={notice} onLoggedIn={onLoggedIn} langSelect={<LangSelect />} />;
  if (mustChange) {
    return (
      <main id="main" class="center">
        <ForcedPasswordChange me={me} onChanged={() => { setMustChange(false); loadMe(); navigate('#/'); }} />
      </main>
    );
  }

  let page;
  const [p0, p1] = route.parts;
  if (!p0) page = <HomePage me={me} />;
  else if (p0 === 'account') page = <AccountPage me={me} onLoggedOutAll={() => { setCsrfToken(null); setNotice('logged_out'); setMe(null); }} onChanged={loadMe} />;
  else if (p0 === 'directory') page = <DirectoryPage me={me} route={route} />;
  else if (p0 === 'people' && p1) page = <PersonPage me={me} id={p1} key={p1} />;
  else if (p0 === 'files' && p1) page = <FilePage me={me} id={p1} key={p1} />;
  else if (p0 === 'files') page = <FilesPage me={me} route={route} />;
  else if (p0 === 'send') page = <SendPage me={me} />;
  else if (p0 === 'transfers' && p1) page = <TransferPage me={me} id={p1} key={p1} />;
  else if (p0 === 'transfers') page = <TransfersPage me={me} route={route} />;
  else if (p0 === 'requests') page = <RequestsPage me={me} />;
  else if (p0 === 'exchange-approval' && canConfigureExchange(me)) page = <ApprovalSettingsPage me={me} />;
  else if (p0 === 'import' && canImportHr(me)) page = <ImportPage me={me} />;
  else if (p0 === 'audit' && canReadAudit(me)) page = <AuditPage me={me} route={route} />;
  else if (p0 === 'devices' && p1 && canSeeDevices(me)) page = <DevicePage me={me} id={p1} key={p1} />;
  else if (p0 === 'devices' && canSeeDevices(me)) page = <DevicesPage me={me} route={route} />;
  else if (p0 === 'enrollment-tokens' && canSeeDevices(me)) page = <EnrollmentTokensPage me={me} />;
  else if (p0 === 'policies' && canSeeDevices(me)) page = <PoliciesPage me={me} route={route} />;
  else if (p0 === 'events' && canSeeDevices(me)) page = <EventsPage me={me} route={route} />;
  else page = <NotFound />;

  return (
    <Layout me={me} route={route} onLogout={onLogout}>
      {page}
    </Layout>
  );
}

document.documentElement.lang = getLang();
render(<App />, document.getElementById('app'));
