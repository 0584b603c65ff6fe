// SPDX-License-Identifier: AGPL-3.0-or-later
// HR import: upload a CSV, review the dry-run plan (with its bad lines), apply it.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtNumber, t } from '../i18n.js';
import { ActionStatus, PageTitle, TableWrap, errorText, useAction } from '../components/ui.jsx';

const MAX_BYTES = 64 << 20;
const PAGE = 50;
const COUNT_KEYS = ['new', 'moved', 'changed', 'retired', 'unchanged', 'errors'];

function describe(v) {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'object') return String(v);
  return Object.entries(v)
    .filter(([, x]) => x !== null && x !== undefined && x !== '')
    .map(([k, x]) => `${t(`field.${k}`, null, k)}: ${typeof x === 'object' ? JSON.stringify(x) : x}`)
    .join(' · ');
}

/* Fields whose value differs between @before and @after. */
function diff(before, after) {
  if (!before || !after || typeof before !== 'object' || typeof after !== 'object') return null;
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const out = [];
  for (const k of keys) {
    const a = JSON.stringify(before[k] ?? null);
    const b = JSON.stringify(after[k] ?? null);
    if (a !== b) out.push(`${t(`field.${k}`, null, k)}: ${before[k] ?? '—'} → ${after[k] ?? '—'}`);
  }
  return out.join(' · ');
}

function PagedTable({ label, rows, head, row }) {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const shown = rows.slice(page * PAGE, page * PAGE + PAGE);
  return (
    <>
      <TableWrap label={label}>
        <table>
          <thead><tr>{head.map((h) => <th scope="col" key={h}>{h}</th>)}</tr></thead>
          <tbody>{shown.map(row)}</tbody>
        </table>
      </TableWrap>
      {pages > 1 && (
        <nav class="pager" aria-label={label}>
          <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>{t('common.prev')}</button>
          <span aria-live="polite">{t('common.page_of', { n: page + 1, total: pages })}</span>
          <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>{t('common.next')}</button>
        </nav>
      )}
    </>
  );
}

function Report({ report, title }) {
  const counts = report.counts || {};
  const changes = report.changes || [];
  const errors = report.errors || [];
  return (
    <section class="panel" aria-labelledby="report-title">
      <h2 id="report-title">{title}</h2>
      <ul class="counts" aria-label={t('import.counts')}>
        {COUNT_KEYS.map((k) => (
          <li key={k} class={`count-${k}`}>
            <span class="n">{fmtNumber(counts[k] || 0)}</span>
            <span class="k">{t(`import.count_${k}`)}</span>
          </li>
        ))}
      </ul>
      {errors.length > 0 && (
        <>
          <h3>{t('import.bad_lines', { n: fmtNumber(counts.errors || errors.length) })}</h3>
          <PagedTable
            label={t('import.bad_lines_table')}
            rows={errors}
            head={[t('import.line'), t('import.reason')]}
            row={(e) => <tr key={e.line + e.reason}><td class="num">{e.line}</td><td class="wrap">{e.reason}</td></tr>}
          />
          {(counts.errors || 0) > errors.length && <p class="help">{t('import.first_n', { n: errors.length })}</p>}
        </>
      )}
      <h3>{t('import.changes')}</h3>
      {changes.length === 0 ? <p class="empty">{t('import.no_changes')}</p> : (
        <PagedTable
          label={t('import.changes')}
          rows={changes}
          head={[t('import.action'), t('person.employee_number'), t('import.detail')]}
          row={(c, i) => (
            <tr key={`${c.employee_number}-${c.action}-${i}`}>
              <td><span class={`badge action-${c.action}`}>{t(`import.action_${c.action}`, null, c.action)}</span></td>
              <td>{c.employee_number}</td>
              <td class="wrap">{c.action === 'new' ? describe(c.after) : c.action === 'retired' ? describe(c.before) : diff(c.before, c.after) || describe(c.after)}</td>
            </tr>
          )}
        />
      )}
      {changes.length > 0 && changes.length < Object.entries(counts).filter(([k]) => k !== 'unchanged' && k !== 'errors').reduce((s, [, v]) => s + (v || 0), 0) && (
        <p class="help">{t('import.first_n', { n: changes.length })}</p>
      )}
    </section>
  );
}

