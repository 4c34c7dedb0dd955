"""The OpenAPI description of the HTTP surface, served at `/openapi.json`.

`openapi.json` beside this module is the description; CI holds the running IdP to it with
schemathesis (tests/api/test_openapi_conformance.py): no 5xx, and every response matches.
The served copy names this instance's issuer as its server, rendered once per app.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Flask, Response

OPENAPI_PATH = "/openapi.json"
DESCRIPTION_FILE = Path(__file__).with_name("openapi.json")


def load_description() -> dict:
    return json.loads(DESCRIPTION_FILE.read_text())


def register(app: Flask, *, issuer: str) -> None:
    """Serve the description, with `issuer` as its server."""
    document = {**load_description(), "servers": [{"url": issuer}]}
    body = json.dumps(document, separators=(",", ":")).encode()
    blueprint = Blueprint("api_description", __name__)

    @blueprint.get(OPENAPI_PATH)
    def openapi() -> Response:
        return Response(
            body,
            mimetype="application/json",
            headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
        )

    app.register_blueprint(blueprint)
