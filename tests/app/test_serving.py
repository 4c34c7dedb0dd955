"""Serving as operators run it: bad addresses and worker counts are one line, the logs share
one format and never hold a secret, and any working directory works."""

from __future__ import annotations

import gc
import os
import re
import socket
import subprocess
import time

import pytest
import requests
from idp_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    ROOT,
    CertStore,
    Gunicorn,
    free_port,
    new_key,
    unprivileged,
    venv_bin,
)

from app import serving
from app.documents import TOKEN_PATH

GUNICORN = [venv_bin("gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"), "wsgi:app"]
# 2026-11-26T13:27:39.364+00:00 [1234] INFO tokenidp: …
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d \[\d+\] [A-Z]+ [\w.]+: "
)


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """A Production configuration with a real certificate, and a folder to start from."""
    folder = tmp_path_factory.mktemp("serving")
    store = CertStore(folder / "certstores")
    signing = store.add(key=new_key("ec"))
    return store, store.environ(CertificateThumbprint=signing.thumbprint), folder


def _start(command, environ, cwd, *, timeout=30) -> subprocess.CompletedProcess:
    env = {**os.environ, **environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    ("variables", "setting"),
    [
        ({"TOKENIDP_WORKERS": "0"}, "TOKENIDP_WORKERS"),
        ({"TOKENIDP_WORKERS": "two"}, "TOKENIDP_WORKERS"),
        ({"TOKENIDP_WORKERS": "-1"}, "TOKENIDP_WORKERS"),
        ({"TOKENIDP_BIND": "127.0.0.1:99999"}, "TOKENIDP_BIND"),
        ({"TOKENIDP_BIND": "127.0.0.1"}, "TOKENIDP_BIND"),
        ({"TOKENIDP_BIND": "bad host!:8080"}, "TOKENIDP_BIND"),
        ({"TOKENIDP_BIND": "", "PORT": "http"}, "PORT"),
    ],
    ids=["workers-0", "workers-word", "workers-negative", "port-range", "no-port", "host", "port"],
)
@pytest.mark.parametrize("runner", ["gunicorn", "tokenidp serve"])
def test_a_bad_bind_or_worker_count_is_one_line_and_exit_2(production, variables, setting, runner):
    _, environ, folder = production
    command = GUNICORN if runner == "gunicorn" else [venv_bin("tokenidp"), "serve"]
    result = _start(command, {**environ, **variables}, folder)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert f": {setting}: " in result.stderr and "Traceback" not in result.stderr


def test_a_port_in_use_is_one_line_naming_tokenidp_bind_and_no_ready_line(production):
    _, environ, folder = production
    with socket.socket() as occupant:
        occupant.bind(("127.0.0.1", 0))
        occupant.listen()
        port = occupant.getsockname()[1]
        started = time.monotonic()
        result = _start(GUNICORN, {**environ, "TOKENIDP_BIND": f"127.0.0.1:{port}"}, folder)
    assert result.returncode == 2
    assert time.monotonic() - started < 10, "no retry loop"
    [refusal] = [line for line in result.stderr.splitlines() if line.startswith("tokenidp:")]
    assert refusal == (
        f"tokenidp: refusing to start: TOKENIDP_BIND: cannot listen on 127.0.0.1:{port}: "
        "the address is in use (another server is listening there)"
    )
    assert "ready" not in result.stderr.lower()


