// Formatting and drawing for the audit page: every value goes in as text, never as HTML.
"use strict";

const USD_COLUMNS = new Set(["ordered_value_usd", "paid_usd", "fx_difference_usd", "value_usd",
  "delivered_value_usd", "value_usd_after", "paid_usd_after", "amount_usd"]);
const LOCAL_MONEY = new Set(["value", "paid", "amount", "unit_price"]);
const COUNTS = new Set(["ordered_quantity", "delivered_quantity", "quantity", "target_quantity",
  "gap", "orders", "quantity_after", "delivered_after"]);
const LABELS = {
  caliber_mm: "Calibre (mm)", ordered_quantity: "Ordered qty", ordered_value_usd: "Ordered value",
  delivered_quantity: "Delivered qty", paid_usd: "Paid (payment rates)",
  fx_difference_usd: "FX difference", orders: "Orders", target_quantity: "Target",
  order_status_after: "Status after", value_usd_after: "Value after",
  paid_usd_after: "Paid after", delivered_after: "Delivered after", quantity_after: "Qty after",
  reason_code: "Reason", recorded_at: "Recorded at (record time)",
  occurred_at: "Occurred at (business time)", placed_at: "Placed at (business time)",
};

export function label(column) {
  return LABELS[column] || column.charAt(0).toUpperCase() + column.slice(1).replace(/_/g, " ");
}

/** Thousands separators on an exact decimal string: "-1234567.5" -> "-1,234,567.5". */
export function grouped(text) {
  const m = /^(-?)([0-9]+)([.][0-9]+)?$/.exec(String(text));
  if (!m) return String(text);
  return m[1] + m[2].replace(/\B(?=([0-9]{3})+(?![0-9]))/g, ",") + (m[3] || "");
}

/** How a cell reads: money with its currency, counts grouped, no calibre as "none". */
export function display(column, value, row) {
  if (value === null || value === undefined) return column === "caliber_mm" ? "none" : "";
  if (typeof value === "object") return JSON.stringify(value);
  if (USD_COLUMNS.has(column)) return "USD " + grouped(value);
  if (LOCAL_MONEY.has(column) && row && row.currency) return row.currency + " " + grouped(value);
  if (COUNTS.has(column)) return grouped(value);
  return String(value);
}

function numeric(column) {
  return USD_COLUMNS.has(column) || LOCAL_MONEY.has(column) || COUNTS.has(column)
    || ["partition", "offset", "id", "caliber_mm"].includes(column);
}

/** Fill a table's head and body; each cell keeps its raw value in data-value. */
export function table(el, rows, columns) {
  const head = el.tHead, body = el.tBodies[0];
  head.replaceChildren(); body.replaceChildren();
  if (el.tFoot) el.tFoot.replaceChildren();
  const tr = head.insertRow();
  for (const c of columns) {
    const th = document.createElement("th");
    th.scope = "col"; th.textContent = label(c); th.dataset.col = c;
    if (numeric(c)) th.className = "num";
    tr.appendChild(th);
  }
  for (const row of rows) {
    const r = body.insertRow();
    for (const c of columns) {
      const td = r.insertCell(), v = row[c];
      td.textContent = display(c, v, row);
      td.dataset.col = c;
      td.dataset.value = v === null || v === undefined ? "" : String(v);
      if (numeric(c)) td.className = "num";
    }
  }
}

/** Exact sum of decimal strings with two places (or integers), by BigInt cents. */
export function sumExact(values, places) {
  const scale = 10n ** BigInt(places);
  let total = 0n;
  for (const v of values) {
    const m = /^(-?)([0-9]+)(?:[.]([0-9]+))?$/.exec(String(v));
    if (!m) continue;
    const frac = (m[3] || "").padEnd(places, "0").slice(0, places);
    const units = BigInt(m[2]) * scale + BigInt(frac || "0");
    total += m[1] ? -units : units;
  }
  const sign = total < 0n ? "-" : "", abs = total < 0n ? -total : total;
  if (!places) return sign + abs.toString();
  return sign + (abs / scale).toString() + "." + (abs % scale).toString().padStart(places, "0");
}

/** A "Grand total" footer row summing every money and count column. */
export function grandTotal(el, rows, columns) {
  const foot = el.tFoot; foot.replaceChildren();
  const tr = foot.insertRow();
  let labelled = false;
  for (const c of columns) {
    const td = tr.insertCell(); td.dataset.col = c;
    if (USD_COLUMNS.has(c) || COUNTS.has(c)) {
      const sum = sumExact(rows.map((r) => r[c]), USD_COLUMNS.has(c) ? 2 : 0);
      td.textContent = display(c, sum); td.dataset.value = sum; td.className = "num";
    } else if (!labelled) {
      td.textContent = "Grand total"; labelled = true;
    }
  }
  if (!labelled) tr.cells[0].textContent = "Grand total: " + tr.cells[0].textContent;
}

/** A definition list of a record's fields. */
export function fields(el, record) {
  el.replaceChildren();
  for (const [k, v] of Object.entries(record || {})) {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = label(k); dd.textContent = display(k, v, record); dd.dataset.col = k;
    el.append(dt, dd);
  }
}

/** Put server-rendered SVG in place, parsed as XML: markup in it cannot run. */
export function drawSvg(el, text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  if (doc.getElementsByTagName("parsererror").length) throw new Error("the chart could not be read");
  el.replaceChildren(document.importNode(doc.documentElement, true));
  el.dataset.drawn = String(el.querySelectorAll("[data-value]").length);
}

/** Offer bytes as a file download (no navigation, nothing in the URL bar). */
export function download(blob, name) {
  const url = URL.createObjectURL(blob), a = document.createElement("a");
  a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** One status line per view: loading, empty, error, or a summary. */
export function status(view, text, kind) {
  const el = document.getElementById(view + "-status");
  el.textContent = text; el.className = "status" + (kind ? " " + kind : "");
  el.dataset.state = kind || "done";
}
