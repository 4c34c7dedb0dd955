"""A soak run: mixed traffic at 64 connections against gunicorn on loopback for 60 s.

    .venv/bin/python bench/soak_bench.py [--seconds 60] [--connections 64] [--workers 2]

The mix, per 20 requests: 8 client_credentials tokens, 4 JWKS, 4 JWKS with a matching
`If-None-Match` (304), 2 introspections, 2 failed client authentications (a wrong secret);
and, when the IdP serves the refresh_token grant, refreshes take 2 of the 8 token slots
(see `refresh_share`). wrk drives it (`apt-get install wrk`), unpinned, as a deployment
would run. Prints throughput, p50/p99/max latency, answers by status, connection errors,
and each worker's resident memory at the start and the end.

Targets: zero 5xx and zero connection errors, p99 under 100 ms with two workers, memory
per worker flat over the run (here: grown by less than 10 MiB).
"""

from __future__ import annotations

import argparse
import base64
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from idp_support import CLIENT_ID, CLIENT_SECRET, CertStore, new_key  # noqa: E402
from load_support import children, start_gunicorn  # noqa: E402

P99_TARGET_MS = 100.0
MEMORY_GROWTH_TARGET_MIB = 10.0

SCRIPT = """
local requests_ = {}
local counter = 0
statuses = {}

function init(args)
  local form = {["Content-Type"] = "application/x-www-form-urlencoded"}
  local function with(headers, name, value)
    local copy = {}
    for k, v in pairs(headers) do copy[k] = v end
    copy[name] = value
    return copy
  end
  local good = with(form, "Authorization", "Basic __GOOD__")
  local bad = with(form, "Authorization", "Basic __BAD__")
  local token = wrk.format("POST", "/connect/token", good,
    "grant_type=client_credentials&scope=orders.read")
  local jwks = wrk.format("GET", "/.well-known/jwks.json", {})
  local cached = wrk.format("GET", "/.well-known/jwks.json", {["If-None-Match"] = '__ETAG__'})
  local introspect = wrk.format("POST", "/connect/introspect", good, "token=__TOKEN__")
  local failed = wrk.format("POST", "/connect/token", bad,
    "grant_type=client_credentials&scope=orders.read")
  local mix = {token, jwks, token, cached, introspect, token, jwks, failed, token, cached,
               token, jwks, token, cached, introspect, token, jwks, failed, token, cached}
  for i, r in ipairs(mix) do requests_[i] = r end
end

function request()
  counter = counter + 1
  return requests_[(counter % #requests_) + 1]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d max_us=%d "
    .. "connect=%d read=%d write=%d timeout=%d\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency.max, errors.connect, errors.read, errors.write, errors.timeout))
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  for status, count in pairs(totals) do
    io.write(string.format("STATUS %d %d\\n", status, count))
  end
end
"""


def basic(client_id: str, secret: str) -> str:
    return base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def worker_memory_mib(master_pid: int) -> dict[int, float]:
    """Resident memory of each gunicorn worker (the master's children), in MiB."""
    sizes = {}
    for pid in children(master_pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        rss_kib = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
        )
        sizes[pid] = rss_kib / 1024
    return sizes


def run_wrk(url: str, script: Path, *, seconds: int, connections: int) -> tuple[dict, dict]:
    threads = min(4, connections)
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    result: dict[str, float] = {}
    statuses: dict[int, int] = {}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = {k: float(v) for k, v in (pair.split("=") for pair in line.split()[1:])}
        elif line.startswith("STATUS "):
            _, status, count = line.split()
            statuses[int(status)] = int(count)
    if not result:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    return result, statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        store = CertStore(work / "stores")
        added = store.add(key=new_key("rsa"), subject="CN=soak signing")
        environ = store.environ(CertificateThumbprint=added.thumbprint)
        idp = start_gunicorn(
            "soak",
            "wsgi:app",
            environ,
            cwd=work,
            workers=args.workers,
            core=None,
            extra=("--backlog", "2048"),
        )
        try:
            jwks = requests.get(f"{idp.url}/.well-known/jwks.json", timeout=5)
            token = requests.post(
                f"{idp.url}/connect/token",
                data={"grant_type": "client_credentials", "scope": "orders.read"},
                auth=(CLIENT_ID, CLIENT_SECRET),
                timeout=5,
            ).json()["access_token"]
            script = work / "soak.lua"
            script.write_text(
                SCRIPT.replace("__GOOD__", basic(CLIENT_ID, CLIENT_SECRET))
                .replace("__BAD__", basic(CLIENT_ID, "not the secret"))
                .replace("__ETAG__", jwks.headers["ETag"])
                .replace("__TOKEN__", token)
            )
            before = worker_memory_mib(idp.process.pid)
            result, statuses = run_wrk(
                idp.url, script, seconds=args.seconds, connections=args.connections
            )
            after = worker_memory_mib(idp.process.pid)
        finally:
            idp.stop()

    requests_per_second = result["requests"] / result["seconds"]
    p99_ms = result["p99_us"] / 1000
    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    connection_errors = int(sum(result[kind] for kind in ("connect", "read", "write", "timeout")))
    print(
        f"soak: {args.seconds} s, {args.connections} connections, {args.workers} workers, "
        f"{result['requests']:.0f} requests"
    )
    print(f"throughput: {requests_per_second:,.0f} requests/s")
    print(
        f"latency: p50 {result['p50_us'] / 1000:.1f} ms, p99 {p99_ms:.1f} ms, "
        f"max {result['max_us'] / 1000:.1f} ms"
    )
    print(
        "answers: " + ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
    )
    print(f"connection errors: {connection_errors} (connect, read, write, timeout)")
    growth = []
    for pid, start in sorted(before.items()):
        end = after.get(pid)
        shown = f"{end:.1f}" if end is not None else "exited"
        print(f"worker {pid}: {start:.1f} MiB at start, {shown} MiB at the end")
        if end is not None:
            growth.append(end - start)
    checks = {
        "zero 5xx": server_errors == 0,
        "zero connection errors": connection_errors == 0,
        f"p99 under {P99_TARGET_MS:.0f} ms": p99_ms < P99_TARGET_MS,
        f"memory flat (< {MEMORY_GROWTH_TARGET_MIB:.0f} MiB growth per worker)": bool(growth)
        and max(growth) < MEMORY_GROWTH_TARGET_MIB
        and len(after) == len(before),
    }
    for name, met in checks.items():
        print(f"target {name}: {'met' if met else 'NOT met'}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
