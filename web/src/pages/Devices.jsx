// SPDX-License-Identifier: AGPL-3.0-or-later
// Endpoints: the enrolled PCs in the person's scope with their compliance
// state (counts per state, by org unit, a filter in the address), one PC's
// page (every baseline requirement with its reason, the posture it reported,
// the applied policy version, its state history and trend), enrollment
// tokens (created for a unit and shown once, listed, revoked) and the
// endpoint policy of an org unit (own and effective, edited as JSON with the
// server's refusal shown).  Controls appear only to the roles the API
// allows; the API decides all the same.
import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtDateTime, fmtDay, fmtNumber, t } from '../i18n.js';
import { canManageEndpoints, has, pathWithin } from '../perms.js';
import { href, navigate } from '../router.js';
import { ChartFigure } from '../components/Chart.jsx';
import {
  ActionStatus, ConfirmButton, CopyButton, errorText, Loading, ObjectPending, Pager, PageTitle, TableWrap, useAction, useCursorPager, useLoad,
} from '../components/ui.jsx';

export const DEVICE_STATES = ['compliant', 'non_compliant', 'unknown', 'quarantined'];
const STATE_COLORS = { compliant: '#15803d', non_compliant: '#b91c1c', unknown: '#6b7280', quarantined: '#7c3aed' };
const TOKEN_LIFETIMES = ['1d', '7d', '30d', '90d'];

export function DeviceState({ state }) {
  return <span class={`badge dev-${state}`}>{t(`dev.state_${state}`, null, state)}</span>;
}

/*
 * The org units whose endpoints the person may see, in path order (for the
 * unit pickers): all of them for the group-wide roles; for a security
 * manager their subtree (the org list also names the units above it).
 */
