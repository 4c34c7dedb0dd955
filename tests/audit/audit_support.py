"""Planting audit events as the IdP writes them, and running `tokenidp audit` against them."""

from __future__ import annotations

import datetime as dt
import json

from idp_support import invoke_tokenidp

from app.audit.events import (
    ADMIN_PREFIX,
    CLIENT_AUTHENTICATION_FAILED,
    KEY_ACTIVATED,
    TOKEN_ISSUED,
    AuditEvent,
    record_all,
)

# Signing keys are certificate thumbprints: 40 upper-case hex digits.
KID_2025 = "3A9F0C1D2E3F405162738495A6B7C8D9E0F1A2B3"
KID_2026 = "77C1B2A3948576A6B5C4D3E2F1A0B9C8D7E6F5A4"
KID_UNKNOWN = "E0D2C4B6A8F0E2D4C6B8A0F2E4D6C8B0A2F4E6D8"


def at(moment: str) -> int:
    """Seconds since the epoch for an ISO time in UTC: `at("2026-03-02T10:05")`."""
    return int(dt.datetime.fromisoformat(moment).replace(tzinfo=dt.UTC).timestamp())


def issued(
    start: int,
    *,
    client: str,
    kid: str,
    count: int = 1,
    every: int = 60,
    address: str = "10.0.0.5",
    jti: str = "jti",
) -> list[AuditEvent]:
    """`count` tokens for `client` under `kid`, one every `every` seconds from `start`."""
    return [
        AuditEvent(
            TOKEN_ISSUED,
            start + index * every,
            client_id=client,
            subject=client,
            kid=kid,
            jti=f"{jti}-{index}",
            grant_type="client_credentials",
            scopes=("orders.read",),
            address=address,
        )
        for index in range(count)
    ]


def failed(
    start: int, *, client: str | None, address: str, count: int = 1, every: int = 5
) -> list[AuditEvent]:
    """`count` failed client authentications presenting `client` from `address`."""
    return [
        AuditEvent(
            CLIENT_AUTHENTICATION_FAILED,
            start + index * every,
            client_id=client,
            address=address,
            reason="client authentication failed",
        )
        for index in range(count)
    ]


def activated(moment: int, kid: str, *, previous: str | None = None) -> AuditEvent:
    """`key.activated`, as start-up and a signing-key change record it."""
    detail = {"previous_kid": previous} if previous else {}
    return AuditEvent(KEY_ACTIVATED, moment, kid=kid, detail=detail)


def admin(moment: int, action: str, *, actor: str, reason: str | None, **fields) -> AuditEvent:
    return AuditEvent(f"{ADMIN_PREFIX}{action}", moment, actor=actor, reason=reason, **fields)


def plant(storage, *groups) -> None:
    """Write events in one transaction, through the same code the IdP records them with."""
    events = [
        event for group in groups for event in (group if isinstance(group, list) else [group])
    ]
    with storage.transaction() as work:
        record_all(work, events)


class AuditCommand:
    """`tokenidp audit …` in this process, on the test's database, as Production runs it."""

    def __init__(self, database_url: str, config_dir) -> None:
        self.environ = {
            "TOKENIDP_ENVIRONMENT": "Production",
            "TOKENIDP_CONFIG_DIR": str(config_dir),
            "TOKENIDP_DATABASE_URL": database_url,
            "TokenOptions__Issuer": "https://id.example.test",
        }

    def __call__(self, *args: str, revoked: tuple[str, ...] = (), stdin: str | None = None):
        environ = dict(self.environ)
        for index, thumbprint in enumerate(revoked):
            environ[f"TokenOptions__RevokedCertificateThumbprints__{index}"] = thumbprint
        return invoke_tokenidp("audit", *args, environ=environ, stdin=stdin)

    def json(self, *args: str, revoked: tuple[str, ...] = ()):
        result = self(*args, "--json", revoked=revoked)
        assert result.exit_code in (0, 1), result.output
        return result.exit_code, json.loads(result.stdout)
