"""A soak run: mixed traffic at 64 connections against gunicorn on loopback for 60 s.

    .venv/bin/python bench/soak_bench.py [--seconds 60] [--connections 64] [--workers 2]

The mix, per 20 requests: 6 client_credentials tokens, 2 refresh-token rotations (each
spends, once, a refresh token of a signed-in user issued before the run; a client_credentials
token when the pool runs out), 4 JWKS, 4 JWKS with a matching `If-None-Match` (304),
2 introspections, 2 failed client authentications (a wrong secret, from another address
behind the loopback proxy: after its first 20 a minute, 429). wrk drives it (`apt-get
install wrk`), unpinned, as a deployment
would run. Prints throughput, p50/p99/max latency, answers by status, connection errors,
and each worker's resident memory at the start and the end.

Targets: zero 5xx and zero connection errors, p99 under 100 ms with two workers, memory
per worker flat over the run (here: grown by less than 10 MiB from the end of a 5 s
warm-up, which is not counted, to the end).
"""

from __future__ import annotations

import argparse
import base64
import shutil
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from grants_support import (  # noqa: E402
    ALL_SCOPES,
    USER_SUBJECT,
    WEB_CLIENT_ID,
    add_user,
    register_people_clients,
)
from idp_support import CLIENT_ID, CLIENT_SECRET, CertStore, new_key  # noqa: E402
from load_support import children, start_gunicorn, wrk_output, wrk_result  # noqa: E402

from app.config import load_config  # noqa: E402
from app.oauth.refresh_tokens import (  # noqa: E402
    RefreshGrant,
    new_family_id,
    new_refresh_token,
    store_refresh_token,
)
from app.storage import open_storage  # noqa: E402

P99_TARGET_MS = 100.0
MEMORY_GROWTH_TARGET_MIB = 10.0
WARM_UP_SECONDS = 5

SCRIPT = """
local requests_ = {}
local counter = 0
local pool = {}
pool_next = 0  -- global: done() reads it from each thread
local refresh_headers = nil
local fallback = nil
statuses = {}

-- Each thread spends its own slice of the refresh-token pool: thread k takes every
-- n-th line from line k, so no token is used twice.
function init(args)
  local line_number = 0
  for line in io.lines("__POOL__") do
    if line_number % stride == thread_index then table.insert(pool, line) end
    line_number = line_number + 1
  end
  pool_size = #pool
  local form = {["Content-Type"] = "application/x-www-form-urlencoded"}
  local function with(headers, name, value)
    local copy = {}
    for k, v in pairs(headers) do copy[k] = v end
    copy[name] = value
    return copy
  end
  local good = with(form, "Authorization", "Basic __GOOD__")
  -- The failures come from another client, as a proxy on loopback reports it: the rate
  -- limits answer it 429 after its share (app/ops/rate_limits.py), never the good client.
  local bad = with(with(form, "Authorization", "Basic __BAD__"), "X-Forwarded-For", "203.0.113.66")
  local token = wrk.format("POST", "/connect/token", good,
    "grant_type=client_credentials&scope=orders.read")
  local jwks = wrk.format("GET", "/.well-known/jwks.json", {})
  local cached = wrk.format("GET", "/.well-known/jwks.json", {["If-None-Match"] = '__ETAG__'})
  local introspect = wrk.format("POST", "/connect/introspect", good, "token=__TOKEN__")
  local failed = wrk.format("POST", "/connect/token", bad,
    "grant_type=client_credentials&scope=orders.read")
  refresh_headers = with(form, "Authorization", "Basic __WEB__")
  fallback = token
  local mix = {token, jwks, "refresh", cached, introspect, token, jwks, failed, token, cached,
               token, jwks, "refresh", cached, introspect, token, jwks, failed, token, cached}
  for i, r in ipairs(mix) do requests_[i] = r end
end

function request()
  counter = counter + 1
  local next_request = requests_[(counter % #requests_) + 1]
  if next_request ~= "refresh" then return next_request end
  pool_next = pool_next + 1
  if pool_next > #pool then return fallback end
  return wrk.format("POST", "/connect/token", refresh_headers,
    "grant_type=refresh_token&refresh_token=" .. pool[pool_next])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}
function setup(thread)
  thread:set("thread_index", #threads)  -- globals in the thread's own Lua state
  thread:set("stride", __THREADS__)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local errors = summary.errors
  local refreshed = 0
  for _, thread in ipairs(threads) do
    refreshed = refreshed + math.min(thread:get("pool_next"), thread:get("pool_size"))
  end
  io.write(string.format("RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d max_us=%d "
    .. "connect=%d read=%d write=%d timeout=%d\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency.max, errors.connect, errors.read, errors.write, errors.timeout))
  io.write(string.format("REFRESHES %d\\n", refreshed))
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


def wait_for_workers(master_pid: int, workers: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(worker_memory_mib(master_pid)) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start {workers} workers in {timeout:.0f} s")
        time.sleep(0.1)


def wrk_threads(connections: int) -> int:
    return min(4, connections)


def seed_refresh_tokens(environ: dict[str, str], kid: str, count: int, path: Path) -> str:
    """A signed-in user's refresh tokens, `count` of them, one per line in `path` (each is
    spent once during the run); returns the web client's secret."""
    secret = register_people_clients(environ)
    storage = open_storage(load_config(environ))
    add_user(storage)
    now = int(time.time())
    tokens = [new_refresh_token() for _ in range(count)]
    with storage.transaction() as work:
        for token in tokens:
            grant = RefreshGrant(new_family_id(), WEB_CLIENT_ID, USER_SUBJECT, ALL_SCOPES, kid, now)
            store_refresh_token(work, token, grant, now=now, lifetime_seconds=86400)
    storage.engine.dispose()
    path.write_text("\n".join(tokens) + "\n")
    return secret


