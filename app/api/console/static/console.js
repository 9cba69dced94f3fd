// jobgate console: a page over the gateway's public API, with the key the person types in.
// The key stays in sessionStorage (this tab only); every call sends it as a Bearer token.
// Views: #/ (endpoints overview and plots), #/requests/<endpoint>, #/jobs/<endpoint>/<job id>.
"use strict";

const KEY_ITEM = "jobgate.apiKey";
const STATES = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"];
const ENDED = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);
const REFRESH_MS = { overview: 3000, requests: 1000, requestsAtLeast: 15000, job: 1000 };
const PAGE_SIZE = 20;

const session = { key: sessionStorage.getItem(KEY_ITEM), endpoints: [], readOnly: true, keyId: "" };
// What the current view started (timers, open streams); stopped when the view changes.
let running = { timers: [], aborts: [] };

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// -- small DOM helpers --------------------------------------------------------
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const main = () => document.getElementById("main");
const badge = (status) => h("span", { class: `badge ${status}`, "data-status": status }, status);
const ms = (v) => (v === null || v === undefined ? "–" : v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`);
const when = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "–");
const enc = encodeURIComponent;

function message(kind, text) {
  return h("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

// A job's error is text; handler exceptions carry a JSON string (RunPod's shape): show it parsed.
function prettyError(error) {
  try {
    return pretty(JSON.parse(error));
  } catch (_) {
    return error;
  }
}

// -- the API --------------------------------------------------------------------
async function api(path, { method = "GET", body, signal, headers } = {}) {
  const init = { method, signal, headers: { Authorization: `Bearer ${session.key}`, ...(headers || {}) } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(0, "the gateway does not answer (is it running?)");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    const reason = (data && (data.error && (data.error.message || data.error))) || response.statusText;
    throw new ApiError(response.status, String(reason));
  }
  return data;
}

// Server-Sent Events over fetch (EventSource cannot send an Authorization header).
async function followEvents(path, onEvent, signal, lastEventId) {
  const headers = { Authorization: `Bearer ${session.key}`, Accept: "text/event-stream" };
  if (lastEventId !== null && lastEventId !== undefined) headers["Last-Event-ID"] = String(lastEventId);
  const response = await fetch(path, { headers, signal });
  if (!response.ok) throw new ApiError(response.status, response.statusText);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = { name: "message", data: "", id: null };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const [field, ...rest] = line.split(":");
        const text = rest.join(":").replace(/^ /, "");
        if (field === "event") event.name = text;
        else if (field === "data") event.data += text;
        else if (field === "id") event.id = text;
      }
      if (event.data) onEvent(event.name, JSON.parse(event.data), event.id);
    }
  }
}

// -- view life cycle ----------------------------------------------------------------
function stopView() {
  running.timers.forEach(clearTimeout);
  running.aborts.forEach((a) => a.abort());
  running = { timers: [], aborts: [] };
}

// Calls ``fn`` now and every ``period`` ms until the view changes; errors are shown in ``box``.
function every(period, fn, box) {
  const mine = running;
  const tick = async () => {
    if (mine !== running) return;
    try {
      await fn();
      if (box) box.replaceChildren();
    } catch (exc) {
      if (exc.name === "AbortError" || mine !== running) return;
      if (exc.status === 401) return signOut(exc.message);
      if (box) box.replaceChildren(message("error", `Could not refresh: ${exc.message}`));
    }
    if (mine === running) mine.timers.push(setTimeout(tick, period));
  };
  return tick();
}

function abortable() {
  const controller = new AbortController();
  running.aborts.push(controller);
  return controller.signal;
}

// -- signing in -----------------------------------------------------------------------
function signOut(reason) {
  sessionStorage.removeItem(KEY_ITEM);
  session.key = null;
  stopView();
  renderLogin(reason);
}

async function signIn(key) {
  session.key = key;
  const info = await api("/v2/endpoints");
  session.endpoints = info.endpoints.map((e) => e.id);
  session.readOnly = info.key.readOnly;
  session.keyId = info.key.id;
  sessionStorage.setItem(KEY_ITEM, key);
  document.body.classList.toggle("read-only", session.readOnly);
}

function renderLogin(reason) {
  document.getElementById("who").textContent = "";
  document.getElementById("forget").hidden = true;
  document.getElementById("nav").replaceChildren();
  const input = h("input", { type: "password", id: "api-key", name: "api-key", autocomplete: "off", placeholder: "Bearer key, e.g. dev" });
  const status = h("div", { id: "login-message" }, reason ? message("error", reason) : null);
  const form = h("form", { class: "panel login", id: "login" },
    h("h1", {}, "Open the jobs console"),
    h("p", { class: "muted" }, "Type an API key of this gateway. It is kept in this browser tab only, and sent with each request."),
    h("label", { for: "api-key" }, "API key"), input, status,
    h("button", { class: "primary", type: "submit" }, "Open"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      status.replaceChildren(message("error", "Type a key first."));
      return;
    }
    try {
      await signIn(key);
      route();
    } catch (exc) {
      session.key = null;
      const text = exc.status === 401
        ? `The gateway refused this key: ${exc.message}. Check it and try again.`
        : `Could not open the console: ${exc.message}`;
      status.replaceChildren(message("error", text));
    }
  });
  main().replaceChildren(form);
  input.focus();
}

function renderChrome(active) {
  document.getElementById("who").textContent = `key ${session.keyId}${session.readOnly ? " (read-only)" : ""}`;
  document.getElementById("forget").hidden = false;
  const links = [h("a", { href: "#/", class: active === "" ? "active" : null }, "Overview")];
  for (const id of session.endpoints) {
    links.push(h("a", { href: `#/requests/${enc(id)}`, class: active === id ? "active" : null }, id));
  }
  links.push(h("a", { href: "docs", target: "_blank" }, "API docs"));
  document.getElementById("nav").replaceChildren(...links);
}

