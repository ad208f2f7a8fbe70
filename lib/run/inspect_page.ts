/**
 * The inspector page: one HTML document with its CSS and script inline, so
 * it works from a clone, a URL import and a compiled binary alike, with no
 * CDN and no build step. It reads `./inspect/events` (Server-Sent Events),
 * `./inspect/exchanges/{id}` and posts `./inspect/replay`, all relative to
 * its own path, so any `internal_route_prefix` works. Every value from an
 * exchange is written as text (`textContent`), never as markup.
 *
 * @module
 */

/** The page's HTML. */
export const INSPECT_PAGE: string = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lrp inspector</title>
<style>
:root {
  --bg: #f6f7f9; --panel: #ffffff; --line: #e3e6eb; --text: #1d2330; --muted: #6b7280;
  --accent: #4f46e5; --accent-soft: #eef2ff; --ok: #15803d; --redir: #1d4ed8; --warn: #b45309; --bad: #b91c1c;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { font: 13px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--text);
  background: var(--bg); display: flex; flex-direction: column; }
header { display: flex; align-items: center; gap: 16px; padding: 10px 18px; background: #111827; color: #f9fafb; }
header h1 { font-size: 15px; margin: 0; font-weight: 600; letter-spacing: .2px; }
header h1 span { color: #a5b4fc; font-weight: 500; }
#conn { display: inline-flex; align-items: center; gap: 6px; font-size: 12px; color: #d1d5db; }
#conn::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: #9ca3af; }
#conn.live::before { background: #22c55e; box-shadow: 0 0 0 3px rgba(34,197,94,.25); }
#conn.down::before { background: #f59e0b; }
#count { margin-left: auto; font-size: 12px; color: #9ca3af; }
.filters { display: flex; gap: 8px; padding: 10px 18px; background: var(--panel); border-bottom: 1px solid var(--line); }
.filters input, .filters select { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px;
  background: #fff; color: var(--text); }
.filters input[type=search] { flex: 1; min-width: 160px; }
main { flex: 1; display: grid; grid-template-columns: minmax(600px, 46%) 1fr; min-height: 0; }
#list { overflow: auto; border-right: 1px solid var(--line); background: var(--panel); }
table { border-collapse: collapse; width: 100%; }
/* Fixed columns: every error code (the longest, method_not_implemented) fits whole at 1400 px; request and
   route share the rest, cut with an ellipsis and a title. */
#list table { table-layout: fixed; }
col.c-time { width: 106px; } col.c-status { width: 56px; } col.c-ms { width: 64px; } col.c-error { width: 164px; }
th { position: sticky; top: 0; background: #f9fafb; text-align: left; font-weight: 600; color: var(--muted);
  font-size: 11px; text-transform: uppercase; letter-spacing: .4px; padding: 7px 8px; border-bottom: 1px solid var(--line); }
td { padding: 6px 8px; border-bottom: 1px solid #f0f2f5; white-space: nowrap; max-width: 240px; overflow: hidden;
  text-overflow: ellipsis; vertical-align: top; }
td div { overflow: hidden; text-overflow: ellipsis; }
td .line { display: flex; gap: 6px; align-items: baseline; }
td .host, td .invoker { color: var(--muted); font-size: 12px; }
td .line .host { min-width: 0; overflow: hidden; text-overflow: ellipsis; }
td .route { font-weight: 500; }
td .replayed { font-size: 11px; color: var(--accent); background: var(--accent-soft); border-radius: 4px;
  padding: 0 4px; font-weight: 500; }
td.status, td.ms { vertical-align: middle; }
tbody tr { cursor: pointer; }
tbody tr:hover { background: #f8fafc; }
tbody tr.selected { background: var(--accent-soft); box-shadow: inset 3px 0 0 var(--accent); }
tbody tr.fresh { animation: fresh 1.2s ease-out; }
@keyframes fresh { from { background: #fef9c3; } to { background: transparent; } }
td.num { text-align: right; font-variant-numeric: tabular-nums; color: var(--muted); }
td.time { font-family: var(--mono); font-size: 12px; color: var(--muted); }
td .path { font-family: var(--mono); font-size: 12px; }
.badge { display: inline-block; min-width: 34px; text-align: center; padding: 1px 6px; border-radius: 999px;
  font-weight: 600; font-size: 12px; color: #fff; background: var(--muted); }
.s2 { background: var(--ok); } .s3 { background: var(--redir); } .s4 { background: var(--warn); } .s5 { background: var(--bad); }
.code { font-family: var(--mono); font-size: 11px; color: var(--bad); }
.method { font-weight: 600; font-size: 11px; letter-spacing: .3px; }
#detail { overflow: auto; padding: 16px 18px 28px; }
.empty { color: var(--muted); padding: 40px; text-align: center; }
.title { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.title .target { font-family: var(--mono); font-size: 14px; font-weight: 600; word-break: break-all; }
.sub { color: var(--muted); margin: 4px 0 12px; font-size: 12px; }
.sub b { color: var(--text); font-weight: 500; }
.timing { margin: 10px 0 14px; }
.bar { display: flex; height: 12px; border-radius: 6px; overflow: hidden; background: #e5e7eb; }
.bar div { min-width: 2px; }
.t-lrp { background: #818cf8; } .t-queue { background: #f59e0b; } .t-fn { background: #10b981; }
.legend { display: flex; gap: 16px; margin-top: 6px; font-size: 12px; color: var(--muted); }
.legend span::before { content: ""; display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 5px;
  vertical-align: -1px; background: var(--c); }
.error { border: 1px solid #fecaca; background: #fef2f2; color: #7f1d1d; border-radius: 8px; padding: 10px 12px;
  margin-bottom: 14px; }
.error b { font-family: var(--mono); }
.note { font-size: 12px; color: var(--muted); }
.panes { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.pane { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; min-width: 0; display: flex;
  flex-direction: column; }
.pane h2 { display: flex; align-items: center; gap: 8px; margin: 0; padding: 8px 10px; font-size: 12px;
  text-transform: uppercase; letter-spacing: .5px; color: var(--muted); border-bottom: 1px solid var(--line); }
.pane h2 .tools { margin-left: auto; display: flex; gap: 6px; text-transform: none; letter-spacing: 0; }
.pane .body { padding: 8px 10px; overflow: auto; max-height: 420px; }
.kv { width: 100%; font-family: var(--mono); font-size: 12px; margin-bottom: 8px; }
.kv td { border: 0; padding: 1px 8px 1px 0; white-space: normal; word-break: break-all; max-width: none; vertical-align: top; }
.kv td:first-child { color: var(--muted); white-space: nowrap; width: 1%; }
pre { margin: 0; font-family: var(--mono); font-size: 12px; white-space: pre-wrap; word-break: break-all;
  background: #f8fafc; border: 1px solid #eef0f3; border-radius: 6px; padding: 8px; }
.meta { font-size: 11px; color: var(--muted); margin: 6px 0 4px; }
.trunc { color: var(--warn); font-weight: 600; }
button { font: inherit; font-size: 12px; padding: 4px 10px; border-radius: 6px; border: 1px solid var(--line);
  background: #fff; color: var(--text); cursor: pointer; }
button:hover { border-color: #c7cbd3; background: #f9fafb; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.primary:hover { background: #4338ca; }
button:disabled { opacity: .5; cursor: default; }
.replay { margin-top: 14px; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px; }
.replay .row { display: flex; gap: 8px; align-items: center; }
.replay textarea { width: 100%; min-height: 180px; margin-top: 8px; font-family: var(--mono); font-size: 12px;
  border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
#replay-status { font-size: 12px; color: var(--muted); }
@media (max-width: 1100px) { main { grid-template-columns: 1fr; } .panes { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1>lrp <span>inspector</span></h1>
  <span id="conn">connecting…</span>
  <span id="count"></span>
</header>
<div class="filters">
  <select id="f-host" aria-label="Host"><option value="">All hosts</option></select>
  <select id="f-status" aria-label="Status">
    <option value="">Any status</option><option value="2">2xx</option><option value="3">3xx</option>
    <option value="4">4xx</option><option value="5">5xx</option><option value="error">Errors</option>
  </select>
  <input id="f-text" type="search" placeholder="Filter by path, route, target, error, request id…" aria-label="Text filter">
</div>
<main>
  <section id="list">
    <table>
      <colgroup><col class="c-time"><col><col><col class="c-status"><col class="c-ms"><col class="c-error"></colgroup>
      <thead><tr><th>Time</th><th>Request</th><th>Route → target</th><th>Status</th><th class="num">ms</th>
        <th>Error</th></tr></thead>
      <tbody id="rows"></tbody>
    </table>
    <div id="list-empty" class="empty">Waiting for requests… send one through lrp and it appears here.</div>
  </section>
  <section id="detail"><div class="empty">Select an exchange to see what the function saw.</div></section>
</main>
<script>
"use strict";
const base = location.pathname.replace(/\/+$/, "");
const MAX_ROWS = 2000;
let items = [];
let boot = null;
let selected = null;
let pendingSelect = null;
let current = null;
const $ = (id) => document.getElementById(id);
const el = (tag, props, ...kids) => {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") n.className = v; else if (k === "text") n.textContent = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v); else n.setAttribute(k, v);
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) n.append(kid);
  return n;
};
const pad = (n, w) => String(n).padStart(w || 2, "0");
const clock = (ms) => { const d = new Date(ms);
  return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3); };
const size = (n) => n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KB" : (n / 1048576).toFixed(1) + " MB";
const badge = (status) => el("span", { class: "badge s" + String(status)[0], text: String(status) });
const pathOf = (target) => target.split("?")[0];

function matches(x) {
  const host = $("f-host").value, status = $("f-status").value, text = $("f-text").value.trim().toLowerCase();
  if (host && x.host !== host) return false;
  if (status === "error" ? !x.error : status && String(x.status)[0] !== status) return false;
  if (text) {
    const hay = [x.host, x.method, x.target, x.route, x.routeKey || "", x.invoker || "", x.error || "", String(x.status),
      x.requestId, x.functionRequestId || ""].join(" ").toLowerCase();
    if (!hay.includes(text)) return false;
  }
  return true;
}

function row(x, fresh) {
  return el("tr", { "data-id": String(x.id), class: (x.id === selected ? "selected " : "") + (fresh ? "fresh" : ""),
    onclick: () => select(x.id) },
    // A replay's mark sits under its time, where the row has room for it.
    el("td", { class: "time" }, el("div", { text: clock(x.time) }),
      x.replayOf ? el("span", { class: "replayed", text: "replay #" + x.replayOf }) : null),
    el("td", {},
      el("div", { class: "line" }, el("span", { class: "method", text: x.method }), el("span", { class: "host", text: x.host })),
      el("div", { class: "path", text: pathOf(x.target), title: x.target })),
    el("td", {},
      el("div", { class: "route", text: x.route + (x.routeKey ? " " + x.routeKey : ""), title: x.replayOf ? "replay of #" + x.replayOf : x.route }),
      el("div", { class: "invoker", text: x.invoker || "—", title: x.invoker || "" })),
    el("td", { class: "status" }, badge(x.status)),
    el("td", { class: "num ms", text: x.durationMs.toFixed(1) }),
    el("td", { class: "code", text: x.error || "" }));
}

function renderList(freshId) {
  const rows = $("rows");
  rows.replaceChildren(...items.filter(matches).map((x) => row(x, x.id === freshId)));
  $("list-empty").style.display = items.length ? "none" : "";
  $("count").textContent = items.length + " exchange" + (items.length === 1 ? "" : "s");
  const hosts = [...new Set(items.map((x) => x.host))].sort();
  const sel = $("f-host"), keep = sel.value;
  if (sel.options.length - 1 !== hosts.length) {
    sel.replaceChildren(el("option", { value: "", text: "All hosts" }), ...hosts.map((h) => el("option", { value: h, text: h })));
    sel.value = hosts.includes(keep) ? keep : "";
  }
}

function connect() {
  const es = new EventSource(base + "/events");
  es.onopen = () => { $("conn").className = "live"; $("conn").textContent = "live"; };
  es.onerror = () => { $("conn").className = "down"; $("conn").textContent = "reconnecting…"; };
  es.addEventListener("snapshot", (e) => {
    const s = JSON.parse(e.data);
    if (boot !== null && s.boot !== boot) { selected = null; current = null; showEmptyDetail(); }
    boot = s.boot;
    items = s.exchanges;
    renderList();
  });
  es.addEventListener("exchange", (e) => {
    const x = JSON.parse(e.data);
    if (items.some((y) => y.id === x.id)) return;
    items.unshift(x);
    if (items.length > MAX_ROWS) items.length = MAX_ROWS;
    renderList(x.id);
    if (pendingSelect === x.id) { pendingSelect = null; select(x.id); }
  });
}

function showEmptyDetail() {
  $("detail").replaceChildren(el("div", { class: "empty", text: "Select an exchange to see what the function saw." }));
}

async function select(id) {
  selected = id;
  for (const tr of document.querySelectorAll("#rows tr")) tr.classList.toggle("selected", tr.dataset.id === String(id));
  const res = await fetch(base + "/exchanges/" + id, { cache: "no-store" });
  if (selected !== id) return;
  if (!res.ok) { $("detail").replaceChildren(el("div", { class: "empty", text: "Exchange #" + id + " is no longer kept." })); return; }
  current = await res.json();
  renderDetail(current);
}

function kv(pairs) {
  return el("table", { class: "kv" }, el("tbody", {}, ...pairs.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: v })))));
}

function bodyView(b, label) {
  if (!b || b.kind === "empty") return el("div", { class: "meta", text: (label || "Body") + ": empty" });
  const meta = el("div", { class: "meta" }, (label || "Body") + ": " + size(b.size) + (b.kind === "binary" ? " binary, first bytes in hex" : ""));
  if (b.truncated) meta.append(" · ", el("span", { class: "trunc", text: "truncated: the first " + size(b.kept) + " kept" }));
  return el("div", {}, meta, el("pre", { class: "body-text", text: b.kind === "binary" ? b.hex : (b.json || b.text) }));
}

function pane(id, title, tools, ...content) {
  return el("section", { class: "pane", id: id }, el("h2", {}, title, el("span", { class: "tools" }, ...tools)),
    el("div", { class: "body" }, ...content));
}

async function copyText(text, button) {
  try { await navigator.clipboard.writeText(text); }
  catch { const t = el("textarea", {}); t.value = text; document.body.append(t); t.select(); document.execCommand("copy"); t.remove(); }
  const was = button.textContent; button.textContent = "Copied"; setTimeout(() => { button.textContent = was; }, 1200);
}

function download(name, text) {
  const a = el("a", { href: "data:application/json;charset=utf-8," + encodeURIComponent(text), download: name });
  document.body.append(a); a.click(); a.remove();
}

function timingBar(t) {
  const parts = [["t-lrp", "lrp", t.lrpMs], ["t-queue", "queue wait", t.queueWaitMs || 0], ["t-fn", "function", t.functionMs || 0]];
  const total = Math.max(parts.reduce((s, p) => s + p[2], 0), 0.001);
  return el("div", { class: "timing" },
    el("div", { class: "bar" }, ...parts.map(([c, name, ms]) => el("div", { class: c, title: name + " " + ms + " ms",
      style: "flex-grow:" + (ms / total) }))),
    el("div", { class: "legend" }, ...parts.map(([c, name, ms]) => el("span", { style: "--c:var(--" + c.slice(2) + "c)",
      text: name + " " + ms.toFixed(2) + " ms" })), el("span", { style: "--c:transparent", text: "total " + t.totalMs.toFixed(2) + " ms" })));
}

// Why there is no raw result: said only as far as lrp knows it.
function noResult(d) {
  if (d.reached === false) return "No result: the function was not reached.";
  const code = d.error ? d.error.code : "";
  if (d.reached === true) {
    return code === "function_timeout" || code === "upstream_timeout"
      ? "No result: the function took the event but did not answer in time."
      : "No result: the function took the event but gave no answer (see the error above).";
  }
  return "No result: lrp stopped waiting before an answer; the function may have run (see the error above).";
}

function renderDetail(d) {
  const eventText = d.event ? (d.event.json || d.event.text || "") : "";
  const copy = el("button", { text: "Copy", onclick: (e) => copyText(eventText, e.target) });
  const dl = el("button", { text: "Download test event", title: "JSON for sam local invoke -e or the Lambda console",
    onclick: () => download("event-" + d.id + ".json", eventText) });
  if (!d.event || !d.event.json) { copy.disabled = !eventText; dl.disabled = true; }
  const req = pane("pane-request", "Request", [],
    el("div", { class: "meta", text: d.method + " " + d.target + " from " + (d.sourceIp || "?") }),
    kv(d.request.headers), bodyView(d.request.body));
  const ev = pane("pane-event", "Event sent", d.event ? [copy, dl] : [],
    d.event ? bodyView(d.event, "Event") : el("div", { class: "meta", text: "No event was sent (lrp answered by itself)." }));
  const resultKids = [];
  if (d.result) {
    const facts = [];
    if (d.result.functionError) facts.push(["function error", d.result.functionError]);
    if (d.result.executedVersion) facts.push(["version", d.result.executedVersion]);
    if (d.result.streamed) facts.push(["mode", "response stream"]);
    if (facts.length) resultKids.push(kv(facts));
    if (d.result.prelude) resultKids.push(el("div", { class: "meta", text: "Prelude" }), el("pre", { text: JSON.stringify(d.result.prelude, null, 2) }));
    resultKids.push(bodyView(d.result.body, d.result.streamed ? "First streamed bytes" : "Result"));
  } else resultKids.push(el("div", { class: "meta", text: noResult(d) }));
  const res = pane("pane-result", "Raw result", [], ...resultKids);
  const out = pane("pane-response", "Response sent", [],
    el("div", { class: "meta" }, badge(d.response.status), d.response.streaming ? " streaming…" : ""),
    kv(d.response.headers), bodyView(d.response.body));

  const replayStatus = el("span", { id: "replay-status" });
  const editor = el("textarea", { id: "replay-editor", spellcheck: "false", "aria-label": "Event to send" });
  editor.value = eventText;
  editor.style.display = "none";
  const send = el("button", { id: "replay-send", class: "primary", text: "Send edited event", onclick: () => replay(d.id, editor.value, replayStatus) });
  send.style.display = "none";
  const canReplay = d.event && d.event.replayable && d.route !== "unrouted";
  const replayBox = el("div", { class: "replay" },
    el("div", { class: "row" },
      el("button", { id: "replay", class: "primary", text: "Replay", disabled: !canReplay && "",
        onclick: () => replay(d.id, undefined, replayStatus) }),
      el("button", { id: "replay-edit", text: "Edit & send…", disabled: !(d.event && d.route !== "unrouted") && "",
        onclick: () => { const on = editor.style.display === "none"; editor.style.display = on ? "" : "none"; send.style.display = on ? "" : "none"; } }),
      send, replayStatus),
    editor);

  $("detail").replaceChildren(...[
    el("div", { class: "title" }, badge(d.status), el("span", { class: "method", text: d.method }),
      el("span", { class: "target", text: d.host + d.target }), d.replayOf ? el("span", { class: "note", text: "replay of #" + d.replayOf }) : null),
    el("div", { class: "sub" }, "#" + d.id + " · ", el("b", { text: clock(d.time) }), " · route ", el("b", { text: d.route }),
      d.routeKey ? " " : "", d.routeKey ? el("b", { id: "route-key", text: d.routeKey }) : "",
      d.pathParameters ? " " + JSON.stringify(d.pathParameters) : "",
      d.invoker ? " → " : "", d.invoker ? el("b", { text: d.invoker + (d.function ? " (" + d.function + ")" : "") }) : "",
      " · request id ", el("b", { text: d.requestId }),
      d.functionRequestId ? " · function request id " : "", d.functionRequestId ? el("b", { text: d.functionRequestId }) : "",
      d.secretsHidden ? " · secrets hidden" : " · secrets shown"),
    timingBar(d.timings),
    d.error ? el("div", { class: "error", id: "error-cause" }, el("b", { text: d.error.code }), " — " + d.error.message,
      d.error.cause ? el("div", { class: "note", text: d.error.cause }) : null) : null,
    el("div", { class: "panes" }, req, ev, res, out),
    replayBox].filter((n) => n !== null));
  $("detail").scrollTop = 0;
}

async function replay(id, edited, status) {
  status.textContent = "sending…";
  const body = edited === undefined ? { id } : { id, event: edited };
  const res = await fetch(base + "/replay", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const answer = await res.json();
  if (!res.ok) { status.textContent = answer.message || ("failed: " + res.status); return; }
  status.textContent = "replayed as #" + answer.id + " (" + answer.status + ")";
  if (items.some((x) => x.id === answer.id)) select(answer.id); else pendingSelect = answer.id;
}

for (const id of ["f-host", "f-status", "f-text"]) $(id).addEventListener("input", () => renderList());
document.documentElement.style.setProperty("--lrpc", "#818cf8");
document.documentElement.style.setProperty("--queuec", "#f59e0b");
document.documentElement.style.setProperty("--fnc", "#10b981");
connect();
</script>
</body>
</html>
`;
