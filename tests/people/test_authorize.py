"""The authorization endpoint through Flask's test client: error pages where the client or
redirect URI cannot be trusted, RFC 6749 §4.1.2.1 redirects otherwise, PKCE S256, the
login form's CSRF token, one message for every failed sign-in, the session cookie, and
OpenID Connect's prompt and max_age."""

from __future__ import annotations

import re
import time

import pytest
from argon2 import PasswordHasher
from people_support import (
    CONFIDENTIAL_CLIENT,
    PASSWORD,
    PUBLIC_CLIENT,
    REDIRECT_URI,
    USERNAME,
    add_test_user,
    audit_events_named,
    authorization_parameters,
    code_row,
    form_fields,
    open_test_storage,
    redirect_query,
    register_web_clients,
)
from sqlalchemy import select, update

from app import create_app
from app.config import load_config
from app.oauth.authorize import AUTHORIZE_PATH, SIGN_IN_FAILED
from app.storage.schema import users
from app.users.accounts import check_sign_in, disable_user

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@pytest.fixture
def storage(environ, config_dir):
    storage = open_test_storage(environ["TOKENIDP_DATABASE_URL"], config_dir)
    register_web_clients(storage)
    yield storage
    storage.engine.dispose()


@pytest.fixture
def subject(storage):
    return add_test_user(storage)


@pytest.fixture
def app(environ, config_dir, storage, subject):
    return create_app(load_config(environ, config_dir=config_dir))


@pytest.fixture
def browser(app):
    return app.test_client()


def login_form(browser, parameters: dict) -> dict[str, str]:
    page = browser.get(AUTHORIZE_PATH, query_string=parameters)
    assert page.status_code == 200, page.text
    action, fields = form_fields(page.text)
    assert action == AUTHORIZE_PATH
    return fields


def sign_in(browser, parameters: dict, *, username=USERNAME, password=PASSWORD):
    fields = login_form(browser, parameters)
    return browser.post(AUTHORIZE_PATH, data={**fields, "username": username, "password": password})


def assert_error_page(response, message: str) -> None:
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.content_type == "text/html; charset=utf-8"
    assert message in response.text
    assert 'role="alert"' in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"client_id": None}, "client_id is missing"),
        ({"client_id": "not-registered"}, "not registered here"),
        ({"redirect_uri": None}, "has no redirect_uri"),
        ({"redirect_uri": "https://evil.example/callback"}, "not registered for this application"),
        ({"redirect_uri": REDIRECT_URI + "/"}, "not registered for this application"),
        ({"redirect_uri": REDIRECT_URI.upper()}, "not registered for this application"),
        ({"redirect_uri": REDIRECT_URI + "?x=1"}, "not registered for this application"),
    ],
)
def test_an_untrusted_client_or_redirect_uri_gets_a_page_never_a_redirect(
    browser, overrides, message
):
    response = browser.get(AUTHORIZE_PATH, query_string=authorization_parameters(**overrides))
    assert_error_page(response, message)


def test_a_repeated_redirect_uri_gets_a_page(browser):
    query = authorization_parameters()
    url = f"{AUTHORIZE_PATH}?redirect_uri={REDIRECT_URI}&" + "&".join(
        f"{name}={value}" for name, value in query.items()
    )
    assert_error_page(browser.get(url), "repeats redirect_uri")


