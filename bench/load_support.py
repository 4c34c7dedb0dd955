"""What the wrk benchmarks share: servers started and measured as whole process trees, wrk
runs with one summary line, and the raw signature timed on the server's core.

The server runs on core 0 and wrk on core 1 unless a bench asks for the deployment shape
(nothing pinned). A server's CPU is the utime + stime of its whole process tree, read from
/proc, including workers that exited and were reaped inside the tree.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from idp_support import free_port  # the benches put tests/ on sys.path

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE, LOAD_CORE = 0, 1
# wrk prints one machine-readable line at the end of a run.
WRK_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d "
    .. "non2xx=%d connect=%d read=%d write=%d timeout=%d\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
"""
ERROR_KINDS = ("non2xx", "connect", "read", "write", "timeout")


def write_token_script(path: Path, *, client_id: str, secret: str, scope: str) -> Path:
    """A wrk script POSTing client_credentials with HTTP Basic client authentication."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    path.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "grant_type=client_credentials&scope={scope}"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Authorization"] = "Basic {basic}"\n' + WRK_REPORT
    )
    return path


def write_get_script(path: Path) -> Path:
    path.write_text(WRK_REPORT)
    return path


def pinned(command: list[str], core: int | None) -> list[str]:
    """`command` under `taskset -c core` (which execs it: same pid, whole tree on the core)."""
    return command if core is None else ["taskset", "-c", str(core), *command]


def children(pid: int) -> list[int]:
    """Direct children of `pid`, whichever of its threads forked them."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except FileNotFoundError:
            continue
    return found


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and every descendant, plus the children they reaped."""
    ticks = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            pending.extend(children(current))
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile: its parent's cutime/cstime holds it once reaped
        fields = stat.rsplit(")", 1)[1].split()
        ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class ServerProcess:
    """A server this bench starts in its own session, ready once `ready_path` answers 200."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        url: str,
        ready_path: str,
        env: dict[str, str],
        cwd: Path,
        log_path: Path,
        timeout: float = 30,
    ) -> None:
        self.name = name
        self.url = url
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited at start-up:\n{self.log_tail()}")
            try:
                if requests.get(f"{url}{ready_path}", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} was not ready in {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the session this bench started
            self.process.wait(timeout=5)


def start_gunicorn(
    name: str,
    app: str,
    environ: dict[str, str],
    *,
    cwd: Path,
    workers: int,
    core: int | None,
    ready_path: str = "/healthz",
    config: str | None = None,
    extra: tuple[str, ...] = (),
) -> ServerProcess:
    """gunicorn the README way, `--config gunicorn.conf.py`: the repo decides the worker class.

    `config` replaces the repo's file only for apps other than TokenIDP (`python:module`).
    Its log (gunicorn's and the access log, on stderr) goes to `cwd/name.log`.
    """
    port = free_port()
    env = {
        **os.environ,
        **environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}:" + environ.get("PYTHONPATH", ""),
        "TOKENIDP_BIND": f"127.0.0.1:{port}",
        "TOKENIDP_WORKERS": str(workers),
    }
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    return ServerProcess(
        name,
        pinned([gunicorn, "--config", config or str(ROOT / "gunicorn.conf.py"), *extra, app], core),
        url=f"http://127.0.0.1:{port}",
        ready_path=ready_path,
        env=env,
        cwd=cwd,
        log_path=cwd / f"{name}.log",
    )


def wrk_output(
    url: str,
    *,
    seconds: float,
    connections: int,
    script: Path,
    core: int | None = LOAD_CORE,
    threads: int = 1,
) -> list[str]:
    """What one wrk run printed, line by line (its script's `done` lines included)."""
    command = pinned(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        core,
    )
    completed = subprocess.run(command, capture_output=True, text=True)
    lines = completed.stdout.splitlines()
    if completed.returncode != 0 or not any(line.startswith("RESULT ") for line in lines):
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return lines


def wrk_result(lines: list[str]) -> dict[str, float]:
    """The `RESULT name=value …` line that WRK_REPORT-style scripts print, as numbers."""
    line = next(line for line in lines if line.startswith("RESULT "))
    pairs = (part.split("=") for part in line.split()[1:])
    return {name: float(value) for name, value in pairs}


def run_wrk(
    url: str, *, seconds: float, connections: int, script: Path, core: int | None = LOAD_CORE
) -> dict[str, float]:
    return wrk_result(
        wrk_output(url, seconds=seconds, connections=connections, script=script, core=core)
    )


def measure(
    server: ServerProcess,
    path: str,
    *,
    seconds: float,
    connections: int,
    script: Path,
    core: int | None = LOAD_CORE,
) -> dict[str, float]:
    """One wrk run against `server`: rate, latency, errors and the server's CPU per request."""
    cpu_before = server.cpu_seconds()
    result = run_wrk(
        f"{server.url}{path}", seconds=seconds, connections=connections, script=script, core=core
    )
    result["cpu_seconds"] = server.cpu_seconds() - cpu_before
    result["errors"] = sum(result[kind] for kind in ERROR_KINDS)
    result["per_second"] = result["requests"] / result["seconds"]
    result["cpu_per_request"] = result["cpu_seconds"] / max(result["requests"], 1)
    return result


def raw_signature_seconds(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, count: int) -> float:
    """Median of three batches: one signature of a token-sized message on the server's core.

    RSA keys sign PKCS#1 v1.5 with SHA-256 (RS256), EC keys ECDSA with SHA-256 (ES256).
    """
    if isinstance(key, rsa.RSAPrivateKey):

        def sign(message: bytes) -> bytes:
            return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    else:

        def sign(message: bytes) -> bytes:
            return key.sign(message, ec.ECDSA(hashes.SHA256()))

    message = b"x" * 600
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {SERVER_CORE})
    try:
        samples = []
        for _ in range(3):
            started = time.process_time()
            for _ in range(count):
                sign(message)
            samples.append((time.process_time() - started) / count)
    finally:
        os.sched_setaffinity(0, previous)
    return sorted(samples)[1]
