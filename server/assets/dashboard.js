// Pramaan dashboard: sign in with a bearer token, pick a department, find officers, open
// one, revoke a lost phone.
//
// The token is typed (or pasted) into the sign-in form only. It lives in sessionStorage
// (this tab only, gone when it closes) and is sent as an Authorization header by fetch;
// it never goes into a URL. A link carrying `#token=` is not a way in: the fragment is
// cleared from the address bar at once, nothing is stored, and the page says why (tokens
// in links end up in chat messages, browser history and screenshots).
//
// What the list shows (department, search, filters, sort, page) and which officer is open
// live in the fragment (`#department=GAD&q=patel&page=2`, `#officer=GAD-001`), so the back
// button returns from an officer to the list as it was. Search, filters, sort and pages
// are the server's (`GET /v1/compliance?...&page=&per_page=`): a department of 100,000
// officers sends one page. Every value from the server is put into the page with
// textContent, never as HTML. Times are shown in IST.
'use strict';

(function () {
  const TOKEN = 'pramaan_token';
  const PER_PAGE = 50;
  const LIST_KEYS = ['department', 'q', 'status', 'platform', 'assurance', 'sort', 'order', 'page'];
  const $ = (id) => document.getElementById(id);

  let me = null;          // GET /v1/whoami
  let departments = [];   // the picker's choices (auditors and admins)
  let loadSeq = 0;        // answers of superseded requests are dropped
  let lastListHash = '';  // the list to return to from an officer
  let openedFromList = false;
  let sideLoadedFor = null; // department whose status list and checkpoint are shown

  function el(tag, props, children) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
      }
    }
    for (const c of children || []) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    return e;
  }

  function showError(msg) {
    const e = $('error');
    if (msg) { e.textContent = msg; e.hidden = false; } else { e.textContent = ''; e.hidden = true; }
  }

  function showNotice(msg) {
    const e = $('notice');
    if (msg) { e.textContent = msg; e.hidden = false; } else { e.textContent = ''; e.hidden = true; }
  }

  function hashParams() {
    return new URLSearchParams(location.hash.length > 1 ? location.hash.slice(1) : '');
  }

  // A sign-in link is refused: its token is dropped unread and the address bar cleared.
  function refuseSignInLink() {
    const params = hashParams();
    if (!params.has('token')) return;
    history.replaceState(null, '', location.pathname + location.search);
    showNotice('Sign-in links are not accepted. Paste the token into the form below; ' +
      'remove it from wherever the link was shared, and ask an admin to revoke it if in doubt.');
  }

  async function api(path, opts) {
    const token = sessionStorage.getItem(TOKEN) || '';
    const init = { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' };
    if (opts && opts.method) init.method = opts.method;
    if (opts && opts.json !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.json);
    }
    const resp = await fetch(path, init);
    if (!resp.ok) {
      let msg = resp.status + ' ' + resp.statusText;
      try {
        const j = await resp.json();
        if (j && j.error) msg = resp.status + ' ' + j.error + (j.message ? ': ' + j.message : '');
      } catch (_) { /* not JSON */ }
      const err = new Error(msg);
      err.status = resp.status;
      throw err;
    }
    return resp;
  }

  // IST is UTC+05:30 all year (no daylight saving since 1945), so the offset is added
  // directly: no dependence on the browser's time zone data.
  const IST_OFFSET = 19800;

  function istDate(secs) {
    return new Date((Number(secs) + IST_OFFSET) * 1000).toISOString().slice(0, 10);
  }

  function timeParts(secs) {
    const abs = new Date((Number(secs) + IST_OFFSET) * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' IST';
    const ago = Math.max(0, Math.round(Date.now() / 1000 - secs));
    let rel;
    if (ago < 90) rel = ago + ' s ago';
    else if (ago < 5400) rel = Math.round(ago / 60) + ' min ago';
    else if (ago < 172800) rel = Math.round(ago / 3600) + ' h ago';
    else rel = Math.round(ago / 86400) + ' days ago';
    return [abs, rel];
  }

  function fmtTime(secs) {
    if (secs === null || secs === undefined) return '—';
    const [abs, rel] = timeParts(secs);
    return abs + ' (' + rel + ')';
  }

  function timeCell(secs) {
    if (secs === null || secs === undefined) return el('td', { class: 'nowrap', text: '—' });
    const [abs, rel] = timeParts(secs);
    return el('td', { class: 'nowrap' }, [el('div', { text: abs }), el('div', { class: 'muted', text: rel })]);
  }

  function badge(status) {
    return el('span', { class: 'badge status-' + status, text: String(status).replace('_', ' ') });
  }

  function failureList(failures) {
    const kids = [];
    for (const f of failures || []) {
      kids.push(el('div', null, [el('span', { class: 'rule', text: f.rule }), f.detail || '']));
    }
    return kids;
  }

  // ---- the list ----

  function listState() {
    const p = hashParams();
    const s = {};
    for (const k of LIST_KEYS) s[k] = p.get(k) || '';
    if (!s.sort) s.sort = 'officer_id';
    if (s.order !== 'desc') s.order = 'asc';
    const page = parseInt(s.page, 10);
    s.page = page >= 1 ? page : 1;
    return s;
  }

  function listHash(s) {
    const p = new URLSearchParams();
    for (const k of LIST_KEYS) {
      const v = s[k];
      if (v === '' || v === undefined || (k === 'sort' && v === 'officer_id') || (k === 'order' && v === 'asc') || (k === 'page' && v === 1)) continue;
      p.set(k, String(v));
    }
    return '#' + p.toString();
  }

  function setList(s) {
    const h = listHash(s);
    if (location.hash !== h && !(h === '#' && !location.hash)) {
      history.replaceState(null, '', location.pathname + location.search + h);
    }
    showList();
  }

  function queryOf(s, paged) {
    const p = new URLSearchParams();
    p.set('department', s.department);
    for (const k of ['q', 'status', 'platform', 'assurance']) if (s[k]) p.set(k, s[k]);
    p.set('sort', s.sort);
    p.set('order', s.order);
    if (paged) { p.set('page', String(s.page)); p.set('per_page', String(PER_PAGE)); }
    return p;
  }

  function departmentOf(s) {
    if (me && me.role === 'it') return me.department || '';
    if (s.department && departments.includes(s.department)) return s.department;
    return departments.length ? departments[0] : '';
  }

  // The status filter offers every status the server counts (the summary names them
  // all, zero included), so a status the server adds needs no change here.
  function fillStatusFilter(report) {
    const select = $('filter-status');
    const have = new Set([...select.options].map((o) => o.value));
    for (const status of Object.keys(report.summary || {})) {
      if (!have.has(status)) select.appendChild(el('option', { value: status, text: status.replace('_', ' ') }));
    }
  }

  function renderSummary(report) {
    fillStatusFilter(report);
    const ul = $('summary');
    ul.replaceChildren();
    for (const [status, n] of Object.entries(report.summary || {})) {
      ul.appendChild(el('li', { class: 'status-' + status, 'data-status': status }, [
        el('span', { class: 'count', text: String(n) }),
        badge(status),
      ]));
    }
  }

  // What the device behind the status proved: platform and assurance, the evidence in
  // one line, and how old it is.
  function deviceCell(o, now) {
    if (!o.platform) return el('td', { class: 'nowrap', text: '—' });
    const kids = [el('div', { class: 'nowrap', 'data-proof': o.platform + '/' + o.assurance, text: o.platform + ' · ' + o.assurance })];
    if (o.device_evidence) kids.push(el('div', { class: 'muted', text: o.device_evidence }));
    if (o.evidence_at !== null && o.evidence_at !== undefined && now) {
      const days = Math.floor(Math.max(0, now - o.evidence_at) / 86400);
      kids.push(el('div', { class: 'muted', text: 'evidence ' + (days === 0 ? 'from today' : days + ' days old') }));
    }
    return el('td', null, kids);
  }

  function renderTable(report) {
    const body = $('compliance').tBodies[0];
    body.replaceChildren();
    for (const o of report.officers || []) {
      const failures = el('td', { class: 'failures' }, failureList(o.failures));
      if (!o.failures || o.failures.length === 0) failures.textContent = '—';
      const row = el('tr', { class: 'status-' + o.status, 'data-officer': o.officer_id, tabindex: '0' }, [
        el('td', { class: 'nowrap', text: o.officer_id }),
        el('td', { text: o.name || '' }),
        el('td', { text: o.designation || '' }),
        el('td', { class: 'nowrap' }, [badge(o.status)]),
        deviceCell(o, report.generated_at),
        failures,
        timeCell(o.last_seen),
      ]);
      const open = () => openOfficer(o.officer_id);
      row.addEventListener('click', open);
      row.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') open(); });
      body.appendChild(row);
    }
  }

  function renderPager(page) {
    const first = page.matched === 0 ? 0 : (page.page - 1) * page.per_page + 1;
    const last = Math.min(page.matched, page.page * page.per_page);
    let text = page.matched === 0 ? '0 of 0' : first + '–' + last + ' of ' + page.matched;
    if (page.matched !== page.total) text += ' (' + page.total + ' in the department)';
    $('range').textContent = text;
    $('range').dataset.page = String(page.page);
    $('range').dataset.pages = String(page.pages);
    $('prev').disabled = page.page <= 1;
    $('next').disabled = page.page >= page.pages;
  }

  function renderSortHeaders(s) {
    for (const th of $('compliance').tHead.querySelectorAll('th[data-sort]')) {
      const on = th.dataset.sort === s.sort;
      th.setAttribute('aria-sort', on ? (s.order === 'desc' ? 'descending' : 'ascending') : 'none');
    }
  }

  function fillFilters(s) {
    $('search').value = s.q;
    $('filter-status').value = s.status;
    $('filter-platform').value = s.platform;
    $('filter-assurance').value = s.assurance;
  }

  async function showList() {
    showError('');
    const s = listState();
    s.department = departmentOf(s);
    lastListHash = listHash(s);
    $('officer').hidden = true;
    $('dashboard').hidden = false;
    fillFilters(s);
    renderSortHeaders(s);
    if ($('department-picker').value !== s.department) $('department-picker').value = s.department;
    if (!s.department) {
      document.body.dataset.state = 'error';
      showError('No department has a policy or officers yet (an admin or IT sets them up with pramaan).');
      return;
    }
    const seq = ++loadSeq;
    document.body.dataset.state = 'loading';
    try {
      const page = await (await api('/v1/compliance?' + queryOf(s, true).toString())).json();
      if (seq !== loadSeq) return;
      $('department-title').textContent = 'Department ' + page.department;
      $('generated').textContent = page.generated_at ? 'as of ' + fmtTime(page.generated_at) : '';
      renderSummary(page);
      $('filter-status').value = s.status;
      renderTable(page);
      renderPager(page);
      document.body.dataset.state = 'loaded';
    } catch (e) {
      if (seq !== loadSeq) return;
      if (e.status === 401) { signOut('Sign-in failed: ' + e.message); return; }
      document.body.dataset.state = 'error';
      showError('Could not load compliance: ' + e.message);
      return;
    }
    if (sideLoadedFor !== s.department) {
      sideLoadedFor = s.department;
      await loadStatusList();
      await loadAudit();
    }
  }

  async function exportCsv() {
    showError('');
    const s = listState();
    s.department = departmentOf(s);
    const q = queryOf(s, false);
    q.set('format', 'csv');
    try {
      const blob = await (await api('/v1/compliance?' + q.toString())).blob();
      const safe = s.department.replace(/[^A-Za-z0-9_-]/g, '_');
      const a = el('a', { href: URL.createObjectURL(blob), download: safe + '-compliance-' + istDate(Date.now() / 1000) + '.csv', hidden: '' });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
      showNotice('Exported ' + a.download + '.');
    } catch (e) {
      showError('Could not export: ' + e.message);
    }
  }

  // Google's revocation status list in force: its size and how old the copy is.
  async function loadStatusList() {
    const p = $('status-list');
    try {
      const s = await (await api('/v1/evidence/status-list')).json();
      const days = Number(s.age_days);
      const ago = days === 0 ? 'today' : days === 1 ? '1 day ago' : days + ' days ago';
      const n = Number(s.entries);
      p.textContent = 'Google revocation list: ' + n + (n === 1 ? ' entry' : ' entries') +
        ', fetched ' + istDate(s.fetched_at) + ' (' + ago + ')';
      p.dataset.statusList = 'installed';
    } catch (e) {
      if (e.status === 404) {
        p.textContent = 'No revocation list installed: expired factory keyboxes are refused ' +
          '(an admin installs one with pramaan evidence status-list import).';
        p.dataset.statusList = 'none';
      } else if (e.status === 403) {
        p.textContent = 'This token may not read the revocation list.';
        p.dataset.statusList = 'forbidden';
      } else {
        p.textContent = 'Revocation list not available: ' + e.message;
        p.dataset.statusList = 'error';
      }
    }
  }

  async function loadAudit() {
    try {
      $('checkpoint').textContent = await (await api('/v1/audit/checkpoint')).text();
    } catch (e) {
      $('checkpoint').textContent = e.status === 403
        ? 'This token may not read the audit log (auditors and admins can).'
        : 'Checkpoint not available: ' + e.message;
    }
    try {
      $('log-key').textContent = (await (await api('/dashboard/log-key')).text()).trim();
    } catch (e) {
      $('log-key').textContent = 'not available (' + e.message + ')';
    }
    try {
      const t = await (await api('/dashboard/tls')).json();
      let text = 'TLS certificate valid until ' + istDate(t.not_after) + ' (' + t.days_left + ' days)';
      if (t.next) {
        text += '; a new key takes over on ' + istDate(t.next.takes_over_at);
      }
      $('tls-expiry').textContent = text;
      $('tls-warning').textContent = t.warning || '';
      $('tls-warning').hidden = !t.warning;
    } catch (e) {
      $('tls-expiry').textContent = 'TLS certificate: not available (' + e.message + ')';
    }
  }

  // ---- one officer ----

  function openOfficer(id) {
    openedFromList = true;
    location.hash = 'officer=' + encodeURIComponent(id); // a new history entry: back returns
  }

  function canRevoke() {
    return me && (me.role === 'it' || me.role === 'admin');
  }

  function registryRows(officer) {
    const dl = $('officer-registry');
    dl.replaceChildren();
    for (const [k, v] of Object.entries(officer || {})) {
      if (v === null || v === undefined || v === '') continue;
      let text = typeof v === 'object' ? JSON.stringify(v) : String(v);
      if (k.endsWith('_at') && typeof v === 'number') text = fmtTime(v);
      dl.appendChild(el('div', { 'data-field': k }, [el('dt', { text: k.replace(/_/g, ' ') }), el('dd', { text })]));
    }
  }

  function evidenceText(ev) {
    if (!ev || !ev.kind || ev.kind === 'none') return 'none (software key)';
    let t = ev.kind + (ev.verified ? ', verified' : ', not verified' + (ev.error ? ': ' + ev.error : ''));
    if (ev.security_level) t += ', key in ' + ev.security_level;
    if (ev.verified_boot) t += ', boot ' + ev.verified_boot;
    return t;
  }

  // One attestation's verdict in the words of the report (the protocol's AR4SI names,
  // affirming and contraindicated, stay on the wire and in the log).
  const VERDICT_WORDS = { affirming: 'compliant', warning: 'warning', contraindicated: 'noncompliant' };

  function resultsTable(results) {
    const body = el('tbody');
    for (const r of results) {
      const failures = el('td', { class: 'failures' }, failureList(r.failures));
      if (!r.failures || r.failures.length === 0) failures.textContent = '—';
      body.appendChild(el('tr', { 'data-seq': String(r.seq) }, [
        el('td', { text: String(r.seq) }),
        timeCell(r.received_at),
        el('td', { 'data-verdict': String(r.verdict) }, [badge(VERDICT_WORDS[r.verdict] || String(r.verdict)),
          r.fresh_nonce === false ? ' (offline)' : '']),
        failures,
        el('td', { text: r.log_index === undefined ? '—' : String(r.log_index) }),
      ]));
    }
    return el('div', { class: 'table-wrap' }, [el('table', { class: 'results' }, [
      el('thead', null, [el('tr', null, ['Seq', 'Received', 'Verdict', 'Failures', 'Log index'].map((h) => el('th', { text: h })))]),
      body,
    ])]);
  }

  function revokeForm(d, officerId) {
    const wrap = el('div', { class: 'revoke' });
    const open = el('button', { type: 'button', class: 'danger revoke-open', text: 'Revoke…' });
    const reason = el('input', { type: 'text', required: '', maxlength: '500', class: 'revoke-reason', placeholder: 'e.g. phone lost', spellcheck: 'false' });
    const form = el('form', { class: 'toolbar revoke-form', autocomplete: 'off', hidden: '' }, [
      el('label', null, ['Reason (required)', reason]),
      el('button', { type: 'submit', class: 'danger', text: 'Revoke device' }),
    ]);
    open.addEventListener('click', () => { form.hidden = false; open.hidden = true; reason.focus(); });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const why = reason.value.trim();
      if (!why) { showError('A reason is required to revoke a device.'); return; }
      try {
        await api('/v1/devices/' + encodeURIComponent(d.device_id) + '/revoke', { method: 'POST', json: { reason: why } });
        await showOfficer(officerId);
        showNotice('Device ' + d.device_id + ' revoked.');
      } catch (e) {
        showError('Could not revoke: ' + e.message);
      }
    });
    wrap.appendChild(open);
    wrap.appendChild(form);
    return wrap;
  }

  function deviceCard(d, officerId, now) {
    const card = el('article', { class: 'device', 'data-device': d.device_id, 'data-revoked': String(!!d.revoked) });
    card.appendChild(el('h4', null, [
      d.platform + ' · ' + (d.model || 'unknown model') + ' ',
      d.revoked ? badge('revoked') : el('span', { class: 'badge status-compliant', text: 'active' }),
    ]));
    const rows = [
      ['device id', d.device_id],
      ['platform', d.platform],
      ['assurance', d.assurance],
      ['evidence', evidenceText(d.evidence)],
    ];
    let evidenceAge = d.evidence_age_days;
    if (evidenceAge === undefined && d.evidence && d.evidence.checked_at && now) {
      evidenceAge = Math.floor(Math.max(0, now - d.evidence.checked_at) / 86400);
    }
    if (evidenceAge !== undefined && evidenceAge !== null) rows.push(['evidence age', evidenceAge === 0 ? 'from today' : evidenceAge + ' days']);
    rows.push(['enrolled', fmtTime(d.enrolled_at)]);
    const lastCheckIn = d.last_check_in !== undefined ? d.last_check_in : (d.latest ? d.latest.received_at : null);
    rows.push(['last check-in', fmtTime(lastCheckIn)]);
    if (d.revoked) rows.push(['revoked because', d.reason || '—']);
    card.appendChild(el('dl', { class: 'registry' }, rows.map(([k, v]) => el('div', { 'data-field': k }, [el('dt', { text: k }), el('dd', { text: String(v) })]))));
    const results = Array.isArray(d.recent) ? d.recent : (d.latest ? [d.latest] : []);
    card.appendChild(el('h5', { text: Array.isArray(d.recent) ? 'Recent results' : 'Latest result' }));
    if (results.length) card.appendChild(resultsTable(results));
    else card.appendChild(el('p', { class: 'muted', text: 'No check-in yet.' }));
    if (!d.revoked && canRevoke()) card.appendChild(revokeForm(d, officerId));
    return card;
  }

  async function showOfficer(id) {
    showError('');
    $('dashboard').hidden = true;
    $('officer').hidden = false;
    const seq = ++loadSeq;
    document.body.dataset.state = 'loading';
    try {
      const v = await (await api('/v1/officers/' + encodeURIComponent(id))).json();
      if (seq !== loadSeq) return;
      const o = v.officer || {};
      $('officer-title').textContent = 'Officer ' + (o.officer_id || id) + (o.name ? ' — ' + o.name : '');
      const st = $('officer-status');
      st.replaceChildren();
      if (v.compliance) {
        st.appendChild(badge(v.compliance.status));
        st.appendChild(el('div', { class: 'failures' }, failureList(v.compliance.failures)));
      } else {
        st.appendChild(el('span', { class: 'muted', text: 'The department has no policy yet: no status.' }));
      }
      registryRows(o);
      const list = $('officer-devices');
      list.replaceChildren();
      const now = Date.now() / 1000;
      for (const d of v.devices || []) list.appendChild(deviceCard(d, o.officer_id || id, now));
      if (!(v.devices || []).length) list.appendChild(el('p', { class: 'muted', text: 'No device enrolled.' }));
      document.body.dataset.state = 'officer';
    } catch (e) {
      if (seq !== loadSeq) return;
      if (e.status === 401) { signOut('Sign-in failed: ' + e.message); return; }
      document.body.dataset.state = 'error';
      showError('Could not load officer ' + id + ': ' + e.message);
    }
  }

  function backToList() {
    if (openedFromList) { openedFromList = false; history.back(); } else { location.hash = lastListHash; }
  }

  // ---- session ----

  function roleText(w) {
    const who = w.role === 'it' ? 'IT of ' + (w.department || '?') : w.role;
    return 'Signed in as ' + who + ' (token ' + w.label + ')';
  }

  async function signIn() {
    try {
      me = await (await api('/v1/whoami')).json();
    } catch (e) {
      if (e.status === 401) { signOut('Sign-in failed: ' + e.message); return false; }
      showError('Could not sign in: ' + e.message);
      return false;
    }
    $('who-text').textContent = roleText(me);
    document.body.dataset.role = me.role;
    $('who').hidden = false;
    $('signin').hidden = true;
    const picker = $('department-picker');
    picker.replaceChildren();
    if (me.role === 'it') {
      departments = me.department ? [me.department] : [];
      $('picker-label').hidden = true;
    } else {
      try {
        departments = (await (await api('/v1/departments')).json()).departments || [];
      } catch (e) {
        departments = [];
        showError('Could not list departments: ' + e.message);
      }
      for (const d of departments) picker.appendChild(el('option', { value: d, text: d }));
      $('picker-label').hidden = false;
    }
    return true;
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN);
    me = null;
    departments = [];
    sideLoadedFor = null;
    $('signin').hidden = false;
    $('dashboard').hidden = true;
    $('officer').hidden = true;
    $('who').hidden = true;
    delete document.body.dataset.role;
    document.body.dataset.state = 'signed-out';
    showError(message || '');
  }

  function route() {
    if (!me) return;
    const id = hashParams().get('officer');
    if (id) showOfficer(id); else showList();
  }

  function applyFilters() {
    const s = listState();
    s.department = departmentOf(s);
    s.q = $('search').value.trim();
    s.status = $('filter-status').value;
    s.platform = $('filter-platform').value;
    s.assurance = $('filter-assurance').value;
    s.page = 1;
    setList(s);
  }

  function start() {
    refuseSignInLink();
    $('signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN, $('token').value.trim());
      $('token').value = '';
      showError('');
      if (await signIn()) route();
    });
    let typing = null;
    $('filters').addEventListener('submit', (ev) => { ev.preventDefault(); clearTimeout(typing); applyFilters(); });
    $('search').addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(applyFilters, 400); });
    for (const id of ['filter-status', 'filter-platform', 'filter-assurance']) $(id).addEventListener('change', applyFilters);
    $('department-picker').addEventListener('change', () => {
      setList({ department: $('department-picker').value, q: '', status: '', platform: '', assurance: '', sort: 'officer_id', order: 'asc', page: 1 });
    });
    for (const th of $('compliance').tHead.querySelectorAll('th[data-sort]')) {
      th.querySelector('button').addEventListener('click', () => {
        const s = listState();
        s.department = departmentOf(s);
        if (s.sort === th.dataset.sort) s.order = s.order === 'asc' ? 'desc' : 'asc';
        else { s.sort = th.dataset.sort; s.order = 'asc'; }
        s.page = 1;
        setList(s);
      });
    }
    $('prev').addEventListener('click', () => { const s = listState(); s.department = departmentOf(s); s.page = Math.max(1, s.page - 1); setList(s); });
    $('next').addEventListener('click', () => { const s = listState(); s.department = departmentOf(s); s.page += 1; setList(s); });
    $('export').addEventListener('click', exportCsv);
    $('refresh').addEventListener('click', () => { sideLoadedFor = null; showList(); });
    $('back').addEventListener('click', backToList);
    $('signout').addEventListener('click', () => { showNotice(''); signOut(''); });
    window.addEventListener('hashchange', () => { refuseSignInLink(); route(); });
    if (sessionStorage.getItem(TOKEN)) signIn().then((ok) => { if (ok) route(); }); else signOut('');
  }

  start();
})();
