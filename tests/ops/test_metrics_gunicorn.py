"""Metrics under gunicorn with several workers: every worker's counts in one scrape, and a
dead worker's keyring series gone (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests
from idp_support import CLIENT_ID, CLIENT_SECRET, ROOT, Gunicorn
from ops_support import sample, samples

from app.documents import TOKEN_PATH


def keyring_pids(server: Gunicorn) -> set[str]:
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    return {labels["pid"] for labels, value in samples(text, "tokenidp_keyring_info") if value}


def wait_for(condition, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_every_workers_tokens_are_counted_and_dead_workers_leave(store, config_dir, rsa_key):
    added = store.add(key=rsa_key)
    server = Gunicorn(
        store.environ(CertificateThumbprint=added.thumbprint), cwd=config_dir, workers=2
    )
    try:
        server.wait_ready()
        for _ in range(40):  # a new connection each time: both workers serve
            response = requests.post(
                f"{server.url}{TOKEN_PATH}",
                data={"grant_type": "client_credentials"},
                auth=(CLIENT_ID, CLIENT_SECRET),
                timeout=5,
            )
            assert response.status_code == 200
        text = requests.get(f"{server.url}/metrics", timeout=5).text
        issued = sample(
            text,
            "tokenidp_tokens_issued_total",
            grant_type="client_credentials",
            client_id=CLIENT_ID,
            kid=added.thumbprint,
        )
        assert issued == 40
        assert sample(text, "tokenidp_token_request_duration_seconds_count") == 40
        wait_for(lambda: len(keyring_pids(server)) == 2)
        victim = sorted(keyring_pids(server))[0]
        os.kill(int(victim), signal.SIGKILL)
        wait_for(lambda: victim not in keyring_pids(server) and len(keyring_pids(server)) == 2)
        after = requests.get(f"{server.url}/metrics", timeout=5).text
        assert sample(after, "tokenidp_tokens_issued_total", client_id=CLIENT_ID) == 40, (
            "a dead worker's counts stay"
        )
    finally:
        server.stop()


def test_an_operators_metrics_folder_is_emptied_at_start(store, config_dir, rsa_key, tmp_path):
    """Counts a previous run left in `PROMETHEUS_MULTIPROC_DIR` are not added to this one's."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from app.ops import metrics; "
            "metrics.token_issued('client_credentials', 'previous-run', 'OLDKID')",
        ],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "PYTHONPATH": str(ROOT)},
        check=True,
    )
    assert list(folder.glob("*.db")), "the previous run left its counts"
    added = store.add(key=rsa_key)
    environ = {
        **store.environ(CertificateThumbprint=added.thumbprint),
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    server = Gunicorn(environ, cwd=config_dir, workers=2)
    try:
        server.wait_ready()
        server.issue_token()
        text = requests.get(f"{server.url}/metrics", timeout=5).text
    finally:
        server.stop()
    assert "previous-run" not in text
    assert sample(text, "tokenidp_tokens_issued_total", client_id=CLIENT_ID) == 1
