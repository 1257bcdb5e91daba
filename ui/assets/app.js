// Drover UI client. Every datum comes from the JSON API with the token
// kept in sessionStorage, so the API's ACL checks decide what a page
// shows. The DOM is built with createElement and textContent only
// (never innerHTML): job files are written by whoever can push, and
// their names and meta must render as text.
'use strict';

(function () {
  const TOKEN_KEY = 'drover.token';
  // CAPS_KEY keeps what the server said the token may do, per namespace,
  // for CAPS_TTL ms: pages and their live re-renders ask once per TTL,
  // and a policy changed on the server shows within it. Sign-in and sign-out
  // clear it, so one token's answer never serves another.
  const CAPS_KEY = 'drover.caps';
  const CAPS_TTL = 30000;
  const main = document.getElementById('main');
  const page = document.body.dataset.page;

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

  function authHeaders(extra) {
    const h = Object.assign({}, extra || {});
    const t = token();
    if (t) h['Authorization'] = 'Bearer ' + t;
    return h;
  }

  // api calls the JSON API; it throws an Error carrying the API's own
  // message and status code.
  async function api(path, method, body) {
    const opts = { method: method || 'GET', headers: authHeaders(), credentials: 'omit', cache: 'no-store' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(path, opts);
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!resp.ok) {
      const err = new Error((data && data.error) || ('HTTP ' + resp.status + ' from ' + path));
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  // el builds an element; strings and numbers become text nodes.
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'href') e.setAttribute('href', safeHref(v));
      else if (k === 'onclick') e.addEventListener('click', v);
      else e.setAttribute(k, String(v));
    }
    append(e, kids);
    return e;
  }

  function append(parent, kids) {
    for (const k of kids) {
      if (k === undefined || k === null || k === false) continue;
      if (Array.isArray(k)) append(parent, k);
      else if (k instanceof Node) parent.appendChild(k);
      else parent.appendChild(document.createTextNode(String(k)));
    }
  }

  // safeHref keeps links inside the UI: no javascript: or foreign URL
  // can come out of API data.
  function safeHref(h) { return (typeof h === 'string' && h.startsWith('/ui/')) ? h : '/ui/'; }

  function q(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) u.set(k, v);
    const s = u.toString();
    return s ? '?' + s : '';
  }
  const enc = encodeURIComponent;
  const short = (s) => (s || '').slice(0, 8);
  const nsq = (ns) => (ns && ns !== 'default') ? '?namespace=' + enc(ns) : '';
  const jobLink = (ns, id) => el('a', { href: '/ui/job' + q({ id: id, namespace: ns !== 'default' ? ns : '' }) }, id);
  const allocLink = (id) => el('a', { href: '/ui/allocation' + q({ id: id }), class: 'mono' }, short(id));
  const badge = (s) => el('span', { class: 'badge s-' + String(s || 'unknown').replace(/[^a-z_]/g, '') }, s || 'unknown');
  const when = (t) => (!t || t.startsWith('0001-')) ? '' : new Date(t).toLocaleString();

  function table(headers, rows) {
    return el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
      el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c))))));
  }

  function dl(pairs) {
    return el('dl', {}, pairs.filter((p) => p[1] !== undefined && p[1] !== null && p[1] !== '').map((p) => [el('dt', {}, p[0]), el('dd', {}, p[1])]));
  }

  function commitText(c) { return el('span', { class: 'mono', title: c || '' }, short(c)); }

  function progress(g) {
    const want = g.desired_total || 0;
    const pct = want ? Math.min(100, Math.round(100 * (g.healthy_allocs || 0) / want)) : 0;
    const bar = el('span', { class: 'bar', title: pct + '%' }, el('span', { 'data-pct': pct }));
    bar.firstChild.style.width = pct + '%'; // a CSSOM write, which the CSP allows (no inline style attribute)
    return bar;
  }

  function groupProgress(d) {
    return Object.entries(d.task_groups || {}).map(([name, g]) => el('div', {},
      name + ': ', progress(g), ' ' + (g.healthy_allocs || 0) + '/' + (g.desired_total || 0) + ' healthy, ' +
      (g.placed_allocs || 0) + ' placed' + (g.unhealthy_allocs ? ', ' + g.unhealthy_allocs + ' unhealthy' : '') +
      (g.desired_canaries ? ', canaries ' + (g.placed_canaries || []).length + '/' + g.desired_canaries + (g.promoted ? ' (promoted)' : ' (not promoted)') : '')));
  }

  // ---- pages ----

  async function signin() {
    const input = el('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'ACL token secret (empty for a dev server without ACLs)' });
    const msg = el('p', { id: 'signin-msg' });
    const form = el('form', { class: 'signin', id: 'signin-form' },
      el('label', { for: 'token' }, 'ACL token'), input,
      el('button', { type: 'submit', id: 'signin-submit' }, 'Sign in'), msg);
    input.value = token();
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      clearCapabilities();
      try {
        // Any valid token may ask what it may do: a token that may not
        // list jobs still signs in.
        await api('/v1/acl/token/self/capabilities');
        location.assign('/ui/sources');
      } catch (e) {
        sessionStorage.removeItem(TOKEN_KEY);
        msg.className = 'error';
        msg.textContent = 'Sign-in failed: ' + e.message;
      }
    });
    return [el('h1', {}, 'Sign in'),
      el('p', { class: 'muted' }, 'The token stays in this tab (sessionStorage) and is sent to this server only. A dev server without ACLs needs none: sign in with the field empty.'),
      form];
  }

  async function sources() {
    const list = await api('/v1/sync');
    if (!list || !list.length) return [el('h1', {}, 'Sources'), el('p', { class: 'muted' }, 'No Git source is configured. Start with drover dev -repo PATH, or add a source block to the server configuration.')];
    return [el('h1', {}, 'Sources'), list.map((st) => {
      const commits = st.commits || [];
      const rejected = commits.find((c) => c.outcome === 'rejected');
      return el('section', { class: 'source', 'data-source': st.source },
        el('h2', {}, st.source),
        dl([['Repository', st.repo], ['Branch', st.ref], ['Last seen', commitText(st.last_seen)],
          ['Last applied', st.last_applied ? [commitText(st.last_applied), ' ', el('span', { class: 'muted' }, when(st.last_applied_at))] : 'none'],
          ['Last rejected', rejected ? [commitText(rejected.commit), ' ', rejected.subject || '', ' ', el('span', { class: 'muted' }, when(rejected.time))] : 'none'],
          ['Error', st.error ? el('span', { class: 'error' }, st.error) : '']]),
        rejected && rejected.errors ? el('ul', { class: 'diag' }, rejected.errors.map((d) => el('li', {}, el('code', {}, d)))) : null,
        el('h3', {}, 'Recent commits'),
        table(['Commit', 'Subject', 'Outcome', 'Rollout', 'Time'], commits.map((c) => [commitText(c.commit), c.subject || '', badge(c.outcome), c.health ? badge(c.health) : '', when(c.time)])));
    })];
  }

  async function jobs() {
    const list = await api('/v1/jobs');
    return [el('h1', {}, 'Jobs'), list.length ? table(['Job', 'Namespace', 'Type', 'Status', 'Version', 'Commit', 'Groups'], list.map((j) => [
      jobLink(j.namespace, j.id), j.namespace, j.type, badge(j.status), j.version,
      j.source ? [commitText(j.source.commit), ' ', j.source.subject || ''] : el('span', { class: 'muted' }, 'submitted by hand'),
      Object.entries(j.summary || {}).map(([g, s]) => el('div', {}, g + ': ' + Object.entries(s).map(([k, v]) => k + ' ' + v).join(', ')))])) :
      el('p', { class: 'muted' }, 'No jobs yet.')];
  }

  async function job() {
    const p = new URLSearchParams(location.search);
    const id = p.get('id') || '';
    const ns = nsq(p.get('namespace'));
    const base = '/v1/job/' + enc(id);
    const [j, versions, history, allocs, deps, listed] = await Promise.all([
      api(base + ns), api(base + '/versions' + ns), api(base + '/history' + ns).catch(() => []),
      api(base + '/allocations' + ns), api(base + '/deployments' + ns),
      api('/v1/jobs' + q({ prefix: id, namespace: p.get('namespace') || 'default' })).catch(() => [])]);
    // The job's status is the list's (from its allocations); the record
    // itself holds the stored version's.
    const summary = (listed || []).find((x) => x.id === id) || {};
    const spec = j.spec || {};
    const src = j.source || {};
    const versionRows = (versions || []).concat(history || []).map((v) => {
      const s = v.source || {};
      return [v.version, s.commit ? commitText(s.commit) : '', s.subject || '', s.author || '', s.path || '', v.status || ''];
    });
    return [el('h1', {}, 'Job ', el('span', { id: 'job-id' }, j.id)),
      dl([['Status', badge(summary.status || j.status)], ['Type', spec.type], ['Namespace', j.namespace], ['Version', j.version],
        ['Commit', src.commit ? [commitText(src.commit), ' ', src.subject || '', ' — ', src.author || ''] : 'submitted by hand'],
        ['File', src.path ? (src.name || '') + ':' + src.path : ''], ['Datacenters', (spec.datacenters || []).join(', ')]]),
      spec.meta ? [el('h2', {}, 'Meta'), table(['Key', 'Value'], Object.entries(spec.meta).map(([k, v]) => [el('code', {}, k), el('code', { class: 'meta-value' }, v)]))] : null,
      el('h2', {}, 'Versions'), table(['Version', 'Commit', 'Subject', 'Author', 'File', 'Status'], versionRows),
      el('h2', {}, 'Deployments'), table(['Deployment', 'Version', 'Status', 'Progress'], (deps || []).map((d) => [el('span', { class: 'mono' }, short(d.id)), d.job_version, [badge(d.status), ' ', d.status_description || ''], groupProgress(d)])),
      el('h2', {}, 'Allocations'), allocTable(allocs || [])];
  }

  function allocTable(allocs) {
    return table(['Allocation', 'Name', 'Node', 'Version', 'Desired', 'Status', 'Modified'], allocs.map((a) => [
      allocLink(a.id), a.name, a.node_name || short(a.node_id), a.job_version, a.desired_status, badge(a.client_status), when(a.modify_time)]));
  }

  async function allocation() {
    const id = new URLSearchParams(location.search).get('id') || '';
    const a = await api('/v1/allocation/' + enc(id));
    return [el('h1', {}, 'Allocation ', el('span', { class: 'mono' }, short(a.id))),
      dl([['Job', jobLink(a.namespace, a.job_id)], ['Version', a.job_version], ['Group', a.task_group], ['Node', a.node_name || a.node_id],
        ['Desired', a.desired_status], ['Status', [badge(a.client_status), ' ', a.client_description || '']], ['Deployment', short(a.deployment_id)]]),
      Object.entries(a.task_states || {}).map(([name, ts]) => [
        el('h2', {}, 'Task ', name, ' ', badge(ts.state), ts.failed ? ' failed' : ''),
        table(['Time', 'Type', 'Message'], (ts.events || []).slice().reverse().map((e) => [when(e.time), e.type, e.message || e.display_message || ''])),
        logViewer(a.id, name)])];
  }

  // Task logs come through the server (GET /v1/client/fs/logs/{alloc},
  // which proxies to the node's agent with the caller's token). A viewer
  // outlives renders: the page renders again on every Allocation event,
  // and the viewer keeps its stream and its text. Log text is untrusted:
  // it is added as text nodes only, and at most LOG_CAP characters stay
  // in the page.
  const LOG_CAP = 1 << 20;
  const logViewers = new Map();
  function logViewer(allocID, task) {
    const key = allocID + '\n' + task;
    if (logViewers.has(key)) return logViewers.get(key);
    const pre = el('pre', { class: 'log', 'data-task': task });
    const status = el('span', { class: 'muted log-status' });
    const typeSel = el('select', { 'aria-label': 'stream' }, el('option', { value: 'stdout' }, 'stdout'), el('option', { value: 'stderr' }, 'stderr'));
    // Follow is off until asked for: each followed log holds one of the
    // few connections a browser keeps to a server.
    const followBox = el('input', { type: 'checkbox', class: 'log-follow' });
    let ctrl = null;
    let kept = 0;
    function add(text) {
      if (!text) return;
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(document.createTextNode(text));
      kept += text.length;
      if (kept > LOG_CAP) {
        // Keep the newest three quarters of the cap, as one text node.
        const rest = pre.textContent.slice(-(LOG_CAP * 3 / 4));
        pre.textContent = rest;
        kept = rest.length;
      }
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
    async function load() {
      if (ctrl) ctrl.abort();
      const mine = new AbortController();
      ctrl = mine;
      pre.textContent = '';
      kept = 0;
      status.textContent = 'loading…';
      const url = '/v1/client/fs/logs/' + enc(allocID) + q({ task: task, type: typeSel.value, follow: followBox.checked ? 'true' : '', plain: 'true' });
      try {
        const resp = await fetch(url, { headers: authHeaders(), credentials: 'omit', cache: 'no-store', signal: mine.signal });
        if (!resp.ok) {
          const text = await resp.text();
          let msg = 'HTTP ' + resp.status;
          try { msg = JSON.parse(text).error || msg; } catch (e) { /* not JSON */ }
          status.textContent = 'Logs: ' + msg;
          return;
        }
        status.textContent = followBox.checked ? 'following' : '';
        const reader = resp.body.getReader();
        const dec = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          add(dec.decode(value, { stream: true }));
        }
        add(dec.decode());
        if (ctrl === mine) status.textContent = followBox.checked ? 'the task is done' : '';
      } catch (e) {
        if (e.name !== 'AbortError') status.textContent = 'Logs: ' + e.message;
      }
    }
    typeSel.addEventListener('change', load);
    followBox.addEventListener('change', load);
    window.addEventListener('pagehide', () => { if (ctrl) ctrl.abort(); });
    const box = el('div', { class: 'logs', 'data-task': task },
      el('div', { class: 'log-controls' }, 'Logs ', typeSel, ' ', el('label', {}, followBox, ' follow'), ' ', status), pre,
      el('p', { class: 'muted' }, 'From a terminal: ', el('code', {}, 'drover alloc logs -f ' + allocID + ' ' + task)));
    logViewers.set(key, box);
    load();
    return box;
  }

  async function nodes() {
    const list = await api('/v1/nodes');
    const res = (n, k, unit) => ((n.allocated || {})[k] || 0) + ' / ' + ((n.total || {})[k] || 0) + unit;
    return [el('h1', {}, 'Nodes'), table(['Node', 'Datacenter', 'Pool', 'Status', 'Eligibility', 'Drain', 'Drivers', 'CPU', 'Memory', 'Allocations'], list.map((n) => [
      el('span', { title: n.id }, n.name), n.datacenter, n.node_pool || '', badge(n.status), badge(n.scheduling_eligibility), n.drain ? 'draining' : 'no',
      (n.drivers || []).join(', '), res(n, 'cpu', ' MHz'), res(n, 'memory_mb', ' MiB'), n.running_allocs || 0]))];
  }

  // capabilities asks the server what the token may do in each of
  // namespaces (GET /v1/acl/token/self/capabilities, which computes the
  // answer with the function that enforces it, and writes nothing). It
  // returns a map from namespace to a Set of capability names ("submit-job"),
  // or to an Error when the server could not say.
  const MAX_CAPS_NAMESPACES = 64; // the endpoint's bound
  function readCapsCache() {
    try {
      const c = JSON.parse(sessionStorage.getItem(CAPS_KEY) || 'null');
      if (c && typeof c === 'object' && typeof c.at === 'number' && Date.now() - c.at < CAPS_TTL && c.namespaces) return c;
    } catch (e) { /* a damaged entry is asked again */ }
    return { at: Date.now(), namespaces: {} };
  }
  function clearCapabilities() {
    sessionStorage.removeItem(CAPS_KEY);
  }
  async function capabilities(namespaces) {
    const out = new Map();
    const cache = readCapsCache();
    const ask = [];
    for (const ns of new Set(namespaces)) {
      if (Array.isArray(cache.namespaces[ns])) out.set(ns, new Set(cache.namespaces[ns]));
      else ask.push(ns);
    }
    for (let i = 0; i < ask.length; i += MAX_CAPS_NAMESPACES) {
      const batch = ask.slice(i, i + MAX_CAPS_NAMESPACES);
      try {
        const c = await api('/v1/acl/token/self/capabilities?' + batch.map((ns) => 'namespace=' + enc(ns)).join('&'));
        for (const ns of batch) {
          const names = (c.namespaces || {})[ns] || [];
          cache.namespaces[ns] = names;
          out.set(ns, new Set(names));
        }
      } catch (e) {
        for (const ns of batch) out.set(ns, e);
      }
    }
    if (ask.length) {
      try { sessionStorage.setItem(CAPS_KEY, JSON.stringify(cache)); } catch (e) { /* storage full: ask again next time */ }
    }
    return out;
  }

  // may says whether caps (an entry of capabilities' answer) grant the
  // namespace capability, and if not, why, for a button's title.
  function may(caps, ns, capability) {
    if (caps instanceof Error) return { ok: false, why: 'could not ask the server what this token may do: ' + caps.message };
    if (caps && caps.has(capability)) return { ok: true };
    return { ok: false, why: 'your token lacks namespace:' + capability + ' in namespace ' + ns };
  }

  function deploymentActions(d, caps) {
    const active = d.status === 'running' || d.status === 'paused';
    const canaries = Object.values(d.task_groups || {}).some((g) => g.desired_canaries > 0 && !g.promoted);
    // The deployment routes check submit-job in the deployment's namespace.
    const allowed = may(caps, d.namespace || 'default', 'submit-job');
    const act = (what, show) => show ? el('button', {
      type: 'button', class: 'act-' + what, disabled: !allowed.ok || !active,
      title: allowed.ok ? what + ' deployment ' + short(d.id) : allowed.why,
      onclick: async (ev) => {
        ev.target.disabled = true;
        clearError();
        // data-last-action tells a test (and a curious operator) what
        // the last button did.
        document.body.dataset.lastAction = what + ' ' + d.id + ': sent';
        try {
          await api('/v1/deployment/' + enc(d.id) + '/' + what, 'POST', {});
          document.body.dataset.lastAction = what + ' ' + d.id + ': done';
          render();
        } catch (e) {
          document.body.dataset.lastAction = what + ' ' + d.id + ': ' + e.message;
          showError(e);
        }
      },
    }, what) : null;
    return el('div', { class: 'actions', 'data-deployment': d.id }, act('promote', canaries), act('pause', d.status === 'running'), act('resume', d.status === 'paused'), act('fail', true));
  }

  async function deployments() {
    const list = await api('/v1/deployments');
    list.sort((a, b) => (b.create_index || 0) - (a.create_index || 0));
    const caps = await capabilities(list.map((d) => d.namespace || 'default'));
    // Said once on the page too: a disabled button's title shows only on hover.
    const denied = [...caps.entries()].map(([ns, c]) => may(c, ns, 'submit-job')).find((m) => !m.ok);
    return [el('h1', {}, 'Deployments'),
      denied ? el('p', { class: 'muted', id: 'actions-note' }, 'Promote, pause, resume and fail are off: ' + denied.why + '.') : null,
      table(['Deployment', 'Job', 'Version', 'Status', 'Progress', 'Actions'], list.map((d) => [
      el('span', { class: 'mono' }, short(d.id)), jobLink(d.namespace, d.job_id), d.job_version, [badge(d.status), ' ', d.status_description || ''], groupProgress(d), deploymentActions(d, caps.get(d.namespace || 'default'))]))];
  }

  // The timeline: each commit of each source, newest first, with the
  // plan the reconciler kept for it (the text `drover reconcile --plan`
  // prints, secrets masked by the server), the jobs it submitted and
  // their deployments.
  // openPlans keeps which plans are unfolded across the live re-renders.
  const openPlans = new Set();
  function planBlock(st, c) {
    if (!c.plan) return null;
    const key = st.source + '/' + c.commit + '/' + (c.retry || 0);
    const d = el('details', { class: 'plan', 'data-commit': c.commit, open: openPlans.has(key) }, el('summary', {}, 'Plan'), el('pre', {}, c.plan));
    d.addEventListener('toggle', () => { if (d.open) openPlans.add(key); else openPlans.delete(key); });
    return d;
  }
  async function timeline() {
    const [list, jobsList, deps] = await Promise.all([api('/v1/sync'), api('/v1/jobs'), api('/v1/deployments')]);
    const authors = {};
    for (const j of jobsList || []) if (j.source && j.source.commit) authors[j.source.commit] = j.source.author;
    const depFor = (r) => (deps || []).filter((d) => d.job_id === r.id && d.job_version === r.version && (d.namespace || 'default') === (r.namespace || 'default'))
      .sort((a, b) => (b.create_index || 0) - (a.create_index || 0))[0];
    return [el('h1', {}, 'Commit timeline'), el('p', { class: 'muted', id: 'live' }, 'Live: follows the event stream.'),
      (list || []).map((st) => [el('h2', {}, st.source, ' ', el('span', { class: 'muted' }, (st.ref || '') + ' · ' + (st.repo || ''))),
        (st.commits || []).map((c) => el('div', { class: 'commit', 'data-commit': c.commit, 'data-outcome': c.outcome, 'data-health': c.health || '' },
          el('div', { class: 'head' }, commitText(c.commit), el('strong', {}, c.subject || ''), authors[c.commit] ? el('span', { class: 'muted' }, authors[c.commit]) : null,
            badge(c.outcome), c.health ? badge(c.health) : null, el('span', { class: 'muted' }, when(c.time))),
          c.errors ? el('ul', { class: 'diag' }, c.errors.map((d) => el('li', {}, el('code', {}, d)))) : null,
          planBlock(st, c),
          c.waiting ? el('div', {}, el('strong', {}, 'Waves: '), el('ul', {}, c.waiting.map((w) => el('li', {}, w)))) : null,
          c.corrected ? el('p', { class: 'muted' }, c.corrected) : null,
          c.sealed ? el('ul', {}, c.sealed.map((s) => el('li', { class: 'mono' }, s))) : null,
          c.rollouts ? table(['Job', 'Version', 'Deployment', 'Progress'], c.rollouts.map((r) => {
            const d = depFor(r);
            return [jobLink(r.namespace, r.id), r.version, d ? [badge(d.status), ' ', d.status_description || ''] : el('span', { class: 'muted' }, 'no deployment'), d ? groupProgress(d) : ''];
          })) : null))])];
  }

  const renderers = { signin, sources, jobs, job, allocation, nodes, deployments, timeline };
  // Pages that follow the cluster live, and the event topics they need.
  const live = {
    sources: ['Sync'], timeline: ['Sync', 'Deployment', 'Job'], jobs: ['Job', 'Allocation'], job: ['Job', 'Allocation', 'Deployment'],
    allocation: ['Allocation'], nodes: ['Node', 'Allocation'], deployments: ['Deployment'],
  };

  // showError shows an error above the page, where the next render
  // leaves it: a failed load until a load succeeds, a refused action
  // until the next action.
  function showError(e, kind) {
    let body = [e.message];
    if (e.status === 401 && !token()) {
      // No token, on a server that checks them: say so first, not the
      // API's advice to set DROVER_TOKEN.
      body = [el('strong', {}, 'Sign in to see this page: '), 'this server checks ACL tokens. ',
        el('a', { href: '/ui/', id: 'signin-link' }, 'Sign in with a token')];
    } else if (e.status === 401 || e.status === 403) {
      body.push(' — ', el('a', { href: '/ui/', id: 'signin-link' }, 'sign in with a token that may do this'));
    }
    const box = el('div', { class: 'error', id: 'error', 'data-kind': kind || 'action', 'data-status': e.status || '' }, body);
    const old = document.getElementById('error');
    if (old) old.replaceWith(box); else main.before(box);
  }

  function clearError(kind) {
    const old = document.getElementById('error');
    if (old && (!kind || old.dataset.kind === kind)) old.remove();
  }

  let rendering = false;
  let again = false;
  async function render() {
    if (rendering) { again = true; return; }
    rendering = true;
    try {
      const nodes = await renderers[page]();
      const frag = document.createDocumentFragment();
      append(frag, [nodes]);
      main.replaceChildren(frag);
      main.dataset.loaded = String(Date.now());
      clearError('load');
    } catch (e) {
      // Nothing was ever shown: drop the "Loading…" placeholder.
      if (!main.dataset.loaded) main.replaceChildren();
      showError(e, 'load');
    } finally {
      rendering = false;
      if (again) { again = false; render(); }
    }
  }

  let timer = null;
  function soon() {
    if (timer) return;
    timer = setTimeout(() => { timer = null; render(); }, 250);
  }

  // follow reads the event stream (newline-delimited JSON) and renders
  // again after events; when the stream is not there or ends, it polls
  // every 2 s instead.
  async function follow(topics) {
    // Close the stream when the page goes: a browser keeps only six
    // connections to a server, and streams of pages left behind (the
    // back-forward cache keeps them) would use them up.
    const ctrl = new AbortController();
    window.addEventListener('pagehide', () => ctrl.abort());
    try {
      const resp = await fetch('/v1/event/stream' + '?' + topics.map((t) => 'topic=' + enc(t)).join('&'),
        { headers: authHeaders(), credentials: 'omit', cache: 'no-store', signal: ctrl.signal });
      if (!resp.ok || !resp.body) throw new Error('event stream: HTTP ' + resp.status);
      const reader = resp.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (line && line !== '{}') soon();
        }
        if (buf.length > 1 << 20) buf = ''; // a line this long is not ours to keep
      }
    } catch (e) {
      // fall through to polling
    }
    const note = document.getElementById('live');
    if (note) note.textContent = 'Live: polling every 2 s.';
    setInterval(soon, 2000);
  }

  document.getElementById('signout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    clearCapabilities();
    location.assign('/ui/');
  });
  const who = document.getElementById('who');
  if (who) who.textContent = token() ? 'signed in with a token' : 'no token';

  if (!renderers[page]) return;
  render();
  if (live[page]) follow(live[page]);
}());
