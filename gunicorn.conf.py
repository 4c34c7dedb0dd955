"""gunicorn reads this file from the working directory; the settings live in app.gunicorn_config.

From another folder (a systemd WorkingDirectory holding appsettings.json), run
`tokenidp serve` or `gunicorn --config python:app.gunicorn_config wsgi:app`.
"""

from app.gunicorn_config import *  # noqa: F403
