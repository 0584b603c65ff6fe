// SPDX-License-Identifier: AGPL-3.0-or-later
// Home: the first numbers as charts, all counted from the API for what this
// person may see: people by status and by org unit; logins, failures and
// lockouts per day from the audit log.
import { api, apiAll } from '../api.js';
import { fmtDay, fmtNumber, t } from '../i18n.js';
import { canReadAudit } from '../perms.js';
import { ChartFigure } from '../components/Chart.jsx';
import { Loading, PageTitle, useLoad } from '../components/ui.jsx';
import { STATUSES, buildTree } from './Directory.jsx';

const DAYS = 14;

async function peopleByStatus() {
  const out = [];
  for (const s of STATUSES) {
    const r = await apiAll('/api/v1/people', { status: s });
    out.push({ status: s, n: r.items.length, complete: r.complete });
  }
  return out;
}

/* Units at the first level that splits the visible tree, with their subtree counts. */
function byUnit(units) {
  let level = buildTree(units);
  while (level.length === 1 && level[0].children.length > 0) level = level[0].children;
  const total = (n) => (n.people || 0) + n.children.reduce((s, c) => s + total(c), 0);
  return level.map((n) => ({ name: n.name, path: n.path, n: total(n) })).sort((a, b) => b.n - a.n).slice(0, 15);
}

function dayKey(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

async function authActivity() {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  start.setDate(start.getDate() - (DAYS - 1));
  const since = start.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const [logins, lockouts] = await Promise.all([
    apiAll('/api/v1/audit', { action: 'auth.login', since }),
    apiAll('/api/v1/audit', { action: 'auth.lockout', since }),
  ]);
  const days = [];
  for (let i = 0; i < DAYS; i++) {
    const d = new Date(start);
    d.setDate(start.getDate() + i);
    days.push(d);
  }
  const idx = new Map(days.map((d, i) => [dayKey(d), i]));
  const ok = new Array(DAYS).fill(0);
  const failed = new Array(DAYS).fill(0);
  const locked = new Array(DAYS).fill(0);
  for (const e of logins.items) {
    const i = idx.get(dayKey(new Date(e.time)));
    if (i === undefined) continue;
    if (e.outcome === 'success') ok[i]++;
    else failed[i]++;
  }
  for (const e of lockouts.items) {
    const i = idx.get(dayKey(new Date(e.time)));
    if (i !== undefined) locked[i]++;
  }
  return { days, ok, failed, locked, complete: logins.complete && lockouts.complete };
}

function StatusChart() {
  const st = useLoad(peopleByStatus, []);
  return (
    <div class="panel">
      <Loading state={st}>
        {st.data && (
          <>
            <ChartFigure
              id="by-status"
              title={t('home.by_status')}
              labels={st.data.map((x) => t(`status.${x.status}`))}
              series={[{ label: t('home.people'), data: st.data.map((x) => x.n) }]}
            />
            {st.data.some((x) => !x.complete) && <p class="help">{t('home.capped')}</p>}
          </>
        )}
      </Loading>
    </div>
  );
}

function UnitChart() {
  const st = useLoad(() => api('GET', '/api/v1/org').then((r) => byUnit(r.items || [])), []);
  return (
    <div class="panel">
      <Loading state={st}>
        {st.data && (st.data.length === 0 ? <p class="empty">{t('dir.no_units')}</p> : (
          <ChartFigure
            id="by-unit"
            title={t('home.by_unit')}
            labels={st.data.map((x) => x.name)}
            series={[{ label: t('home.people'), data: st.data.map((x) => x.n) }]}
            horizontal
          />
        ))}
      </Loading>
    </div>
  );
}

function AuthChart() {
  const st = useLoad(authActivity, []);
  return (
    <div class="panel wide">
      <Loading state={st}>
        {st.data && (
          <>
            <ChartFigure
              id="auth"
              title={t('home.auth_activity', { n: DAYS })}
              kind="line"
              labels={st.data.days.map((d) => fmtDay(d))}
              series={[
                { label: t('home.logins'), data: st.data.ok, color: '#15803d' },
                { label: t('home.failures'), data: st.data.failed, color: '#c2410c' },
                { label: t('home.lockouts'), data: st.data.locked, color: '#b91c1c' },
              ]}
            />
            {!st.data.complete && <p class="help">{t('home.capped')}</p>}
            <p><a href="#/audit?action=auth.login">{t('home.see_audit')}</a></p>
          </>
        )}
      </Loading>
    </div>
  );
}

export function HomePage({ me }) {
  const name = [me.family_name, me.given_name].filter(Boolean).join(' ') || me.login;
  return (
    <section>
      <PageTitle>{t('home.title')}</PageTitle>
      <p class="lead">{t('home.welcome', { name })}</p>
      {!me.totp_enabled && (
        <p class="msg msg-info" role="note">
          {t('home.totp_nudge')} <a href="#/account">{t('home.totp_nudge_link')}</a>
        </p>
      )}
      <div class="charts">
        <StatusChart />
        <UnitChart />
        {canReadAudit(me) && <AuthChart />}
      </div>
      <p class="help">{t('home.counts_note', { n: fmtNumber(DAYS) })}</p>
    </section>
  );
}
