"""The server entry point: `gunicorn wsgi:app` (installed, so any working directory finds it).

`app` speaks ASGI (gunicorn's asgi worker, TokenIDP's configuration) and WSGI (any other
host), over the same handlers.

A configuration error prints one line and exits 2; with `preload_app` this happens in
gunicorn's master, so the server stops instead of restarting workers in a loop. A gunicorn
started without TokenIDP's settings (no `gunicorn.conf.py` where it was started) would
lose `preload_app` silently, so it is refused the same way.
"""

import sys

from app import create_app
from app.errors import ConfigError
from app.http.application import serve
from app.logs import refusal_line
from app.serving import settings_loaded

# gunicorn's exit status for a worker that cannot boot: the master stops instead of looping.
WORKER_BOOT_ERROR = 3


def _refuse(line: str, status: int) -> None:
    print(refusal_line(line), file=sys.stderr, flush=True)
    raise SystemExit(status)


if "gunicorn.arbiter" in sys.modules and not settings_loaded():
    _refuse(
        "gunicorn: started without TokenIDP's settings (no gunicorn.conf.py in the working "
        "directory): run `tokenidp serve`, or "
        "`gunicorn --config python:app.gunicorn_config wsgi:app`",
        WORKER_BOOT_ERROR,
    )

try:
    app = serve(create_app())
except ConfigError as error:
    _refuse(str(error), 2)
