"""Shared fixtures: real keys (generated once per session), stores and apps."""

from __future__ import annotations

import pytest
from database_support import database_url, storage  # noqa: F401 - fixtures for every folder
from idp_support import CertStore, free_port, new_key
from moto.server import ThreadedMotoServer


@pytest.fixture(scope="session")
def rsa_key():
    return new_key("rsa")


@pytest.fixture(scope="session")
def other_rsa_key():
    return new_key("rsa")


@pytest.fixture(scope="session")
def ec_key():
    return new_key("ec")


@pytest.fixture
def store(tmp_path) -> CertStore:
    return CertStore(tmp_path / "certstores")


@pytest.fixture
def config_dir(tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def moto_server():
    """moto's S3 and CloudFront as a real HTTP server on loopback; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def pytest_collection_modifyitems(items):
    """Start tests marked slow first, so each runs beside the others instead of after them.

    Tests marked browser run last: Playwright's sync API keeps its event loop set as the
    running loop of the main thread while the shared browser lives, and code that asks
    `asyncio.get_running_loop()` (storage, the client registry) would find it.
    """
    items.sort(
        key=lambda item: (
            item.get_closest_marker("slow") is None,
            item.get_closest_marker("browser") is not None,
        )
    )
