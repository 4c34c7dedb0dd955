"""The publisher's own figures: requests it sent to each service, and how long it took."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RequestMeter:
    """Counts every HTTP request a client sends (retries included), by service and method."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def attach(self, client: Any, service: str) -> Any:
        def count(request: Any, **_: Any) -> None:
            self.counts[(service, request.method)] += 1

        event = f"before-send.{client.meta.service_model.service_id.hyphenize()}"
        client.meta.events.register(event, count)
        return client

    def total(self, service: str) -> int:
        return sum(number for (name, _), number in self.counts.items() if name == service)

    def describe(self, service: str) -> str:
        methods = sorted(
            (method, number) for (name, method), number in self.counts.items() if name == service
        )
        total = self.total(service)
        noun = "request" if total == 1 else "requests"
        if not methods:
            return f"{service}: 0 requests"
        detail = ", ".join(f"{number} {method}" for method, number in methods)
        return f"{service}: {total} {noun} ({detail})"
