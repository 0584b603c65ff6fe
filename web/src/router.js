// SPDX-License-Identifier: AGPL-3.0-or-later
// Hash routing: "#/people/ID?tab=x" -> { path: "/people/ID", parts: ["people", "ID"], query }.
import { useEffect, useState } from 'preact/hooks';

export function parseHash(hash) {
  const raw = (hash || '').replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { path: '/' + parts.join('/'), parts, query };
}

export function useRoute() {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/* Builds "#/a/b?x=1" from parts and a query object (empty values left out). */
export function href(parts, query) {
  const p = '#/' + parts.map((s) => encodeURIComponent(s)).join('/');
  if (!query) return p;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, v);
  const s = qs.toString();
  return s ? `${p}?${s}` : p;
}

export function navigate(to, replace = false) {
  if (replace) {
    history.replaceState(null, '', to);
    dispatchEvent(new HashChangeEvent('hashchange'));
  } else if (location.hash !== to) {
    location.hash = to;
  }
}
