// SPDX-License-Identifier: AGPL-3.0-or-later
// The exchange site in the console: send files to someone outside with a
// one-time link and a password (shown once), the transfers with their state
// and downloads (revoke, approve, reject), upload requests to an outsider
// with the download of what they uploaded, and the approval settings per
// org unit for administrators.  The API decides every action all the same.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, csrfToken } from '../api.js';
import { fmtDateTime, fmtNumber, t } from '../i18n.js';
import { canConfigureExchange, canSeeAllTransfers, has } from '../perms.js';
import { href, navigate } from '../router.js';
import {
  ActionStatus, ConfirmButton, CopyButton, Loading, PageTitle, Pager, TableWrap, errorText,
  useAction, useCursorPager, useLoad,
} from '../components/ui.jsx';

const EXPIRIES = ['1d', '3d', '7d', '14d', '30d'];
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const LIVE = ['sent', 'opened', 'pending_approval', 'requested'];

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return t('xfer.bytes', { n: fmtNumber(n) });
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${fmtNumber(Math.round(v * 10) / 10)} ${units[i]}`;
}

const STATE_CLASS = {
  sent: 'status-active', opened: 'status-active', requested: 'status-active', downloaded: 'outcome-success',
  pending_approval: 'status-on_leave', expired: 'status-on_leave',
  burned: 'status-retired', revoked: 'status-retired', rejected: 'status-retired',
};

/* A request whose files came in is "sent" to the API; people read it as "received". */
function stateKey(x) {
  if (x.kind === 'request' && (x.state === 'sent' || x.state === 'opened')) return 'received';
  return x.state;
}

export function StateBadge({ x }) {
  const k = stateKey(x);
  return <span class={`badge ${STATE_CLASS[x.state] || ''}`} data-state={x.state}>{t(`xfer.state_${k}`, null, k)}</span>;
}

/* The link and the password, shown once, with copy buttons and the warning. */
function OnceSecrets({ res, title, passwordNote, children }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current) ref.current.focus(); }, [res.id]);
  return (
    <section class="panel once" aria-labelledby="once-title">
      <h2 id="once-title" ref={ref} tabIndex={-1}>{title}</h2>
      <dl class="facts">
        <dt>{t('xfer.link')}</dt>
        <dd><code class="secret" data-testid="once-url">{res.url}</code> <CopyButton text={res.url} label={t('xfer.copy_link')} /></dd>
        <dt>{t('xfer.password')}</dt>
        <dd><code class="secret" data-testid="once-password">{res.password}</code> <CopyButton text={res.password} label={t('xfer.copy_password')} /></dd>
      </dl>
      <p class="msg msg-info" role="note"><strong>{t('xfer.once_title')}</strong> {passwordNote}</p>
      {children}
    </section>
  );
}

function mailText(mail, email) {
  return t(`xfer.mail_${mail}`, { email }, '');
}

/* Uploads with XMLHttpRequest for progress; resolves to the JSON answer or rejects with an ApiError. */
function upload(form, onProgress, xhrRef) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhrRef.current = xhr;
    xhr.open('POST', '/api/v1/transfers');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('X-CSRF-Token', csrfToken() || '');
    xhr.upload.onprogress = (e) => onProgress(e.lengthComputable ? e.loaded / e.total : -1);
    xhr.onerror = () => reject(new ApiError(0, 'network', 'network'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', t('xfer.upload_aborted')));
    xhr.onload = () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(data);
      const err = (data && data.error) || {};
      reject(new ApiError(xhr.status, err.code || `http_${xhr.status}`, err.message || '', err.field, data));
    };
    xhr.send(form);
  });
}

export function SendPage() {
  const [files, setFiles] = useState([]);
  const [to, setTo] = useState('');
  const [expires, setExpires] = useState('7d');
  const [downloads, setDownloads] = useState('1');
  const [message, setMessage] = useState('');
  const [progress, setProgress] = useState(null);
  const [result, setResult] = useState(null);
  const [run, state, reset] = useAction();
  const xhrRef = useRef(null);
  const fileRef = useRef(null);

  const total = files.reduce((s, f) => s + f.size, 0);
  const submit = async (e) => {
    e.preventDefault();
    if (!files.length || !to.trim()) return;
    setResult(null);
    setProgress(0);
    const form = new FormData();
    form.append('to', to.trim());
    form.append('expires', expires);
    form.append('downloads', String(downloads || 1));
    if (message.trim()) form.append('message', message.trim());
    for (const f of files) form.append('file', f, f.name);
    const res = await run(() => upload(form, setProgress, xhrRef), (r) => (r.state === 'pending_approval'
      ? t('xfer.sent_pending', { email: r.to })
      : t('xfer.sent_done', { n: r.files, email: r.to })));
    xhrRef.current = null;
    setProgress(null);
    if (res) {
      setResult(res);
      setFiles([]);
      if (fileRef.current) fileRef.current.value = '';
    }
  };
  const again = () => {
    setResult(null);
    setTo('');
    setMessage('');
    reset();
  };

  return (
    <section>
      <PageTitle>{t('xfer.send_title')}</PageTitle>
      <p class="help">{t('xfer.send_intro')}</p>
      {result ? (
        <>
          <ActionStatus state={state} />
          {result.state === 'pending_approval' && <p class="msg msg-info" data-testid="pending-note">{t('xfer.pending_help')}</p>}
          <div class="panel">
            <dl class="facts">
              <dt>{t('xfer.to')}</dt><dd>{result.to}</dd>
              <dt>{t('xfer.state')}</dt><dd><StateBadge x={{ kind: 'send', state: result.state }} /></dd>
              <dt>{t('xfer.files')}</dt><dd>{t('xfer.file_count', { n: result.files })} · {fmtBytes(result.bytes)}</dd>
              <dt>{t('xfer.mail')}</dt><dd>{mailText(result.mail, result.to) || result.mail}</dd>
            </dl>
          </div>
          <OnceSecrets res={result} title={t('xfer.once_send_title')} passwordNote={t('xfer.once_send_help')} />
          <div class="actions">
            <a class="button" href={href(['transfers', result.id])}>{t('xfer.see_transfer')}</a>
            <button type="button" class="primary" onClick={again}>{t('xfer.send_another')}</button>
          </div>
        </>
      ) : (
        <form class="panel narrow-form" onSubmit={submit} aria-labelledby="send-form-title">
          <h2 id="send-form-title" class="visually-hidden">{t('xfer.send_title')}</h2>
          <div class="field">
            <label for="send-files">{t('xfer.choose_files')}</label>
            <input id="send-files" ref={fileRef} type="file" multiple required disabled={state.busy} aria-describedby="send-files-help"
              onChange={(e) => setFiles([...e.currentTarget.files])} />
            <p id="send-files-help" class="help">
              {files.length ? t('xfer.chosen', { n: files.length, size: fmtBytes(total) }) : t('xfer.choose_help')}
            </p>
            {files.length > 0 && (
              <ul class="file-list">
                {files.map((f) => <li key={f.name + f.size}>{f.name} <span class="sub">{fmtBytes(f.size)}</span></li>)}
              </ul>
            )}
          </div>
          <div class="field">
            <label for="send-to">{t('xfer.to_email')}</label>
            <input id="send-to" type="email" autocomplete="off" required value={to} disabled={state.busy} onInput={(e) => setTo(e.currentTarget.value)} />
          </div>
          <div class="row2">
            <div class="field">
              <label for="send-expires">{t('xfer.expires_in')}</label>
              <select id="send-expires" value={expires} disabled={state.busy} onChange={(e) => setExpires(e.currentTarget.value)}>
                {EXPIRIES.map((d) => <option key={d} value={d}>{t(`xfer.exp_${d}`)}</option>)}
              </select>
            </div>
            <div class="field">
              <label for="send-downloads">{t('xfer.download_limit')}</label>
              <input id="send-downloads" type="number" min="1" max="100" required value={downloads} disabled={state.busy} onInput={(e) => setDownloads(e.currentTarget.value)} />
            </div>
          </div>
          <div class="field">
            <label for="send-message">{t('xfer.message_optional')}</label>
            <textarea id="send-message" rows="3" maxLength={2000} value={message} disabled={state.busy} onInput={(e) => setMessage(e.currentTarget.value)} />
          </div>
          {progress !== null && (
            <div class="upload-progress">
              <label for="send-progress">{t('xfer.uploading')}</label>
              {progress >= 0 ? <progress id="send-progress" max="1" value={progress} /> : <progress id="send-progress" />}
              <span aria-live="polite">{progress >= 0 ? `${Math.round(progress * 100)}%` : ''}</span>
            </div>
          )}
          <div class="actions">
            <button type="submit" class="primary" disabled={state.busy || !files.length || !to.trim()}>{t('xfer.send')}</button>
            {state.busy && <button type="button" onClick={() => xhrRef.current && xhrRef.current.abort()}>{t('xfer.cancel_upload')}</button>}
          </div>
          <ActionStatus state={state} busyText={t('xfer.uploading')} />
        </form>
      )}
    </section>
  );
}

function TransferTable({ items, label, showOwner }) {
  return (
    <TableWrap label={label}>
      <table class="transfers">
        <thead>
          <tr>
            <th scope="col">{t('xfer.peer')}</th>
            <th scope="col">{t('xfer.kind')}</th>
            <th scope="col">{t('xfer.state')}</th>
            {showOwner && <th scope="col">{t('xfer.owner')}</th>}
            <th scope="col">{t('xfer.files')}</th>
            <th scope="col">{t('xfer.created')}</th>
            <th scope="col">{t('xfer.expires')}</th>
            <th scope="col">{t('xfer.last_download')}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((x) => (
            <tr key={x.id} data-id={x.id}>
              <td><a href={href(['transfers', x.id])}>{x.to || x.from}</a></td>
              <td>{t(`xfer.kind_${x.kind}`, null, x.kind)}</td>
              <td><StateBadge x={x} /></td>
              {showOwner && <td>{x.owner.login || x.owner.id}</td>}
              <td>{t('xfer.file_count', { n: x.file_count })} · {fmtBytes(x.total_bytes)}</td>
              <td>{fmtDateTime(x.created_at)}</td>
              <td>{fmtDateTime(x.expires_at)}</td>
              <td>{x.downloaded_at ? `${fmtDateTime(x.downloaded_at)} (${x.downloaded_from || '—'})` : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

function ApprovalQueue({ onDecided }) {
  const list = useLoad(() => api('GET', '/api/v1/transfers', { query: { approval: 'pending', limit: 100 } }), []);
  const [run, state] = useAction();
  const decide = async (x, how) => {
    const r = await run(() => api('POST', `/api/v1/transfers/${encodeURIComponent(x.id)}/${how}`),
      t(how === 'approve' ? 'xfer.approved_done' : 'xfer.rejected_done', { email: x.to }));
    if (r) {
      list.reload();
      if (onDecided) onDecided();
    }
  };
  return (
    <section class="panel" aria-labelledby="queue-title">
      <h2 id="queue-title">{t('xfer.queue_title')}</h2>
      <p class="help">{t('xfer.queue_help')}</p>
      <ActionStatus state={state} />
      <Loading state={list}>
        {list.data && (list.data.items.length === 0 ? <p class="empty">{t('xfer.queue_empty')}</p> : (
          <ul class="queue">
            {list.data.items.map((x) => (
              <li key={x.id} data-id={x.id}>
                <div>
                  <a href={href(['transfers', x.id])}>{t('xfer.queue_item', { who: x.owner.login || x.owner.id, email: x.to })}</a>
                  <span class="sub"> {t('xfer.file_count', { n: x.file_count })} · {fmtBytes(x.total_bytes)} · {fmtDateTime(x.created_at)}</span>
                  {x.message && <p class="quote">{x.message}</p>}
                </div>
                <div class="actions">
                  <button type="button" class="primary" disabled={state.busy} onClick={() => decide(x, 'approve')}>{t('xfer.approve')}</button>
                  <ConfirmButton label={t('xfer.reject')} confirmLabel={t('xfer.reject_confirm')} danger disabled={state.busy} onConfirm={() => decide(x, 'reject')} />
                </div>
              </li>
            ))}
          </ul>
        ))}
      </Loading>
    </section>
  );
}

export function TransfersPage({ me, route }) {
  const all = canSeeAllTransfers(me);
  const view = all && route.query.get('view') === 'all' ? 'all' : 'mine';
  const pager = useCursorPager(view);
  const list = useLoad(
    () => api('GET', '/api/v1/transfers', { query: { mine: view === 'mine', limit: 25, cursor: pager.cursor } }),
    [view, pager.cursor],
  );
  return (
    <section>
      <PageTitle>{t('xfer.list_title')}</PageTitle>
      <p class="help">{t('xfer.list_intro')}</p>
      <div class="actions page-actions">
        <a class="button primary" href="#/send">{t('xfer.send_title')}</a>
        <a class="button" href="#/requests">{t('xfer.req_title')}</a>
      </div>
      <ApprovalQueue onDecided={list.reload} />
      {all && (
        <form class="filters" aria-label={t('xfer.filters')} onSubmit={(e) => e.preventDefault()}>
          <div class="field">
            <label for="xfer-view">{t('xfer.show')}</label>
            <select id="xfer-view" value={view} onChange={(e) => navigate(href(['transfers'], { view: e.currentTarget.value }))}>
              <option value="mine">{t('xfer.view_mine')}</option>
              <option value="all">{t('xfer.view_all')}</option>
            </select>
          </div>
        </form>
      )}
      <h2 class="list-title">{view === 'all' ? t('xfer.view_all') : t('xfer.view_mine')}</h2>
      <Loading state={list}>
        {list.data && (list.data.items.length === 0 ? <p class="empty">{t('xfer.none')}</p>
          : <TransferTable items={list.data.items} label={t('xfer.list_title')} showOwner={view === 'all'} />)}
      </Loading>
      {list.data && (pager.page > 1 || list.data.next) && <Pager pager={pager} next={list.data.next} busy={list.loading} label={t('xfer.list_title')} />}
    </section>
  );
}

function mayRevoke(me, x) {
  if (!LIVE.includes(x.state)) return false;
  return x.owner.id === me.id || has(me, 'admin', 'security_officer', 'security_manager');
}

export function TransferPage({ me, id }) {
  const load = useLoad(() => api('GET', `/api/v1/transfers/${encodeURIComponent(id)}`), [id]);
  const [x, setX] = useState(null);
  const [run, state] = useAction();
  useEffect(() => setX(load.data), [load.data]);
  const act = async (what, done) => {
    const r = await run(() => api('POST', `/api/v1/transfers/${encodeURIComponent(id)}/${what}`), done);
    if (r) load.reload();
  };

  if (load.error || !x) {
    return (
      <section>
        <p class="crumbs"><a href="#/transfers">{t('xfer.back')}</a></p>
        <PageTitle>{t('xfer.detail_title')}</PageTitle>
        {load.error ? <p class="msg msg-error" role="alert">{load.error.code === 'not_found' ? t('xfer.not_found') : errorText(load.error)}</p> : <Loading state={load} />}
      </section>
    );
  }
  const peer = x.to || x.from;
  const pendingMine = x.state === 'pending_approval' && x.owner.id !== me.id;
  return (
    <section>
      <p class="crumbs"><a href="#/transfers">{t('xfer.back')}</a></p>
      <PageTitle>{x.kind === 'request' ? t('xfer.detail_request', { email: peer }) : t('xfer.detail_send', { email: peer })}</PageTitle>
      <div class="panel">
        <dl class="facts">
          <dt>{t('xfer.state')}</dt><dd data-testid="xfer-state"><StateBadge x={x} /></dd>
          <dt>{t('xfer.kind')}</dt><dd>{t(`xfer.kind_${x.kind}`, null, x.kind)}</dd>
          <dt>{x.kind === 'request' ? t('xfer.from') : t('xfer.to')}</dt><dd>{peer}</dd>
          <dt>{t('xfer.owner')}</dt><dd>{x.owner.login || x.owner.id}</dd>
          {x.message && <><dt>{t('xfer.message')}</dt><dd class="quote">{x.message}</dd></>}
          <dt>{t('xfer.created')}</dt><dd>{fmtDateTime(x.created_at)}</dd>
          <dt>{t('xfer.expires')}</dt><dd>{fmtDateTime(x.expires_at)}</dd>
          <dt>{t('xfer.downloads_left')}</dt><dd>{t('xfer.downloads_of', { left: x.downloads_left, max: x.downloads_max })}</dd>
          <dt>{t('xfer.opened')}</dt><dd>{x.opened_at ? fmtDateTime(x.opened_at) : t('xfer.not_yet')}</dd>
          <dt>{t('xfer.last_download')}</dt>
          <dd>{x.downloaded_at ? t('xfer.downloaded_from', { at: fmtDateTime(x.downloaded_at), from: x.downloaded_from || '—' }) : t('xfer.not_yet')}</dd>
          <dt>{t('xfer.password_failures')}</dt><dd>{fmtNumber(x.password_failures)}</dd>
          <dt>{t('xfer.mail')}</dt><dd>{mailText(x.mail, peer) || x.mail || '—'}</dd>
          {x.approver && <><dt>{t('xfer.approver')}</dt><dd>{x.approver}</dd></>}
          {x.decided_by && <><dt>{t('xfer.decided')}</dt><dd>{t('xfer.decided_by', { who: x.decided_by, at: fmtDateTime(x.decided_at) })}</dd></>}
          {x.ended_at && <><dt>{t('xfer.ended')}</dt><dd>{fmtDateTime(x.ended_at)}</dd></>}
        </dl>
        {x.state === 'pending_approval' && x.owner.id === me.id && <p class="msg msg-info">{t('xfer.pending_help')}</p>}
      </div>
      <div class="grid2">
        <section class="panel" aria-labelledby="xfer-files-title">
          <h2 id="xfer-files-title">{t('xfer.files')}</h2>
          {(x.files || []).length === 0 ? <p class="empty">{t('xfer.no_files')}</p> : (
            <ul class="file-list">
              {x.files.map((f) => <li key={f.id}>{f.name} <span class="sub">{fmtBytes(f.size)}</span></li>)}
            </ul>
          )}
        </section>
        <section class="panel" aria-labelledby="xfer-dl-title">
          <h2 id="xfer-dl-title">{t('xfer.downloads')}</h2>
          {(x.downloads || []).length === 0 ? <p class="empty">{t('xfer.no_downloads')}</p> : (
            <TableWrap label={t('xfer.downloads')}>
              <table>
                <thead><tr><th scope="col">{t('xfer.dl_at')}</th><th scope="col">{t('xfer.dl_from')}</th></tr></thead>
                <tbody>
                  {x.downloads.map((d, i) => <tr key={i}><td>{fmtDateTime(d.at)}</td><td>{d.from}</td></tr>)}
                </tbody>
              </table>
            </TableWrap>
          )}
        </section>
      </div>
      {(mayRevoke(me, x) || pendingMine) && (
        <section class="panel" aria-labelledby="xfer-act-title">
          <h2 id="xfer-act-title">{t('common.actions')}</h2>
          <div class="actions">
            {pendingMine && <button type="button" class="primary" disabled={state.busy} onClick={() => act('approve', t('xfer.approved_done', { email: peer }))}>{t('xfer.approve')}</button>}
            {pendingMine && <ConfirmButton label={t('xfer.reject')} confirmLabel={t('xfer.reject_confirm')} danger disabled={state.busy} onConfirm={() => act('reject', t('xfer.rejected_done', { email: peer }))} />}
            {mayRevoke(me, x) && (
              <ConfirmButton label={t('xfer.revoke')} confirmLabel={t('xfer.revoke_confirm')} danger disabled={state.busy} describedBy="xfer-revoke-help" onConfirm={() => act('revoke', t('xfer.revoked_done'))} />
            )}
          </div>
          {mayRevoke(me, x) && <p id="xfer-revoke-help" class="help">{t('xfer.revoke_help')}</p>}
        </section>
      )}
      <ActionStatus state={state} />
    </section>
  );
}

/* The token of a link ".../x/TOKEN" (or the bare token). */
function linkToken(link) {
  const s = link.trim();
  const m = s.match(/\/x\/([^/?#\s]+)/);
  return m ? m[1] : (/^[A-Za-z0-9_.~-]+$/.test(s) ? s : '');
}

function filenameOf(res) {
  const cd = res.headers.get('Content-Disposition') || '';
  const star = cd.match(/filename\*=UTF-8''([^;]+)/i);
  if (star) {
    try {
      return decodeURIComponent(star[1]);
    } catch { /* fall through */ }
  }
  const plain = cd.match(/filename="?([^";]+)"?/i);
  return plain ? plain[1] : 'download';
}

/* Downloads what an outsider uploaded: the requester, signed in, with the link and its password. */
function ReceivedDownload({ onDone }) {
  const [link, setLink] = useState('');
  const [password, setPassword] = useState('');
  const [saved, setSaved] = useState(null); // { url, name, size }
  const [run, state] = useAction();
  useEffect(() => () => saved && URL.revokeObjectURL(saved.url), [saved]);
  const submit = async (e) => {
    e.preventDefault();
    const token = linkToken(link);
    if (!token) return;
    const got = await run(async () => {
      const res = await fetch(`/x/${encodeURIComponent(token)}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': csrfToken() || '' },
        body: new URLSearchParams({ password }).toString(),
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (!res.ok) {
        const code = { 403: 'xfer_denied', 404: 'not_found', 410: 'xfer_gone' }[res.status] || `http_${res.status}`;
        throw new ApiError(res.status, code, t(`xfer.dl_err_${res.status}`, null, ''));
      }
      const blob = await res.blob();
      return { url: URL.createObjectURL(blob), name: filenameOf(res), size: blob.size };
    }, (r) => t('xfer.dl_ready', { name: r.name, size: fmtBytes(r.size) }));
    if (got) {
      setSaved(got);
      setPassword('');
      if (onDone) onDone();
      // Starts the save; the link below stays for another try.
      const a = document.createElement('a');
      a.href = got.url;
      a.download = got.name;
      document.body.appendChild(a);
      a.click();
      a.remove();
    }
  };
  return (
    <section class="panel" aria-labelledby="recv-title">
      <h2 id="recv-title">{t('xfer.recv_title')}</h2>
      <p class="help">{t('xfer.recv_help')}</p>
      <form onSubmit={submit}>
        <div class="field">
          <label for="recv-link">{t('xfer.link')}</label>
          <input id="recv-link" autocomplete="off" required value={link} onInput={(e) => setLink(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="recv-password">{t('xfer.password')}</label>
          <input id="recv-password" type="password" autocomplete="off" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={state.busy || !linkToken(link) || !password}>{t('xfer.recv_download')}</button>
          {saved && <a href={saved.url} download={saved.name} data-testid="recv-file">{t('xfer.recv_save', { name: saved.name })}</a>}
        </div>
        <ActionStatus state={state} busyText={t('xfer.recv_busy')} />
      </form>
    </section>
  );
}

export function RequestsPage({ me }) {
  const [from, setFrom] = useState('');
  const [expires, setExpires] = useState('7d');
  const [message, setMessage] = useState('');
  const [result, setResult] = useState(null);
  const [run, state] = useAction();
  const list = useLoad(() => api('GET', '/api/v1/transfers', { query: { mine: true, limit: 100 } }), []);
  const submit = async (e) => {
    e.preventDefault();
    const body = { from: from.trim(), expires };
    if (message.trim()) body.message = message.trim();
    const r = await run(() => api('POST', '/api/v1/requests', { json: body }), (v) => t('xfer.req_done', { email: v.from }));
    if (r) {
      setResult(r);
      setFrom('');
      setMessage('');
      list.reload();
    }
  };
  const mine = list.data ? list.data.items.filter((x) => x.kind === 'request' && x.owner.id === me.id) : [];
  return (
    <section>
      <PageTitle>{t('xfer.req_title')}</PageTitle>
      <p class="help">{t('xfer.req_intro')}</p>
      <div class="grid2">
        <form class="panel" onSubmit={submit} aria-labelledby="req-form-title">
          <h2 id="req-form-title">{t('xfer.req_new')}</h2>
          <div class="field">
            <label for="req-from">{t('xfer.from_email')}</label>
            <input id="req-from" type="email" autocomplete="off" required value={from} disabled={state.busy} onInput={(e) => setFrom(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="req-expires">{t('xfer.expires_in')}</label>
            <select id="req-expires" value={expires} disabled={state.busy} onChange={(e) => setExpires(e.currentTarget.value)}>
              {EXPIRIES.map((d) => <option key={d} value={d}>{t(`xfer.exp_${d}`)}</option>)}
            </select>
          </div>
          <div class="field">
            <label for="req-message">{t('xfer.message_optional')}</label>
            <textarea id="req-message" rows="3" maxLength={2000} value={message} disabled={state.busy} onInput={(e) => setMessage(e.currentTarget.value)} />
          </div>
          <div class="actions">
            <button type="submit" class="primary" disabled={state.busy || !from.trim()}>{t('xfer.req_create')}</button>
          </div>
          <ActionStatus state={state} />
        </form>
        <ReceivedDownload onDone={list.reload} />
      </div>
      {result && (
        <OnceSecrets res={result} title={t('xfer.once_req_title', { email: result.from })} passwordNote={t('xfer.once_req_help')}>
          <p>{mailText(result.mail, result.from)}</p>
        </OnceSecrets>
      )}
      <h2>{t('xfer.req_list')}</h2>
      <Loading state={list}>
        {list.data && (mine.length === 0 ? <p class="empty">{t('xfer.req_none')}</p>
          : <TransferTable items={mine} label={t('xfer.req_list')} />)}
      </Loading>
    </section>
  );
}

/* A person named by id, login or e-mail. */
async function personId(value) {
  if (ULID.test(value)) return value;
  const res = await api('GET', '/api/v1/people', { query: { q: value, limit: 5 } });
  const hit = (res.items || []).find((p) => p.login === value || p.email === value);
  if (!hit) throw new ApiError(0, 'person_unknown', t('xfer.person_unknown', { who: value }));
  return hit.id;
}

export function ApprovalSettingsPage({ me }) {
  const units = useLoad(() => api('GET', '/api/v1/org'), []);
  const settings = useLoad(() => api('GET', '/api/v1/exchange/approval'), []);
  const [unit, setUnit] = useState('');
  const [approver, setApprover] = useState('');
  const [run, state] = useAction();
  if (!canConfigureExchange(me)) return null;
  const save = async (orgUnit, required, who) => {
    const r = await run(async () => {
      const id = who ? await personId(who) : null;
      return api('PUT', `/api/v1/exchange/approval/${encodeURIComponent(orgUnit)}`, { json: { required, approver: id } });
    }, (v) => t(required ? 'xfer.appr_on' : 'xfer.appr_off', { path: v.path }));
    if (r) {
      setApprover('');
      settings.reload();
    }
  };
  const submit = (e) => {
    e.preventDefault();
    if (unit) save(unit, true, approver.trim());
  };
  return (
    <section>
      <PageTitle>{t('xfer.appr_title')}</PageTitle>
      <p class="help">{t('xfer.appr_intro')}</p>
      <section class="panel" aria-labelledby="appr-list-title">
        <h2 id="appr-list-title">{t('xfer.appr_list')}</h2>
        <Loading state={settings}>
          {settings.data && (settings.data.items.length === 0 ? <p class="empty">{t('xfer.appr_none')}</p> : (
            <TableWrap label={t('xfer.appr_list')}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t('xfer.appr_unit')}</th>
                    <th scope="col">{t('xfer.approver')}</th>
                    <th scope="col">{t('xfer.appr_updated')}</th>
                    <th scope="col">{t('common.actions')}</th>
                  </tr>
                </thead>
                <tbody>
                  {settings.data.items.map((s) => (
                    <tr key={s.org_unit}>
                      <td>{s.path}</td>
                      <td>{s.approver ? (s.approver.login || s.approver.id) : t('xfer.appr_manager_only')}</td>
                      <td>{fmtDateTime(s.updated_at)}</td>
                      <td>
                        <ConfirmButton label={t('xfer.appr_stop')} confirmLabel={t('xfer.appr_stop_confirm', { path: s.path })} disabled={state.busy} onConfirm={() => save(s.org_unit, false, '')} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          ))}
        </Loading>
      </section>
      <form class="panel" onSubmit={submit} aria-labelledby="appr-form-title">
        <h2 id="appr-form-title">{t('xfer.appr_require')}</h2>
        <Loading state={units}>
          {units.data && (
            <div class="field">
              <label for="appr-unit">{t('xfer.appr_unit')}</label>
              <select id="appr-unit" required value={unit} onChange={(e) => setUnit(e.currentTarget.value)}>
                <option value="">{t('xfer.appr_pick')}</option>
                {units.data.items.map((u) => <option key={u.id} value={u.id}>{u.path}</option>)}
              </select>
            </div>
          )}
        </Loading>
        <div class="field">
          <label for="appr-approver">{t('xfer.appr_approver')}</label>
          <input id="appr-approver" autocomplete="off" value={approver} aria-describedby="appr-approver-help" onInput={(e) => setApprover(e.currentTarget.value)} />
          <p id="appr-approver-help" class="help">{t('xfer.appr_approver_help')}</p>
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={state.busy || !unit}>{t('xfer.appr_save')}</button>
        </div>
        <ActionStatus state={state} />
      </form>
    </section>
  );
}
