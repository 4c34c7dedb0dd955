"""Reading `GET /metrics` as Prometheus would, and the Redis the rate-limit tests use."""

from __future__ import annotations

import os

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

REDIS_URL = os.environ.get("TOKENIDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


requires_redis = pytest.mark.skipif(not redis_answers(), reason=f"no Redis at {REDIS_URL}")


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