// -- overview ------------------------------------------------------------------------
function renderOverview() {
  renderChrome("");
  const errors = h("div");
  const cards = h("div", { class: "grid", id: "endpoints" });
  main().replaceChildren(h("h1", {}, "Endpoints"), errors, cards);
  every(REFRESH_MS.overview, async () => {
    const rows = await Promise.all(session.endpoints.map(async (id) => {
      const [health, workers] = await Promise.all([
        api(`/v2/${enc(id)}/health`),
        // A read-only key may not list workers: the card then shows their counts only.
        api(`/v2/${enc(id)}/workers`).catch((exc) => (exc.status === 403 ? null : Promise.reject(exc))),
      ]);
      return { id, health, workers };
    }));
    cards.replaceChildren(...rows.map(endpointCard));
  }, errors);
}

function endpointCard({ id, health, workers }) {
  const jobs = health.jobs;
  const states = Object.entries(health.workers).filter(([, n]) => n > 0);
  const gpus = workers ? [...new Set(workers.workers.map((w) => (w.gpu ? w.gpu.name : "CPU")))] : [];
  return h("section", { class: "panel endpoint", "data-endpoint": id },
    h("div", { class: "row spread" }, h("h2", {}, h("a", { href: `#/requests/${enc(id)}` }, id)),
      h("a", { href: `#/requests/${enc(id)}` }, "requests →")),
    h("div", { class: "stats" },
      stat("queued", jobs.inQueue, "in-queue"), stat("running", jobs.inProgress, "in-progress"),
      stat("completed", jobs.completed, "completed", "ok"), stat("failed", jobs.failed, "failed", jobs.failed ? "fail" : "")),
    h("div", { class: "muted" }, "completed and failed: the last 30 minutes"),
    h("h3", { class: "gap-top" }, "Workers"),
    states.length
      ? h("div", { class: "row" }, ...states.map(([state, n]) => h("span", {}, badge(state), ` ${n}`)))
      : h("div", { class: "muted" }, "no live worker"),
    gpus.length ? h("div", { class: "muted gap-top" }, `on ${gpus.join(", ")}`) : null);
}

function stat(label, n, name, kind) {
  return h("div", { class: `stat ${kind || ""}`, "data-stat": name }, h("div", { class: "n" }, n), h("div", { class: "l" }, label));
}

