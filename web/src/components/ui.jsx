// SPDX-License-Identifier: AGPL-3.0-or-later
// Small shared pieces: action progress and results, errors, paging, confirm buttons.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../i18n.js';

/* The localized text for an API error, with the server's own detail when it adds something. */
export function errorText(e) {
  if (!e) return '';
  const code = e.code || 'unknown';
  const key = `err.${code}`;
  const base = t(key, null, '');
  const detail = e.message && e.message !== code ? e.message : '';
  if (base && detail) return `${base} (${detail})`;
  if (base) return base;
  if (detail) return detail;
  return t('err.unknown');
}

/*
 * Runs async actions and remembers their state: { busy, error, result }.
 * run(fn, doneMessage) returns fn's value, or undefined after an error.
 */
export function useAction() {
  const [state, setState] = useState({ busy: false, error: null, done: null });
  const alive = useRef(true);
  useEffect(() => () => { alive.current = false; }, []);
  const run = useCallback(async (fn, done) => {
    setState({ busy: true, error: null, done: null });
    try {
      const v = await fn();
      if (alive.current) setState({ busy: false, error: null, done: typeof done === 'function' ? done(v) : done || null });
      return v;
    } catch (e) {
      if (alive.current) setState({ busy: false, error: e, done: null });
      return undefined;
    }
  }, []);
  const reset = useCallback(() => setState({ busy: false, error: null, done: null }), []);
  return [run, state, reset];
}

/* Shows an action's progress, error or result; announced to screen readers. */
export function ActionStatus({ state, busyText }) {
  if (state.error) {
    return <p class="msg msg-error" role="alert">{errorText(state.error)}</p>;
  }
  return (
    <p class={state.busy || state.done ? 'msg ' + (state.busy ? 'msg-busy' : 'msg-ok') : 'msg msg-empty'} role="status" aria-live="polite">
      {state.busy ? (
        <>
          <span class="spinner" aria-hidden="true" />
          {busyText || t('common.working')}
        </>
      ) : state.done || ''}
    </p>
  );
}

/* Loads data with @fn whenever @deps change: { data, error, loading, reload }. */
export function useLoad(fn, deps) {
  const [s, setS] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setS((old) => ({ data: old.data, error: null, loading: true }));
    fn().then(
      (data) => live && setS({ data, error: null, loading: false }),
      (error) => live && setS({ data: null, error, loading: false }),
    );
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { ...s, reload: () => setTick((x) => x + 1) };
}

export function Loading({ state, children, label }) {
  if (state.error) return <p class="msg msg-error" role="alert">{errorText(state.error)}</p>;
  if (state.loading && !state.data) {
    return (
      <p class="msg msg-busy" role="status">
        <span class="spinner" aria-hidden="true" />
        {label || t('common.loading')}
      </p>
    );
  }
  return children;
}

/*
 * Cursor paging for a {items, next} list: keeps the cursors of the pages
 * already seen so that "Previous" works.  Returns [cursor, pager props, reset].
 */
export function useCursorPager(resetKey) {
  const [stack, setStack] = useState([null]);
  useEffect(() => setStack([null]), [resetKey]);
  const cursor = stack[stack.length - 1];
  return {
    cursor,
    page: stack.length,
    next: (c) => c && setStack((s) => [...s, c]),
    prev: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
  };
}

export function Pager({ pager, next, busy, label }) {
  return (
    <nav class="pager" aria-label={label || t('common.paging')}>
      <button type="button" onClick={pager.prev} disabled={pager.page <= 1 || busy}>
        {t('common.prev')}
      </button>
      <span aria-live="polite">{t('common.page', { n: pager.page })}</span>
      <button type="button" onClick={() => pager.next(next)} disabled={!next || busy}>
        {t('common.next')}
      </button>
    </nav>
  );
}

/* A button that asks for confirmation in place before running @onConfirm. */
export function ConfirmButton({ label, confirmLabel, onConfirm, disabled, danger, describedBy }) {
  const [asking, setAsking] = useState(false);
  const confirmRef = useRef(null);
  useEffect(() => {
    if (asking && confirmRef.current) confirmRef.current.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" class={danger ? 'danger' : ''} disabled={disabled} aria-describedby={describedBy} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span class="confirm" role="group" aria-label={label}>
      <button ref={confirmRef} type="button" class={danger ? 'danger' : 'primary'} onClick={() => { setAsking(false); onConfirm(); }}>
        {confirmLabel || t('common.confirm')}
      </button>
      <button type="button" onClick={() => setAsking(false)}>{t('common.cancel')}</button>
    </span>
  );
}

/* A table in a horizontally scrollable, keyboard-focusable region. */
export function TableWrap({ label, children }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/* Copies @text to the clipboard, saying whether it worked. */
export function CopyButton({ text, label }) {
  const [msg, setMsg] = useState('');
  return (
    <span class="copy">
      <button
        type="button"
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(text);
            setMsg(t('common.copied'));
          } catch {
            setMsg(t('common.copy_failed'));
          }
        }}
      >
        {label || t('common.copy')}
      </button>
      <span role="status" class="copy-msg">{msg}</span>
    </span>
  );
}

// The first page after a load keeps the browser's own focus order (skip link first).
let titlesShown = 0;

export function PageTitle({ children }) {
  const ref = useRef(null);
  useEffect(() => {
    // Move focus to the heading on navigation so screen readers announce the page.
    if (ref.current && titlesShown++ > 0) ref.current.focus({ preventScroll: true });
    document.title = `${ref.current ? ref.current.textContent : ''} — Rampart`;
  }, [children]);
  return <h1 ref={ref} tabIndex={-1}>{children}</h1>;
}

/*
 * An object's page until its object is loaded: the load's error (a
 * not_found as @notFound, with a link back to @backHref) or the spinner.
 */
export function ObjectPending({ load, title, notFound, back, backHref }) {
  return (
    <section>
      <PageTitle>{title}</PageTitle>
      {load.error ? (
        <>
          <p class="msg msg-error" role="alert">{load.error.code === 'not_found' ? notFound : errorText(load.error)}</p>
          <p><a href={backHref}>{back}</a></p>
        </>
      ) : <Loading state={load} />}
    </section>
  );
}
