"""gunicorn reads this file from the working directory; the settings live in app.serving."""

import os

from app.serving import gunicorn_settings

globals().update(gunicorn_settings(os.environ))
