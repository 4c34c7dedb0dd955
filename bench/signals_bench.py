"""What the signals cost a token request, in microseconds, measured in-process:

    .venv/bin/python bench/signals_bench.py [--redis redis://127.0.0.1:6379/0]

The token endpoint's share: one `token_issued`, one latency observation, and the
rate-limit check a successful client authentication makes (one window lookup for its
address), each in prometheus_client's multiprocess mode as under gunicorn (files) and
in memory; the rate-limit check on memory and, with --redis, on Redis. Also the
JSON access-log line against the text one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import timeit
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def per_call_us(statement, number: int = 20000) -> float:
    """The best of five runs, in microseconds a call."""
    return min(timeit.repeat(statement, number=number, repeat=5)) / number * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", help="also time the rate-limit check on this Redis")
    parser.add_argument("--in-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.in_memory and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="signals-bench-")
    from app.config.settings import RateLimitOptions
    from app.http.middleware import AccessLog
    from app.ops import metrics
    from app.ops.rate_limits import FailureLimits, LimitStorage

    mode = "multiprocess (files)" if metrics.is_multiprocess() else "in memory"
    issued = per_call_us(lambda: metrics.token_issued("client_credentials", "orders", "3A9F"))
    observe = metrics.token_request_observer()
    latency = per_call_us(lambda: observe(0.0004))
    print(f"prometheus_client {mode}:")
    print(f"  token_issued           {issued:6.2f} µs")
    print(f"  latency observation    {latency:6.2f} µs")
    print(f"  metrics per token      {issued + latency:6.2f} µs")
    options = RateLimitOptions()
    storages = [("memory", LimitStorage(None, key_prefix="bench"))]
    if args.redis:
        prefix = f"signals-bench-{uuid.uuid4().hex}"
        storages.append(("redis", LimitStorage(args.redis, key_prefix=prefix)))
    for name, storage in storages:
        limits = FailureLimits("client", options, storage)
        cached = per_call_us(lambda limits=limits: limits.check(address="127.0.0.1", name="o"))

        def uncached(limits=limits) -> None:
            limits._clean.clear()  # as at an address's first request in a second
            limits.check(address="127.0.0.1", name="o")

        first = per_call_us(uncached, number=2000 if name == "redis" else 20000)
        print(f"  rate-limit check ({name}): {cached:.2f} µs, {first:.2f} µs once a second")
    from app.config.settings import Settings
    from app.http.forwarded import ClientAddresses

    addresses = ClientAddresses(Settings.trusted_proxies)
    headers = [(b"host", b"id.example.com"), (b"content-type", b"x"), (b"authorization", b"x")]
    direct = per_call_us(lambda: addresses.resolve("127.0.0.1", headers))
    proxied = [*headers, (b"x-forwarded-for", b"203.0.113.5")]
    behind = per_call_us(lambda: addresses.resolve("127.0.0.1", proxied))
    print(f"  client address: {direct:.2f} µs, {behind:.2f} µs from X-Forwarded-For")
    with open(os.devnull, "wb") as sink:
        for json in (False, True):
            log = AccessLog(fd=sink.fileno(), json=json)
            cost = per_call_us(
                lambda log=log: log.record(
                    client="127.0.0.1",
                    method="POST",
                    path="/connect/token",
                    status=200,
                    length=900,
                    started=0.0,
                    request_id=b"abcdef0123456789abcd",
                )
            )
            print(f"  access-log line ({'json' if json else 'text'})  {cost:6.2f} µs")
    if not args.in_memory:
        import subprocess

        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        subprocess.run([sys.executable, __file__, "--in-memory"], env=env, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
