"""Whatever a client sends to the code and refresh grants or to userinfo, the answer is an
OAuth JSON error with a 4xx status, never a 500 (SQLite; the parsing is engine-free)."""

from __future__ import annotations

import pytest
from grants_support import WEB_CLIENT_ID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.documents import TOKEN_PATH, USERINFO_PATH

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
HOSTILE = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def sqlite_only(database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("input handling does not depend on the engine")


@HOSTILE
@given(code=TEXT, redirect_uri=TEXT, verifier=TEXT, scope=TEXT)
def test_any_code_request_gets_a_4xx_oauth_error(
    sqlite_only, idp, web_secret, code, redirect_uri, verifier, scope
):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        "scope": scope,
    }
    answer = idp.post(TOKEN_PATH, form, auth=(WEB_CLIENT_ID, web_secret))
    assert 400 <= answer.status < 500, answer.body
    assert answer.json()["error"] in ("invalid_request", "invalid_grant")


@HOSTILE
@given(token=TEXT, scope=TEXT, client_id=TEXT)
def test_any_refresh_request_gets_a_4xx_oauth_error(
    sqlite_only, idp, web_secret, token, scope, client_id
):
    answer = idp.post(
        TOKEN_PATH,
        {"grant_type": "refresh_token", "refresh_token": token, "scope": scope},
        auth=(WEB_CLIENT_ID, web_secret),
    )
    assert 400 <= answer.status < 500, answer.body
    public = idp.post(
        TOKEN_PATH,
        {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id},
        auth=None,
    )
    assert 400 <= public.status < 500, public.body
    assert "error" in public.json()


@HOSTILE
@given(authorization=st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=200))
def test_any_userinfo_authorization_gets_a_bearer_error(sqlite_only, idp, authorization):
    response = idp.flask_app.test_client().get(
        USERINFO_PATH, headers={"Authorization": f"Bearer {authorization}"}
    )
    assert response.status_code in (400, 401), response.data
    assert response.headers["WWW-Authenticate"].startswith("Bearer") or (
        response.get_json()["error"] == "invalid_request"
    )
