"""Hostile input at the token endpoint: always an OAuth JSON error or a token, never a 5xx."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pytest
from asgi_support import asgi_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from idp_support import CLIENT_ID, CLIENT_SECRET, CertStore, new_key

from app import create_app
from app.config import load_config
from app.documents import TOKEN_PATH
from app.http.application import serve

OAUTH_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def application(tmp_path_factory):
    """One IdP for every example: hypothesis runs hundreds of requests against it."""
    folder = tmp_path_factory.mktemp("hostile")
    store = CertStore(folder / "certstores")
    signing = store.add(key=new_key("ec"))
    config_dir = folder / "config"
    config_dir.mkdir()
    environ = {
        **store.environ(CertificateThumbprint=signing.thumbprint),
        # Hundreds of failed authentications from one address: the abuse limits would
        # answer 429 after 20 (tests/ops/test_rate_limits.py covers them).
        "RateLimits__FailuresPerAddress": "1000000/minute",
        "RateLimits__FailuresPerId": "1000000/minute",
    }
    return serve(create_app(load_config(environ, config_dir=config_dir)))


@pytest.fixture(scope="module")
def token_client(application):
    return application.flask_app.test_client()


@dataclass(frozen=True)
class Answer:
    status_code: int
    data: bytes


def send(application, adapter: str, method: str, headers: dict, content_type: str, body: bytes):
    """One request through the WSGI adapter (Flask's test client) or the ASGI adapter."""
    if adapter == "wsgi":
        response = application.flask_app.test_client().open(
            TOKEN_PATH, method=method, headers=headers, content_type=content_type, data=body
        )
        return Answer(response.status_code, response.data)
    headers = {**headers, "Content-Length": str(len(body))}
    if content_type:
        headers["Content-Type"] = content_type
    answer = asgi_request(application.asgi, method, TOKEN_PATH, headers=headers, body=body)
    return Answer(answer.status, answer.body)


def _basic(text: str) -> dict[str, str]:
    return {"Authorization": f"Basic {text}"}


def _assert_oauth_answer(response) -> None:
    assert response.status_code < 500, response.data
    body = json.loads(response.data)
    if response.status_code == 200:
        assert body["token_type"] == "Bearer" and body["access_token"].count(".") == 2
    else:
        assert 400 <= response.status_code < 500
        assert body["error"] in OAUTH_ERRORS
        assert isinstance(body["error_description"], str)


@pytest.mark.parametrize(
    "credentials",
    [
        "\u00b7\u00e9t\u00e9",
        "b3JkZXJz\u00ff",
        "\u00e9" * 40,
        base64.b64encode(b"\xff\xfe:x").decode(),
    ],
    ids=["latin-1", "trailing-0xff", "long", "not-utf8-inside"],
)
def test_basic_credentials_that_are_not_ascii_base64_are_invalid_client(token_client, credentials):
    response = token_client.post(
        TOKEN_PATH, data={"grant_type": "client_credentials"}, headers=_basic(credentials)
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)
form_values = st.text(max_size=40)
form_fields = st.dictionaries(
    st.sampled_from(["grant_type", "scope", "client_id", "client_secret", "x", ""]),
    form_values | st.sampled_from(["client_credentials", CLIENT_ID, CLIENT_SECRET, "orders.read"]),
    max_size=5,
)


@st.composite
def token_requests(draw):
    method = draw(st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "HEAD", "OPTIONS"]))
    headers = {}
    authorization = draw(
        st.none()
        | header_text
        | st.builds(lambda text: f"Basic {text}", header_text)
        | st.builds(
            lambda user, password: (
                "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            ),
            st.sampled_from([CLIENT_ID, "x", ""]) | form_values,
            st.sampled_from([CLIENT_SECRET, ""]) | form_values,
        )
    )
    if authorization is not None:
        headers["Authorization"] = authorization
    content_type = draw(st.sampled_from([FORM, f"{FORM}; charset=utf-8", "application/json", ""]))
    body = draw(
        st.binary(max_size=200)
        | st.builds(
            lambda fields: "&".join(f"{k}={v}" for k, v in fields.items()).encode(), form_fields
        )
    )
    return method, headers, content_type, body


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=token_requests())
def test_no_request_to_the_token_endpoint_reaches_a_server_error(application, adapter, request):
    method, headers, content_type, body = request
    response = send(application, adapter, method, headers, content_type, body)
    if method == "HEAD":
        assert response.status_code == 405
        return
    _assert_oauth_answer(response)


@pytest.mark.parametrize(
    "scope",
    [
        "orders.read\torders.write",
        "orders.read  orders.write",
        " orders.read",
        "orders.read ",
        "orders.read\norders.write",
        "orders.read\u00a0orders.write",
        'orders."read"',
    ],
    ids=["tab", "two-spaces", "leading", "trailing", "newline", "nbsp", "quote"],
)
def test_scopes_are_separated_by_single_spaces_only(token_client, scope):
    response = token_client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "scope": scope},
        headers=_basic(base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"


def test_scopes_separated_by_one_space_are_granted(token_client):
    response = token_client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "scope": "orders.read orders.write"},
        headers=_basic(base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()),
    )
    assert response.status_code == 200
    assert response.get_json()["scope"] == "orders.read orders.write"


@settings(max_examples=1000, deadline=None)
@given(
    text=st.text(st.sampled_from("ab=&%+2F41xzé; ") | st.characters(), max_size=60)
    | st.builds("&".join, st.lists(st.text(alphabet="ab=%+2F0", max_size=8), max_size=6))
)
def test_form_fields_are_read_exactly_as_parse_qsl_reads_them(text):
    from urllib.parse import parse_qsl

    from app.oauth.token import form_pairs

    assert form_pairs(text) == parse_qsl(text, keep_blank_values=True)
