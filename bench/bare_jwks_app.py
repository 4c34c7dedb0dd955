"""The reference for JWKS speed: a bare Flask route returning the same bytes, nothing else."""

import os
from pathlib import Path

from flask import Flask

BODY = Path(os.environ["BARE_JWKS_BODY_FILE"]).read_bytes()
app = Flask(__name__)


@app.get("/.well-known/jwks.json")
def jwks() -> bytes:
    return BODY
