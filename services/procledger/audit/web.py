"""The auditor's web page: static HTML whose small script calls the /v1 API with the token.

The page carries no data itself, so it is served without a token. The auditor types a token
from AUDITOR_TOKENS into the form; it is kept in sessionStorage (gone when the tab closes) and
sent as a bearer header. It is never taken from the URL, where logs and history would keep it.
Every value is inserted with textContent, never as HTML.
"""

# The page is one HTML/JS string: its lines follow HTML, not Python, line lengths.
# ruff: noqa: E501

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>procledger audit</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:72rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}
label{display:flex;flex-direction:column;font-size:.8rem}
input,select{padding:.25rem;font:inherit}
table{border-collapse:collapse;margin-top:.6rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
#error{color:#b00020}.ok{color:#0a6b2d}.bad{color:#b00020}
</style></head><body>
<h1>procledger audit</h1>
<form id="login-form"><label>Auditor token
<input id="token" type="password" autocomplete="off"></label>
<button id="login" type="submit">Use token</button><span id="login-state"></span></form>
<p id="error" role="alert"></p>

<h2>Totals</h2>
<form id="totals-form">
<label>Group by<input name="by" value="caliber_mm" placeholder="buyer,month"></label>
<label>Buyer<input name="buyer" size="5"></label>
<label>Calibre (mm)<input name="caliber_mm" size="5"></label>
<label>Year<input name="year" size="5"></label>
<label>Placed from<input name="from" placeholder="YYYY-MM-DD" size="10"></label>
<label>Placed to<input name="to" placeholder="YYYY-MM-DD" size="10"></label>
<label>As of (business time)<input name="as_of" placeholder="2023-06-15T23:59:59Z"></label>
<label>Known at (record time)<input name="known_at" placeholder="ISO-8601 with zone"></label>
<button id="apply" type="submit">Apply</button></form>
<table id="totals-table"><thead></thead><tbody></tbody></table>
<h3>Ordered versus delivered quantity by month of placement</h3>
<svg id="chart" width="720" height="240" role="img" aria-label="ordered vs delivered"></svg>

<h2>Order history and provenance</h2>
<form id="order-form"><label>Order id<input name="order_id" size="40"></label>
<button id="show-order" type="submit">Show</button></form>
<div id="order-state"></div>
<table id="order-history"><thead></thead><tbody></tbody></table>

<h2>Verification</h2>
<p id="verify-state">not loaded</p><button id="verify-now" type="button">Verify now</button>
<ul id="verify-issues"></ul>

<script>
"use strict";
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
function token() { return sessionStorage.getItem("auditToken") || ""; }
async function api(path, method) {
  const r = await fetch(path, {method: method || "GET",
    headers: {"Authorization": "Bearer " + token()}});
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    // RFC 9457 problem details: field-level problems in errors, else the detail.
    const e = body.errors;
    throw new Error(r.status + ": " + (Array.isArray(e)
      ? e.map((x) => x.loc.slice(-1)[0] + ": " + x.msg).join("; ") : body.detail));
  }
  return body;
}
function fail(e) { $("error").textContent = String(e.message || e); }
function table(el, rows, columns) {
  const head = el.tHead, body = el.tBodies[0];
  head.replaceChildren(); body.replaceChildren();
  const tr = head.insertRow();
  for (const c of columns) { const th = document.createElement("th"); th.textContent = c; tr.appendChild(th); }
  for (const row of rows) {
    const r = body.insertRow();
    for (const c of columns) {
      const td = r.insertCell(); const v = row[c];
      td.textContent = v === null || v === undefined ? "" : String(v);
      td.dataset.col = c;
      if (typeof v === "number" || /^-?[0-9]+[.][0-9]{2}$/.test(String(v))) td.className = "num";
    }
  }
}
function params(form, extra) {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (String(v).trim()) q.set(k, String(v).trim());
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return q;
}
function chart(rows) {
  const svg = $("chart"); svg.replaceChildren();
  const W = 720, H = 240, pad = 30;
  const max = Math.max(1, ...rows.map((r) => r.ordered_quantity));
  const bw = rows.length ? (W - 2 * pad) / rows.length : 0;
  rows.forEach((r, i) => {
    [["ordered_quantity", "#4a78b5", 0], ["delivered_quantity", "#e0892b", 0.45]].forEach(([k, color, off]) => {
      const h = (H - 2 * pad) * r[k] / max, rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", pad + i * bw + off * bw); rect.setAttribute("width", bw * 0.42);
      rect.setAttribute("y", H - pad - h); rect.setAttribute("height", h);
      rect.setAttribute("fill", color);
      const t = document.createElementNS(SVG, "title"); t.textContent = r.month + " " + k + ": " + r[k];
      rect.appendChild(t); svg.appendChild(rect);
    });
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", pad + i * bw); label.setAttribute("y", H - 8);
    label.setAttribute("font-size", "9"); label.textContent = r.month; svg.appendChild(label);
  });
}
async function loadTotals() {
  $("error").textContent = "";
  const form = $("totals-form");
  const data = await api("/v1/totals?" + params(form));
  const by = (new FormData(form).get("by") || "").split(",").map((s) => s.trim()).filter(Boolean);
  table($("totals-table"), data.items, by.concat(["ordered_quantity", "ordered_value_usd",
    "delivered_quantity", "paid_usd", "orders"]));
  const monthly = await api("/v1/totals?" + params(form, {by: "month"}));
  chart(monthly.items);
  $("totals-table").dataset.loaded = "1";
}
async function loadOrder() {
  $("error").textContent = "";
  const id = new FormData($("order-form")).get("order_id");
  const d = await api("/v1/orders/" + encodeURIComponent(id) + "?" +
    params($("totals-form"), {}).toString().split("&").filter((p) => /^(as_of|known_at)=/.test(p)).join("&"));
  const s = d.state || {};
  $("order-state").textContent = d.state ? (s.buyer + " ordered " + s.quantity + " x " +
    s.item_description + " from " + s.supplier + " for " + s.value_usd + " USD; delivered " +
    s.delivered_quantity + ", paid " + s.paid_usd + " USD; " + s.status) : "not placed at that time";
  table($("order-history"), d.history, ["occurred_at", "recorded_at", "event_type", "event_id",
    "topic", "partition", "offset", "order_status_after", "delivered_after", "paid_usd_after"]);
}
function showVerification(v) {
  const el = $("verify-state"), list = $("verify-issues"); list.replaceChildren();
  if (!v) { el.textContent = "no verification yet"; return; }
  el.textContent = (v.ok ? "OK" : "FAILED") + " at " + v.started_at + " (" +
    Object.entries(v.checked).map(([k, n]) => k + " " + n).join(", ") + ")";
  el.className = v.ok ? "ok" : "bad";
  for (const d of v.discrepancies) { const li = document.createElement("li"); li.textContent = d; list.appendChild(li); }
}
async function refresh() {
  if (!token()) { $("login-state").textContent = " no token"; return; }
  $("login-state").textContent = " token set";
  await loadTotals();
  showVerification((await api("/v1/verify")).last);
}
$("login-form").addEventListener("submit", (e) => {
  e.preventDefault(); sessionStorage.setItem("auditToken", $("token").value); $("token").value = "";
  refresh().catch(fail);
});
$("totals-form").addEventListener("submit", (e) => { e.preventDefault(); loadTotals().catch(fail); });
$("order-form").addEventListener("submit", (e) => { e.preventDefault(); loadOrder().catch(fail); });
$("verify-now").addEventListener("click", () => api("/v1/verify", "POST").then(showVerification).catch(fail));
refresh().catch(fail);
</script></body></html>
"""
