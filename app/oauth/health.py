"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response

from app.oauth.errors import json_response
from app.services import idp

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready while the signing certificate loaded at start-up is still within its validity.

    A process that outlives its certificate stops being ready, so the orchestrator notices
    before validators that check `x5c` do.
    """
    services = idp()
    signing = services.keyring.signing
    now = dt.datetime.fromtimestamp(services.clock(), dt.UTC)
    body = {
        "kid": signing.kid,
        "alg": signing.algorithm,
        "not_after": f"{signing.not_after:%Y-%m-%dT%H:%M:%SZ}",
    }
    if now >= signing.not_after:
        return json_response({"status": "signing certificate expired", **body}, status=503)
    return json_response({"status": "ready", **body})
