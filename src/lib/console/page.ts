/**
 * The operations console page: one self-contained HTML document (no external scripts or styles).
 * It loads a snapshot, then listens on the console hub of Web PubSub (`json.webpubsub.azure.v1`) for
 * call changes and transcript turns; a selected call's earlier turns are fetched once. The snapshot
 * (the list of live calls, baselines and latency histograms: aggregates, never one call's data) is
 * refreshed every 5 s, which also makes good a push that was lost. Everything shown is text
 * set through `textContent`: nothing received is interpreted as HTML.
 */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rtvoice operations console</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1b1b1b; background: #f6f7f9; }
  header { background: #1f3a5f; color: #fff; padding: 10px 16px; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 17px; margin: 0; }
  #status { font-size: 12px; opacity: .85; }
  main { display: grid; grid-template-columns: minmax(420px, 1.3fr) 1fr; gap: 16px; padding: 16px; }
  section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 10px 12px; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eef0f3; font-size: 13px; }
  tr.call { cursor: pointer; }
  tr.call:hover { background: #f0f4fa; }
  tr.selected { background: #e3ecf8; }
  tr.ended { opacity: .5; }
  .turn { margin: 4px 0; padding: 4px 8px; border-radius: 4px; background: #f3f5f8; }
  .turn.user { background: #eaf5ea; }
  .turn .who { font-weight: 600; margin-right: 6px; }
  .turn.cut { text-decoration: line-through; opacity: .6; }
  .ok { color: #1c7c32; } .warn { color: #a86a00; } .alert { color: #b00020; font-weight: 600; } .unknown { color: #777; }
  .bar { display: inline-block; height: 10px; background: #5b8bd0; vertical-align: middle; }
  .hist td { padding: 1px 6px; font-size: 12px; }
  #transcript { max-height: 420px; overflow: auto; }
</style>
</head>
<body>
<header><h1>rtvoice · operations console</h1><span id="status" data-testid="status">connecting…</span></header>
<main>
  <div>
    <section>
      <h2>Live calls <span id="call-count" data-testid="call-count"></span></h2>
      <table><thead><tr><th>Call</th><th>State</th><th>Agent</th><th>Duration</th><th>Shard</th><th>Relay</th><th>Caller</th></tr></thead>
      <tbody id="calls" data-testid="calls"></tbody></table>
    </section>
    <section style="margin-top:16px">
      <h2>Monitoring baselines</h2>
      <table><thead><tr><th>Metric</th><th>Value</th><th>Target</th><th>Alert above</th><th>Level</th></tr></thead>
      <tbody id="baselines" data-testid="baselines"></tbody></table>
    </section>
    <section style="margin-top:16px">
      <h2>Latency by stage (this instance)</h2>
      <div id="histograms" data-testid="histograms"></div>
    </section>
  </div>
  <section>
    <h2>Transcript <span id="selected" data-testid="selected-call">— select a call</span></h2>
    <div id="transcript" data-testid="transcript"></div>
  </section>
</main>
<script>
(() => {
  const code = new URLSearchParams(location.search).get('code');
  const base = location.pathname.replace(/\\/+$/, '').replace(/\\/(page|snapshot|negotiate|transcript)$/, '');
  const api = (view, params = {}) => {
    const q = new URLSearchParams(params);
    if (code) q.set('code', code);
    return base + '/' + view + (q.toString() ? '?' + q : '');
  };
  const calls = new Map();
  const turns = new Map();
  let selected;
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
  const status = (text) => { document.getElementById('status').textContent = text; };
  const duration = (call) => {
    const start = Date.parse(call.startedAt || call.updatedAt);
    const end = call.endedAtMs || Date.now();
    const s = Math.max(0, Math.round((end - start) / 1000));
    return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
  };
  function renderCalls() {
    const body = document.getElementById('calls');
    body.replaceChildren();
    const live = [...calls.values()].filter((c) => !c.ended).length;
    document.getElementById('call-count').textContent = '(' + live + ' live)';
    for (const call of calls.values()) {
      const row = el('tr', undefined, 'call' + (call.callId === selected ? ' selected' : '') + (call.ended ? ' ended' : ''));
      row.dataset.callId = call.callId;
      row.dataset.state = call.ended ? 'ended' : call.state;
      row.dataset.testid = 'call-row';
      for (const value of [call.callId, call.ended ? 'ended' + (call.outcome ? ' (' + call.outcome + ')' : '') : call.state, call.agent || '', duration(call), call.shard || '', call.relay || '', call.callerMasked || '']) row.append(el('td', value));
      row.addEventListener('click', () => select(call.callId));
      body.append(row);
    }
  }
  function renderTranscript() {
    const box = document.getElementById('transcript');
    box.replaceChildren();
    if (!selected) return;
    const list = turns.get(selected) || [];
    const cut = new Set(list.filter((t) => t.truncates).map((t) => t.truncates));
    for (const turn of list) {
      const div = el('div', undefined, 'turn ' + turn.role + (cut.has(turn.id) ? ' cut' : ''));
      div.dataset.testid = 'turn';
      div.dataset.role = turn.role;
      div.append(el('span', turn.role === 'user' ? 'caller' : turn.truncates ? 'agent (heard)' : 'agent', 'who'), el('span', turn.text));
      box.append(div);
    }
    box.scrollTop = box.scrollHeight;
  }
  function addTurns(callId, list) {
    const known = turns.get(callId) || [];
    const ids = new Set(known.map((t) => t.id));
    for (const t of list) if (!ids.has(t.id)) known.push(t);
    turns.set(callId, known);
    if (callId === selected) renderTranscript();
  }
  async function select(callId) {
    selected = callId;
    document.getElementById('selected').textContent = callId;
    renderCalls();
    renderTranscript();
    const res = await fetch(api('transcript', { callId }));
    if (res.ok) addTurns(callId, (await res.json()).turns);
  }
  function renderStats(snapshot) {
    const rows = document.getElementById('baselines');
    rows.replaceChildren();
    for (const m of snapshot.baselines.metrics) {
      const row = el('tr');
      row.append(el('td', m.metric), el('td', m.value === undefined || m.value === null ? (m.note || '—') : m.value + ' ' + m.unit), el('td', '< ' + m.target + ' ' + m.unit), el('td', m.alertAbove + ' ' + m.unit), el('td', m.level, m.level));
      rows.append(row);
    }
    const box = document.getElementById('histograms');
    box.replaceChildren();
    const bounds = snapshot.distribution.boundsMs;
    for (const [name, counts] of Object.entries(snapshot.distribution.counts)) {
      const total = counts.reduce((a, b) => a + b, 0);
      const summary = snapshot.latency[name];
      const title = el('div', name + (summary ? '  p50 ' + summary.p50Ms + ' ms · p95 ' + summary.p95Ms + ' ms · p99 ' + summary.p99Ms + ' ms · n ' + summary.count : ''));
      title.style.fontWeight = '600';
      title.dataset.testid = 'histogram';
      const table = el('table', undefined, 'hist');
      counts.forEach((n, i) => {
        if (n === 0) return;
        const row = el('tr');
        const bar = el('span', undefined, 'bar');
        bar.style.width = Math.max(2, Math.round((200 * n) / total)) + 'px';
        const cell = el('td');
        cell.append(bar, el('span', ' ' + n));
        row.append(el('td', i < bounds.length ? '≤ ' + bounds[i] + ' ms' : '> ' + bounds[bounds.length - 1] + ' ms'), cell);
        table.append(row);
      });
      box.append(title, table);
    }
  }
  async function refreshStats(withCalls) {
    const res = await fetch(api('snapshot'));
    if (!res.ok) { status('snapshot failed: HTTP ' + res.status); return; }
    const snapshot = await res.json();
    // Merged, never replacing: a call pushed since stays; a push that was lost is made good here.
    if (withCalls) {
      const listed = new Set(snapshot.calls.map((c) => c.callId));
      for (const call of snapshot.calls) calls.set(call.callId, { ...(calls.get(call.callId) || {}), ...call });
      // Gone from the list well before the snapshot was taken: it ended (its push was lost).
      for (const call of calls.values()) if (!call.ended && !listed.has(call.callId) && Date.parse(call.updatedAt) < Date.parse(snapshot.time) - 10000) { call.ended = true; call.endedAtMs = Date.parse(call.updatedAt); }
      renderCalls();
    }
    renderStats(snapshot);
    return snapshot;
  }
  function onMessage(message) {
    if (message.type === 'call') {
      calls.set(message.call.callId, { ...(calls.get(message.call.callId) || {}), ...message.call });
      renderCalls();
    } else if (message.type === 'call-ended') {
      const call = calls.get(message.callId);
      if (call) { call.ended = true; call.outcome = message.outcome; call.endedAtMs = Date.parse(message.at); renderCalls(); }
    } else if (message.type === 'turns') {
      addTurns(message.callId, message.turns);
    }
  }
  async function listen() {
    const res = await fetch(api('negotiate'));
    if (!res.ok) { status('snapshots only (no Web PubSub)'); return; }
    const { url } = await res.json();
    const socket = new WebSocket(url, 'json.webpubsub.azure.v1');
    socket.onopen = () => status('live');
    socket.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === 'message' && frame.dataType === 'json') onMessage(frame.data);
    };
    socket.onclose = () => { status('reconnecting…'); setTimeout(listen, 2000); };
  }
  refreshStats(true).then(listen).catch((e) => status('error: ' + e.message));
  setInterval(() => refreshStats(true).catch(() => undefined), 5000);
  setInterval(renderCalls, 1000);
})();
</script>
</body>
</html>
`;
