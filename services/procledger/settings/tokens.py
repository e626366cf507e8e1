"""Bearer tokens per role for the HTTP services: INTAKE_TOKENS and AUDITOR_TOKENS."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from enum import StrEnum

from procledger.settings import Env, SettingsError


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
