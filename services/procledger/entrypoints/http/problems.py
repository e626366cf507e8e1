"""RFC 9457 problem details (application/problem+json) for every error of the HTTP services."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["MEDIA_TYPE", "ErrorItem", "Problem", "install_problems", "problem"]

log = logging.getLogger("procledger.http")

MEDIA_TYPE = "application/problem+json"
# A request that broke field rules; every other problem is plain HTTP (type about:blank).
INVALID_REQUEST = "urn:procledger:problem:invalid-request"


class ErrorItem(BaseModel):
    """One field-level problem: where (body/query/path, batch index, field), what, a code."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details; `errors` lists field-level problems of a 422."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ErrorItem] | None = None


def problem(
    request: Request,
    status: int,
    detail: str,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The problem response for `request`; with `errors` it is an invalid-request problem."""
    body: dict[str, Any] = {
        "type": INVALID_REQUEST if errors else "about:blank",
        "title": "Invalid request" if errors else HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = [
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "value_error")),
            }
            for e in errors
        ]
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def summary(errors: Sequence[dict[str, Any]]) -> str:
    """A one-line detail for field errors: how many, and the first one."""
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    more = f" (and {len(errors) - 1} more, see errors)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', '')}{more}"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.detail, list):
        return problem(request, exc.status_code, summary(exc.detail), exc.detail, exc.headers)
    return problem(request, exc.status_code, str(exc.detail), headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [dict(e) for e in exc.errors()]
    return problem(request, 422, summary(errors), errors)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log (uvicorn's error logger), never to the client.
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return problem(request, 500, "internal error; it was logged")


def install_problems(app: FastAPI) -> None:
    """Every error response as problem+json (HTTP errors, request validation, unhandled
    exceptions), and documented so in the OpenAPI schema."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if code[:1] in "45" and "application/json" in content:
                        # Error bodies are problem details, not plain JSON.
                        content[MEDIA_TYPE] = {"schema": {"$ref": "#/components/schemas/Problem"}}
                        del content["application/json"]
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, ErrorItem):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            model_schema.pop("$defs", None)
            schemas.setdefault(model.__name__, model_schema)
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