def test_an_unreadable_file_in_the_store_does_not_stop_gunicorn(production, tmp_path):
    store, environ, _ = production
    stranger = store.folder / "someone-elses.pfx"
    stranger.write_bytes(b"not ours")
    stranger.chmod(0)
    port = free_port()
    env = {**os.environ, **environ, "PYTHONPATH": str(ROOT), "TOKENIDP_BIND": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        unprivileged(GUNICORN), env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", process)
    finally:
        process.terminate()
        stderr = process.communicate(timeout=20)[1]
        stranger.unlink()
    assert "Traceback" not in stderr


def test_an_unreadable_store_folder_stops_gunicorn_with_one_line(production, tmp_path):
    store, environ, _ = production
    store.folder.chmod(0)
    try:
        result = _start(unprivileged(GUNICORN), environ, tmp_path)
    finally:
        store.folder.chmod(0o755)
    assert result.returncode == 2
    [refusal] = [line for line in result.stderr.splitlines() if line.startswith("tokenidp:")]
    assert "TokenOptions:CertificateThumbprint" in refusal
    assert "unreadable: permission denied" in refusal
    assert "Traceback" not in result.stderr


def test_app_and_gunicorn_log_in_one_format_with_an_access_log_free_of_secrets(production):
    store, environ, folder = production
    server = Gunicorn(environ, cwd=folder)
    try:
        server.wait_ready()
        token = server.issue_token()
        refused = requests.post(
            f"{server.url}{TOKEN_PATH}?secret=in-the-query",
            data={"grant_type": "client_credentials", "client_id": "mallory\nforged line"},
            auth=None,
            timeout=5,
        )
        assert refused.status_code == 401
    finally:
        log = server.stop()
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines and all(LOG_LINE.match(line) for line in lines), log
    assert any(" gunicorn: Booting worker" in line for line in lines)
    [ready] = [line for line in lines if "TokenIDP ready on http://127.0.0.1:" in line]
    access = [line for line in lines if " tokenidp.access: 127.0.0.1 " in line]
    assert any(f'"POST {TOKEN_PATH}" 200 ' in line for line in access), access
    assert any(f'"POST {TOKEN_PATH}" 401 ' in line for line in access), access
    assert any('"GET /healthz" 200 ' in line for line in access), "Flask's paths too"
    assert all(re.search(r" \d+\.\dms rid=[0-9a-f]{20}$", line) for line in access), access
    [failure] = [line for line in lines if "client authentication failed" in line]
    assert "client_id='mallory\\nforged line' address=127.0.0.1" in failure
    assert token not in log and CLIENT_SECRET not in log and "in-the-query" not in log


def test_check_resolves_the_key_without_the_servers_ready_line(production):
    _, environ, folder = production
    result = _start([venv_bin("tokenidp"), "check"], environ, folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")
    assert "ready" not in (result.stdout + result.stderr).lower()


def test_serving_works_from_a_folder_holding_only_appsettings(production, tmp_path):
    """A systemd WorkingDirectory next to appsettings.json: no gunicorn.conf.py there."""
    store, environ, _ = production
    (tmp_path / "appsettings.json").write_text('{"TokenOptions": {"Audience": "orders"}}')
    for command in (
        [venv_bin("tokenidp"), "serve"],
        [venv_bin("gunicorn"), "--config", "python:app.gunicorn_config", "wsgi:app"],
    ):
        port = free_port()
        env = {**os.environ, **environ, "TOKENIDP_BIND": f"127.0.0.1:{port}"}
        env.pop("PYTHONPATH", None)
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/healthz", process)
            response = requests.post(
                f"http://127.0.0.1:{port}{TOKEN_PATH}",
                data={"grant_type": "client_credentials"},
                auth=(CLIENT_ID, CLIENT_SECRET),
                timeout=5,
            )
            assert response.status_code == 200
        finally:
            process.terminate()
            stderr = process.communicate(timeout=20)[1]
        assert "TokenIDP ready on" in stderr, stderr


def test_gunicorn_without_tokenidps_settings_stops_instead_of_losing_preload(production, tmp_path):
    _, environ, _ = production
    env = {**environ, "TOKENIDP_BIND": f"127.0.0.1:{free_port()}"}
    result = _start(
        [venv_bin("gunicorn"), "--bind", env["TOKENIDP_BIND"], "wsgi:app"], env, tmp_path
    )
    assert result.returncode != 0
    refusals = {line for line in result.stderr.splitlines() if line.startswith("tokenidp:")}
    assert len(refusals) == 1
    assert "started without TokenIDP's settings" in refusals.pop()


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited: {process.stderr.read()}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or booting
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered")


def test_workers_fork_with_the_app_frozen_and_collect_young_objects_less_often():
    """What the master made before forking is never walked by a worker's collections, and
    requests in flight are not walked every 700 new objects (app/serving.py)."""
    threshold = gc.get_threshold()
    try:
        serving.freeze_startup_objects(server=None, worker=None)
        assert gc.get_freeze_count() > 0
        serving.collect_garbage_less_often()
        assert gc.get_threshold()[0] == serving.YOUNG_OBJECTS_PER_COLLECTION
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
