"""The auditor's web page (static assets shipped in the package) and the headers that harden it.

The page carries no data itself, so it is served without a token. The auditor types a token
from AUDITOR_TOKENS into the form; it is kept in sessionStorage (gone when the tab closes) and
sent as a bearer header. It is never taken from the URL, where logs and history would keep it.
Every value is inserted with textContent, never as HTML; charts arrive as SVG the server
escaped, parsed as XML (no script runs from it) and the Content-Security-Policy allows only
the page's own script files.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from fastapi import FastAPI, HTTPException, Request, Response

ASSETS = {
    "audit.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "render.js": "text/javascript; charset=utf-8",
    "views.js": "text/javascript; charset=utf-8",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# FastAPI's interactive docs load their script from a CDN, which the page's policy forbids;
# they keep every other header. The page and the API never need them.
_DOCS = ("/docs", "/redoc")


def _asset(name: str) -> bytes:
    return (resources.files("procledger.entrypoints.http") / "static" / name).read_bytes()


def install_page(app: FastAPI) -> None:
    """`/` and `/static/*` from the package, and the security headers on every response."""

    @app.get("/", include_in_schema=False)
    def page() -> Response:
        return Response(_asset("index.html"), media_type="text/html; charset=utf-8")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404, detail=f"no asset {name!r}")
        return Response(_asset(name), media_type=ASSETS[name])

    @app.middleware("http")
    async def harden(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for header, value in SECURITY_HEADERS.items():
            if header == "Content-Security-Policy" and request.url.path.startswith(_DOCS):
                continue
            response.headers.setdefault(header, value)
        if request.url.path.startswith("/v1/"):
            # Audit answers are confidential: no shared or browser cache keeps them.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
