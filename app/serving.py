"""How gunicorn runs the IdP, shared by `gunicorn.conf.py` and `tokenidp serve`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def gunicorn_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Bind and workers from TOKENIDP_BIND (or PORT) and TOKENIDP_WORKERS; the app preloaded.

    `preload_app` resolves the signing key once in the master: a configuration error
    stops the server at once instead of crash-looping workers, and keys are parsed once.
    """
    return {
        "bind": environ.get("TOKENIDP_BIND") or f"127.0.0.1:{environ.get('PORT', '5000')}",
        "workers": int(environ.get("TOKENIDP_WORKERS") or os.cpu_count() or 1),
        "worker_class": "sync",
        "preload_app": True,
        "timeout": 30,
        "graceful_timeout": 10,
    }