function endpointPlots(timeline) {
  const buckets = timeline.buckets;
  const t = (b) => b.start;
  const depth = h("div", { class: "plot" });
  const outcomes = h("div", { class: "plot" });
  const delay = h("div", { class: "plot" });
  const execution = h("div", { class: "plot" });
  const pct = (b, field, p) => (b[field] ? b[field][p] : null);
  Plots.line(depth, [{ name: "queue depth", color: "#c77c02", points: buckets.map((b) => [t(b), b.queueDepth]) }]);
  Plots.bars(outcomes, buckets.map((b) => ({ t: t(b), values: b })), [
    { name: "completed", key: "completed", color: "#1f9d55" },
    { name: "failed", key: "failed", color: "#d64545" },
    { name: "timed out", key: "timedOut", color: "#c77c02" },
    { name: "cancelled", key: "cancelled", color: "#7a5af8" },
  ]);
  const seconds = { format: (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)}s` : v >= 10 || Number.isInteger(v) ? `${Math.round(v)}ms` : `${v.toFixed(1)}ms`) };
  Plots.line(delay, [
    { name: "p50", color: "#2f6fde", points: buckets.map((b) => [t(b), pct(b, "delayMs", "p50")]) },
    { name: "p95", color: "#9bb8ef", points: buckets.map((b) => [t(b), pct(b, "delayMs", "p95")]) },
  ], seconds);
  Plots.line(execution, [
    { name: "p50", color: "#1f9d55", points: buckets.map((b) => [t(b), pct(b, "executionMs", "p50")]) },
    { name: "p95", color: "#93d3ad", points: buckets.map((b) => [t(b), pct(b, "executionMs", "p95")]) },
  ], seconds);
  return h("div", { class: "plots" },
      h("div", {}, h("h3", {}, "Queue depth"), depth),
      h("div", {}, h("h3", {}, "Jobs per minute by outcome"), outcomes),
      h("div", {}, h("h3", {}, "Delay time"), delay),
      h("div", {}, h("h3", {}, "Execution time"), execution));
}

// -- requests --------------------------------------------------------------------------
function renderRequests(endpoint, params) {
  renderChrome(endpoint);
  const status = params.get("status") || "";
  const cursors = (params.get("pages") || "").split(",").filter(Boolean); // cursors of the pages before
  const cursor = cursors.length ? cursors[cursors.length - 1] : null;
  const errors = h("div");
  const body = h("tbody", { id: "requests" });
  const filter = h("select", { id: "status-filter", "aria-label": "status" },
    h("option", { value: "" }, "all states"), ...STATES.map((s) => h("option", { value: s, selected: s === status }, s)));
  filter.addEventListener("change", () => go(endpoint, filter.value, []));
  const older = h("button", { id: "older", type: "button", disabled: true }, "Older →");
  const newer = h("button", { id: "newer", type: "button", disabled: !cursors.length, onclick: () => go(endpoint, status, cursors.slice(0, -1)) }, "← Newer");
  let next = null;
  older.addEventListener("click", () => next && go(endpoint, status, [...cursors, next]));

  const notice = h("div", { id: "notice" });
  const tools = session.readOnly ? [] : [newJobForm(endpoint), purgeButton(endpoint, notice)];
  const plots = h("section", { class: "panel", id: "plots" }, h("div", { class: "muted" }, "loading plots…"));
  main().replaceChildren(
    h("div", { class: "row spread" }, h("h1", {}, endpoint), h("span", { class: "muted" }, h("span", { class: "live" }), "live")),
    errors,
    notice,
    plots,
    ...tools,
    h("section", { class: "panel" },
      h("div", { class: "row spread" }, h("div", { class: "row" }, h("label", { for: "status-filter" }, "Status"), filter),
        h("div", { class: "row" }, newer, older)),
      h("table", {}, h("thead", {}, h("tr", {}, ...["Job", "Status", "Created", "Delay", "Execution", "Worker", "Retries"].map((c) => h("th", {}, c)))), body)));

  // /requests has a small rate budget (10 per 10 s per endpoint, shared by every client): the
  // page watches /health instead and reads the list (and the plots) again when a count moves,
  // or every 15 s.
  let seen = "";
  let listedAt = 0;
  every(REFRESH_MS.requests, async () => {
    const health = await api(`/v2/${enc(endpoint)}/health`);
    const signature = JSON.stringify(health.jobs);
    if (signature === seen && Date.now() - listedAt < REFRESH_MS.requestsAtLeast) return;
    const timeline = await api(`/v2/${enc(endpoint)}/timeline?minutes=30`);
    plots.replaceChildren(h("h3", {}, "The last 30 minutes"), endpointPlots(timeline));
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (status) query.set("status", status);
    if (cursor) query.set("cursor", cursor);
    const page = await api(`/v2/${enc(endpoint)}/requests?${query}`);
    seen = signature;
    listedAt = Date.now();
    next = page.nextCursor;
    older.disabled = !next;
    body.replaceChildren(...(page.requests.length ? page.requests.map((r) => requestRow(endpoint, r))
      : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, status ? `no ${status} job` : "no job yet"))]));
  }, errors);
}

function go(endpoint, status, pages) {
  const query = new URLSearchParams();
  if (status) query.set("status", status);
  if (pages.length) query.set("pages", pages.join(","));
  location.hash = `#/requests/${enc(endpoint)}${query.toString() ? `?${query}` : ""}`;
}

