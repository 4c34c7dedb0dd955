"""Two certificates in one store: the one that signs, and another to publish or switch to."""

from __future__ import annotations

import pytest


@pytest.fixture
def signing_certificate_pair(store, rsa_key, other_rsa_key):
    signing = store.add(key=rsa_key, subject="CN=tokenidp signing 2026")
    other = store.add(key=other_rsa_key, subject="CN=tokenidp signing 2027")
    return signing, other
