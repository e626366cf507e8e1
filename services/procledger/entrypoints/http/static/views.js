// One loader per view: query the API, fill the table, draw the charts, set the status line.
"use strict";

import {ApiError, getFile, getJson, getText, params} from "./api.js";
import {download, drawSvg, fields, grandTotal, grouped, status, table} from "./render.js";

const $ = (id) => document.getElementById(id);
const BOTH = ["as_of", "known_at"];
const TOTALS = ["ordered_quantity", "ordered_value_usd", "delivered_quantity", "paid_usd",
  "fx_difference_usd", "orders"];
const ORDER_LIST = ["order_id", "buyer", "supplier", "item_description", "caliber_mm", "purpose",
  "quantity", "currency", "value", "value_usd", "delivered_quantity", "paid_usd", "status",
  "placed_at", "destination"];
const HISTORY = ["event_id", "event_type", "occurred_at", "recorded_at", "topic", "partition",
  "offset", "order_status_after", "quantity_after", "value_usd_after", "delivered_after",
  "paid_usd_after"];
const REJECTIONS = ["id", "recorded_at", "reason_code", "event_type", "event_id", "order_id",
  "topic", "partition", "offset", "error"];
const STOCKPILE = ["country", "caliber_mm", "target_quantity", "authority", "set_at",
  "ordered_quantity", "delivered_quantity", "gap"];

/** What each view last showed, so "Download CSV" fetches exactly that as CSV. */
const shown = {};
const pages = {orders: 0, rejections: 0};

/** Each view's latest request: an answer to an older one (a tab's first load still in flight
 * when the form is submitted) must not overwrite the newer answer and its status. */
const asked = {};
function ask(view) { asked[view] = (asked[view] || 0) + 1; return asked[view]; }
function stale(view, n) { return asked[view] !== n; }

function limitOf(view) { return Number(new FormData($(view + "-form")).get("limit")) || 50; }

async function chart(name, q) {
  const el = $("chart-" + name);
  el.dataset.drawn = "";
  drawSvg(el, await getText("/v1/charts/" + name + "?" + q));
}

/** A 404 for a looked-up id is an empty answer: say so and clear what was shown. */
async function found(view, cleared, load) {
  try {
    return await load();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
    for (const id of cleared) {
      const el = $(id);
      if (el.tagName === "TABLE") table(el, [], []); else el.replaceChildren();
    }
    status(view, e.message.replace(/^404: /, "Not found: ") + " (at these clocks).", "empty");
    return null;
  }
}

function counted(view, n, what) {
  status(view, n ? grouped(String(n)) + " " + what : "No " + what + " match these filters.",
    n ? "" : "empty");
}

export async function totals() {
  const n = ask("totals");
  status("totals", "Loading…", "loading");
  const form = $("totals-form"), q = params(form, BOTH);
  const by = (q.get("by") || "").split(",").map((s) => s.trim()).filter(Boolean);
  const data = await getJson("/v1/totals?" + q);
  if (stale("totals", n)) return;
  const columns = by.concat(TOTALS), el = $("totals-table");
  table(el, data.items, columns);
  grandTotal(el, data.items, columns);
  shown.totals = {path: "/v1/totals", q, name: "totals.csv"};
  const noCalibre = params(form, BOTH); noCalibre.delete("caliber_mm"); noCalibre.delete("by");
  const byBuyer = params(form, BOTH); byBuyer.delete("by");
  await Promise.all([chart("cumulative-155mm", noCalibre), chart("buyers", byBuyer)]);
  if (stale("totals", n)) return;
  counted("totals", data.items.length, "rows");
  el.dataset.loaded = "1";
}

function pager(view, total, load) {
  const box = $(view + "-pager"), limit = limitOf(view), offset = pages[view];
  const last = Math.min(offset + limit, total);
  box.querySelector(".range").textContent = total
    ? "Rows " + grouped(String(offset + 1)) + "–" + grouped(String(last)) + " of " + grouped(String(total)) : "";
  const prev = box.querySelector(".prev"), next = box.querySelector(".next");
  prev.disabled = offset === 0; next.disabled = last >= total;
  prev.onclick = () => { pages[view] = Math.max(0, offset - limit); load().catch(window.auditFail); };
  next.onclick = () => { pages[view] = offset + limit; load().catch(window.auditFail); };
}

export async function orders() {
  const n = ask("orders");
  status("orders", "Loading…", "loading");
  const q = params($("orders-form"), BOTH, {limit: limitOf("orders"), offset: pages.orders});
  const data = await getJson("/v1/orders?" + q);
  if (stale("orders", n)) return;
  table($("orders-table"), data.items, ORDER_LIST);
  shown.orders = {path: "/v1/orders", q, name: "orders.csv"};
  pager("orders", data.total, orders);
  counted("orders", data.total, "orders");
}

