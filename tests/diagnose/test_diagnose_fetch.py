"""Reading a JWKS over HTTP: the caching headers an API sees, and failures as rows, not raises."""

from __future__ import annotations

from diagnose_support import diagnose, origin_jwks
from idp_support import free_port

from app.diagnosis import Verdict
from app.diagnosis.sources import CDN, fetch_jwks


def test_fetch_keeps_the_body_and_the_caching_headers(cdn, settings):
    document = origin_jwks(settings)
    cdn.serve(
        document.body,
        Cache_Control="public, max-age=300",
        Age="42",
        ETag='"abc123"',
        Last_Modified="Mon, 04 May 2026 08:00:00 GMT",
    )

    response = fetch_jwks(cdn.url, label="CDN", role=CDN, timeout_seconds=2)

    assert response.error is None
    assert response.body == document.body
    assert (response.cache_control, response.age, response.etag, response.last_modified) == (
        "public, max-age=300",
        "42",
        '"abc123"',
        "Mon, 04 May 2026 08:00:00 GMT",
    )


def test_unreachable_jwks_url_is_a_row_with_the_reason(settings, token):
    closed = f"http://127.0.0.1:{free_port()}/.well-known/jwks.json"

    response = fetch_jwks(closed, label=f"CDN {closed}", role=CDN, timeout_seconds=2)
    diagnosis = diagnose(token, settings, response)

    assert response.error == "cannot connect (Connection refused)"
    assert diagnosis.verdict.verdict is Verdict.SOURCE_UNREADABLE
    assert f"CDN {closed} could not be read (cannot connect" in diagnosis.verdict.message
    assert not diagnosis.would_validate
    assert diagnosis.sources[0].would_validate


def test_http_error_status_is_reported_with_its_code(cdn, settings, token):
    cdn.serve(b"<Error>AccessDenied</Error>", status=403)

    diagnosis = diagnose(
        token, settings, fetch_jwks(cdn.url, label="CDN", role=CDN, timeout_seconds=2)
    )

    assert diagnosis.verdict.message.startswith("CDN could not be read (HTTP 403)")


def test_slow_jwks_url_times_out(settings):
    import socket

    with socket.socket() as listener:  # accepts the connection, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/jwks.json"
        response = fetch_jwks(url, label="CDN", role=CDN, timeout_seconds=0.2)

    assert response.error == "no answer within 0.2 s"
