// SPDX-License-Identifier: MIT
// The dashboard's logic: listens to the master's event stream
// (api/v1/events: "status" every second, "failed" when jobs failed) and
// falls back to polling api/v1/status when the stream is down; fetches the
// lists (workers, recent failures, job types, nodes) from the native API.
// Throughput is computed here from successive status snapshots. Every URL
// is relative: the page may live under /TOKEN/.
'use strict';

const STATES = ['queued', 'prefetched', 'running', 'completed', 'failed', 'cancelled', 'total'];
const WINDOW_S = 300;      // throughput chart: the last 5 minutes
const POLL_MS = 2000;      // status polling while the stream is down
const LISTS_MS = 3000;     // job types, nodes (workers: with every status)
const RECONNECT_MS = 10000; // a new EventSource after the old one gave up

const $ = (id) => document.getElementById(id);
const samples = []; // {t: seconds (monotonic), done: finished jobs}
let es = null, pollTimer = null, failedShown = -1, nodesSupported = true;

function api(path, body) {
	const opts = body === undefined ? {} : {
		method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body),
	};
	return fetch(path, opts).then((r) => r.json().catch(() => ({})).then((j) => {
		if (!r.ok)
			throw new Error(r.status + ': ' + (j.detail || r.statusText));
		return j;
	}));
}

function showError(e) {
	const p = $('error');
	p.hidden = !e;
	p.textContent = e ? String(e.message || e) : '';
}

function setLive(mode) {
	const b = $('live');
	b.className = 'badge ' + ({live: 'live', polling: 'poll'}[mode] || 'off');
	b.textContent = mode;
	document.body.dataset.live = mode;
}

