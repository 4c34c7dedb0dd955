"""What the audit log costs a token: client_credentials throughput with it on SQLite and on
PostgreSQL, next to the same server dropping its records, in one run.

    .venv/bin/python bench/audit_cost_bench.py [--rounds 5] [--seconds 3] [--connections 16]

One worker pinned to core 0, wrk on core 1; each round measures the three servers back to
back, in an order that rotates, for RS256 and ES256. PostgreSQL is TOKENIDP_TEST_DATABASE_URL
(or postgresql://postgres@127.0.0.1:5432/test), in a schema of its own; its server processes
are not pinned. Targets: the audit log costs at most 10% of the throughput on SQLite and
20% on PostgreSQL. Exit 0 when both hold for both algorithms, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench"), str(ROOT)]

from idp_support import CLIENT_ID, CLIENT_SECRET, CertStore, new_key  # noqa: E402
from load_support import measure, start_gunicorn, write_token_script  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from app.storage.engine import create_storage_engine  # noqa: E402
from app.storage.migrate import upgrade  # noqa: E402

TARGETS = {"SQLite": 0.10, "PostgreSQL": 0.20}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, default=16)
    arguments = parser.parse_args()
    base = os.environ.get("TOKENIDP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    schemas: list[str] = []

    def new_database() -> str:
        """A migrated schema of its own: each algorithm's key is its deployment's first."""
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        url = f"{base}?options=-csearch_path%3D{schema}"
        engine = create_storage_engine(url)
        upgrade(engine)
        engine.dispose()
        return url

    failures = []
    try:
        with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder:
            work = Path(folder)
            script = write_token_script(
                work / "token.lua", client_id=CLIENT_ID, secret=CLIENT_SECRET, scope="orders.read"
            )
            print(
                f"client_credentials tokens/s, {arguments.connections} connections, "
                f"{arguments.rounds} rounds x {arguments.seconds:g} s, one worker pinned to core 0"
            )
            for kind, algorithm in (("rsa", "RS256"), ("ec", "ES256")):
                failures += measure_algorithm(
                    work, kind, algorithm, new_database(), script, arguments
                )
    finally:
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("every target holds")
    return 0


def measure_algorithm(work, kind, algorithm, postgresql, script, arguments) -> list[str]:
    store = CertStore(work / kind / "certstores")
    signing = store.add(key=new_key(kind))
    environ = store.environ(CertificateThumbprint=signing.thumbprint)
    servers = {
        "no records": ("without_records:app", environ),
        "SQLite": ("wsgi:app", environ),
        "PostgreSQL": ("wsgi:app", {**environ, "TOKENIDP_DATABASE_URL": postgresql}),
    }
    started = {
        name: start_gunicorn(
            f"{algorithm}-{name.replace(' ', '-')}", app, env, cwd=work / kind, workers=1, core=0
        )
        for name, (app, env) in servers.items()
    }
    rates: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for server in started.values():
            measure(
                server,
                "/connect/token",
                seconds=1,
                connections=arguments.connections,
                script=script,
            )
        names = list(servers)
        for round_number in range(arguments.rounds):
            order = names[round_number % 3 :] + names[: round_number % 3]
            for name in order:
                result = measure(
                    started[name],
                    "/connect/token",
                    seconds=arguments.seconds,
                    connections=arguments.connections,
                    script=script,
                )
                if result["errors"]:
                    raise SystemExit(f"{algorithm} {name}: {result['errors']:.0f} errors")
                rates[name].append(result["per_second"])
    finally:
        for server in started.values():
            server.stop()
    baseline = statistics.median(rates["no records"])
    print(f"\n{algorithm}")
    print(f"  {'server':<12} {'tokens/s':>9}  {'cost of the audit log':>22}  target")
    print(f"  {'no records':<12} {baseline:9.0f}")
    failures = []
    for name, target in TARGETS.items():
        rate = statistics.median(rates[name])
        cost = 1 - rate / baseline
        verdict = "PASS" if cost <= target else "FAIL"
        spread = ", ".join(
            f"{1 - r / b:+.0%}" for r, b in zip(rates[name], rates["no records"], strict=True)
        )
        line = f"  {name:<12} {rate:9.0f}  {cost:21.1%}   <= {target:.0%} {verdict}"
        print(f"{line}  (rounds: {spread})")
        if verdict == "FAIL":
            failures.append(f"{algorithm} on {name} costs {cost:.1%} > {target:.0%}")
    return failures


if __name__ == "__main__":
    raise SystemExit(main())
