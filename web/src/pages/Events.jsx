// SPDX-License-Identifier: AGPL-3.0-or-later
// Operation logs: what the agents recorded on the PCs (process executions,
// logins and logouts, USB devices, files written to removable media),
// searched by device, person, kind and time range, newest first, a page at
// a time with the API's cursor.  The filters live in the address
// (#/events?device=&person=&kind=&since=&until=).  Every search is in the
// audit log (the API records it).
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, apiAll } from '../api.js';
import { fmtDateTime, fmtNumber, t } from '../i18n.js';
import { href, navigate } from '../router.js';
import { PageTitle, Pager, TableWrap, errorText, useCursorPager, useLoad } from '../components/ui.jsx';

export const EVENT_KINDS = ['exec', 'login', 'logout', 'usb_insert', 'usb_remove', 'usb_block', 'file_write'];
const FIELDS = ['device', 'person', 'kind', 'since', 'until'];
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/* "2026-11-26T09:30" (local, from datetime-local) -> RFC 3339 UTC, and back. */
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

function usbName(d) {
  const id = [d.vendor, d.product].filter(Boolean).join(':');
  return [d.name, id, d.serial ? `#${d.serial}` : ''].filter(Boolean).join(' ');
}

/* One line saying what happened, from the kind's fields. */
export function eventSummary(e) {
  const d = e.data || {};
  switch (e.kind) {
    case 'exec':
      return (d.argv && d.argv.length ? d.argv.join(' ') : d.path) || '';
    case 'login':
    case 'logout':
      return [d.tty, d.host && t('ev.from_host', { host: d.host })].filter(Boolean).join(' ');
    case 'usb_insert':
      return `${usbName(d)} — ${t(`ev.action_${d.action}`, null, d.action || '')}${d.storage ? ` (${t('ev.storage')})` : ''}`;
    case 'usb_remove':
    case 'usb_block':
      return usbName(d);
    case 'file_write':
      return `${d.path || ''} → ${d.device || ''}${d.size !== undefined ? ` (${t('files.bytes', { n: fmtNumber(d.size) })})` : ''}`;
    default:
      return '';
  }
}