export function ImportPage() {
  const [file, setFile] = useState(null);
  const [text, setText] = useState(null);
  const [fullSnapshot, setFullSnapshot] = useState(false);
  const [skipBad, setSkipBad] = useState(false);
  const [force, setForce] = useState(false);
  const [plan, setPlan] = useState(null); // { report, refusal, key }
  const [applied, setApplied] = useState(null);
  const [run, state, reset] = useAction();
  const [applyRun, applyState, applyReset] = useAction();

  const optsKey = JSON.stringify([file && file.name, file && file.size, file && file.lastModified, fullSnapshot]);

  const choose = async (e) => {
    const f = e.currentTarget.files && e.currentTarget.files[0];
    setPlan(null);
    setApplied(null);
    reset();
    applyReset();
    setText(null);
    setFile(f || null);
    if (!f) return;
    if (f.size > MAX_BYTES) {
      setFile(null);
      run(() => Promise.reject(Object.assign(new Error(''), { code: 'too_large' })));
      return;
    }
    setText(await f.text());
  };

  const review = async (e) => {
    e.preventDefault();
    if (!text) return;
    setApplied(null);
    applyReset();
    await run(async () => {
      try {
        const r = await api('POST', '/api/v1/hr/import', { csv: text, query: { dry_run: 1, full_snapshot: fullSnapshot } });
        setPlan({ report: r, refusal: null, key: optsKey });
      } catch (err) {
        if (err.body && err.body.report) {
          setPlan({ report: err.body.report, refusal: err, key: optsKey });
          return;
        }
        setPlan(null);
        throw err;
      }
    }, t('import.plan_ready'));
  };

  const hasBad = plan && ((plan.report.counts && plan.report.counts.errors) || (plan.report.errors || []).length) > 0;
  const overThreshold = plan && plan.refusal && plan.refusal.code === 'threshold_exceeded';
  const fatal = plan && plan.refusal && plan.refusal.code === 'invalid' && !hasBad;
  const stale = plan && plan.key !== optsKey;
  const canApply = plan && !stale && !fatal && (!hasBad || skipBad) && (!overThreshold || force) && !applied;

  const apply = async () => {
    const r = await applyRun(async () => {
      try {
        return await api('POST', '/api/v1/hr/import', {
          csv: text,
          query: { full_snapshot: fullSnapshot, skip_bad_lines: hasBad && skipBad, force: overThreshold && force },
        });
      } catch (err) {
        if (err.body && err.body.report) setPlan({ report: err.body.report, refusal: err, key: optsKey });
        throw err;
      }
    }, (rep) => (rep && rep.applied ? t('import.applied') : t('import.not_applied')));
    if (r) setApplied(r);
  };

  return (
    <section>
      <PageTitle>{t('import.title')}</PageTitle>
      <p class="help">{t('import.help')}</p>
      <form class="panel stack" onSubmit={review}>
        <div class="field">
          <label for="hr-file">{t('import.file')}</label>
          <input id="hr-file" type="file" accept=".csv,text/csv" onChange={choose} aria-describedby="hr-file-help" />
          <p id="hr-file-help" class="help">{t('import.columns')}</p>
        </div>
        <div class="check">
          <input id="hr-full" type="checkbox" checked={fullSnapshot} onChange={(e) => setFullSnapshot(e.currentTarget.checked)} aria-describedby="hr-full-help" />
          <label for="hr-full">{t('import.full_snapshot')}</label>
          <p id="hr-full-help" class="help">{t('import.full_snapshot_help')}</p>
        </div>
        <ActionStatus state={state} busyText={t('import.reviewing')} />
        <div class="actions">
          <button type="submit" class="primary" disabled={!text || state.busy}>{t('import.review')}</button>
        </div>
      </form>

      {plan && (
        <>
          {stale && <p class="msg msg-info" role="status">{t('import.stale')}</p>}
          {plan.refusal && <p class="msg msg-error" role="alert">{errorText(plan.refusal)}</p>}
          <Report report={applied || plan.report} title={applied ? t('import.result_title') : t('import.plan_title')} />
          {!applied && !fatal && (
            <div class="panel stack" aria-labelledby="apply-title">
              <h2 id="apply-title">{t('import.apply_title')}</h2>
              {hasBad && (
                <div class="check">
                  <input id="hr-skip" type="checkbox" checked={skipBad} onChange={(e) => setSkipBad(e.currentTarget.checked)} />
                  <label for="hr-skip">{t('import.skip_bad')}</label>
                </div>
              )}
              {overThreshold && (
                <div class="check">
                  <input id="hr-force" type="checkbox" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} />
                  <label for="hr-force">{t('import.force')}</label>
                </div>
              )}
              <ActionStatus state={applyState} busyText={t('import.applying')} />
              <div class="actions">
                <button type="button" class="primary" disabled={!canApply || applyState.busy} onClick={apply}>{t('import.apply')}</button>
              </div>
            </div>
          )}
          {applied && <ActionStatus state={applyState} />}
        </>
      )}
    </section>
  );
}
