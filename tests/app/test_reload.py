"""`kill -HUP` to the gunicorn master: the app is rebuilt from the configuration and the
store, without a failed request; a configuration error keeps the running app and says so
in one line."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest
import requests
from idp_support import CLIENT_ID, CLIENT_SECRET, Gunicorn

from app.documents import TOKEN_PATH


class Traffic:
    """Clients asking for tokens on kept-alive connections throughout: every answer kept."""

    def __init__(self, url: str, clients: int = 4) -> None:
        self.url = url
        self.lifetimes: list[int] = []
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        session = requests.Session()
        while not self.stopping.is_set():
            try:
                answer = session.post(
                    f"{self.url}{TOKEN_PATH}",
                    data={"grant_type": "client_credentials"},
                    auth=(CLIENT_ID, CLIENT_SECRET),
                    timeout=10,
                )
            except requests.RequestException as error:
                self.failures.append(f"{type(error).__name__}: {error}"[:300])
                continue
            if answer.status_code != 200:
                self.failures.append(f"{answer.status_code} {answer.text[:100]}")
            else:
                self.lifetimes.append(answer.json()["expires_in"])

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=15)


def settings_file(folder, lifetime) -> None:
    (folder / "appsettings.json").write_text(
        json.dumps({"TokenOptions": {"AccessTokenLifetime": lifetime}})
    )


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.slow
def test_hup_reloads_the_configuration_without_a_failed_request(store, config_dir, rsa_key):
    signing = store.add(key=rsa_key)
    settings_file(config_dir, 600)
    idp = Gunicorn(
        store.environ(CertificateThumbprint=signing.thumbprint),
        cwd=config_dir,
        workers=2,
        log=config_dir.parent / "gunicorn.log",
    )
    traffic = None
    try:
        idp.wait_ready()
        traffic = Traffic(idp.url)
        wait_for(lambda: len(traffic.lifetimes) > 20, 20, "traffic")

        settings_file(config_dir, 900)
        idp.process.send_signal(signal.SIGHUP)
        wait_for(lambda: traffic.lifetimes[-1] == 900, 30, "the new lifetime")
        served = len(traffic.lifetimes)
        wait_for(lambda: len(traffic.lifetimes) > served + 50, 20, "more traffic")

        settings_file(config_dir, "soon")
        idp.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in idp.stderr(), 20, "the refusal")
        served = len(traffic.lifetimes)
        wait_for(lambda: len(traffic.lifetimes) > served + 50, 20, "traffic after the refusal")
        traffic.stop()

        assert traffic.failures == []
        assert set(traffic.lifetimes[served:]) == {900}, "the running app was kept"
        [refusal] = [line for line in idp.stderr().splitlines() if "reload refused" in line]
        assert "still serving the previous configuration" in refusal
        assert "TokenOptions:AccessTokenLifetime" in refusal
        assert "Traceback" not in idp.stderr()
        assert idp.process.poll() is None, "the master keeps running"
    finally:
        if traffic is not None:
            traffic.stop()
        idp.stop()