function fmtDuration(s) {
	s = Math.floor(s);
	const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
	return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

function fmtTime(t) {
	return t ? new Date(t * 1000).toLocaleTimeString() : '';
}

// One table body from rows of cell values (text only: no markup injected).
function fillTable(id, rows, ncols, emptyText) {
	const body = $(id);
	body.textContent = '';
	if (!rows.length) {
		const tr = body.insertRow(), td = tr.insertCell();
		td.colSpan = ncols;
		td.className = 'empty';
		td.textContent = emptyText;
		return;
	}
	for (const row of rows) {
		const tr = body.insertRow();
		for (const cell of row) {
			const td = tr.insertCell();
			if (cell && typeof cell === 'object') {
				td.textContent = cell.text;
				td.className = cell.cls || '';
			} else {
				td.textContent = cell === undefined || cell === null ? '' : String(cell);
			}
		}
	}
}

// ---- status: counters and throughput ----

function renderStatus(st) {
	const j = st.jobs || {}, w = st.workers || {}, m = st.master || {};
	for (const s of STATES)
		$('jobs-' + s).textContent = j[s] === undefined ? '-' : j[s];
	$('workers-connected').textContent = w.connected;
	$('slots').textContent = w.slots;
	$('slots-busy').textContent = w.busy_slots;
	$('workers-lost').textContent = w.lost === undefined ? 0 : w.lost;
	$('master').textContent = `${m.node || m.host} pid ${m.pid}, up ${fmtDuration(m.uptime || 0)}, v${m.version}`;
	$('updated').textContent = new Date().toLocaleTimeString();
	sample((j.completed || 0) + (j.failed || 0) + (j.cancelled || 0));
	loadWorkers().catch(showError);
	if (j.failed !== failedShown) {
		failedShown = j.failed;
		loadFailures();
	}
	showError(null);
	document.body.dataset.status = 'ok';
}

function sample(done) {
	const t = performance.now() / 1000;
	const last = samples[samples.length - 1];
	if (last && t - last.t < 0.2)
		return; // an event and a poll in the same instant
	samples.push({t, done});
	while (samples.length > 2 && samples[0].t < t - WINDOW_S)
		samples.shift();
	drawChart();
}

// Completions per second between successive snapshots (0 when `forget`
// lowered the totals).
function rates() {
	const out = [];
	for (let i = 1; i < samples.length; i++) {
		const a = samples[i - 1], b = samples[i];
		out.push({t: b.t, r: Math.max(0, (b.done - a.done) / (b.t - a.t))});
	}
	return out;
}

function drawChart() {
	const c = $('chart'), ctx = c.getContext('2d');
	const css = getComputedStyle(document.documentElement);
	const W = c.width, H = c.height, pad = 28;
	ctx.clearRect(0, 0, W, H);
	const rs = rates();
	const now = performance.now() / 1000;
	const max = Math.max(1, ...rs.map((x) => x.r));
	$('rate').textContent = rs.length ? `${rs[rs.length - 1].r.toFixed(1)} jobs/s` : '-';
	ctx.fillStyle = css.getPropertyValue('--dim').trim() || '#888';
	ctx.font = '11px sans-serif';
	ctx.fillText(max.toFixed(max < 10 ? 1 : 0) + '/s', 2, 11);
	ctx.fillText('0', 2, H - 4);
	ctx.fillText(`-${WINDOW_S / 60} min`, pad, H - 4);
	ctx.fillText('now', W - 24, H - 4);
	if (!rs.length)
		return;
	ctx.strokeStyle = css.getPropertyValue('--accent').trim() || '#36c';
	ctx.lineWidth = 2;
	ctx.beginPath();
	rs.forEach((x, i) => {
		const px = pad + (W - pad - 4) * (1 - (now - x.t) / WINDOW_S);
		const py = H - 16 - (H - 30) * (x.r / max);
		if (i)
			ctx.lineTo(px, py);
		else
			ctx.moveTo(px, py);
	});
	ctx.stroke();
}

// ---- lists ----

function loadWorkers() {
	return api('api/v1/workers').then((r) => {
		fillTable('workers-body', (r.workers || []).map((w) => [
			w.id, w.node, w.state, `${Math.min(w.held || 0, w.slots)} / ${w.slots}`, w.done,
			w.wtype || '', w.url || '',
		]), 7, 'no worker connected');
	});
}

function loadFailures() {
	return api('api/v1/jobs?state=failed&limit=20&order=desc').then((r) => {
		fillTable('failures-body', (r.jobs || []).map((j) => [
			j.id, j.type, j.worker || '', fmtTime(j.finished), {text: j.error || '', cls: 'err'},
		]), 5, 'no failed job');
	});
}

function loadTypes() {
	return api('api/v1/call', {t: 'types'}).then((r) => {
		fillTable('types-body', (r.types || []).map((t) => [
			t.name, t.mode === 'endpoint' ? t.endpoint : `workers of ${t.worker_type || '(any)'}`,
			t.queued, t.workers,
		]), 4, 'no job type registered');
	});
}

// Nodes come from the wire request "nodes" when the master has it; a
// master without it answers 400 and the panel stays hidden.
function loadNodes() {
	if (!nodesSupported)
		return Promise.resolve();
	return api('api/v1/call', {t: 'nodes'}).then((r) => {
		$('nodes-panel').hidden = false;
		const now = Date.now() / 1000;
		fillTable('nodes-body', (r.nodes || []).map((n) => [
			n.name || '', n.url || '', n.pid || '',
			n.last_seen ? Math.max(0, Math.round(now - n.last_seen)) + ' s ago' : '',
		]), 4, 'no node agent');
	}, (e) => {
		if (/^400:/.test(e.message)) {
			nodesSupported = false;
			$('nodes-panel').hidden = true;
		}
	});
}

function loadLists() {
	return Promise.all([loadTypes(), loadNodes()]).catch(showError);
}

// ---- live updates: the event stream, or polling while it is down ----

function poll() {
	api('api/v1/status').then(renderStatus, (e) => {
		setLive('offline');
		showError(e);
	});
}

function startPolling() {
	if (pollTimer)
		return;
	setLive('polling');
	poll();
	pollTimer = setInterval(poll, POLL_MS);
}

function stopPolling() {
	clearInterval(pollTimer);
	pollTimer = null;
}

function connect() {
	if (!window.EventSource) {
		startPolling();
		return;
	}
	es = new EventSource('api/v1/events');
	es.addEventListener('status', (ev) => {
		stopPolling();
		setLive('live');
		renderStatus(JSON.parse(ev.data));
	});
	es.addEventListener('failed', (ev) => {
		const f = JSON.parse(ev.data).failed;
		if (f !== failedShown) { // the "status" just before may have loaded them
			failedShown = f;
			loadFailures().catch(showError);
		}
	});
	es.onerror = () => {
		// The browser retries by itself while readyState is CONNECTING;
		// poll meanwhile. CLOSED means it gave up: open a new one later.
		startPolling();
		if (es.readyState === EventSource.CLOSED) {
			es = null;
			setTimeout(connect, RECONNECT_MS);
		}
	};
}

loadLists();
poll();
connect();
setInterval(loadLists, LISTS_MS);