def run_wrk(url: str, script: Path, *, seconds: int, connections: int) -> tuple[dict, dict]:
    """wrk's figures, with the refreshes attempted, and the answers by status."""
    lines = wrk_output(
        url,
        seconds=seconds,
        connections=connections,
        script=script,
        core=None,
        threads=wrk_threads(connections),
    )
    result = wrk_result(lines)
    statuses: dict[int, int] = {}
    for line in lines:
        if line.startswith("REFRESHES "):
            result["refreshes"] = float(line.split()[1])
        elif line.startswith("STATUS "):
            _, status, count = line.split()
            statuses[int(status)] = int(count)
    return result, statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--refresh-pool", type=int, help="refresh tokens issued before the run (default 700/s)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        store = CertStore(work / "stores")
        added = store.add(key=new_key("rsa"), subject="CN=soak signing")
        environ = {
            **store.environ(CertificateThumbprint=added.thumbprint),
            "TOKENIDP_CONFIG_DIR": str(work),
        }
        pool = work / "refresh-tokens.txt"
        web_secret = seed_refresh_tokens(
            environ,
            added.thumbprint,
            args.refresh_pool or 700 * (args.seconds + WARM_UP_SECONDS),
            pool,
        )
        # The warm-up and the measured run each spend their own tokens.
        tokens = pool.read_text().split()
        warm_up_pool, run_pool = work / "warm-up-tokens.txt", work / "run-tokens.txt"
        warm_up_pool.write_text("\n".join(tokens[: 700 * WARM_UP_SECONDS]) + "\n")
        run_pool.write_text("\n".join(tokens[700 * WARM_UP_SECONDS :]) + "\n")
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
            scripts = {}
            for phase, phase_pool in (("warm-up", warm_up_pool), ("run", run_pool)):
                scripts[phase] = work / f"soak-{phase}.lua"
                scripts[phase].write_text(
                    SCRIPT.replace("__GOOD__", basic(CLIENT_ID, CLIENT_SECRET))
                    .replace("__BAD__", basic(CLIENT_ID, "not the secret"))
                    .replace("__ETAG__", jwks.headers["ETag"])
                    .replace("__TOKEN__", token)
                    .replace("__WEB__", basic(WEB_CLIENT_ID, web_secret))
                    .replace("__POOL__", str(phase_pool))
                    .replace("__THREADS__", str(wrk_threads(args.connections)))
                )
            script = scripts["run"]
            wait_for_workers(idp.process.pid, args.workers)
            # Warm up (caches, pools, the first allocations), then measure from there.
            run_wrk(
                idp.url, scripts["warm-up"], seconds=WARM_UP_SECONDS, connections=args.connections
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
    print(f"refresh-token rotations attempted: {result.get('refreshes', 0):.0f}")
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
    for pid, end in sorted(after.items()):
        if pid not in before:
            print(f"worker {pid}: started during the run, {end:.1f} MiB at the end")
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