export async function order() {
  const n = ask("order");
  status("order", "Loading…", "loading");
  const id = String(new FormData($("order-form")).get("order_id") || "").trim();
  if (!id) { status("order", "Type an order id.", "empty"); return; }
  const path = "/v1/orders/" + encodeURIComponent(id), q = params(null, BOTH);
  const d = await found("order", ["order-state", "order-history", "order-rejections"],
    () => getJson(path + "?" + q));
  if (!d || stale("order", n)) return;
  fields($("order-state"), d.state || {order_id: id, state: "not placed at that time"});
  table($("order-history"), d.history, HISTORY);
  table($("order-rejections"), d.rejections, REJECTIONS);
  shown.order = {path, q, name: "order-" + id + ".csv"};
  status("order", grouped(String(d.history.length)) + " history steps, " +
    grouped(String(d.rejections.length)) + " rejected records");
}

export async function stockpile() {
  const n = ask("stockpile");
  status("stockpile", "Loading…", "loading");
  const q = params($("stockpile-form"), BOTH);
  const data = await getJson("/v1/stockpile?" + q);
  if (stale("stockpile", n)) return;
  table($("stockpile-table"), data.items, STOCKPILE);
  shown.stockpile = {path: "/v1/stockpile", q, name: "stockpile.csv"};
  await chart("stockpile", q);
  if (stale("stockpile", n)) return;
  counted("stockpile", data.items.length, "targets");
}

export async function trace() {
  const n = ask("trace");
  status("trace", "Loading…", "loading");
  const id = String(new FormData($("trace-form")).get("event_id") || "").trim();
  if (!id) { status("trace", "Type an event id.", "empty"); return; }
  const path = "/v1/events/" + encodeURIComponent(id) + "/trace";
  const d = await found("trace", ["trace-entry", "trace-postings", "trace-before", "trace-after"],
    () => getJson(path));
  if (!d || stale("trace", n)) return;
  fields($("trace-entry"), d.entry || {event_id: id, applied: false});
  table($("trace-postings"), d.postings || [], ["account", "side", "amount", "currency", "amount_usd"]);
  fields($("trace-before"), d.before || {order: "none before this entry"});
  fields($("trace-after"), d.after || {order: "none"});
  shown.trace = {path, q: new URLSearchParams(), name: "trace-" + id + ".csv"};
  status("trace", d.applied ? "Applied: " + d.entry.topic + "[" + d.entry.partition + "]@" +
    d.entry.offset : "Not applied: rejected " + d.rejections.length + " time(s)");
}

export async function rejections() {
  const n = ask("rejections");
  status("rejections", "Loading…", "loading");
  const form = $("rejections-form");
  const q = params(form, ["known_at"], {limit: limitOf("rejections"), offset: pages.rejections});
  const data = await getJson("/v1/rejections?" + q);
  if (stale("rejections", n)) return;
  table($("rejections-table"), data.items, REJECTIONS);
  shown.rejections = {path: "/v1/rejections", q, name: "rejections.csv"};
  pager("rejections", data.total, rejections);
  const c = params(form, ["known_at"]); c.delete("topic");
  await chart("rejections", c);
  if (stale("rejections", n)) return;
  counted("rejections", data.total, "rejected records");
}

function showVerification(v) {
  const el = $("verify-state"), list = $("verify-issues"); list.replaceChildren();
  if (!v) { el.textContent = "No verification has run yet: press Verify now."; el.className = ""; return; }
  el.textContent = (v.ok ? "OK" : "FAILED") + " at " + v.started_at + " (" +
    Object.entries(v.checked).map(([k, n]) => k.replace(/_/g, " ") + " " + grouped(String(n))).join(", ") + ")";
  el.className = v.ok ? "ok" : "bad";
  for (const d of v.discrepancies) { const li = document.createElement("li"); li.textContent = d; list.appendChild(li); }
}

export async function verifyLast() {
  showVerification((await getJson("/v1/verify")).last);
  status("verify", "");
}

export async function verifyNow() {
  status("verify", "Verifying the whole ledger…", "loading");
  const kafka = new FormData($("verify-form")).get("against_kafka") ? "true" : "false";
  showVerification(await getJson("/v1/verify?against_kafka=" + kafka, "POST"));
  status("verify", "Verification finished.");
}

export async function exportBundle() {
  status("export", "Building the bundle…", "loading");
  const file = await getFile("/v1/export?" + params($("export-form"), BOTH), "evidence-bundle.zip");
  download(file.blob, file.name);
  status("export", "Downloaded " + file.name + " (" + grouped(String(file.blob.size)) + " bytes).");
}

/** The rows the view shows, as the API's CSV of the same query (same page, same clocks). */
export async function csv(view) {
  const s = shown[view];
  if (!s) { status(view, "Nothing shown yet: run the query first.", "empty"); return; }
  const q = new URLSearchParams(s.q); q.set("format", "csv");
  const file = await getFile(s.path + "?" + q, s.name);
  download(file.blob, s.name);
}

export function resetPage(view) { if (view in pages) pages[view] = 0; }