function requestRow(endpoint, r) {
  return h("tr", { "data-job": r.id },
    h("td", { class: "id" }, h("a", { href: `#/jobs/${enc(endpoint)}/${enc(r.id)}` }, r.id)),
    h("td", {}, badge(r.status)), h("td", {}, when(r.createdAt)), h("td", {}, ms(r.delayTime)),
    h("td", {}, ms(r.executionTime)), h("td", { class: "mono" }, r.workerId || "–"), h("td", {}, r.retries));
}

function newJobForm(endpoint) {
  const input = h("textarea", { id: "job-input", spellcheck: "false", "aria-label": "job input" }, '{"prompt": "hello"}');
  const note = h("div");
  const form = h("form", { class: "panel", id: "new-job" },
    h("h3", {}, "Run a job"), h("label", { for: "job-input", class: "muted" }, "input (JSON)"), input, note,
    h("div", { class: "row gap-top" }, h("button", { class: "primary", type: "submit" }, "Run")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let value;
    try {
      value = JSON.parse(input.value);
    } catch (exc) {
      note.replaceChildren(message("error", `input is not JSON: ${exc.message}`));
      return;
    }
    try {
      const job = await api(`/v2/${enc(endpoint)}/run`, { method: "POST", body: { input: value } });
      location.hash = `#/jobs/${enc(endpoint)}/${enc(job.id)}`;
    } catch (exc) {
      note.replaceChildren(message("error", `not submitted: ${exc.message}`));
    }
  });
  return form;
}

function purgeButton(endpoint, box) {
  return h("div", { class: "row gap-bottom" },
    h("button", { class: "danger", type: "button", id: "purge", onclick: () => confirmPurge(endpoint, box) }, "Purge queue…"));
}

function confirmPurge(endpoint, box) {
  const modal = document.getElementById("modal");
  document.getElementById("modal-title").textContent = `Purge ${endpoint}'s queue?`;
  document.getElementById("modal-text").textContent =
    "Every job still waiting in this endpoint's queue is removed, for good. Running jobs go on.";
  const ok = document.getElementById("modal-ok");
  const cancel = document.getElementById("modal-cancel");
  ok.textContent = "Purge the queue";
  const close = () => { modal.hidden = true; ok.onclick = null; cancel.onclick = null; };
  cancel.onclick = close;
  ok.onclick = async () => {
    close();
    try {
      const result = await api(`/v2/${enc(endpoint)}/purge-queue`, { method: "POST" });
      box.replaceChildren(message("info", `Purged: ${result.removed} queued job(s) removed.`));
    } catch (exc) {
      box.replaceChildren(message("error", `Purge failed: ${exc.message}`));
    }
  };
  modal.hidden = false;
  cancel.focus();
}

// -- one job -------------------------------------------------------------------------------
function renderJob(endpoint, jobId) {
  renderChrome(endpoint);
  const errors = h("div");
  const notice = h("div", { id: "notice" });
  const head = h("div", { class: "row" });
  const actions = h("div", { class: "row", id: "actions" });
  const facts = h("dl", { class: "facts", id: "facts" });
  const input = h("pre", { class: "json", id: "job-input" }, "…");
  const result = h("div", { id: "job-result" });
  const chunks = h("ol", { class: "chunks", id: "chunks" });
  const streamNote = h("div", { class: "muted", id: "stream-note" }, "waiting for chunks…");
  main().replaceChildren(
    h("div", { class: "row spread" }, h("h1", { class: "mono" }, jobId), head),
    h("div", {}, h("a", { href: `#/requests/${enc(endpoint)}` }, `← ${endpoint} requests`)),
    errors,
    notice,
    h("div", { class: "grid two gap-top" },
      h("section", { class: "panel" }, h("h3", {}, "Job"), facts, actions),
      h("section", { class: "panel" }, h("h3", {}, "Input"), input)),
    h("section", { class: "panel" }, h("h3", {}, "Output"), result),
    h("section", { class: "panel" }, h("h3", {}, "Stream"), streamNote, chunks));

  let last = null;
  every(REFRESH_MS.job, async () => {
    if (last && ENDED.has(last.status)) return;
    // One job as /requests lists it, with its input, output or error (a jobgate extension).
    const job = await api(`/v2/${enc(endpoint)}/requests/${enc(jobId)}`);
    last = job;
    head.replaceChildren(badge(job.status));
    input.textContent = pretty(job.input);
    facts.replaceChildren(...jobFacts(job));
    actions.replaceChildren(...jobActions(endpoint, job, notice, (operation) => {
      if (operation === "retry") route(); // a new run: its page anew, stream included
      else last = null;
    }));
    result.replaceChildren(...jobResult(job));
  }, errors);
  followStream(endpoint, jobId, chunks, streamNote);
}

