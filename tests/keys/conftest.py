"""Two certificates in one store (the one that signs, and another to publish or switch to),
and a folder the publisher writes served over HTTP: a CDN stand-in for `JwksUri`."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest
from revocation_support import idp_environ


@pytest.fixture
def signing_certificate_pair(store, rsa_key, other_rsa_key):
    signing = store.add(key=rsa_key, subject="CN=tokenidp signing 2026")
    other = store.add(key=other_rsa_key, subject="CN=tokenidp signing 2027")
    return signing, other


@pytest.fixture
def file_cdn(tmp_path):
    """The publisher's file:// target served over HTTP on loopback; yields it and `JwksUri`."""
    folder = tmp_path / "published"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


@pytest.fixture
def cdn_environ(store, config_dir, signing_certificate_pair, file_cdn):
    """Production settings on a SQLite database with the first certificate signing and
    `JwksUri` at the file CDN; `cdn_environ(**token_options)` adds or overrides options."""
    signing, _ = signing_certificate_pair
    _, jwks_uri = file_cdn

    def environ(**token_options: str) -> dict[str, str]:
        return idp_environ(
            store,
            config_dir,
            f"sqlite:///{config_dir / 'db.sqlite3'}",
            CertificateThumbprint=signing.thumbprint,
            JwksUri=jwks_uri,
            **token_options,
        )

    return environ
