// The audit page's entry: sign in and out, tabs with arrow keys, forms wired to their views.
"use strict";

import {TokenRejected, getJson, setToken, token} from "./api.js";
import {status} from "./render.js";
import * as views from "./views.js";

const $ = (id) => document.getElementById(id);
const LOADERS = {totals: views.totals, orders: views.orders, order: views.order,
  stockpile: views.stockpile, trace: views.trace, rejections: views.rejections,
  verify: views.verifyLast, export: async () => status("export", "")};
const loaded = new Set();
let current = "totals";

function signedOut(text, bad) {
  setToken("");
  const el = $("login-state");
  el.textContent = text; el.className = bad ? "bad" : "";
  loaded.clear();
}

function fail(e) {
  if (e instanceof TokenRejected) {
    signedOut("Token rejected (" + e.message + "): not signed in", true);
    $("error").textContent = "";
    for (const s of document.querySelectorAll(".status.loading")) { s.textContent = ""; s.className = "status"; }
    return;
  }
  $("error").textContent = String(e.message || e);
  const s = document.getElementById(current + "-status");
  if (s) { s.textContent = "Error: " + String(e.message || e); s.className = "status bad"; s.dataset.state = "error"; }
}
window.auditFail = fail;

function run(view, loader) {
  $("error").textContent = "";
  return (loader || LOADERS[view])().then(() => loaded.add(view)).catch(fail);
}

function select(view, focus) {
  current = view;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const on = tab.dataset.view === view;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $("view-" + tab.dataset.view).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (token() && !loaded.has(view)) run(view);
}

async function signIn() {
  $("login-state").textContent = "checking token…"; $("login-state").className = "";
  await getJson("/v1/verify");  // any /v1 call: a wrong token is refused here, before any view
  $("login-state").textContent = "Signed in: token accepted"; $("login-state").className = "ok";
  loaded.clear();
  await run(current);
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setToken($("token").value); $("token").value = "";
  signIn().catch(fail);
});
$("logout").addEventListener("click", () => signedOut("Signed out", false));

const tabs = [...document.querySelectorAll("[role=tab]")];
for (const tab of tabs) {
  tab.addEventListener("click", () => select(tab.dataset.view, false));
  tab.addEventListener("keydown", (e) => {
    const i = tabs.indexOf(tab);
    const to = {ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1}[e.key];
    if (to === undefined) return;
    e.preventDefault();
    select(tabs[(to + tabs.length) % tabs.length].dataset.view, true);
  });
}
for (const view of Object.keys(LOADERS)) {
  const form = $(view + "-form");
  if (!form) continue;
  const loader = view === "verify" ? views.verifyNow : view === "export" ? views.exportBundle : LOADERS[view];
  form.addEventListener("submit", (e) => { e.preventDefault(); views.resetPage(view); run(view, loader); });
}
$("clocks-form").addEventListener("submit", (e) => { e.preventDefault(); loaded.clear(); run(current); });
$("clocks-form").addEventListener("change", () => { loaded.clear(); });
for (const b of document.querySelectorAll("button.csv")) {
  b.addEventListener("click", () => views.csv(b.dataset.view).catch(fail));
}
select("totals", false);
if (token()) signIn().catch(fail);
