"""Reading `GET /metrics` as Prometheus would: one sample by name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` whose labels include `labels`; 0 when absent."""
    for family in text_string_to_metric_families(text):
        for item in family.samples:
            if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                return item.value
    return 0.0


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (item.labels, item.value)
        for family in text_string_to_metric_families(text)
        for item in family.samples
        if item.name == name
    ]
