// The dashboard's only script: polls /api/overview every second and sends the page's buttons to the
// admin service with the page's CSRF token. No framework, no build step.
"use strict";
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const STATUSES = ["SCHEDULED", "QUEUED", "PUBLISHING", "PUBLISHED", "FAILED", "CANCELLED"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// One time format: local, 24-hour, with the zone named once on the page; the exact ISO time on hover.
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
function when(iso) {
  const d = new Date(iso);
  const today = d.toDateString() === new Date().toDateString();
  const text = d.toLocaleString([], { hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit",
    ...(today ? {} : { month: "short", day: "numeric" }) });
  return el("time", { dateTime: iso, title: iso }, text);
}

function duration(seconds) {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function account(id, name) {  // the account's name, its id on hover
  return el("span", { title: id }, name || id.slice(0, 8));
}

function rows(table, list, columns, render) {  // a table's rows, or one line saying it is empty
  const body = document.querySelector(`#${table} tbody`);
  if (!list.length) {
    body.replaceChildren(el("tr", { class: "empty" }, el("td", { colSpan: columns }, EMPTY[table])));
    return;
  }
  body.replaceChildren(...list.map(render));
}
const EMPTY = {
  trouble: "Nothing retrying or overdue.", failed: "No failed posts.", accounts: "No accounts yet.",
  services: "No dispatcher or publisher heard from yet.", tenants: "No posts yet.",
};

async function post(url) {
  const response = await fetch(url, { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) alert(body.error || response.statusText);
  return body;
}

function renderStats(stats) {
  const tiles = document.getElementById("statuses");
  tiles.replaceChildren(...STATUSES.map((s) => el("div", { class: "tile", id: "count-" + s },
    el("b", {}, stats[s.toLowerCase()] || 0), s.toLowerCase())));
  const c = stats.consumer || {};
  document.getElementById("consumer").textContent =
    `JetStream: ${c.pending || 0} pending, ${c.ack_pending || 0} being published, ${c.redelivered || 0} redelivered · ` +
    `oldest overdue ${Math.round(stats.oldest_overdue_seconds || 0)} s · last hour ${stats.published_last_hour || 0} published, ` +
    `${stats.failed_last_hour || 0} failed`;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Posts per minute for the last hour: a y axis with its scale (0, half, top, in posts a minute) and
// an x axis with local times every 15 minutes. Drawn in the chart's own pixels (its viewBox follows
// its width), so the labels keep their size on a phone and on a wide screen.
function renderChart(series) {
  const chart = document.getElementById("chart");
  const w = Math.max(200, Math.round(chart.getBoundingClientRect().width) || 640);
  chart.setAttribute("viewBox", `0 0 ${w} 150`);
  const PLOT = { left: 40, right: w - 4, top: 8, bottom: 126 };
  const peak = Math.max(...series.map((m) => m.published + m.failed));
  const top = peak <= 4 ? 4 : Math.ceil(peak / 2) * 2;
  const height = PLOT.bottom - PLOT.top, width = (PLOT.right - PLOT.left) / series.length;
  const y = (n) => PLOT.bottom - (n / top) * height;
  const parts = [];
  for (const n of [0, top / 2, top]) {
    parts.push(svg("line", { x1: PLOT.left, x2: PLOT.right, y1: y(n), y2: y(n), class: "grid" }));
    parts.push(svg("text", { x: PLOT.left - 6, y: y(n) + 4, class: "axis y-label", "text-anchor": "end" }, n));
  }
  parts.push(svg("text", { x: 2, y: PLOT.top + 26, class: "axis unit" }, "/min"));
  series.forEach((m, i) => {
    const x = PLOT.left + i * width;
    let base = PLOT.bottom;
    for (const [cls, n] of [["published", m.published], ["failed", m.failed]]) {
      if (n <= 0) continue;
      const h = (n / top) * height;
      base -= h;
      const bar = svg("rect", { x, y: base, width: Math.max(1, width - 1), height: h, class: "bar " + cls });
      bar.append(svg("title", {}, `${new Date(m.minute).toLocaleTimeString([], { hour12: false, hour: "2-digit",
        minute: "2-digit" })}: ${m.published} published, ${m.failed} failed`));
      parts.push(bar);
    }
    const last = i === series.length - 1;
    if ((i % 15 === 0 && series.length - i > 5) || last) {
      const label = new Date(m.minute).toLocaleTimeString([], { hour12: false, hour: "2-digit", minute: "2-digit" });
      parts.push(svg("text", { x: last ? PLOT.right : x, y: PLOT.bottom + 16, class: "axis x-label",
        "text-anchor": last ? "end" : "start" }, label));
    }
  });
  chart.replaceChildren(...parts);
}

function renderTrouble(trouble) {
  rows("trouble", trouble, 6, (p) => el("tr", { "data-post": p.post_id, class: p.retrying ? "retrying" : "overdue" },
    el("td", {}, when(p.due)), el("td", {}, duration(p.late_seconds)),
    el("td", {}, el("a", { href: "/posts/" + p.post_id }, p.post_id.slice(0, 8)), " ", p.text),
    el("td", {}, account(p.account_id, p.account)),
    el("td", { class: "state" }, p.retrying ? `retrying (attempt ${p.attempts + (p.status === "QUEUED" ? 1 : 0)})`
      : p.status.toLowerCase()),
    el("td", { class: "reason" }, p.why)));
}

function renderFailed(failed) {
  rows("failed", failed, 5, (p) => el("tr", { "data-post": p.post_id },
    el("td", {}, when(p.failed_at)), el("td", {}, el("a", { href: "/posts/" + p.post_id }, p.post_id.slice(0, 8)), " ", p.text),
    el("td", {}, account(p.account_id, p.account)),
    el("td", { class: "reason" }, p.reason),
    el("td", {}, el("button", { class: "retry", "data-post": p.post_id }, "Retry"))));
}

// An account's local time, its spacing and its posting schedule, in one short line.
function rhythm(a) {
  const parts = [a.time_zone];
  const s = a.min_post_interval_s;
  if (s) parts.push("a post at most every " + (s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`));
  if (a.slots) parts.push(`${a.slots} slots a week`);
  // The publishing quotas Meta enforces: how much of each is used, and when a full one frees up.
  for (const q of a.quotas || []) {
    const label = q.name === "facebook_reels" ? "Reels" : "posts";
    const window = q.window_s % 3600 === 0 ? `${q.window_s / 3600} h` : `${q.window_s} s`;
    parts.push(`${label} ${q.used}/${q.total} in ${window}` + (q.used >= q.total && q.frees_at ? `, frees ${q.frees_at}` : ""));
  }
  return parts.join(" · ");
}

function renderAccounts(accounts) {
  rows("accounts", accounts, 6, (a) => {
    const n = (s) => a.counts[s] || 0;
    const state = a.needs_credentials ? "needs credentials" : a.paused ? "paused" : a.throttled ? "rate-limited" : "active";
    // What the credentials-health duty last found: refused, expiring (and when), or a missing permission.
    const token = a.credentials_status === "EXPIRING" ? `token expires ${a.credentials_expire_at}`
      : a.credentials_status === "INVALID" ? "token refused" : "";
    const health = [token, a.credentials_problem].filter(Boolean).join(": ");
    return el("tr", { "data-account": a.account_id },
      el("td", {}, account(a.account_id, `${a.name || a.external_id} (${a.platform} ${a.external_id})`),
        el("div", { class: "rhythm" }, rhythm(a))),
      el("td", {}, a.tenant_id),
      el("td", { class: "state" }, state, health ? el("div", { class: "credentials" }, health) : ""),
      el("td", {}, `${n("SCHEDULED")} / ${n("QUEUED")} / ${n("PUBLISHING")}`),
      el("td", {}, `${n("PUBLISHED")} / ${n("FAILED")}`),
      el("td", {}, el("button", { class: a.paused ? "resume" : "pause", "data-account": a.account_id,
        "data-name": a.name || a.external_id }, a.paused ? "Resume" : "Pause")));
  });
}

function renderServices(services) {
  rows("services", services, 6, (s) => {
    const down = Object.entries(s.duties || {}).filter(([, ok]) => !ok).map(([name]) => name);
    const state = s.gone ? "gone" : s.healthy ? "serving" : "not serving";
    return el("tr", { "data-instance": s.instance, class: s.gone || !s.healthy ? "error" : "" },
      el("td", {}, s.service), el("td", {}, s.instance), el("td", { class: "state" }, state),
      el("td", {}, down.length ? "down: " + down.join(", ") : `${Object.keys(s.duties || {}).length} running`),
      el("td", {}, Object.entries(s.figures || {}).map(([k, v]) => `${k} ${v}`).join(" · ")),
      el("td", {}, `${s.heard} s ago`));
  });
}

function renderTenants(tenants) {
  rows("tenants", tenants, 3, (t) => {
    const n = (s) => t.counts[s] || 0;
    return el("tr", { "data-tenant": t.tenant_id }, el("td", {}, t.tenant_id),
      el("td", {}, `${n("SCHEDULED")} / ${n("QUEUED")} / ${n("PUBLISHING")}`),
      el("td", {}, `${n("PUBLISHED")} / ${n("FAILED")} / ${n("CANCELLED")}`));
  });
}

// Redraws a part only when its data changed, so a row (and the button the operator is about to
// click) stays put between polls.
const shown = {};
function show(part, data, render) {
  const text = JSON.stringify(data);
  if (shown[part] === text) return;
  shown[part] = text;
  render(data);
}

async function refresh() {
  try {
    const response = await fetch("/api/overview", { credentials: "same-origin" });
    if (response.status === 401) { location.href = "/login"; return; }
    const data = await response.json();
    const { at, ...stats } = data.stats;  // "at" changes every poll; the rest only with the queue
    show("stats", stats, renderStats);
    document.getElementById("updated").textContent =
      "updated " + new Date().toLocaleTimeString([], { hour12: false }) + " · times in " + ZONE;
    show("chart", data.per_minute, renderChart);
    show("failed", data.failed, renderFailed);
    show("trouble", data.trouble, renderTrouble);
    show("accounts", data.accounts, renderAccounts);
    show("services", data.services.map(({ seconds_ago, ...s }) => ({ ...s, heard: Math.round(seconds_ago) })), renderServices);
    show("tenants", data.tenants, renderTenants);
  } catch (e) {
    document.getElementById("updated").textContent = "cannot reach the admin service: " + e;
  }
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.classList.contains("retry")) {
    button.disabled = true;
    await post(`/api/posts/${button.dataset.post}/retry`);
    if (!document.getElementById("statuses")) location.reload();
  } else if (button.classList.contains("retry-all")) {
    const failed = document.getElementById("count-FAILED");
    const count = failed ? failed.querySelector("b").textContent : "every";
    if (!confirm(`Retry all ${count} failed posts, of every tenant? Each is due again now.`)) return;
    button.disabled = true;
    const result = await post("/api/posts/retry-failed");
    button.disabled = false;
    if (result.retried !== undefined) button.title = `${result.retried} retried`;
  } else if (button.classList.contains("pause") || button.classList.contains("resume")) {
    if (button.classList.contains("pause") && !confirm(`Pause ${button.dataset.name}? Its posts wait, even when due, ` +
        "until it is resumed.")) return;
    button.disabled = true;
    await post(`/api/accounts/${button.dataset.account}/${button.classList.contains("pause") ? "pause" : "resume"}`);
  } else return;
  if (document.getElementById("statuses")) refresh();
});

if (document.getElementById("statuses")) {
  document.getElementById("zone").textContent = "(times in " + ZONE + ")";
  window.addEventListener("resize", () => { delete shown.chart; });  // redrawn at the next poll, to its new width
  refresh();
  setInterval(refresh, 1000);
}
