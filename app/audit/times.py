"""Times as operators type them (`24h`, `2026-03-01T12:00Z`) and as the audit log keeps them.

The log stores whole seconds since the epoch; people read UTC. A duration means that long
before `now`; a date or time without an offset is UTC, so a report reads the same on
every host whatever its time zone.
"""

from __future__ import annotations

import datetime as dt
import re

from app.errors import TokenIdpError

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d{1,9})\s*([smhdw])", re.IGNORECASE)
DURATIONS = "a duration (30m, 24h, 7d)"
ISO_TIMES = "an ISO date or time (2026-03-01, 2026-03-01T12:00Z)"
EXAMPLES = f"{DURATIONS} or {ISO_TIMES}"


class TimeSpecError(TokenIdpError):
    """A time on the command line that is neither a duration nor an ISO date or time."""


def parse_duration(text: str) -> int | None:
    """Seconds in `30m`, `24h`, `7d`, `2w`, `90s`; None when `text` is not a duration."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    return int(match.group(1)) * UNIT_SECONDS[match.group(2).lower()]


def parse_time(text: str, *, now: int) -> int:
    """Seconds since the epoch: `now` minus a duration, or an ISO date/time (UTC when naive)."""
    seconds = parse_duration(text)
    if seconds is not None:
        return now - seconds
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimeSpecError(f"{text!r} is neither {DURATIONS} nor {ISO_TIMES}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def format_time(seconds: int) -> str:
    """`2026-03-01 12:00:00`, UTC: what the tables print (their headers say UTC)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso_time(seconds: int) -> str:
    """`2026-03-01T12:00:00Z`: what JSON output carries beside the integer."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(seconds: int) -> str:
    """`24h`, `7d`, `90m`, `45s`: days from two of them, else the largest unit that divides."""
    if seconds >= 2 * UNIT_SECONDS["d"] and seconds % UNIT_SECONDS["d"] == 0:
        return f"{seconds // UNIT_SECONDS['d']}d"
    for unit in ("h", "m"):
        if seconds and seconds % UNIT_SECONDS[unit] == 0:
            return f"{seconds // UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"
