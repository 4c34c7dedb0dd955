"""The services `create_app` builds once and every request reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from app.clients import ClientRegistry
from app.config import Settings
from app.documents import Documents
from app.http.middleware import AccessLog
from app.keys.keyring import Keyring
from app.keys.live import KeyState, LiveKeys
from app.oauth.errors import TemporarilyUnavailableError
from app.ops.rate_limits import FailureLimits, LimitStorage
from app.storage import Storage
from app.tokens.issuer import AccessTokenIssuer


@dataclass(frozen=True)
class IdpServices:
    """`keys` changes while the IdP runs (app/keys/live.py): a handler reads `key_state()`
    once and uses that one state for the whole request."""

    settings: Settings
    keys: LiveKeys
    clients: ClientRegistry
    clock: Callable[[], float]
    access_log: AccessLog
    storage: Storage
    limit_storage: LimitStorage
    client_limits: FailureLimits  # failed client authentication (app/oauth/authentication_failures)
    login_limits: FailureLimits  # failed logins: the login page calls app/ops/logins.py

    def key_state(self) -> KeyState:
        """The current keys: read once per request, used for all of it."""
        return self.keys.state

    @property
    def keyring(self) -> Keyring:
        return self.key_state().keyring

    @property
    def documents(self) -> Documents:
        return self.key_state().documents

    @property
    def issuer(self) -> AccessTokenIssuer:
        """The current signing key's issuer, or 503: no key may sign (the reason is logged)."""
        issuer = self.key_state().issuer
        if issuer is None:
            raise TemporarilyUnavailableError("no signing key is available", retry_after_seconds=5)
        return issuer

    def describe_signing(self, now: dt.datetime) -> str:
        """What signs, for the ready line: environment, kid, algorithm, subject, expiry, source."""
        why_not = self.keys.why_not_signing()
        if why_not is not None:
            return f"environment={self.settings.environment} NOT SIGNING: {why_not}"
        signing = self.keyring.signing
        assert signing is not None
        return (
            f"environment={self.settings.environment} kid={signing.kid} "
            f"alg={signing.algorithm} subject={signing.subject} "
            f"expires={signing.not_after:%Y-%m-%dT%H:%M:%SZ} "
            f"({(signing.not_after - now).days} days left) source={signing.source} "
            f"published={len(self.keyring.keys)}"
        )


def idp() -> IdpServices:
    """The running application's services (built in `create_app`, never per request)."""
    return current_app.extensions["tokenidp"]
