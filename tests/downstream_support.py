"""The example downstream API (`python -m examples.downstream_api`) as a process, fetching
keys from a JWKS address (the CDN's, in the runbook tests)."""

from __future__ import annotations

import os
import subprocess
import sys

import requests
from idp_support import AUDIENCE, ISSUER, ROOT


class DownstreamApi:
    """Started with no refresh cool-down, so a token under an unknown kid refreshes at once."""

    def __init__(self, jwks_uri: str, *, issuer: str = ISSUER) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "examples.downstream_api",
                "--jwks-uri",
                jwks_uri,
                "--issuer",
                issuer,
                "--audience",
                AUDIENCE,
                "--port",
                "0",
                "--refresh-cooldown",
                "0",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.process.stdout.readline().strip().rsplit(" ", 1)[-1]

    def get_orders(self, token: str) -> requests.Response:
        return requests.get(
            f"{self.url}/orders", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )

    def metrics(self) -> str:
        return requests.get(f"{self.url}/metrics", timeout=5).text

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def command(environ: dict[str, str], *args: str, cwd) -> subprocess.CompletedProcess:
    """A `tokenidp` or `python -m publisher` run, as an operator's shell would start it."""
    return subprocess.run(
        [*args],
        env={**os.environ, **environ, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def kids_at(url: str) -> set[str]:
    return {key["kid"] for key in requests.get(url, timeout=5).json()["keys"]}
