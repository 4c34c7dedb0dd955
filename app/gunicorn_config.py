"""gunicorn's settings as a module, usable from any working directory:

    gunicorn --config python:app.gunicorn_config wsgi:app

A bad TOKENIDP_BIND or TOKENIDP_WORKERS is one line and exit 2 before gunicorn starts.
"""

import os
import sys

from app.errors import ConfigError
from app.logs import refusal_line
from app.serving import gunicorn_settings

try:
    globals().update(gunicorn_settings(os.environ))
except ConfigError as error:
    print(refusal_line(str(error)), file=sys.stderr, flush=True)
    raise SystemExit(2) from None
