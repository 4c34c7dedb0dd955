"""The services `create_app` builds once and every request reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import current_app

from app.config import ClientConfig, Settings
from app.documents import Documents
from app.keys.keyring import Keyring


@dataclass(frozen=True)
class IdpServices:
    settings: Settings
    keyring: Keyring
    documents: Documents
    clients: Mapping[str, ClientConfig]
    clock: Callable[[], float]


def idp() -> IdpServices:
    """The running application's services (built in `create_app`, never per request)."""
    return current_app.extensions["tokenidp"]
