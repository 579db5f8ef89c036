// Pramaan dashboard: sign in with a bearer token, pick a department, see who is compliant.
//
// The token lives in sessionStorage (this tab only, gone when it closes) and is sent as an
// Authorization header by fetch; it never goes into a URL the server sees. A link may
// carry `#token=...&department=...` (a fragment is never sent to a server); it is moved to
// sessionStorage and removed from the address bar at once. Every value from the server is
// put into the page with textContent, never as HTML.
'use strict';

(function () {
  const TOKEN = 'pramaan_token';
  const DEPT = 'pramaan_department';
  const STATUSES = ['compliant', 'warning', 'noncompliant', 'stale', 'not_enrolled', 'revoked'];
  const $ = (id) => document.getElementById(id);

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

  function takeFragment() {
    if (!location.hash || location.hash.length < 2) return;
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.get('token')) sessionStorage.setItem(TOKEN, params.get('token'));
    if (params.get('department') !== null) sessionStorage.setItem(DEPT, params.get('department'));
    history.replaceState(null, '', location.pathname + location.search);
  }

  async function api(path) {
    const token = sessionStorage.getItem(TOKEN) || '';
    const resp = await fetch(path, { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
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

  function timeParts(secs) {
    const d = new Date(secs * 1000);
    const ago = Math.max(0, Math.round(Date.now() / 1000 - secs));
    let rel;
    if (ago < 90) rel = ago + ' s ago';
    else if (ago < 5400) rel = Math.round(ago / 60) + ' min ago';
    else if (ago < 172800) rel = Math.round(ago / 3600) + ' h ago';
    else rel = Math.round(ago / 86400) + ' days ago';
    return [d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC', rel];
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

  function renderSummary(report) {
    const ul = $('summary');
    ul.replaceChildren();
    const counts = {};
    for (const s of STATUSES) counts[s] = 0;
    for (const o of report.officers || []) counts[o.status] = (counts[o.status] || 0) + 1;
    for (const [status, n] of Object.entries(counts)) {
      ul.appendChild(el('li', { class: 'status-' + status, 'data-status': status }, [
        el('span', { class: 'count', text: String(n) }),
        el('span', { class: 'badge status-' + status, text: status.replace('_', ' ') }),
      ]));
    }
  }

  function renderTable(report) {
    const body = $('compliance').tBodies[0];
    body.replaceChildren();
    for (const o of report.officers || []) {
      const failures = el('td', { class: 'failures' });
      if (!o.failures || o.failures.length === 0) failures.textContent = '—';
      for (const f of o.failures || []) {
        failures.appendChild(el('div', null, [el('span', { class: 'rule', text: f.rule }), f.detail || '']));
      }
      body.appendChild(el('tr', { class: 'status-' + o.status, 'data-officer': o.officer_id }, [
        el('td', { class: 'nowrap', text: o.officer_id }),
        el('td', { text: o.name || '' }),
        el('td', { text: o.designation || '' }),
        el('td', { class: 'nowrap' }, [el('span', { class: 'badge status-' + o.status, text: String(o.status).replace('_', ' ') })]),
        deviceCell(o, report.generated_at),
        failures,
        timeCell(o.last_seen),
      ]));
    }
  }

  // Google's revocation status list in force: its size and how old the copy is.
  async function loadStatusList() {
    const p = $('status-list');
    try {
      const s = await (await api('/v1/evidence/status-list')).json();
      const days = Number(s.age_days);
      const ago = days === 0 ? 'today' : days === 1 ? '1 day ago' : days + ' days ago';
      const fetched = new Date(Number(s.fetched_at) * 1000).toISOString().slice(0, 10);
      const n = Number(s.entries);
      p.textContent = 'Google revocation list: ' + n + (n === 1 ? ' entry' : ' entries') +
        ', fetched ' + fetched + ' (' + ago + ')';
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
      const cp = await (await api('/v1/audit/checkpoint')).text();
      $('checkpoint').textContent = cp;
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
  }

  async function load() {
    showError('');
    const dept = (sessionStorage.getItem(DEPT) || '').trim();
    $('department').value = dept;
    const path = '/v1/compliance' + (dept ? '?department=' + encodeURIComponent(dept) : '');
    document.body.dataset.state = 'loading';
    try {
      const report = await (await api(path)).json();
      if (report.department && !dept) sessionStorage.setItem(DEPT, report.department);
      $('department').value = report.department || dept;
      $('department-title').textContent = 'Department ' + (report.department || dept);
      $('generated').textContent = report.generated_at ? 'as of ' + fmtTime(report.generated_at) : '';
      renderSummary(report);
      renderTable(report);
      $('signin').hidden = true;
      $('dashboard').hidden = false;
      $('who').hidden = false;
      $('who-text').textContent = 'signed in';
      document.body.dataset.state = 'loaded';
    } catch (e) {
      if (e.status === 401) {
        sessionStorage.removeItem(TOKEN);
        signedOut();
        showError('Sign-in failed: ' + e.message);
        return;
      }
      document.body.dataset.state = 'error';
      showError('Could not load compliance: ' + e.message);
      if (sessionStorage.getItem(TOKEN)) { $('signin').hidden = true; $('dashboard').hidden = false; $('who').hidden = false; }
      return;
    }
    await loadStatusList();
    await loadAudit();
  }

  function signedOut() {
    $('signin').hidden = false;
    $('dashboard').hidden = true;
    $('who').hidden = true;
    document.body.dataset.state = 'signed-out';
  }

  function start() {
    takeFragment();
    $('signin-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN, $('token').value.trim());
      sessionStorage.setItem(DEPT, $('signin-department').value.trim());
      $('token').value = '';
      load();
    });
    $('department-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(DEPT, $('department').value.trim());
      load();
    });
    $('refresh').addEventListener('click', () => load());
    $('signout').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN);
      sessionStorage.removeItem(DEPT);
      showError('');
      signedOut();
    });
    if (sessionStorage.getItem(TOKEN)) load(); else signedOut();
  }

  start();
})();
