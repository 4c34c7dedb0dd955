"""One log format for the IdP and gunicorn: ISO 8601 time with zone, pid, level, logger.

Nothing logged ever holds a secret or a token: the access log records the path without
its query, and values a client presents are quoted and cut (`presented`).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

from gunicorn import glogging

LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
MAX_PRESENTED = 64


_second_cache: tuple[int, str, str] = (-1, "", "")


def iso_timestamp(moment: float) -> str:
    """`2026-11-26T13:27:39.364+00:00`: unambiguous across hosts and time zones.

    The date, time and zone are formatted once a second; the access log calls this for
    every request.
    """
    global _second_cache
    second = int(moment)
    cached_second, prefix, zone = _second_cache
    if second != cached_second:
        local = dt.datetime.fromtimestamp(second).astimezone()
        prefix = local.strftime("%Y-%m-%dT%H:%M:%S")
        offset = local.strftime("%z")
        zone = f"{offset[:3]}:{offset[3:]}"
        _second_cache = (second, prefix, zone)
    return f"{prefix}.{int((moment - second) * 1000):03d}{zone}"


class IsoTimeFormatter(logging.Formatter):
    """Log records with `iso_timestamp` times."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return iso_timestamp(record.created)


def configure_logging() -> None:
    """One stderr handler for the `tokenidp` logger, unless the host configured one."""
    log = logging.getLogger("tokenidp")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(IsoTimeFormatter(LOG_FORMAT))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


class GunicornLogger(glogging.Logger):
    """gunicorn's own messages in TokenIDP's format, on stderr.

    gunicorn's access log is off: TokenIDP writes its own (app.http.middleware), cheaper
    per request and the same for the ASGI and WSGI adapters.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(IsoTimeFormatter(LOG_FORMAT.replace("%(name)s", "gunicorn")))
        self._access_log_enabled = False

    def access(self, *args: Any, **kwargs: Any) -> None:
        """No gunicorn access log (see the class docstring)."""


def presented(value: str | None) -> str:
    """A value a client sent, safe to log: quoted (no forged lines) and cut."""
    if value is None:
        return "-"
    cut = value if len(value) <= MAX_PRESENTED else f"{value[:MAX_PRESENTED]}…"
    return ascii(cut)


def loggable(text: str) -> str:
    """Text from a request line, as is when it is printable ASCII, else escaped."""
    return text if text.isascii() and text.isprintable() else ascii(text)
