"""Bearer-token roles for the HTTP services: INTAKE_TOKENS and AUDITOR_TOKENS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from procledger.settings.tokens import Role, TokenSettings

__all__ = ["BEARER", "Role", "TokenSettings", "require_role"]

# auto_error=False: a missing token must be our 401 with WWW-Authenticate, not FastAPI's 403.
BEARER = HTTPBearer(
    scheme_name="bearer",
    description="A token from INTAKE_TOKENS (role intake) or AUDITOR_TOKENS (role auditor).",
    auto_error=False,
)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def require_role(tokens: TokenSettings, role: Role) -> Callable[..., Awaitable[Role]]:
    """A FastAPI dependency: 401 without a known bearer token, 403 for another role's token."""

    async def dependency(
        credentials: HTTPAuthorizationCredentials | None = Depends(BEARER),  # noqa: B008
    ) -> Role:
        if credentials is None:
            raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
        found = tokens.role_of(credentials.credentials)
        if found is None:
            raise _unauthorized("unknown bearer token")
        if found is not role:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this route needs role {role.value}; "
                f"{_article(found.value)} {found.value} token may not use it",
            )
        return found

    return dependency
