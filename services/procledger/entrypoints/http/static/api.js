// The audit API client: the token from sessionStorage in a header, never in a URL.
"use strict";

const KEY = "auditToken";

/** The server refused the token (401): the page signs out and says so. */
export class TokenRejected extends Error {}

/** Any other refusal, with its HTTP status (404 is "not found", not a failure). */
export class ApiError extends Error {
  constructor(status, text) { super(text); this.status = status; }
}

export function token() { return sessionStorage.getItem(KEY) || ""; }
export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
}

/** A readable message from any error body: FastAPI's detail (text or list) or problem+json. */
function message(status, body) {
  // RFC 9457: field-level problems in errors (every field named), else the detail.
  const d = body && (Array.isArray(body.errors) ? body.errors : body.detail);
  let text = "";
  if (Array.isArray(d)) {
    text = d.map((e) => (e.loc ? e.loc.slice(-1)[0] + ": " : "") + (e.msg || e.detail || JSON.stringify(e))).join("; ");
  } else if (typeof d === "string") {
    text = d;
  } else if (body && body.title) {
    text = body.title;
  }
  return status + ": " + (text || "request failed");
}

async function request(path, method) {
  if (!token()) throw new TokenRejected("no token: sign in first");
  const r = await fetch(path, {method: method || "GET", cache: "no-store",
    headers: {"Authorization": "Bearer " + token()}});
  if (r.ok) return r;
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) throw new TokenRejected(message(r.status, body));
  throw new ApiError(r.status, message(r.status, body));
}

export async function getJson(path, method) { return (await request(path, method)).json(); }
export async function getText(path) { return (await request(path)).text(); }

/** A download: the bytes and the file name the server gave. */
export async function getFile(path, fallback) {
  const r = await request(path);
  const m = /filename="([^"]+)"/.exec(r.headers.get("Content-Disposition") || "");
  return {blob: await r.blob(), name: m ? m[1] : fallback};
}

/** Query parameters from a form's non-empty fields, the clocks named in `clocks`, and extras. */
export function params(form, clocks, extra) {
  const q = new URLSearchParams();
  if (form) {
    for (const [k, v] of new FormData(form)) {
      if (String(v).trim() && k !== "limit") q.set(k, String(v).trim());
    }
  }
  const c = new FormData(document.getElementById("clocks-form"));
  for (const k of clocks || []) if (String(c.get(k) || "").trim()) q.set(k, String(c.get(k)).trim());
  for (const [k, v] of Object.entries(extra || {})) q.set(k, String(v));
  return q;
}
