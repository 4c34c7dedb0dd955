"""TokenIDP against node-oidc-provider 9 in one run, with the same pinning and load generator.

    .venv/bin/python bench/peer_bench.py [--rounds 5] [--seconds 3] [--quick] [--app wsgi:app]

Both servers issue RFC 9068 JWT access tokens for client_credentials (client_secret_basic),
signed RS256 by the same RSA-2048 key or ES256 by the same P-256 key. Each runs one worker
pinned to core 0 (TokenIDP: `gunicorn --config gunicorn.conf.py wsgi:app`, TOKENIDP_WORKERS=1;
node: bench/peer/server.mjs, NODE_ENV=production), wrk pinned to core 1. Measured: tokens/s,
p50/p99, errors and server CPU per token at 1, 4, 16 and 64 connections for both algorithms,
JWKS requests/s at 1 and 16, and the deployment shape (workers = cores against node's cluster
of as many workers, nothing pinned, 16 connections). Each round runs every case on both
servers back to back, the order alternating, with the raw signatures timed on core 0 around
each token pair; figures are medians of rounds, ratios TokenIDP/node with their min-max spread.

Exit status: 0 when every target passes, 1 when one fails (each named), 2 when the run
cannot be made (no wrk or node, one core, a server that does not issue valid JWTs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import gunicorn
import jwt
import requests
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "bench" / "peer"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from idp_support import (  # noqa: E402
    AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    ISSUER,
    CertStore,
    free_port,
    migrated_sqlite_url,
    new_key,
)
from load_support import (  # noqa: E402
    LOAD_CORE,
    SERVER_CORE,
    ServerProcess,
    children,
    measure,
    pinned,
    raw_signature_seconds,
    start_gunicorn,
    write_get_script,
    write_token_script,
)

SCOPE = "orders.read"
CLIENT_SCOPES = "orders.read orders.write"  # as tests/idp_support.client_environ allows
TOKEN_PATH = "/connect/token"
JWKS_PATH = "/.well-known/jwks.json"
PRODUCTS = ("TokenIDP", "node")
KEY_TYPES = {"RS256": "rsa", "ES256": "ec"}
RAW_SIGNATURE_NAMES = {"RS256": "RSA-2048 PKCS#1 v1.5 SHA-256", "ES256": "ECDSA P-256 SHA-256"}
SIGNATURES_PER_BATCH = {"RS256": 200, "ES256": 1000}  # three batches each: ~0.2 s together
# TokenIDP's server CPU per RS256 token against one raw RSA-2048 signature, at this load.
CPU_TARGET_RATIO, CPU_TARGET_CONNECTIONS = 1.7, 16


class BenchError(Exception):
    """The comparison cannot be made (a tool missing, a server misconfigured or failing)."""


@dataclass(frozen=True)
class Case:
    group: str
    algorithm: str  # selects the pair of servers (JWKS runs on the RS256 pair)
    path: str
    connections: int
    target: float  # the least TokenIDP/node ratio that passes
    deployment: bool = False

    @property
    def label(self) -> str:
        return f"{self.group}, {self.connections} connections"


CASES = (
    *(
        Case("RS256 tokens", "RS256", TOKEN_PATH, connections, 1.3 if connections == 16 else 1.2)
        for connections in (1, 4, 16, 64)
    ),
    *(
        Case("ES256 tokens", "ES256", TOKEN_PATH, connections, 2.0 if connections == 16 else 1.8)
        for connections in (1, 4, 16, 64)
    ),
    Case("JWKS", "RS256", JWKS_PATH, 1, 1.0),
    Case("JWKS", "RS256", JWKS_PATH, 16, 1.5),
    Case("Deployment shape RS256 tokens", "RS256", TOKEN_PATH, 16, 1.3, deployment=True),
    Case("Deployment shape ES256 tokens", "ES256", TOKEN_PATH, 16, 2.0, deployment=True),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help="rounds, each alternating the servers (5)")
    parser.add_argument("--seconds", type=int, help="wrk seconds per server and case (3)")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 1 s: a smoke run")
    parser.add_argument(
        "--app", default="wsgi:app", help="TokenIDP's gunicorn app, as the README runs it"
    )
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    seconds = args.seconds or (1 if args.quick else 3)
    try:
        check_tools()
        peer_version = ensure_peer_installed()
        with tempfile.TemporaryDirectory(prefix="peer-bench-") as scratch:
            return run(
                Path(scratch),
                app=args.app,
                rounds=rounds,
                seconds=seconds,
                peer_version=peer_version,
            )
    except (BenchError, RuntimeError) as error:  # load_support raises RuntimeError
        print(f"peer_bench: {error}", file=sys.stderr)
        return 2


def check_tools() -> None:
    for tool, hint in (("wrk", "apt-get install -y wrk"), ("node", "Node.js 20 or later")):
        if not shutil.which(tool):
            raise BenchError(f"{tool} is needed ({hint})")
    if (os.cpu_count() or 1) < 2:
        raise BenchError("needs two cores: one for the server, one for wrk")


def ensure_peer_installed() -> str:
    """node-oidc-provider at the version bench/peer/package.json pins, installed by npm."""
    wanted = json.loads((PEER / "package.json").read_text())["dependencies"]["oidc-provider"]
    installed = PEER / "node_modules" / "oidc-provider" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != wanted:
        if not shutil.which("npm"):
            raise BenchError("npm is needed to install node-oidc-provider into bench/peer")
        command = ["npm", "ci" if (PEER / "package-lock.json").exists() else "install"]
        print(f"Installing node-oidc-provider {wanted} into bench/peer ({' '.join(command)})...")
        completed = subprocess.run(
            [*command, "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER, text=True
        )
        if completed.returncode != 0:
            raise BenchError(f"{' '.join(command)} in bench/peer failed ({completed.returncode})")
    return json.loads(installed.read_text())["version"]


def run(work: Path, *, app: str, rounds: int, seconds: int, peer_version: str) -> int:
    cores = os.cpu_count() or 1
    scripts = {
        TOKEN_PATH: write_token_script(
            work / "token.lua", client_id=CLIENT_ID, secret=CLIENT_SECRET, scope=SCOPE
        ),
        JWKS_PATH: write_get_script(work / "get.lua"),
    }
    keys = {algorithm: new_key(key_type) for algorithm, key_type in KEY_TYPES.items()}
    servers: dict[tuple[str, str, bool], ServerProcess] = {}
    try:
        for algorithm, key in keys.items():
            start_pair(servers, work, algorithm, key, app=app, cores=cores)
        checks = [
            check_issues_jwts(server, algorithm=algorithm)
            for (_, algorithm, _), server in servers.items()
        ]
        jwks_sizes = {
            product: len(get(servers[product, "RS256", False].url + JWKS_PATH).content)
            for product in PRODUCTS
        }
        worker_class = gunicorn_worker_class(servers["TokenIDP", "RS256", False])
        print_header(
            app=app,
            peer_version=peer_version,
            worker_class=worker_class,
            rounds=rounds,
            seconds=seconds,
            cores=cores,
            checks=checks,
            jwks_sizes=jwks_sizes,
        )
        warm_up(servers, scripts, seconds=2 if seconds > 1 else 1)
        results, signatures = run_rounds(servers, scripts, keys, rounds=rounds, seconds=seconds)
    finally:
        for server in servers.values():
            server.stop()
    return report(results, signatures, cores=cores)


def start_pair(servers: dict, work: Path, algorithm: str, key, *, app: str, cores: int) -> None:
    """TokenIDP with a real certificate, then node with the same private key and kid."""
    store = CertStore(work / f"store-{algorithm}")
    added = store.add(key=key, subject=f"CN=peer bench {algorithm}")
    environ = {
        **store.environ(CertificateThumbprint=added.thumbprint),
        # A deployment of its own per algorithm: each key is its database's first key.
        "TOKENIDP_DATABASE_URL": migrated_sqlite_url(work / f"tokenidp-{algorithm}.sqlite3"),
    }
    for deployment, workers, core in ((False, 1, SERVER_CORE), (True, cores, None)):
        name = f"tokenidp-{algorithm}-{workers}w"
        servers["TokenIDP", algorithm, deployment] = start_gunicorn(
            name, app, environ, cwd=work, workers=workers, core=core
        )
    published = get(servers["TokenIDP", algorithm, False].url + JWKS_PATH).json()["keys"]
    if len(published) != 1:
        raise BenchError(f"TokenIDP publishes {len(published)} keys; the bench expects one")
    jwk_path = work / f"peer-{algorithm}.jwk"
    jwk_path.touch(mode=0o600)
    jwk_path.write_text(json.dumps(private_jwk(key, kid=published[0]["kid"], algorithm=algorithm)))
    for deployment, workers, core in ((False, 1, SERVER_CORE), (True, cores, None)):
        servers["node", algorithm, deployment] = start_node(
            f"node-{algorithm}-{workers}w", jwk_path=jwk_path, workers=workers, core=core, work=work
        )


def private_jwk(key, *, kid: str, algorithm: str) -> dict:
    codec = RSAAlgorithm if algorithm == "RS256" else ECAlgorithm
    return {**codec.to_jwk(key, as_dict=True), "kid": kid, "alg": algorithm, "use": "sig"}


def start_node(
    name: str, *, jwk_path: Path, workers: int, core: int | None, work: Path
) -> ServerProcess:
    """bench/peer/server.mjs in production mode: one process, or a cluster of `workers`."""
    port = free_port()
    env = {
        **os.environ,
        "NODE_ENV": "production",
        "PEER_PORT": str(port),
        "PEER_WORKERS": str(workers),
        "PEER_SIGNING_JWK_FILE": str(jwk_path),
        "PEER_ISSUER": ISSUER,
        "PEER_AUDIENCE": AUDIENCE,
        "PEER_CLIENT_ID": CLIENT_ID,
        "PEER_CLIENT_SECRET": CLIENT_SECRET,
        "PEER_SCOPES": CLIENT_SCOPES,
    }
    server = ServerProcess(
        name,
        pinned(["node", str(PEER / "server.mjs")], core),
        url=f"http://127.0.0.1:{port}",
        ready_path=JWKS_PATH,
        env=env,
        cwd=PEER,
        log_path=work / f"{name}.log",
    )
    deadline = time.monotonic() + 30
    while workers > 1 and len(children(server.process.pid)) < workers:
        if time.monotonic() > deadline:  # the warm-up then reaches every worker
            server.stop()
            raise BenchError(f"{name}: fewer than {workers} cluster workers after 30 s")
        time.sleep(0.1)
    return server


def check_issues_jwts(server: ServerProcess, *, algorithm: str) -> str:
    """One token, as wrk asks for it, verified against the server's own JWKS: alg, kid, claims."""
    response = requests.post(
        server.url + TOKEN_PATH,
        data={"grant_type": "client_credentials", "scope": SCOPE},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    )
    if response.status_code != 200:
        raise BenchError(
            f"{server.name}: {TOKEN_PATH} answered {response.status_code}: {response.text[:300]}"
        )
    token = response.json().get("access_token", "")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise BenchError(f"{server.name}: the access token is not a JWS: {error}") from error
    if header.get("alg") != algorithm:
        raise BenchError(f"{server.name}: signs {header.get('alg')}, not {algorithm}")
    published = get(server.url + JWKS_PATH).json().get("keys", [])
    matching = [key for key in published if header.get("kid") and key.get("kid") == header["kid"]]
    if not matching:
        raise BenchError(f"{server.name}: kid {header.get('kid')!r} is not in its JWKS")
    try:
        claims = jwt.decode(
            token,
            jwt.PyJWK(matching[0]).key,
            algorithms=[algorithm],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "jti"]},
        )
    except jwt.PyJWTError as error:
        raise BenchError(f"{server.name}: the token does not verify: {error}") from error
    return (
        f"{server.name}: {header['alg']}, kid {header['kid'][:16]}..., typ {header.get('typ')}; "
        f"{' '.join(claims)}; lifetime {claims['exp'] - claims['iat']} s"
    )


