"""Shared fixtures: real keys (generated once per session), stores and apps."""

from __future__ import annotations

import pytest
from idp_support import CertStore, new_key


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
