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

function renderChart(series) {
  const svg = document.getElementById("chart");
  const top = Math.max(1, ...series.map((m) => m.published + m.failed));
  const width = 600 / series.length;
  const bars = [];
  series.forEach((m, i) => {
    const p = (m.published / top) * 115, f = (m.failed / top) * 115;
    for (const [cls, h, y] of [["published", p, 120 - p], ["failed", f, 120 - p - f]]) {
      if (h <= 0) continue;
      const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      Object.entries({ x: i * width, y, width: Math.max(1, width - 1), height: h, class: "bar " + cls })
        .forEach(([k, v]) => r.setAttribute(k, v));
      const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
      title.textContent = `${m.minute}: ${m.published} published, ${m.failed} failed`;
      r.append(title);
      bars.push(r);
    }
  });
  svg.replaceChildren(...bars);
}

function renderFailed(failed) {
  document.querySelector("#failed tbody").replaceChildren(...failed.map((p) => el("tr", { "data-post": p.post_id },
    el("td", {}, p.failed_at), el("td", {}, el("a", { href: "/posts/" + p.post_id }, p.post_id.slice(0, 8)), " ", p.text),
    el("td", { class: "reason" }, p.reason),
    el("td", {}, el("button", { class: "retry", "data-post": p.post_id }, "Retry")))));
}

function renderAccounts(accounts) {
  document.querySelector("#accounts tbody").replaceChildren(...accounts.map((a) => {
    const n = (s) => a.counts[s] || 0;
    const state = a.needs_credentials ? "needs credentials" : a.paused ? "paused" : a.throttled ? "rate-limited" : "active";
    return el("tr", { "data-account": a.account_id },
      el("td", {}, `${a.name || a.external_id} (${a.platform} ${a.external_id})`), el("td", {}, a.tenant_id),
      el("td", { class: "state" }, state),
      el("td", {}, `${n("SCHEDULED")} / ${n("QUEUED")} / ${n("PUBLISHING")}`),
      el("td", {}, `${n("PUBLISHED")} / ${n("FAILED")}`),
      el("td", {}, el("button", { class: a.paused ? "resume" : "pause", "data-account": a.account_id },
        a.paused ? "Resume" : "Pause")));
  }));
}

function renderServices(services) {
  document.querySelector("#services tbody").replaceChildren(...services.map((s) => {
    const down = Object.entries(s.duties || {}).filter(([, ok]) => !ok).map(([name]) => name);
    const state = s.gone ? "gone" : s.healthy ? "serving" : "not serving";
    return el("tr", { "data-instance": s.instance, class: s.gone || !s.healthy ? "error" : "" },
      el("td", {}, s.service), el("td", {}, s.instance), el("td", { class: "state" }, state),
      el("td", {}, down.length ? "down: " + down.join(", ") : `${Object.keys(s.duties || {}).length} running`),
      el("td", {}, Object.entries(s.figures || {}).map(([k, v]) => `${k} ${v}`).join(" · ")),
      el("td", {}, `${s.heard} s ago`));
  }));
}

function renderTenants(tenants) {
  document.querySelector("#tenants tbody").replaceChildren(...tenants.map((t) => {
    const n = (s) => t.counts[s] || 0;
    return el("tr", { "data-tenant": t.tenant_id }, el("td", {}, t.tenant_id),
      el("td", {}, `${n("SCHEDULED")} / ${n("QUEUED")} / ${n("PUBLISHING")}`),
      el("td", {}, `${n("PUBLISHED")} / ${n("FAILED")} / ${n("CANCELLED")}`));
  }));
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
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    show("chart", data.per_minute, renderChart);
    show("failed", data.failed, renderFailed);
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
  } else if (button.classList.contains("pause") || button.classList.contains("resume")) {
    button.disabled = true;
    await post(`/api/accounts/${button.dataset.account}/${button.classList.contains("pause") ? "pause" : "resume"}`);
  } else return;
  if (document.getElementById("statuses")) refresh();
});

if (document.getElementById("statuses")) { refresh(); setInterval(refresh, 1000); }
