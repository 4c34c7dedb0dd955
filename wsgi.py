"""The WSGI entry point: `gunicorn wsgi:app`.

A configuration error prints one line and exits 2; with `preload_app` this happens in
gunicorn's master, so the server stops instead of restarting workers in a loop.
"""

import sys

from app import create_app
from app.errors import ConfigError

try:
    app = create_app()
except ConfigError as error:
    print(f"tokenidp: refusing to start: {error}", file=sys.stderr)
    raise SystemExit(2) from None
