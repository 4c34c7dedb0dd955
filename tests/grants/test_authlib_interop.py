"""A standard OpenID Connect client, Authlib's (not our code), against the real IdP under
gunicorn: authorization code with PKCE, the ID token validated against the JWKS the IdP
serves (iss, aud, nonce, at_hash), userinfo, and a refresh; then 50 simultaneous refreshes
across two gunicorn workers, exactly one of which succeeds. On SQLite and PostgreSQL.

The person's part is played over HTTP as a browser would: Authlib's authorization URL
gives the sign-in page, its form is posted with the user's password, and the redirect to
the client carries the code. Everything after the redirect is Authlib's.
"""

from __future__ import annotations

import threading
import time
import warnings
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from grants_support import (
    OIDC_SCOPES,
    REDIRECT_URI,
    WEB_CLIENT_ID,
    add_user,
    issue_code,
    register_people_clients,
)
from idp_support import Gunicorn, migrated_sqlite_url
from people_support import PASSWORD, USERNAME, add_test_user, form_fields
from sqlalchemy import select

from app.documents import DISCOVERY_PATH
from app.storage import Storage
from app.storage.engine import create_storage_engine
from app.storage.migrate import upgrade
from app.storage.schema import audit_events

with warnings.catch_warnings():  # authlib.jose says joserfc replaces it in Authlib 2.0
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.jose import JsonWebKey, jwt


@pytest.fixture
def server(store, rsa_key, config_dir, tmp_path, database_url):
    """gunicorn in Development (so the issuer is its own loopback URL, as Authlib fetches
    it) signing with a real certificate from the store, on the engine's database."""
    signing = store.add(key=rsa_key, subject="CN=tokenidp signing 2026")
    if database_url.startswith("sqlite"):
        database_url = migrated_sqlite_url(tmp_path / "idp.sqlite3")
    environ = {
        "TOKENIDP_ENVIRONMENT": "Development",
        "TOKENIDP_DATABASE_URL": database_url,
        "TOKENIDP_CONFIG_DIR": str(config_dir),
        "TokenOptions__Audience": "tokenidp-api",
        "TokenOptions__CertificateStoreRoot": str(store.root),
        "TokenOptions__CertificateStoreLocation": store.location,
        "TokenOptions__CertificateStoreName": store.name,
        "TokenOptions__CertificateThumbprint": signing.thumbprint,
    }
    storage = Storage(create_storage_engine(database_url))
    upgrade(storage.engine)
    secret = register_people_clients(environ)
    add_user(storage)
    gunicorn = Gunicorn(environ, cwd=config_dir, workers=2)
    try:
        gunicorn.wait_ready()
        yield gunicorn, storage, secret, signing.thumbprint
    finally:
        log = gunicorn.stop()
        storage.engine.dispose()
        assert secret not in log


def sign_in_as_a_person(authorization_url: str) -> str:
    """What a person does in a browser: the sign-in page, then its form with the password;
    returns where the IdP sends the browser back (not followed: it is the client's)."""
    browser = requests.Session()
    page = browser.get(authorization_url, timeout=5, allow_redirects=False)
    assert page.status_code == 200, page.text
    action, fields = form_fields(page.text)
    answer = browser.post(
        urljoin(authorization_url, action),
        data={**fields, "username": USERNAME, "password": PASSWORD},
        timeout=10,
        allow_redirects=False,
    )
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["Location"]


def test_authlib_completes_code_pkce_validates_the_id_token_calls_userinfo_and_refreshes(server):
    gunicorn, storage, secret, kid = server
    person = add_test_user(storage)
    discovery = requests.get(f"{gunicorn.url}{DISCOVERY_PATH}", timeout=5).json()
    assert discovery["issuer"] == gunicorn.url
    assert "S256" in discovery["code_challenge_methods_supported"]
    session = OAuth2Session(
        client_id=WEB_CLIENT_ID,
        client_secret=secret,
        scope=" ".join((*OIDC_SCOPES, "orders.read")),
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    code_verifier = generate_token(64)
    nonce = generate_token(20)
    authorization_url, state = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )
    asked = {
        name: values[0] for name, values in parse_qs(urlsplit(authorization_url).query).items()
    }
    assert asked["code_challenge_method"] == "S256"

    redirected_to = sign_in_as_a_person(authorization_url)
    assert redirected_to.startswith(f"{REDIRECT_URI}?code=")
    token = session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=redirected_to,
        code_verifier=code_verifier,
    )
    assert {"access_token", "id_token", "refresh_token"} <= set(token)

    key_set = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=5).json())
    claims = jwt.decode(
        token["id_token"],
        key_set,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": discovery["issuer"]}},
        claims_params={
            "nonce": nonce,
            "client_id": WEB_CLIENT_ID,
            "access_token": token["access_token"],
        },
    )
    claims.validate()  # iss, aud, exp, iat, nonce, at_hash
    assert claims["sub"] == person
    assert claims["aud"] == WEB_CLIENT_ID
    assert (claims["name"], claims["email"]) == ("Alice Liddell", "alice@example.com")
    assert claims.header["kid"] == kid

    userinfo = session.get(discovery["userinfo_endpoint"], timeout=5)
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == person
    assert userinfo.json()["email"] == "alice@example.com"

    first_refresh_token = token["refresh_token"]
    refreshed = session.refresh_token(discovery["token_endpoint"])
    assert refreshed["refresh_token"] != first_refresh_token
    assert refreshed["access_token"] != token["access_token"]
    refreshed_claims = jwt.decode(
        refreshed["id_token"],
        key_set,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": discovery["issuer"]}},
        claims_params={"client_id": WEB_CLIENT_ID, "access_token": refreshed["access_token"]},
    )
    refreshed_claims.validate()
    assert session.get(discovery["userinfo_endpoint"], timeout=5).status_code == 200

    with storage.engine.connect() as connection:
        issued = connection.execute(
            select(audit_events.c.grant_type, audit_events.c.kid).where(
                audit_events.c.event == "token.issued"
            )
        ).all()
    assert sorted(issued) == [("authorization_code", kid), ("refresh_token", kid)]


def test_fifty_simultaneous_refreshes_against_two_gunicorn_workers_give_one_success(server):
    """Across processes: 50 threads, one refresh token, two workers with their own
    connections; exactly one gets tokens, the rest `invalid_grant` (retries in grace)."""
    gunicorn, storage, secret, _ = server
    code = issue_code(storage, now=time.time())
    token_url = f"{gunicorn.url}/connect/token"
    first = requests.post(
        token_url,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(WEB_CLIENT_ID, secret),
        timeout=10,
    ).json()
    barrier = threading.Barrier(50)
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def use() -> None:
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        barrier.wait()
        response = requests.post(token_url, data=form, auth=(WEB_CLIENT_ID, secret), timeout=30)
        with lock:
            answers.append((response.status_code, response.json().get("error")))

    threads = [threading.Thread(target=use) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [(200, None)] + [(400, "invalid_grant")] * 49
    with storage.engine.connect() as connection:
        reused = connection.execute(
            select(audit_events.c.id).where(audit_events.c.event == "refresh_token.reused")
        ).all()
    assert reused == []  # a retry within the grace window revokes nothing
