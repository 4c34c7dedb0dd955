"""How long the publisher waits for S3 and CloudFront, and how often it tries.

Bounded, so an endpoint that stops answering fails the release step (exit 1) within a
stated time instead of holding the deploy; each retry prints one line saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

LAST_FAILURE = "tokenidp-publisher-last-failure"
# botocore's standard mode waits at most 50 ms, then 100 ms, between attempts that timed out.
BACK_OFF_ALLOWANCE_SECONDS = 1


@dataclass(frozen=True)
class RequestLimits:
    """Per-attempt timeouts and the number of attempts (the first included) per request."""

    connect_timeout_seconds: float = 5
    read_timeout_seconds: float = 10
    attempts: int = 3

    def botocore_config(self) -> Config:
        return Config(
            connect_timeout=self.connect_timeout_seconds,
            read_timeout=self.read_timeout_seconds,
            retries={"mode": "standard", "total_max_attempts": self.attempts},
        )

    @property
    def worst_case_seconds(self) -> float:
        """How long one request can take when the endpoint never answers."""
        per_attempt = self.connect_timeout_seconds + self.read_timeout_seconds
        return self.attempts * per_attempt + BACK_OFF_ALLOWANCE_SECONDS

    def describe(self) -> str:
        """The bound, as `--help` and the README state it."""
        return (
            f"each S3 and CloudFront request gets {self.attempts} attempts of at most "
            f"{self.connect_timeout_seconds:g} s to connect and {self.read_timeout_seconds:g} s "
            f"to read, so a request to an endpoint that stops answering fails within "
            f"{self.worst_case_seconds:g} s, and the run with it (exit 1)"
        )


def report_retries(
    client: Any, *, service: str, limits: RequestLimits, say: Callable[[str], None]
) -> Any:
    """Print one line for each retry botocore sends, naming why the previous attempt failed.

    botocore decides whether to retry on `needs-retry`; only a new request proves it did.
    So the failure is noted on `needs-retry` and the line printed on `request-created`.
    """
    service_id = client.meta.service_model.service_id.hyphenize()

    def note_failure(
        request_dict: dict, response: Any, caught_exception: Exception | None, **_: Any
    ) -> None:
        request_dict["context"][LAST_FAILURE] = _failure(
            service, response, caught_exception, limits
        )

    def announce_retry(request: Any, **_: Any) -> None:
        context = request.context or {}
        attempt = context.get("retries", {}).get("attempt", 1)
        if attempt < 2:
            return
        name = request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        reason = context.get(LAST_FAILURE, "the previous attempt failed")
        say(
            f"retrying {service} {request.method} …/{name} "
            f"(attempt {attempt} of {limits.attempts}): {reason}"
        )

    client.meta.events.register(f"needs-retry.{service_id}", note_failure)
    client.meta.events.register(f"request-created.{service_id}", announce_retry)
    return client


def _failure(
    service: str, response: Any, caught_exception: Exception | None, limits: RequestLimits
) -> str:
    if isinstance(caught_exception, ReadTimeoutError):
        return f"read timed out after {limits.read_timeout_seconds:g} s"
    if isinstance(caught_exception, ConnectTimeoutError):
        return f"connect timed out after {limits.connect_timeout_seconds:g} s"
    if isinstance(caught_exception, EndpointConnectionError):
        return "could not connect"
    if isinstance(caught_exception, ConnectionClosedError):
        return "the connection closed before a response"
    if caught_exception is not None:
        return type(caught_exception).__name__
    if response is None:
        return "no response"
    http_response, parsed = response
    code = str(parsed.get("Error", {}).get("Code", "")) if isinstance(parsed, dict) else ""
    status = http_response.status_code
    if code and code != str(status):
        return f"{service} answered {status} {code}"
    return f"{service} answered {status}"
