"""One log format for the IdP and gunicorn: ISO 8601 time with zone, pid, level, logger.

With `TOKENIDP_LOG_FORMAT=json`, the same records as one JSON object a line (`time`,
`level`, `logger`, `pid`, `message`, and `exception` when there is one), for the app, the
access log (app/http/middleware.py) and gunicorn's own messages alike.

Nothing logged ever holds a secret or a token: the access log records the path without
its query, and values a client presents are quoted and cut (`presented`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from gunicorn import glogging

from app.errors import ConfigError

LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
LOG_FORMAT_VARIABLE = "TOKENIDP_LOG_FORMAT"
LOG_FORMATS = ("text", "json")
MAX_PRESENTED = 64


def log_format(environ: Mapping[str, str] | None = None) -> str:
    """`TOKENIDP_LOG_FORMAT`: `text` (the default) or `json`; anything else is refused."""
    raw = (os.environ if environ is None else environ).get(LOG_FORMAT_VARIABLE) or "text"
    value = raw.strip().lower()
    if value not in LOG_FORMATS:
        shown = raw if len(raw) <= 40 else f"{raw[:39]}…"
        raise ConfigError(LOG_FORMAT_VARIABLE, f"{shown!r} is not one of {', '.join(LOG_FORMATS)}")
    return value


def refusal_line(reason: str) -> str:
    """The one line a refused start prints on stderr before logging is set up: plain text,
    or with `TOKENIDP_LOG_FORMAT=json` a JSON object like every other line."""
    try:
        as_json = log_format() == "json"
    except ConfigError:
        as_json = False  # the format setting itself is what is refused: plain text
    if not as_json:
        return f"tokenidp: refusing to start: {reason}"
    return json_line(
        {
            "time": iso_timestamp(time.time()),
            "level": "ERROR",
            "logger": "tokenidp",
            "pid": os.getpid(),
            "message": f"refusing to start: {reason}",
        }
    )


def json_line(fields: Mapping[str, Any]) -> str:
    """One JSON object on one line: control characters escaped, so no forged lines."""
    return json.dumps(fields, separators=(",", ":"), default=str)


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


class JsonFormatter(logging.Formatter):
    """A record as one JSON object a line; `logger` overrides the record's name (gunicorn's
    records are named `gunicorn.error`, shown as `gunicorn` as in the text format)."""

    def __init__(self, *, logger: str | None = None) -> None:
        super().__init__()
        self.logger = logger

    def format(self, record: logging.LogRecord) -> str:
        fields = {
            "time": iso_timestamp(record.created),
            "level": record.levelname,
            "logger": self.logger or record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            fields["exception"] = record.exc_text
        return json_line(fields)


def formatter(*, logger: str | None = None) -> logging.Formatter:
    """The formatter `TOKENIDP_LOG_FORMAT` asks for."""
    if log_format() == "json":
        return JsonFormatter(logger=logger)
    return IsoTimeFormatter(LOG_FORMAT.replace("%(name)s", logger) if logger else LOG_FORMAT)


def configure_logging() -> None:
    """One stderr handler for the `tokenidp` logger, unless the host configured one."""
    log = logging.getLogger("tokenidp")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter())
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
            handler.setFormatter(formatter(logger="gunicorn"))
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
