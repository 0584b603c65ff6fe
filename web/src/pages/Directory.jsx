// SPDX-License-Identifier: AGPL-3.0-or-later
// Directory: the org unit tree beside the people list (search, filters, paging).
// Filters live in the address (#/directory?q=&org=&status=&kind=&role=).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtNumber, t } from '../i18n.js';
import { ROLES } from '../perms.js';
import { href, navigate } from '../router.js';
import { Loading, PageTitle, Pager, TableWrap, errorText, useCursorPager, useLoad } from '../components/ui.jsx';

export const STATUSES = ['active', 'on_leave', 'retired'];
export const KINDS = ['employee', 'partner_staff'];

/* Builds the tree from the flat list; units whose parent is not visible are roots. */
export function buildTree(units) {
  const byId = new Map(units.map((u) => [u.id, { ...u, children: [] }]));
  const roots = [];
  for (const u of byId.values()) {
    const parent = u.parent_id && byId.get(u.parent_id);
    if (parent) parent.children.push(u);
    else roots.push(u);
  }
  const sort = (list) => {
    list.sort((a, b) => a.name.localeCompare(b.name));
    list.forEach((n) => sort(n.children));
  };
  sort(roots);
  return roots;
}

/* People in a unit and everything below it. */
function subtreeCount(node) {
  return (node.people || 0) + node.children.reduce((s, c) => s + subtreeCount(c), 0);
}

function TreeNode({ node, depth, selected, onSelect, expanded, toggle }) {
  const open = expanded.has(node.id);
  const hasKids = node.children.length > 0;
  return (
    <li>
      <div class={selected === node.path ? 'tree-row selected' : 'tree-row'}>
        {hasKids ? (
          <button type="button" class="tree-toggle" aria-expanded={open ? 'true' : 'false'} onClick={() => toggle(node.id)} aria-label={t(open ? 'dir.collapse' : 'dir.expand', { name: node.name })}>
            <span aria-hidden="true">{open ? '▾' : '▸'}</span>
          </button>
        ) : <span class="tree-toggle" aria-hidden="true" />}
        <button type="button" class="tree-label" aria-pressed={selected === node.path ? 'true' : 'false'} onClick={() => onSelect(node.path)} title={node.path}>
          {node.name}
          <span class="count" aria-label={t('dir.people_count', { n: subtreeCount(node) })}>{fmtNumber(subtreeCount(node))}</span>
        </button>
      </div>
      {hasKids && open && (
        <ul>
          {node.children.map((c) => (
            <TreeNode key={c.id} node={c} depth={depth + 1} selected={selected} onSelect={onSelect} expanded={expanded} toggle={toggle} />
          ))}
        </ul>
      )}
    </li>
  );
}

export function OrgTree({ units, selected, onSelect }) {
  const roots = useMemo(() => buildTree(units), [units]);
  const [expanded, setExpanded] = useState(() => {
    const s = new Set();
    const walk = (n, d) => {
      if (d < 2) s.add(n.id);
      n.children.forEach((c) => walk(c, d + 1));
    };
    roots.forEach((r) => walk(r, 0));
    return s;
  });
  const toggle = (id) => setExpanded((s) => {
    const n = new Set(s);
    if (n.has(id)) n.delete(id);
    else n.add(id);
    return n;
  });
  return (
    <ul class="tree" aria-label={t('dir.tree')}>
      {roots.map((r) => (
        <TreeNode key={r.id} node={r} depth={0} selected={selected} onSelect={onSelect} expanded={expanded} toggle={toggle} />
      ))}
    </ul>
  );
}

export function personName(p) {
  return [p.family_name, p.given_name].filter(Boolean).join(' ') || p.login || p.employee_number;
}

export function StatusBadge({ status }) {
  return <span class={`badge status-${status}`}>{t(`status.${status}`, null, status)}</span>;
}

