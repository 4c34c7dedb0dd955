"""Token endpoint and JWKS throughput under gunicorn, as ratios measured in one run.

    .venv/bin/python bench/token_endpoint_bench.py [--seconds 4] [--connections 4]

One worker pinned to core 0, wrk pinned to core 1. Prints tokens/s, p50/p99 latency,
errors, server CPU per token, the cost of one raw RSA-2048 PKCS#1 v1.5 SHA-256 signature
measured here on core 0, and JWKS throughput against a bare ASGI app serving the same bytes
(bench/bare_jwks_app.py) in the same gunicorn asgi worker.
Then the deployment shape, workers = cores and nothing pinned: tokens/s, latency, errors.
Targets: CPU per token <= 2.2 x the raw signature; JWKS >= 0.9 x the bare route; zero errors.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from idp_support import CLIENT_ID, CLIENT_SECRET, CertStore, new_key  # noqa: E402
from load_support import (  # noqa: E402
    SERVER_CORE,
    ServerProcess,
    measure,
    raw_signature_seconds,
    start_gunicorn,
    write_get_script,
    write_token_script,
)


def start(app: str, environ: dict[str, str], work: Path, **options) -> ServerProcess:
    name = f"{app.split(':')[0]}-{len(list(work.glob('*.log')))}"
    return start_gunicorn(name, app, environ, cwd=work, extra=("--backlog", "2048"), **options)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="per token round (5 rounds)")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2
    if (os.cpu_count() or 1) < 2:
        print("needs two cores: one for the server, one for wrk", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        key = new_key("rsa")
        store = CertStore(work / "stores")
        added = store.add(key=key, subject="CN=bench signing")
        environ = store.environ(CertificateThumbprint=added.thumbprint)
        token_script = write_token_script(
            work / "token.lua", client_id=CLIENT_ID, secret=CLIENT_SECRET, scope="orders.read"
        )
        get_script = write_get_script(work / "get.lua")

        idp = start("wsgi:app", environ, work, workers=1, core=SERVER_CORE)
        jwks_body = requests.get(f"{idp.url}/.well-known/jwks.json", timeout=5).content
        (work / "jwks.json").write_bytes(jwks_body)
        bare = start(
            "bare_jwks_app:app",
            {"BARE_JWKS_BODY_FILE": str(work / "jwks.json")},
            work,
            workers=1,
            core=SERVER_CORE,
            ready_path="/.well-known/jwks.json",
            config="python:bare_jwks_gunicorn",
        )
        try:
            measure(
                idp, "/connect/token", seconds=2, connections=args.connections, script=token_script
            )  # warm-up
            # Five rounds, each with the raw signature timed just before and just after it, so
            # a change in the host's speed during the run moves both sides of the ratio.
            rounds = []
            for _ in range(5):
                before = raw_signature_seconds(key, 1000)
                result = measure(
                    idp,
                    "/connect/token",
                    seconds=args.seconds,
                    connections=args.connections,
                    script=token_script,
                )
                round_signature = (before + raw_signature_seconds(key, 1000)) / 2
                result["ratio"] = result["cpu_seconds"] / result["requests"] / round_signature
                result["signature"] = round_signature
                rounds.append(result)
            token = sorted(rounds, key=lambda result: result["ratio"])[2]
            jwks_rates, bare_rates = [], []
            for _ in range(3):
                jwks_rates.append(
                    measure(
                        idp,
                        "/.well-known/jwks.json",
                        seconds=3,
                        connections=args.connections,
                        script=get_script,
                    )
                )
                bare_rates.append(
                    measure(
                        bare,
                        "/.well-known/jwks.json",
                        seconds=3,
                        connections=args.connections,
                        script=get_script,
                    )
                )
        finally:
            idp.stop()
            bare.stop()
        # Deployment shape: workers = cores, nothing pinned (wrk shares the cores).
        cores = os.cpu_count() or 1
        spread = start("wsgi:app", environ, work, workers=cores, core=None)
        try:
            spread_token = measure(
                spread,
                "/connect/token",
                seconds=args.seconds,
                connections=args.connections * 2,
                script=token_script,
                core=None,
            )
        finally:
            spread.stop()

    cpu_per_token = token["cpu_seconds"] / token["requests"]
    signature = token["signature"]
    jwks_rate = sorted(r["per_second"] for r in jwks_rates)[1]
    bare_rate = sorted(r["per_second"] for r in bare_rates)[1]
    jwks_errors = sum(r["errors"] for r in jwks_rates + bare_rates)
    bare_cpu = sum(r["cpu_seconds"] for r in bare_rates) / sum(r["requests"] for r in bare_rates)
    print(
        f"raw RSA-2048 PKCS#1 v1.5 SHA-256 signature: {signature * 1e6:.0f} us (core {SERVER_CORE})"
    )
    print(
        f"token endpoint: {token['per_second']:.0f} tokens/s over {token['seconds']:.1f} s, "
        f"{args.connections} connections, 1 worker on core {SERVER_CORE}"
    )
    print(f"  latency p50 {token['p50_us'] / 1000:.2f} ms, p99 {token['p99_us'] / 1000:.2f} ms")
    print(f"  errors: {token['errors']:.0f}")
    print(
        f"  server CPU per token: {cpu_per_token * 1e6:.0f} us "
        f"= {token['ratio']:.2f} x the raw signature (target <= 2.2; median of rounds "
        f"{', '.join(format(result['ratio'], '.2f') for result in rounds)})"
    )
    print(
        f"jwks: {jwks_rate:.0f} req/s; bare ASGI app, same bytes: {bare_rate:.0f} req/s "
        f"= {jwks_rate / bare_rate:.2f} (target >= 0.90); errors: {jwks_errors:.0f}"
    )
    print(
        f"  server CPU per request: bare route {bare_cpu * 1e6:.0f} us "
        f"({bare_cpu / signature:.2f} x the raw signature)"
    )
    print(
        f"token endpoint, {cores} workers (= cores), unpinned, {args.connections * 2} connections: "
        f"{spread_token['per_second']:.0f} tokens/s, p50 {spread_token['p50_us'] / 1000:.2f} ms, "
        f"p99 {spread_token['p99_us'] / 1000:.2f} ms, errors {spread_token['errors']:.0f}"
    )
    ok = (
        token["ratio"] <= 2.2
        and all(result["errors"] == 0 for result in rounds)
        and spread_token["errors"] == 0
        and jwks_errors == 0
        and jwks_rate / bare_rate >= 0.9
    )
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
