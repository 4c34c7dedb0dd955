"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, Response

from app.oauth.errors import json_response
from app.services import idp

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready once the signing key is loaded (the keyring is built before any request)."""
    signing = idp().keyring.signing
    return json_response({"status": "ready", "kid": signing.kid, "alg": signing.algorithm})