def get(url: str) -> requests.Response:
    response = requests.get(url, timeout=10)
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}")
    return response


def gunicorn_worker_class(server: ServerProcess) -> str:
    """What gunicorn says it runs ("Using worker: ..."), so the report names the real thing."""
    found = re.search(r"Using worker: (\S+)", server.log_path.read_text(errors="replace"))
    return found[1] if found else "unknown"


def warm_up(servers: dict, scripts: dict, *, seconds: int) -> None:
    for (_, algorithm, deployment), server in servers.items():
        paths = (TOKEN_PATH, JWKS_PATH) if algorithm == "RS256" else (TOKEN_PATH,)
        for path in paths:
            measure(
                server,
                path,
                seconds=seconds,
                connections=16,
                script=scripts[path],
                core=None if deployment else LOAD_CORE,
            )


def run_rounds(servers: dict, scripts: dict, keys: dict, *, rounds: int, seconds: int):
    """Every case on both servers back to back, each round starting with the other server.

    The raw signatures are timed just before and after each pinned token pair (shared with
    the next pair when nothing ran between), so host drift moves both sides of the ratio.
    """
    results: dict[Case, dict[str, list[dict]]] = {case: {p: [] for p in PRODUCTS} for case in CASES}
    signatures: dict[Case, list[dict[str, float]]] = {case: [] for case in CASES}
    for round_index in range(rounds):
        started = time.monotonic()
        before = None
        for case_index, case in enumerate(CASES):
            timed = case.path == TOKEN_PATH and not case.deployment
            if timed and before is None:
                before = time_raw_signatures(keys)
            order = PRODUCTS if (round_index + case_index) % 2 == 0 else PRODUCTS[::-1]
            for product in order:
                result = measure(
                    servers[product, case.algorithm, case.deployment],
                    case.path,
                    seconds=seconds,
                    connections=case.connections,
                    script=scripts[case.path],
                    core=None if case.deployment else LOAD_CORE,
                )
                results[case][product].append(result)
            if timed:
                after = time_raw_signatures(keys)
                signatures[case].append({a: (before[a] + after[a]) / 2 for a in before})
                before = after
            else:
                before = None
        print(
            f"round {round_index + 1}/{rounds} done in {time.monotonic() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return results, signatures


def time_raw_signatures(keys: dict) -> dict[str, float]:
    return {
        algorithm: raw_signature_seconds(key, SIGNATURES_PER_BATCH[algorithm])
        for algorithm, key in keys.items()
    }


def print_header(**facts) -> None:
    print(
        f"TokenIDP against node-oidc-provider {facts['peer_version']}, one run: "
        f"{facts['rounds']} rounds x {facts['seconds']} s per server and case, the two servers "
        "back to back in each case, the order alternating."
    )
    print(
        f"  TokenIDP: gunicorn {gunicorn.__version__} --config gunicorn.conf.py {facts['app']}, "
        f"worker class {facts['worker_class']}, TOKENIDP_WORKERS=1, pinned to core {SERVER_CORE}"
    )
    print(
        f"  node-oidc-provider {facts['peer_version']}: node {node_version()}, "
        f"NODE_ENV=production, one process pinned to core {SERVER_CORE}"
    )
    cores = facts["cores"]
    print(
        f"  wrk -t1 pinned to core {LOAD_CORE}. Deployment shape: TOKENIDP_WORKERS={cores} "
        f"against node's cluster of {cores} workers, wrk too, nothing pinned ({cores} cores)"
    )
    print(
        "  JWKS bodies: "
        + ", ".join(f"{product} {size} bytes" for product, size in facts["jwks_sizes"].items())
    )
    print("Every server issues a JWT verified against its own JWKS before measuring:")
    for line in facts["checks"]:
        print(f"  {line}")
    print(
        "Figures are medians of rounds; CPU is the server's whole process tree (utime + stime) "
        "per request; TokenIDP/node is the median of per-round ratios of requests/s, with "
        "their min-max."
    )


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


ROW = "{conns:>5}  {server:<17}{rate:>9}{p50:>9}{p99:>9}{errors:>8}{cpu:>14}  {ratio}"


def report(results: dict, signatures: dict, *, cores: int) -> int:
    failures: list[str] = []
    errors: list[str] = []
    for group in dict.fromkeys(case.group for case in CASES):
        cases = [case for case in CASES if case.group == group]
        unit, per = ("req/s", "req") if cases[0].path == JWKS_PATH else ("tokens/s", "token")
        print(f"\n{group} ({cases[0].path})")
        print(
            ROW.format(
                conns="conns",
                server="server",
                rate=unit,
                p50="p50 ms",
                p99="p99 ms",
                errors="errors",
                cpu=f"CPU us/{per}",
                ratio=f"{'TokenIDP/node (min-max)':<24}{'target':<9}result",
            )
        )
        for case in cases:
            ratios = [
                tokenidp["per_second"] / node["per_second"]
                for tokenidp, node in zip(
                    results[case]["TokenIDP"], results[case]["node"], strict=True
                )
            ]
            ratio = statistics.median(ratios)
            passed = ratio >= case.target
            if not passed:
                failures.append(f"{case.label}: {ratio:.2f}x < {case.target}x")
            for product in ("node", "TokenIDP"):
                rows = results[case][product]
                error_count = sum(row["errors"] for row in rows)
                if error_count:
                    errors.append(f"{product}, {case.label}: {error_count:.0f}")
                name = product
                if case.deployment:
                    name += f" x{cores}" if product == "TokenIDP" else f" cluster x{cores}"
                print(
                    ROW.format(
                        conns=case.connections,
                        server=name,
                        rate=f"{median(rows, 'per_second'):.0f}",
                        p50=f"{median(rows, 'p50_us') / 1000:.2f}",
                        p99=f"{median(rows, 'p99_us') / 1000:.2f}",
                        errors=f"{error_count:.0f}",
                        cpu=f"{median(rows, 'cpu_per_request') * 1e6:.0f}",
                        ratio=""
                        if product == "node"
                        else f"{f'{ratio:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})':<24}"
                        f"{f'>= {case.target:.1f}x':<9}{'PASS' if passed else 'FAIL'}",
                    )
                )
    failures += report_signatures(results, signatures)
    print("\nErrors (non-2xx and socket errors), every server, case and round: ", end="")
    if errors:
        print("FAIL: " + "; ".join(errors))
        failures.append("errors: " + "; ".join(errors))
    else:
        print("zero everywhere  PASS")
    if failures:
        print(f"\nFAILED {len(failures)}:")
        for failure in failures:
            print(f"  {failure}")
        return 1
    print("\nEvery target passed.")
    return 0


def report_signatures(results: dict, signatures: dict) -> list[str]:
    """Raw signature costs, and server CPU per token as a multiple of one raw signature."""
    failures = []
    print(f"\nRaw signatures on core {SERVER_CORE}, timed around each token pair (median, min-max)")
    for algorithm, name in RAW_SIGNATURE_NAMES.items():
        timings = [pair[algorithm] for case in CASES for pair in signatures[case]]
        print(
            f"  {name:<30}{statistics.median(timings) * 1e6:7.0f} us "
            f"({min(timings) * 1e6:.0f}-{max(timings) * 1e6:.0f})"
        )
    print("Server CPU per token / one raw signature of its algorithm (median of rounds, min-max)")
    for case in CASES:
        if not signatures[case]:
            continue
        line = f"  {case.algorithm} {case.connections:>2} connections"
        multiples = {
            product: [
                row["cpu_per_request"] / pair[case.algorithm]
                for row, pair in zip(results[case][product], signatures[case], strict=True)
            ]
            for product in PRODUCTS
        }
        for product, values in multiples.items():
            spread = f"({min(values):.2f}-{max(values):.2f})"
            line += f"   {product} {statistics.median(values):5.2f}x {spread:<13}"
        if case.algorithm == "RS256" and case.connections == CPU_TARGET_CONNECTIONS:
            judged = statistics.median(multiples["TokenIDP"])
            passed = judged <= CPU_TARGET_RATIO
            line += f"  TokenIDP target <= {CPU_TARGET_RATIO}x  {'PASS' if passed else 'FAIL'}"
            if not passed:
                failures.append(
                    f"TokenIDP CPU per RS256 token at {case.connections} connections: "
                    f"{judged:.2f}x the raw signature > {CPU_TARGET_RATIO}x"
                )
        print(line)
    return failures


def median(rows: list[dict], name: str) -> float:
    return statistics.median(row[name] for row in rows)


if __name__ == "__main__":
    raise SystemExit(main())