@pytest.mark.parametrize(
    ("overrides", "error", "description"),
    [
        ({"response_type": "token"}, "unsupported_response_type", "response_type=code"),
        ({"response_type": None}, "invalid_request", "response_type is required"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request", "PKCE"),
        ({"code_challenge_method": "plain"}, "invalid_request", "plain is not accepted"),
        ({"code_challenge_method": None}, "invalid_request", "must be S256"),
        ({"code_challenge": "short"}, "invalid_request", "43-character"),
        ({"scope": "openid admin.everything"}, "invalid_scope", "admin.everything"),
        ({"scope": None}, "invalid_scope", "scope is required"),
        ({"prompt": "none login"}, "invalid_request", "prompt=none"),
        ({"max_age": "-1"}, "invalid_request", "max_age"),
        ({"response_mode": "fragment"}, "invalid_request", "response_mode"),
        ({"request": "eyJ..."}, "request_not_supported", "request"),
    ],
)
def test_request_errors_go_back_to_the_redirect_uri_with_the_state(
    browser, overrides, error, description
):
    parameters = authorization_parameters(**overrides)
    response = browser.get(AUTHORIZE_PATH, query_string=parameters)

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = redirect_query(location)
    assert query["error"] == error
    assert description in query["error_description"]
    assert query["state"] == parameters["state"]
    assert "code" not in query
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_a_client_without_the_code_grant_is_unauthorized(environ, config_dir, storage, subject):
    from app.client_registration import register_client

    with storage.transaction() as work:
        register_client(
            work, "machine", grant_types=("client_credentials",), scopes=("orders.read",),
            redirect_uris=(REDIRECT_URI,), is_public=False, reason=None, now=int(time.time()),
        )  # fmt: skip
    browser = create_app(load_config(environ, config_dir=config_dir)).test_client()
    response = browser.get(
        AUTHORIZE_PATH, query_string=authorization_parameters(client_id="machine")
    )
    assert redirect_query(response.headers["Location"])["error"] == "unauthorized_client"


def test_a_confidential_client_may_leave_out_pkce(browser):
    parameters = authorization_parameters(
        client_id=CONFIDENTIAL_CLIENT, code_challenge=None, code_challenge_method=None
    )
    assert browser.get(AUTHORIZE_PATH, query_string=parameters).status_code == 200


def test_the_login_page_is_accessible_and_locked_down(browser):
    response = browser.get(AUTHORIZE_PATH, query_string=authorization_parameters())

    assert response.status_code == 200
    html = response.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<html lang="en">' in html
    assert '<label for="username">' in html and 'id="username"' in html
    assert '<label for="password">' in html and 'id="password"' in html
    assert 'autocomplete="current-password"' in html
    assert "<script" not in html
    assert html.index('id="username"') < html.index('id="password"') < html.index("<button")
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    policy = response.headers["Content-Security-Policy"]
    nonce = re.search(r"<style nonce=\"([^\"]+)\">", html)[1]
    assert policy == (
        f"default-src 'none'; style-src 'nonce-{nonce}'; "
        "form-action 'self' https://app.example.test; frame-ancestors 'none'; base-uri 'none'"
    )
    csrf_cookie = response.headers["Set-Cookie"]
    assert csrf_cookie.startswith("tokenidp_csrf=")
    assert "HttpOnly" in csrf_cookie and "Secure" in csrf_cookie
    assert "SameSite=Lax" in csrf_cookie and "Path=/connect/" in csrf_cookie


def test_signing_in_stores_the_code_digest_and_redirects_with_code_and_state(
    browser, storage, subject
):
    parameters = authorization_parameters()
    response = sign_in(browser, parameters)

    assert response.status_code == 303
    query = redirect_query(response.headers["Location"])
    assert set(query) == {"code", "state"}
    assert query["state"] == parameters["state"]
    row = code_row(storage, query["code"])
    assert row is not None
    assert (row["client_id"], row["subject"], row["redirect_uri"]) == (
        PUBLIC_CLIENT,
        subject,
        REDIRECT_URI,
    )
    assert row["scopes"] == "openid profile email orders.read"
    assert row["nonce"] == parameters["nonce"]
    assert (row["code_challenge"], row["code_challenge_method"]) == (
        parameters["code_challenge"],
        "S256",
    )
    assert row["expires_at"] - row["created_at"] == 60
    assert abs(row["auth_time"] - time.time()) < 10
    session_cookie = next(
        value
        for value in response.headers.getlist("Set-Cookie")
        if value.startswith("tokenidp_session=")
    )
    assert "HttpOnly" in session_cookie and "Secure" in session_cookie
    assert "SameSite=Lax" in session_cookie
    [event] = audit_events_named(storage, "user.signed_in")
    assert (event["subject"], event["client_id"]) == (subject, PUBLIC_CLIENT)
    assert query["code"] not in repr(audit_events_named(storage, "user.signed_in"))


@pytest.mark.parametrize("case", ["wrong password", "unknown user", "disabled user"])
def test_every_failed_sign_in_gets_one_message_and_is_audited(browser, storage, case):
    username, password = USERNAME, PASSWORD
    if case == "wrong password":
        password = "not the password"
    elif case == "unknown user":
        username = "mallory"
    else:
        with storage.transaction() as work:
            disable_user(work, USERNAME, reason=None, now=int(time.time()))
    response = sign_in(browser, authorization_parameters(), username=username, password=password)

    assert response.status_code == 401
    assert "Location" not in response.headers
    assert (
        re.search(r'<p id="sign-in-error" class="alert" role="alert">([^<]+)</p>', response.text)[1]
        == SIGN_IN_FAILED
    )
    assert "disabled" not in response.text and "unknown" not in response.text.lower()
    [event] = audit_events_named(storage, "user.sign_in_failed")
    assert event["client_id"] == PUBLIC_CLIENT
    assert f'"username": "{username}"' in event["detail"]
    assert password not in repr(event)


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_missing_or_wrong_csrf_token_is_refused(browser, storage, token):
    fields = login_form(browser, authorization_parameters())
    fields.pop("csrf_token")
    if token is not None:
        fields["csrf_token"] = token
    response = browser.post(
        AUTHORIZE_PATH, data={**fields, "username": USERNAME, "password": PASSWORD}
    )
    assert_error_page(response, "did not come from this site")
    assert audit_events_named(storage, "user.signed_in") == []


def test_a_csrf_token_from_another_browser_is_refused(app, storage):
    first, second = app.test_client(), app.test_client()
    fields = login_form(first, authorization_parameters())
    login_form(second, authorization_parameters())  # the second browser's own CSRF cookie
    response = second.post(
        AUTHORIZE_PATH, data={**fields, "username": USERNAME, "password": PASSWORD}
    )
    assert_error_page(response, "did not come from this site")


def test_a_second_authorization_reuses_the_session(browser, storage):
    sign_in(browser, authorization_parameters())
    again = authorization_parameters()
    response = browser.get(AUTHORIZE_PATH, query_string=again)

    assert response.status_code == 302
    query = redirect_query(response.headers["Location"])
    assert query["state"] == again["state"]
    assert code_row(storage, query["code"])["nonce"] == again["nonce"]


def test_prompt_login_asks_again_despite_the_session(browser):
    sign_in(browser, authorization_parameters())
    response = browser.get(AUTHORIZE_PATH, query_string=authorization_parameters(prompt="login"))
    assert response.status_code == 200 and 'id="password"' in response.text


def test_max_age_zero_asks_again(browser):
    sign_in(browser, authorization_parameters())
    response = browser.get(AUTHORIZE_PATH, query_string=authorization_parameters(max_age="0"))
    assert response.status_code == 200 and 'id="password"' in response.text


def test_prompt_none_without_a_session_is_login_required(browser):
    parameters = authorization_parameters(prompt="none")
    response = browser.get(AUTHORIZE_PATH, query_string=parameters)
    query = redirect_query(response.headers["Location"])
    assert (query["error"], query["state"]) == ("login_required", parameters["state"])


def test_prompt_none_with_a_session_issues_a_code(browser, storage):
    sign_in(browser, authorization_parameters())
    response = browser.get(AUTHORIZE_PATH, query_string=authorization_parameters(prompt="none"))
    assert code_row(storage, redirect_query(response.headers["Location"])["code"]) is not None


def test_disabling_a_user_ends_their_session(browser, storage):
    sign_in(browser, authorization_parameters())
    with storage.transaction() as work:
        disable_user(work, USERNAME, reason=None, now=int(time.time()))
    response = browser.get(AUTHORIZE_PATH, query_string=authorization_parameters(prompt="none"))
    assert redirect_query(response.headers["Location"])["error"] == "login_required"


def test_a_forged_session_cookie_is_ignored(browser):
    browser.set_cookie("tokenidp_session", "eyJzdWIiOiJ4In0.AAAA", path="/connect/")
    response = browser.get(AUTHORIZE_PATH, query_string=authorization_parameters(prompt="none"))
    assert redirect_query(response.headers["Location"])["error"] == "login_required"


def test_a_hash_with_older_parameters_is_replaced_at_sign_in(browser, storage):
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with storage.transaction() as work:
        work.execute(update(users).where(users.c.username == USERNAME).values(password_hash=old))
    assert sign_in(browser, authorization_parameters()).status_code == 303
    with storage.reading() as connection:
        stored = connection.execute(
            select(users.c.password_hash).where(users.c.username == USERNAME)
        ).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_an_unknown_user_costs_what_a_wrong_password_costs(storage):
    """Measured alternately, keeping the fastest of each: the intrinsic cost, not the noise
    of whatever else the machine runs meanwhile."""
    fastest = {USERNAME: float("inf"), "nobody": float("inf")}
    for _ in range(7):
        for username in fastest:
            started = time.perf_counter()
            with storage.reading() as connection:
                assert check_sign_in(connection, username, "wrong").user is None
            fastest[username] = min(fastest[username], time.perf_counter() - started)

    assert fastest["nobody"] > 0.5 * fastest[USERNAME]
    assert fastest[USERNAME] > 0.005  # an argon2 verification, not a dictionary lookup


def test_cookies_are_not_secure_for_a_loopback_issuer(environ, config_dir, storage, subject):
    loopback = {**environ, "TokenOptions__Issuer": "http://127.0.0.1:5000"}
    browser = create_app(load_config(loopback, config_dir=config_dir)).test_client()
    response = sign_in(browser, authorization_parameters())
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(value for value in cookies if value.startswith("tokenidp_session="))
    assert "Secure" not in session_cookie
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


def test_a_post_authorization_request_works_like_a_get(browser):
    response = browser.post(AUTHORIZE_PATH, data=authorization_parameters())
    assert response.status_code == 200 and 'id="password"' in response.text


def test_every_instance_accepts_every_instances_session(environ, config_dir, app, storage):
    """The cookie's key is in the database, so a second instance knows the first's session."""
    first = app.test_client()
    sign_in(first, authorization_parameters())
    session_cookie = first.get_cookie("tokenidp_session", path="/connect/")
    second = create_app(load_config(environ, config_dir=config_dir)).test_client()
    second.set_cookie("tokenidp_session", session_cookie.value, path="/connect/")

    response = second.get(AUTHORIZE_PATH, query_string=authorization_parameters(prompt="none"))
    assert code_row(storage, redirect_query(response.headers["Location"])["code"]) is not None


def test_too_many_failed_sign_ins_are_refused_before_the_password_is_checked(
    environ, config_dir, storage, subject
):
    limited = {**environ, "RateLimits__FailuresPerId": "3/minute"}
    browser = create_app(load_config(limited, config_dir=config_dir)).test_client()
    for _ in range(3):
        failed = sign_in(browser, authorization_parameters(), password="guess")
        assert failed.status_code == 401

    refused = sign_in(browser, authorization_parameters())  # the right password, too late

    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Location" not in refused.headers
    alert = re.search(r'<p id="sign-in-error" class="alert" role="alert">([^<]+)</p>', refused.text)
    assert alert[1] == "Too many failed sign-ins. Try again in 1 min."
    assert len(audit_events_named(storage, "user.sign_in_failed")) == 3
    [limited_event] = audit_events_named(storage, "login.rate_limited")
    assert PASSWORD not in repr(limited_event)
