"""An IdP environment on a migrated database of each engine, as the CLI and the app read it."""

from __future__ import annotations

import pytest
from clients_support import idp_environ


@pytest.fixture
def signing_certificate(store, rsa_key):
    return store.add(key=rsa_key, subject="CN=tokenidp signing 2026, O=Example")


@pytest.fixture
def environ(store, config_dir, signing_certificate, database_url):
    return idp_environ(store, config_dir, signing_certificate, database_url)


CHROMIUM = "/usr/bin/chromium"
# facts.md: Debian's chromium under Playwright, never `playwright install`.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for every browser test of a worker. `make test` (CI) sets
    TOKENIDP_REQUIRE_BROWSER after installing it, so there a missing browser fails.

    While it lives, Playwright's loop is the main thread's running loop: tests that use it
    are marked `browser`, which tests/conftest.py runs after every other test."""
    import os
    import shutil

    if shutil.which("chromium") is None or not os.path.exists(CHROMIUM):
        message = "chromium is missing: apt-get install -y chromium (make system-packages)"
        if os.environ.get("TOKENIDP_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