function jobFacts(job) {
  const rows = [["status", job.status], ["created", when(job.createdAt)], ["started", when(job.startedAt)],
    ["finished", when(job.finishedAt)], ["delay", ms(job.delayTime)], ["execution", ms(job.executionTime)],
    ["worker", job.workerId || "–"], ["retries", job.retries || 0], ["webhook", job.webhookStatus || "–"]];
  return rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-fact": k }, v)]);
}

function jobActions(endpoint, job, box, after) {
  if (session.readOnly) return [];
  const buttons = [];
  if (!ENDED.has(job.status)) {
    buttons.push(h("button", { type: "button", id: "cancel", class: "danger", onclick: () => act(endpoint, job, "cancel", box, after) }, "Cancel job"));
  }
  if (job.status === "FAILED" || job.status === "TIMED_OUT") {
    buttons.push(h("button", { type: "button", id: "retry", class: "primary", onclick: () => act(endpoint, job, "retry", box, after) }, "Retry job"));
  }
  return buttons.length ? [h("div", { class: "row gap-top" }, ...buttons)] : [];
}

async function act(endpoint, job, operation, box, after) {
  try {
    await api(`/v2/${enc(endpoint)}/${operation}/${enc(job.id)}`, { method: "POST" });
    box.replaceChildren(message("info", operation === "cancel" ? "Cancelled." : "Queued again."));
    after(operation);
  } catch (exc) {
    box.replaceChildren(message("error", `${operation} failed: ${exc.message}`));
  }
}

function jobResult(job) {
  const parts = [];
  if (job.error !== undefined) parts.push(h("div", { class: "muted" }, "error"), h("pre", { class: "json error", id: "job-error" }, prettyError(job.error)));
  if ("output" in job) {
    const label = ENDED.has(job.status) ? "output" : "progress";
    parts.push(h("div", { class: "muted" }, label), h("pre", { class: "json", id: "job-output" }, pretty(job.output)));
  }
  if (!parts.length) parts.push(h("div", { class: "muted" }, ENDED.has(job.status) ? "no output" : "not ended yet"));
  return parts;
}

async function followStream(endpoint, jobId, list, note) {
  const signal = abortable();
  let lastId = null;
  let ended = false;
  for (let attempt = 0; !ended && attempt < 20 && !signal.aborted; attempt++) {
    try {
      await followEvents(`/v2/${enc(endpoint)}/stream/${enc(jobId)}`, (name, data, id) => {
        if (name === "chunk") {
          lastId = id;
          list.append(h("li", { "data-chunk": id }, JSON.stringify(data.output)));
          list.scrollTop = list.scrollHeight;
          note.textContent = `${list.children.length} chunk(s) so far`;
        } else if (name === "status" || name === "error") {
          ended = true;
          note.textContent = list.children.length ? `${list.children.length} chunk(s); the job has ended` : "no chunk: not a streaming job";
        }
      }, signal, lastId);
    } catch (exc) {
      if (exc.name === "AbortError") return;
      note.textContent = `stream: ${exc.message}; trying again`;
    }
    if (!ended) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// -- routing -----------------------------------------------------------------------------------
function route() {
  stopView();
  if (!session.key) return renderLogin();
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  if (parts[0] === "requests" && parts[1]) return renderRequests(parts[1], params);
  if (parts[0] === "jobs" && parts[1] && parts[2]) return renderJob(parts[1], parts[2]);
  return renderOverview();
}

async function start() {
  document.getElementById("forget").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", route);
  if (session.key) {
    try {
      await signIn(session.key);
    } catch (exc) {
      return signOut(exc.status === 401 ? `The gateway refused the saved key: ${exc.message}` : exc.message);
    }
  }
  route();
}

start();
