"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response

from app.oauth.errors import flask_json_response
from app.services import idp
from app.storage import Storage, StorageUnavailableError
from app.storage.migrate import migration_status

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return flask_json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready while a key may sign, the signing certificate is within its validity and the
    database answers at this version's revision: without it no token can be recorded, so
    none is issued. A revoked signing key with no eligible successor is not ready.

    A process that outlives its certificate stops being ready, so the orchestrator notices
    before validators that check `x5c` do. Every database wait is bounded (connect 3 s).
    """
    services = idp()
    why_not = services.keys.why_not_signing()
    signing = services.keys.keyring.signing
    if why_not is not None or signing is None:
        return flask_json_response({"status": f"not signing: {why_not}"}, status=503)
    now = dt.datetime.fromtimestamp(services.clock(), dt.UTC)
    body = {
        "kid": signing.kid,
        "alg": signing.algorithm,
        "not_after": f"{signing.not_after:%Y-%m-%dT%H:%M:%SZ}",
    }
    if now >= signing.not_after:
        return flask_json_response({"status": "signing certificate expired", **body}, status=503)
    database = database_problem(services.storage)
    if database is not None:
        return flask_json_response({"status": database, **body}, status=503)
    return flask_json_response({"status": "ready", "database": "ok", **body})


def database_problem(storage: Storage) -> str | None:
    """Why the database cannot serve this version now, or None."""
    try:
        status = migration_status(storage.engine)
    except StorageUnavailableError as error:
        return f"database unavailable: {error}"
    if not status.is_current:
        return (
            f"database at revision {status.current or 'none'}, this version needs {status.head}:"
            " run `tokenidp db upgrade`"
        )
    return None