async function loadUnits(me) {
  const r = await api('GET', '/api/v1/org');
  const all = has(me, 'admin', 'security_officer', 'auditor');
  return (r.items || [])
    .filter((u) => all || pathWithin(u.path, me.manages_path))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function UnitSelect({ id, units, value, onChange, describedBy }) {
  return (
    <select id={id} value={value} required aria-describedby={describedBy} onChange={(e) => onChange(e.currentTarget.value)}>
      <option value="">{t('dev.choose_unit')}</option>
      {units.map((u) => <option key={u.id} value={u.id}>{u.path}</option>)}
    </select>
  );
}

/* ------------------------------------------------------------ the list */

/*
 * The devices in scope counted by the server: per state, the units with the
 * most devices, failing requirements, and per state over the last 14 days
 * (rebuilt by the server from the audit log's state changes).
 */
async function deviceCounts() {
  const s = await api('GET', '/api/v1/endpoint/summary');
  const top = (s.by_unit || []).map((u) => ({ path: u.org_unit, c: u.states, n: u.total }));
  const rows = s.trend || [];
  const trend = {
    days: rows.map((r) => new Date(`${r.day}T00:00:00Z`)),
    counts: Object.fromEntries(DEVICE_STATES.map((st) => [st, rows.map((r) => r[st] || 0)])),
  };
  return { total: s.total, byState: s.by_state, top, failing: s.failing || [], trend, complete: true };
}

function StateCounts({ counts, state }) {
  return (
    <ul class="counts dev-counts" aria-label={t('dev.counts')}>
      <li class={state === '' ? 'selected' : ''}>
        <a href={href(['devices'])} aria-current={state === '' ? 'true' : undefined}>
          <span class="n">{fmtNumber(counts.total)}{counts.complete ? '' : '+'}</span>
          <span class="k">{t('dev.all')}</span>
        </a>
      </li>
      {DEVICE_STATES.map((s) => (
        <li key={s} class={`count-${s}${state === s ? ' selected' : ''}`}>
          <a href={href(['devices'], { state: s })} aria-current={state === s ? 'true' : undefined}>
            <span class="n">{fmtNumber(counts.byState[s] || 0)}</span>
            <span class="k">{t(`dev.state_${s}`)}</span>
          </a>
        </li>
      ))}
    </ul>
  );
}

export function DevicesPage({ me, route }) {
  const state = route.query.get('state') || '';
  const pager = useCursorPager(state);
  // The trend comes from the audit log, which these roles may read.
  const counts = useLoad(() => deviceCounts(), []);
  const list = useLoad(
    () => api('GET', '/api/v1/devices', { query: { state, limit: 50, cursor: pager.cursor } }),
    [state, pager.cursor],
  );
  return (
    <section>
      <PageTitle>{t('dev.title')}</PageTitle>
      <p class="help">{t('dev.intro')}</p>
      <p class="actions page-actions">
        <a class="button" href="#/enrollment-tokens">{t('nav.enrollment_tokens')}</a>
        <a class="button" href="#/policies">{t('nav.policies')}</a>
        <a class="button" href="#/events">{t('nav.events')}</a>
      </p>
      {state === 'quarantined' && (
        <p class="help">
          {t('dev.q_list')}{' '}
          <a href="/api/v1/endpoint/quarantine.nft" download="rampart-quarantine.nft">{t('dev.q_list_nft')}</a>{' · '}
          <a href="/api/v1/endpoint/quarantine" target="_blank" rel="noopener">{t('dev.q_list_json')}</a>
        </p>
      )}
      <div class="panel">
        <Loading state={counts}>
          {counts.data && (
            <>
              <StateCounts counts={counts.data} state={state} />
              {counts.data.trend && counts.data.total > 0 && (
                <ChartFigure
                  id="dev-trend-states"
                  title={t('dev.state_trend')}
                  stacked
                  labels={counts.data.trend.days.map((d) => fmtDay(d, 'UTC'))}
                  series={DEVICE_STATES.map((s) => ({ label: t(`dev.state_${s}`), color: STATE_COLORS[s], data: counts.data.trend.counts[s] }))}
                />
              )}
              {counts.data.failing.length > 0 && (
                <div class="dev-failing">
                  <h2>{t('dev.failing_by_req')}</h2>
                  <ul aria-label={t('dev.failing_by_req')}>
                    {counts.data.failing.map((f) => (
                      <li key={f.id}>{t(`dev.req_${f.id}`, null, f.id)}: <strong>{fmtNumber(f.devices)}</strong></li>
                    ))}
                  </ul>
                </div>
              )}
              {counts.data.top.length > 0 && (
                <ChartFigure
                  id="dev-by-unit"
                  title={t('dev.by_unit')}
                  labels={counts.data.top.map((u) => u.path)}
                  series={DEVICE_STATES.map((s) => ({ label: t(`dev.state_${s}`), color: STATE_COLORS[s], data: counts.data.top.map((u) => u.c[s] || 0) }))}
                  horizontal
                  stacked
                />
              )}
            </>
          )}
        </Loading>
      </div>
      <form class="panel filters" aria-label={t('dev.filters')} onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="dev-state">{t('dev.state')}</label>
          <select id="dev-state" value={state} onChange={(e) => navigate(href(['devices'], { state: e.currentTarget.value }))}>
            <option value="">{t('common.any')}</option>
            {DEVICE_STATES.map((s) => <option key={s} value={s}>{t(`dev.state_${s}`)}</option>)}
          </select>
        </div>
        <div class="actions">
          <button type="button" onClick={() => { counts.reload(); list.reload(); }}>{t('dev.refresh')}</button>
        </div>
      </form>
      <Loading state={list}>
        {list.data && (list.data.items.length === 0 ? <p class="empty">{state ? t('dev.none_in_state') : t('dev.none')}</p> : (
          <TableWrap label={t('dev.title')}>
            <table class="devices">
              <thead>
                <tr>
                  <th scope="col">{t('dev.hostname')}</th>
                  <th scope="col">{t('dev.org_unit')}</th>
                  <th scope="col">{t('dev.owner')}</th>
                  <th scope="col">{t('dev.state')}</th>
                  <th scope="col">{t('dev.last_seen')}</th>
                  <th scope="col">{t('dev.enrolled')}</th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((d) => (
                  <tr key={d.id}>
                    <td><a href={href(['devices', d.id])}>{d.hostname}</a></td>
                    <td class="wrap">{d.org_unit && d.org_unit.path}</td>
                    <td>{d.owner ? (d.owner.login || d.owner.id) : '—'}</td>
                    <td><DeviceState state={d.state} /></td>
                    <td>{d.last_seen_at ? fmtDateTime(d.last_seen_at) : t('common.never')}</td>
                    <td>{fmtDateTime(d.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        ))}
      </Loading>
      {list.data && (pager.page > 1 || list.data.next) && <Pager pager={pager} next={list.data.next} busy={list.loading} label={t('dev.title')} />}
    </section>
  );
}

/* ------------------------------------------------------------ one device */

function fmtAge(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const days = Math.floor(seconds / 86400);
  if (days >= 1) return t('dev.days', { n: fmtNumber(days) });
  return t('dev.hours', { n: fmtNumber(Math.floor(seconds / 3600)) });
}

function yesNo(v) {
  return v ? t('dev.yes') : t('dev.no');
}

function Requirements({ results }) {
  if (!results || results.length === 0) return <p class="empty">{t('dev.no_results')}</p>;
  return (
    <TableWrap label={t('dev.requirements')}>
      <table>
        <thead>
          <tr>
            <th scope="col">{t('dev.requirement')}</th>
            <th scope="col">{t('dev.result')}</th>
            <th scope="col">{t('dev.reason')}</th>
          </tr>
        </thead>
        <tbody>
          {results.map((r) => (
            <tr key={r.id}>
              <th scope="row">{t(`dev.req_${r.id}`, null, r.id)}</th>
              <td><span class={`badge ${r.pass ? 'outcome-success' : 'outcome-failure'}`}>{r.pass ? t('dev.pass') : t('dev.fail')}</span></td>
              <td class="wrap">{r.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

function Posture({ device }) {
  const rep = device.report;
  if (!rep) return <p class="empty">{t('dev.no_report')}</p>;
  const disks = rep.disk_encryption || [];
  const usb = rep.usb_storage || [];
  const av = rep.antivirus || {};
  return (
    <dl class="facts">
      <dt>{t('dev.os')}</dt><dd>{(rep.os && rep.os.pretty_name) || '—'}</dd>
      <dt>{t('dev.kernel')}</dt><dd>{(rep.kernel && rep.kernel.release) || '—'}</dd>
      <dt>{t('dev.agent_version')}</dt><dd>{rep.agent_version || '—'}</dd>
      <dt>{t('dev.policy_version')}</dt><dd>{rep.policy_version === undefined ? '—' : fmtNumber(rep.policy_version)}</dd>
      <dt>{t('dev.packages')}</dt><dd>{fmtNumber(device.package_count)}</dd>
      <dt>{t('dev.disks')}</dt>
      <dd>{disks.length === 0 ? '—' : disks.map((d) => (
        <div key={d.mount}><code>{d.mount}</code> {d.device} — {d.encrypted ? t('dev.encrypted') : t('dev.not_encrypted')}</div>
      ))}</dd>
      <dt>{t('dev.firewall')}</dt><dd>{yesNo(rep.firewall && rep.firewall.nftables_active)}</dd>
      <dt>{t('dev.antivirus')}</dt>
      <dd>{av.present ? t('dev.av_age', { product: av.product || '—', age: fmtAge(av.signature_age_s) }) : t('dev.av_none')}</dd>
      <dt>{t('dev.usb')}</dt>
      <dd>{usb.length === 0 ? t('dev.usb_none') : usb.map((u, i) => (
        <div key={i}>{[u.vendor, u.product].filter(Boolean).join(' ')} <span class="sub">{[u.vendor_id, u.product_id, u.serial].filter(Boolean).join(':')}</span></div>
      ))}</dd>
      <dt>{t('dev.uptime')}</dt><dd>{fmtAge(rep.uptime_s)}</dd>
    </dl>
  );
}

function History({ history }) {
  if (!history || history.length === 0) return <p class="empty">{t('dev.no_history')}</p>;
  const oldestFirst = history.slice().reverse();
  return (
    <>
      {history.length > 1 && (
        <ChartFigure
          id="dev-trend"
          title={t('dev.trend')}
          kind="line"
          labels={oldestFirst.map((h) => fmtDateTime(h.received_at))}
          series={[{ label: t('dev.failed_requirements'), color: '#b91c1c', data: oldestFirst.map((h) => (h.results || []).filter((r) => !r.pass).length) }]}
        />
      )}
      <TableWrap label={t('dev.history')}>
        <table>
          <thead>
            <tr>
              <th scope="col">{t('dev.received')}</th>
              <th scope="col">{t('dev.state')}</th>
              <th scope="col">{t('dev.failed')}</th>
            </tr>
          </thead>
          <tbody>
            {history.map((h) => (
              <tr key={h.id}>
                <td>{fmtDateTime(h.received_at)}</td>
                <td><DeviceState state={h.state} /></td>
                <td class="wrap">{(h.results || []).filter((r) => !r.pass).map((r) => t(`dev.req_${r.id}`, null, r.id)).join(', ') || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </>
  );
}

/* ------------------------------------------------------------ quarantine */

/*
 * The device's quarantine: its kind, reason and time, or the grace clock of
 * a non-compliant device; quarantine (with a reason, optionally as
 * infected) and release for the roles that may.
 */
function Quarantine({ device, manage, onDevice }) {
  const q = device.quarantine;
  const [reason, setReason] = useState('');
  const [infected, setInfected] = useState(false);
  const [run, state] = useAction();
  const path = `/api/v1/devices/${encodeURIComponent(device.id)}`;
  useEffect(() => { setReason(''); setInfected(false); }, [device.id, q && q.since]);

  const quarantine = async (e) => {
    e.preventDefault();
    const r = await run(
      () => api('POST', `${path}/quarantine`, { json: { reason: reason.trim(), infected } }),
      t(infected ? 'dev.q_done_infected' : 'dev.q_done', { host: device.hostname }),
    );
    if (r) onDevice(r);
  };
  const release = async (e) => {
    e.preventDefault();
    const body = reason.trim() ? { reason: reason.trim() } : {};
    const r = await run(() => api('POST', `${path}/release`, { json: body }), t('dev.q_released', { host: device.hostname }));
    if (r) onDevice(r);
  };

  return (
    <section class={q ? 'panel quarantine-on' : 'panel'} aria-labelledby="dev-q-title">
      <h2 id="dev-q-title">{t('dev.quarantine')}</h2>
      {q ? (
        <dl class="facts">
          <dt>{t('dev.q_kind')}</dt><dd><span class="badge dev-quarantined">{t(`dev.q_kind_${q.kind}`, null, q.kind)}</span></dd>
          <dt>{t('dev.q_reason')}</dt><dd>{q.reason || '—'}</dd>
          <dt>{t('dev.q_since')}</dt><dd>{fmtDateTime(q.since)}</dd>
        </dl>
      ) : (
        <p>
          {device.non_compliant_since
            ? t('dev.q_grace', { since: fmtDateTime(device.non_compliant_since) })
            : t('dev.q_not')}
        </p>
      )}
      {q && <p class="help">{t(q.kind === 'grace' ? 'dev.q_help_grace' : 'dev.q_help_admin')}</p>}
      {manage && !q && (
        <form class="stack" onSubmit={quarantine} aria-labelledby="dev-q-do">
          <h3 id="dev-q-do">{t('dev.q_title')}</h3>
          <div class="field">
            <label for="q-reason">{t('dev.q_reason')}</label>
            <input id="q-reason" required maxLength={200} value={reason} aria-describedby="q-reason-help" onInput={(e) => setReason(e.currentTarget.value)} />
            <p id="q-reason-help" class="help">{t('dev.q_reason_help')}</p>
          </div>
          <div class="check">
            <input id="q-infected" type="checkbox" checked={infected} onChange={(e) => setInfected(e.currentTarget.checked)} aria-describedby="q-infected-help" />
            <label for="q-infected">{t('dev.q_infected')}</label>
            <p id="q-infected-help" class="help">{t('dev.q_infected_help')}</p>
          </div>
          <div class="actions">
            <button type="submit" class="danger" disabled={state.busy || !reason.trim()}>{t('dev.q_do')}</button>
          </div>
        </form>
      )}
      {manage && q && (
        <form class="stack" onSubmit={release} aria-labelledby="dev-q-release">
          <h3 id="dev-q-release">{t('dev.q_release_title')}</h3>
          <div class="field">
            <label for="q-release-reason">{t('dev.q_release_reason')}</label>
            <input id="q-release-reason" maxLength={200} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </div>
          <div class="actions">
            <button type="submit" class="primary" disabled={state.busy}>{t('dev.q_release')}</button>
          </div>
        </form>
      )}
      <ActionStatus state={state} />
    </section>
  );
}

export function DevicePage({ me, id }) {
  const load = useLoad(() => api('GET', `/api/v1/devices/${encodeURIComponent(id)}`), [id]);
  const [device, setDevice] = useState(null);
  useEffect(() => setDevice(load.data), [load.data]);

  if (load.error || !device) {
    return <ObjectPending load={load} title={t('dev.device_title')} notFound={t('dev.not_found')} back={t('dev.back')} backHref="#/devices" />;
  }
  const failed = (device.results || []).filter((r) => !r.pass).length;
  return (
    <section>
      <p class="crumbs"><a href="#/devices">{t('dev.back')}</a></p>
      <PageTitle>{device.hostname}</PageTitle>
      <div class="panel">
        <dl class="facts">
          <dt>{t('dev.state')}</dt><dd><DeviceState state={device.state} /></dd>
          <dt>{t('dev.id')}</dt><dd><code>{device.id}</code></dd>
          <dt>{t('dev.machine_id')}</dt><dd><code>{device.machine_id}</code></dd>
          <dt>{t('dev.org_unit')}</dt><dd>{device.org_unit && device.org_unit.path}</dd>
          <dt>{t('dev.owner')}</dt>
          <dd>{device.owner ? <a href={href(['people', device.owner.id])}>{device.owner.login || device.owner.id}</a> : '—'}</dd>
          <dt>{t('dev.last_seen')}</dt><dd>{device.last_seen_at ? fmtDateTime(device.last_seen_at) : t('common.never')}</dd>
          <dt>{t('dev.enrolled')}</dt><dd>{fmtDateTime(device.created_at)}</dd>
          <dt>{t('dev.addresses')}</dt><dd>{(device.addresses || []).length ? device.addresses.join(', ') : '—'}</dd>
        </dl>
        <p class="actions page-actions">
          <a class="button" href={href(['policies'], { unit: device.org_unit && device.org_unit.id })}>{t('dev.see_policy')}</a>
          <a class="button" href={href(['events'], { device: device.id })}>{t('dev.see_events')}</a>
          <button type="button" onClick={load.reload} disabled={load.loading}>{t('dev.refresh')}</button>
        </p>
        {canManageEndpoints(me) ? null : <p class="help">{t('dev.read_only')}</p>}
      </div>
      <div class="grid2">
        <section class="panel" aria-labelledby="dev-req-title">
          <h2 id="dev-req-title">{t('dev.requirements')}</h2>
          {device.results && device.results.length > 0 && (
            <p class={failed ? 'bad' : 'ok'} role="status">{failed ? t('dev.failing', { n: failed }) : t('dev.all_pass')}</p>
          )}
          <Requirements results={device.results} />
        </section>
        <section class="panel" aria-labelledby="dev-posture-title">
          <h2 id="dev-posture-title">{t('dev.posture')}</h2>
          <Posture device={device} />
        </section>
      </div>
      <Quarantine device={device} manage={canManageEndpoints(me)} onDevice={(r) => setDevice({ ...device, ...r })} />
      <section class="panel" aria-labelledby="dev-hist-title">
        <h2 id="dev-hist-title">{t('dev.history')}</h2>
        <History history={device.history} />
      </section>
    </section>
  );
}

/* ------------------------------------------------------------ enrollment tokens */

function TokenStatus({ status }) {
  const cls = status === 'active' ? 'status-active' : status === 'revoked' ? 'status-retired' : 'status-on_leave';
  return <span class={`badge ${cls}`}>{t(`dev.token_${status}`, null, status)}</span>;
}

function NewToken({ token, onDone }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current) ref.current.focus(); }, [token.id]);
  return (
    <section class="panel once" aria-labelledby="token-once-title">
      <h2 id="token-once-title" ref={ref} tabIndex={-1}>{t('dev.token_created', { unit: token.org_unit.path })}</h2>
      <p>{t('dev.token_once')}</p>
      <p><code class="secret" data-testid="enrollment-token">{token.token}</code></p>
      <p><CopyButton text={token.token} /></p>
      <p class="help">{t('dev.token_use')}</p>
      <pre class="cmd"><code>rampart-agent enroll --server {location.origin} --token {token.token}</code></pre>
      <button type="button" onClick={onDone}>{t('dev.token_hide')}</button>
    </section>
  );
}

export function EnrollmentTokensPage({ me }) {
  const units = useLoad(() => loadUnits(me), []);
  const pager = useCursorPager('');
  const [tick, setTick] = useState(0);
  const list = useLoad(
    () => api('GET', '/api/v1/endpoint/enrollment-tokens', { query: { limit: 50, cursor: pager.cursor } }),
    [pager.cursor, tick],
  );
  const [unit, setUnit] = useState('');
  const [uses, setUses] = useState('10');
  const [expires, setExpires] = useState('7d');
  const [created, setCreated] = useState(null);
  const [run, state] = useAction();
  const manage = canManageEndpoints(me);

  const create = async (e) => {
    e.preventDefault();
    const tok = await run(
      () => api('POST', '/api/v1/endpoint/enrollment-tokens', { json: { org_unit: unit, uses: Number(uses), expires } }),
      (v) => t('dev.token_created', { unit: v.org_unit.path }),
    );
    if (tok) {
      setCreated(tok);
      setTick((x) => x + 1);
    }
  };
  const revoke = async (tok) => {
    const ok = await run(
      () => api('DELETE', `/api/v1/endpoint/enrollment-tokens/${encodeURIComponent(tok.id)}`).then(() => true),
      t('dev.token_revoked_done', { id: tok.id }),
    );
    if (ok) setTick((x) => x + 1);
  };

  return (
    <section>
      <p class="crumbs"><a href="#/devices">{t('dev.back')}</a></p>
      <PageTitle>{t('dev.tokens_title')}</PageTitle>
      <p class="help">{t('dev.tokens_intro')}</p>
      {created && <NewToken token={created} onDone={() => setCreated(null)} />}
      {manage && (
        <form class="panel inline-form" onSubmit={create} aria-labelledby="token-new-title">
          <h2 id="token-new-title">{t('dev.token_new')}</h2>
          <div class="field">
            <label for="tok-unit">{t('dev.org_unit')}</label>
            {units.data ? <UnitSelect id="tok-unit" units={units.data} value={unit} onChange={setUnit} /> : <Loading state={units} />}
          </div>
          <div class="field">
            <label for="tok-uses">{t('dev.token_uses')}</label>
            <input id="tok-uses" type="number" min="1" max="100000" required value={uses} onInput={(e) => setUses(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="tok-expires">{t('dev.token_expires')}</label>
            <select id="tok-expires" value={expires} onChange={(e) => setExpires(e.currentTarget.value)}>
              {TOKEN_LIFETIMES.map((x) => <option key={x} value={x}>{t(`dev.life_${x}`)}</option>)}
            </select>
          </div>
          <div class="actions">
            <button type="submit" class="primary" disabled={state.busy || !unit}>{t('dev.token_create')}</button>
          </div>
        </form>
      )}
      <ActionStatus state={state} />
      <h2 class="list-title">{t('dev.tokens_list')}</h2>
      <Loading state={list}>
        {list.data && (list.data.items.length === 0 ? <p class="empty">{t('dev.tokens_none')}</p> : (
          <TableWrap label={t('dev.tokens_list')}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('dev.token_id')}</th>
                  <th scope="col">{t('dev.org_unit')}</th>
                  <th scope="col" class="num">{t('dev.token_uses_left')}</th>
                  <th scope="col" class="num">{t('dev.token_uses')}</th>
                  <th scope="col">{t('dev.token_status')}</th>
                  <th scope="col">{t('dev.token_expires_at')}</th>
                  <th scope="col">{t('dev.token_created_at')}</th>
                  {manage && <th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th>}
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((tok) => (
                  <tr key={tok.id}>
                    <td><code>{tok.id}</code></td>
                    <td class="wrap">{tok.org_unit.path}</td>
                    <td class="num">{fmtNumber(tok.uses_left)}</td>
                    <td class="num">{fmtNumber(tok.uses)}</td>
                    <td><TokenStatus status={tok.status} /></td>
                    <td>{fmtDateTime(tok.expires_at)}</td>
                    <td>{fmtDateTime(tok.created_at)}</td>
                    {manage && (
                      <td>
                        {tok.status === 'active' && (
                          <ConfirmButton label={t('dev.token_revoke')} confirmLabel={t('dev.token_revoke_confirm', { id: tok.id })} danger disabled={state.busy} onConfirm={() => revoke(tok)} />
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        ))}
      </Loading>
      {list.data && (pager.page > 1 || list.data.next) && <Pager pager={pager} next={list.data.next} busy={list.loading} label={t('dev.tokens_list')} />}
    </section>
  );
}

/* ------------------------------------------------------------ policies */

const POLICY_EXAMPLE = '{\n  "baseline": {"disk_encryption_root": true, "firewall": true, "antivirus_max_age_days": 7},\n  "checkin_interval": "5m",\n  "removable_media": [{"vendor": "0781", "product": "5583", "serial": "4C5300012301"}],\n  "logging": {"retention_days": 90},\n  "quarantine": {"grace_period": "24h"}\n}';

function pretty(v) {
  return JSON.stringify(v, null, 2);
}

function PolicyEditor({ answer, onSaved }) {
  const own = answer.own;
  const [text, setText] = useState(own ? pretty(own.policy) : '{}');
  const [localError, setLocalError] = useState('');
  const [run, state, reset] = useAction();
  // Another unit: a fresh form.  A new version (just saved): its stored form, keeping the result shown.
  useEffect(() => {
    setLocalError('');
    reset();
  }, [answer.org_unit.id]);
  useEffect(() => setText(own ? pretty(own.policy) : '{}'), [answer.org_unit.id, own && own.version]);

  const save = async (e) => {
    e.preventDefault();
    let body;
    try {
      body = JSON.parse(text);
    } catch (err) {
      setLocalError(t('pol.not_json', { detail: err.message }));
      return;
    }
    setLocalError('');
    const r = await run(
      () => api('PUT', `/api/v1/endpoint/policies/${encodeURIComponent(answer.org_unit.id)}`, { json: body }),
      (v) => t('pol.saved', { version: v.own.version, unit: v.org_unit.path }),
    );
    if (r) onSaved(r);
  };

  return (
    <form class="panel" onSubmit={save} aria-labelledby="pol-edit-title">
      <h2 id="pol-edit-title">{t('pol.edit')}</h2>
      <div class="field">
        <label for="pol-json">{t('pol.json')}</label>
        <textarea
          id="pol-json"
          class="code"
          rows={14}
          spellcheck={false}
          value={text}
          aria-describedby="pol-json-help"
          aria-invalid={localError || state.error ? 'true' : undefined}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <p id="pol-json-help" class="help">{t('pol.json_help')}</p>
        <details>
          <summary>{t('pol.example')}</summary>
          <pre class="cmd"><code>{POLICY_EXAMPLE}</code></pre>
        </details>
      </div>
      {localError && <p class="msg msg-error" role="alert">{localError}</p>}
      <div class="actions">
        <button type="submit" class="primary" disabled={state.busy}>{t('pol.save')}</button>
      </div>
      <ActionStatus state={state} />
    </form>
  );
}

export function PoliciesPage({ me, route }) {
  const unitId = route.query.get('unit') || '';
  const units = useLoad(() => loadUnits(me), []);
  const pol = useLoad(
    () => (unitId ? api('GET', `/api/v1/endpoint/policies/${encodeURIComponent(unitId)}`) : Promise.resolve(null)),
    [unitId],
  );
  const [answer, setAnswer] = useState(null);
  useEffect(() => setAnswer(pol.data), [pol.data]);
  const manage = canManageEndpoints(me);

  return (
    <section>
      <p class="crumbs"><a href="#/devices">{t('dev.back')}</a></p>
      <PageTitle>{t('pol.title')}</PageTitle>
      <p class="help">{t('pol.intro')}</p>
      <form class="panel filters" onSubmit={(e) => e.preventDefault()} aria-label={t('pol.choose')}>
        <div class="field grow">
          <label for="pol-unit">{t('dev.org_unit')}</label>
          {units.data
            ? <UnitSelect id="pol-unit" units={units.data} value={unitId} onChange={(v) => navigate(href(['policies'], { unit: v }))} />
            : <Loading state={units} />}
        </div>
      </form>
      {unitId && pol.error && <p class="msg msg-error" role="alert">{errorText(pol.error)}</p>}
      {unitId && !pol.error && !answer && <Loading state={pol} />}
      {answer && (
        <>
          <div class="grid2">
            <section class="panel" aria-labelledby="pol-own-title">
              <h2 id="pol-own-title">{t('pol.own')}</h2>
              {answer.own ? (
                <>
                  <p>{t('pol.own_version', { version: answer.own.version, at: fmtDateTime(answer.own.updated_at) })}</p>
                  <pre class="cmd" data-testid="policy-own"><code>{pretty(answer.own.policy)}</code></pre>
                </>
              ) : <p class="empty">{t('pol.own_none')}</p>}
            </section>
            <section class="panel" aria-labelledby="pol-eff-title">
              <h2 id="pol-eff-title">{t('pol.effective')}</h2>
              <p>{t('pol.effective_version', { version: answer.effective.version })}</p>
              <p class="help">
                {answer.effective.sources.length === 0 ? t('pol.from_defaults') : (
                  <>
                    {t('pol.from')}{' '}
                    {answer.effective.sources.map((s, i) => (
                      <Fragment key={s.org_unit}>{i > 0 && ', '}{t('pol.source', { unit: s.org_unit, version: s.version })}</Fragment>
                    ))}
                  </>
                )}
              </p>
              <pre class="cmd" data-testid="policy-effective"><code>{pretty(answer.effective.policy)}</code></pre>
            </section>
          </div>
          {manage && <PolicyEditor answer={answer} onSaved={setAnswer} />}
        </>
      )}
    </section>
  );
}