export function DirectoryPage({ me, route }) {
  const q = route.query;
  const filters = {
    q: q.get('q') || '',
    org: q.get('org') || '',
    status: q.get('status') || '',
    kind: q.get('kind') || '',
    role: q.get('role') || '',
  };
  const key = JSON.stringify(filters);
  const [search, setSearch] = useState(filters.q);
  useEffect(() => setSearch(filters.q), [filters.q]);
  const pager = useCursorPager(key);
  const org = useLoad(() => api('GET', '/api/v1/org'), []);
  const people = useLoad(
    () => api('GET', '/api/v1/people', { query: { ...filters, limit: 25, cursor: pager.cursor } }),
    [key, pager.cursor],
  );

  const setFilter = (patch) => navigate(href(['directory'], { ...filters, ...patch }));
  const onSearch = (e) => {
    e.preventDefault();
    setFilter({ q: search.trim() });
  };
  const anyFilter = Object.values(filters).some(Boolean);

  return (
    <section>
      <PageTitle>{t('dir.title')}</PageTitle>
      <div class="split">
        <aside class="panel tree-panel" aria-labelledby="tree-title">
          <h2 id="tree-title">{t('dir.tree')}</h2>
          <Loading state={org}>
            {org.data && (org.data.items.length === 0 ? <p class="empty">{t('dir.no_units')}</p> : (
              <OrgTree units={org.data.items} selected={filters.org} onSelect={(p) => setFilter({ org: filters.org === p ? '' : p })} />
            ))}
          </Loading>
        </aside>
        <div class="panel">
          <h2 class="visually-hidden">{t('dir.people')}</h2>
          <form class="filters" onSubmit={onSearch} role="search" aria-label={t('dir.people')}>
            <div class="field grow">
              <label for="dir-q">{t('dir.search')}</label>
              <input id="dir-q" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder={t('dir.search_placeholder')} />
            </div>
            <div class="field">
              <label for="dir-status">{t('person.status')}</label>
              <select id="dir-status" value={filters.status} onChange={(e) => setFilter({ status: e.currentTarget.value })}>
                <option value="">{t('common.any')}</option>
                {STATUSES.map((s) => <option key={s} value={s}>{t(`status.${s}`)}</option>)}
              </select>
            </div>
            <div class="field">
              <label for="dir-kind">{t('person.kind')}</label>
              <select id="dir-kind" value={filters.kind} onChange={(e) => setFilter({ kind: e.currentTarget.value })}>
                <option value="">{t('common.any')}</option>
                {KINDS.map((s) => <option key={s} value={s}>{t(`kind.${s}`)}</option>)}
              </select>
            </div>
            <div class="field">
              <label for="dir-role">{t('person.role')}</label>
              <select id="dir-role" value={filters.role} onChange={(e) => setFilter({ role: e.currentTarget.value })}>
                <option value="">{t('common.any')}</option>
                {ROLES.map((s) => <option key={s} value={s}>{t(`role.${s}`)}</option>)}
              </select>
            </div>
            <div class="actions">
              <button type="submit" class="primary">{t('dir.search_button')}</button>
            </div>
          </form>
          {anyFilter && (
            <p class="active-filters">
              {filters.org && <span class="chip">{t('person.org_unit')}: {filters.org}</span>}
              <button type="button" class="link" onClick={() => navigate(href(['directory']))}>{t('dir.clear_filters')}</button>
            </p>
          )}
          {people.error ? <p class="msg msg-error" role="alert">{errorText(people.error)}</p> : (
            <>
              <p class="msg" role="status" aria-live="polite">
                {people.loading ? <><span class="spinner" aria-hidden="true" />{t('common.loading')}</> : people.data && t('dir.shown', { n: people.data.items.length })}
              </p>
              {people.data && (people.data.items.length === 0 ? <p class="empty">{t('dir.no_people')}</p> : (
                <TableWrap label={t('dir.people')}>
                  <table class="people">
                    <thead>
                      <tr>
                        <th scope="col">{t('person.name')}</th>
                        <th scope="col">{t('person.employee_number')}</th>
                        <th scope="col">{t('person.org_unit')}</th>
                        <th scope="col">{t('person.title_field')}</th>
                        <th scope="col">{t('person.status')}</th>
                        <th scope="col">{t('person.kind')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {people.data.items.map((p) => (
                        <tr key={p.id}>
                          <td><a href={href(['people', p.id])}>{personName(p)}</a><div class="sub">{p.login}</div></td>
                          <td>{p.employee_number}</td>
                          <td class="wrap">{p.org_unit ? p.org_unit.path.split('/').join(' / ') : ''}</td>
                          <td class="wrap narrow">{p.title}</td>
                          <td><StatusBadge status={p.status} /></td>
                          <td>{t(`kind.${p.kind}`, null, p.kind)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </TableWrap>
              ))}
              <Pager pager={pager} next={people.data && people.data.next} busy={people.loading} label={t('dir.people_pages')} />
            </>
          )}
        </div>
      </div>
    </section>
  );
}
