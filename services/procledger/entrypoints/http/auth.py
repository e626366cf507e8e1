"""Bearer-token roles for the HTTP services: INTAKE_TOKENS and AUDITOR_TOKENS."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from procledger.settings import Env, SettingsError

__all__ = ["BEARER", "Role", "TokenSettings", "require_role"]

# auto_error=False: a missing token must be our 401 with WWW-Authenticate, not FastAPI's 403.
BEARER = HTTPBearer(
    scheme_name="bearer",
    description="A token from INTAKE_TOKENS (role intake) or AUDITOR_TOKENS (role auditor).",
    auto_error=False,
)


class Role(StrEnum):
    INTAKE = "intake"
    AUDITOR = "auditor"


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """INTAKE_TOKENS and AUDITOR_TOKENS: comma-separated bearer tokens per role."""

    intake: frozenset[str] = field(default=frozenset(), repr=False)
    auditor: frozenset[str] = field(default=frozenset(), repr=False)

    @classmethod
    def from_env(cls, env: Env) -> TokenSettings:
        settings = cls(intake=env.tokens("INTAKE_TOKENS"), auditor=env.tokens("AUDITOR_TOKENS"))
        if settings.intake & settings.auditor:
            raise SettingsError("INTAKE_TOKENS and AUDITOR_TOKENS must not share a token")
        return settings

    def tokens(self, role: Role) -> frozenset[str]:
        return self.intake if role is Role.INTAKE else self.auditor

    def role_of(self, token: str) -> Role | None:
        """The token's role, or None; every known token is compared, in constant time each."""
        found: Role | None = None
        presented = token.encode()
        for role in Role:
            for known in self.tokens(role):
                # No early exit, so timing does not tell which role or token came close.
                if hmac.compare_digest(presented, known.encode()):
                    found = role
        return found


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