function Details({ e }) {
  const d = e.data && typeof e.data === 'object' ? Object.entries(e.data) : [];
  return (
    <dl class="kv details">
      <dt>{t('ev.seq')}</dt><dd>{e.seq}</dd>
      <dt>{t('ev.device_id')}</dt><dd><code>{e.device.id}</code></dd>
      <dt>{t('dev.org_unit')}</dt><dd>{e.device.org_unit || '—'}</dd>
      <dt>{t('dev.owner')}</dt><dd>{e.device.owner || '—'}</dd>
      <dt>{t('ev.received')}</dt><dd>{fmtDateTime(e.received_at)}</dd>
      {d.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

export function EventsPage({ route }) {
  const filters = Object.fromEntries(FIELDS.map((f) => [f, route.query.get(f) || '']));
  const key = JSON.stringify(filters);
  const [form, setForm] = useState(filters);
  useEffect(() => setForm(filters), [key]);
  const pager = useCursorPager(key);
  const list = useLoad(() => api('GET', '/api/v1/endpoint/events', { query: { ...filters, limit: 50, cursor: pager.cursor } }), [key, pager.cursor]);
  const [open, setOpen] = useState(() => new Set());

  const [lookupError, setLookupError] = useState('');
  // A host name in the device field is looked up among the devices in scope.
  const submit = async (ev) => {
    ev.preventDefault();
    const q = {};
    for (const f of FIELDS) q[f] = (form[f] || '').trim();
    setLookupError('');
    if (q.device && !ULID.test(q.device)) {
      const all = await apiAll('/api/v1/devices', {}, 20).catch(() => ({ items: [] }));
      const hits = all.items.filter((d) => d.hostname === q.device);
      if (hits.length !== 1) {
        setLookupError(t(hits.length ? 'ev.host_ambiguous' : 'ev.host_unknown', { host: q.device, n: hits.length }));
        return;
      }
      q.device = hits[0].id;
    }
    navigate(href(['events'], q));
  };
  const shownDevice = filters.device && list.data && list.data.items.length > 0 ? list.data.items[0].device.hostname : '';
  const toggle = (id) => setOpen((s) => {
    const n = new Set(s);
    if (n.has(id)) n.delete(id);
    else n.add(id);
    return n;
  });
  const set = (f) => (e) => setForm({ ...form, [f]: e.currentTarget.value });

  return (
    <section>
      <PageTitle>{t('ev.title')}</PageTitle>
      <p class="help">{t('ev.intro')}</p>
      <form class="panel filters" onSubmit={submit} role="search" aria-label={t('ev.filters')}>
        <div class="field">
          <label for="ev-device">{t('ev.device')}</label>
          <input id="ev-device" value={form.device} onInput={set('device')} placeholder={t('ev.device_placeholder')} aria-invalid={lookupError ? 'true' : undefined} />
        </div>
        <div class="field">
          <label for="ev-person">{t('ev.person')}</label>
          <input id="ev-person" value={form.person} onInput={set('person')} placeholder={t('ev.person_placeholder')} />
        </div>
        <div class="field">
          <label for="ev-kind">{t('ev.kind')}</label>
          <select id="ev-kind" value={form.kind} onChange={set('kind')}>
            <option value="">{t('common.any')}</option>
            {EVENT_KINDS.map((k) => <option key={k} value={k}>{t(`ev.kind_${k}`)}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="ev-since">{t('ev.since')}</label>
          <input id="ev-since" type="datetime-local" value={isoToLocal(form.since)} onInput={(e) => setForm({ ...form, since: localToIso(e.currentTarget.value) })} />
        </div>
        <div class="field">
          <label for="ev-until">{t('ev.until')}</label>
          <input id="ev-until" type="datetime-local" value={isoToLocal(form.until)} onInput={(e) => setForm({ ...form, until: localToIso(e.currentTarget.value) })} />
        </div>
        <div class="actions">
          <button type="submit" class="primary">{t('ev.search')}</button>
          <button type="button" onClick={() => navigate(href(['events']))}>{t('dir.clear_filters')}</button>
        </div>
      </form>
      {lookupError && <p class="msg msg-error" role="alert">{lookupError}</p>}
      {shownDevice && <p>{t('ev.of_device', { host: shownDevice })}</p>}
      <div class="panel">
        {list.error ? <p class="msg msg-error" role="alert">{list.error.code === 'not_found' ? t('ev.no_device') : errorText(list.error)}</p> : (
          <>
            <p class="msg" role="status" aria-live="polite">
              {list.loading ? <><span class="spinner" aria-hidden="true" />{t('common.loading')}</> : list.data && t('ev.shown', { n: list.data.items.length })}
            </p>
            {list.data && (list.data.items.length === 0 ? <p class="empty">{t('ev.none')}</p> : (
              <TableWrap label={t('ev.title')}>
                <table class="events">
                  <thead>
                    <tr>
                      <th scope="col">{t('ev.time')}</th>
                      <th scope="col">{t('ev.device')}</th>
                      <th scope="col">{t('ev.user')}</th>
                      <th scope="col">{t('ev.kind')}</th>
                      <th scope="col">{t('ev.what')}</th>
                      <th scope="col"><span class="visually-hidden">{t('ev.details')}</span></th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.data.items.map((e) => {
                      const id = `${e.device.id}-${e.seq}`;
                      return (
                        <Fragment key={id}>
                          <tr class={open.has(id) ? 'open' : ''}>
                            <td>{fmtDateTime(e.ts)}</td>
                            <td><a href={href(['devices', e.device.id])}>{e.device.hostname}</a></td>
                            <td>{e.user || '—'}</td>
                            <td><span class={`badge ev-${e.kind}`}>{t(`ev.kind_${e.kind}`, null, e.kind)}</span></td>
                            <td class="wrap ev-what">{eventSummary(e)}</td>
                            <td>
                              <button type="button" class="small" aria-expanded={open.has(id) ? 'true' : 'false'} aria-controls={`ev-d-${id}`} onClick={() => toggle(id)}>
                                {t('ev.details')}<span class="visually-hidden"> {e.device.hostname} {e.seq}</span>
                              </button>
                            </td>
                          </tr>
                          {open.has(id) && (
                            <tr class="details-row" id={`ev-d-${id}`}>
                              <td colSpan={6}><Details e={e} /></td>
                            </tr>
                          )}
                        </Fragment>
                      );
                    })}
                  </tbody>
                </table>
              </TableWrap>
            ))}
            <Pager pager={pager} next={list.data && list.data.next} busy={list.loading} label={t('ev.pages')} />
          </>
        )}
      </div>
    </section>
  );
}
