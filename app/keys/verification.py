"""The runbook's "verify discovery and JWKS output", "issue a fresh token and validate it
against a downstream API" and "monitor cache behavior", as checks that say PASS or FAIL.

Each check looks where validators look: the public discovery document and `JwksUri` (usually
the CDN), a token from the IdP's own token endpoint validated with the validator library
against the JWKS fetched from `JwksUri`, and, when given, the downstream API itself. A
check that cannot run for want of an input (no check client) says SKIP and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import requests

from app.config import Settings
from app.documents import DISCOVERY_PATH, JWKS_PATH, TOKEN_PATH
from app.keys.instances import Instance
from app.keys.keyring import Keyring
from app.keys.observe import PublicKeys
from tokenidp_validator import TokenValidationError, parse_jwks, validate_token_with_keys
from tokenidp_validator.cache_control import max_age_seconds

HTTP_TIMEOUT_SECONDS = 10.0


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    detail: str


@dataclass(frozen=True)
class CheckClient:
    """The client `verify-rotation` gets its fresh token as (a client_credentials client)."""

    client_id: str
    secret: str
    scope: str | None = None


def public_discovery_url(settings: Settings) -> str:
    """Where validators find discovery: beside `JwksUri` when the publisher put both there,
    else at the issuer."""
    jwks_uri = settings.token.jwks_uri
    if jwks_uri.endswith(JWKS_PATH):
        return jwks_uri.removesuffix(JWKS_PATH) + DISCOVERY_PATH
    return settings.token.issuer + DISCOVERY_PATH


def check_discovery(settings: Settings, url: str, get: Callable[..., requests.Response]) -> Check:
    name = "discovery names this issuer and JwksUri"
    try:
        document = get(url, timeout=HTTP_TIMEOUT_SECONDS).json()
    except (requests.RequestException, ValueError) as error:
        return Check(name, Verdict.FAIL, f"{url}: {_reason(error)}")
    if not isinstance(document, dict):
        return Check(name, Verdict.FAIL, f"{url}: not a JSON object")
    wrong = [
        f"{member} is {document.get(member)!r}, not {expected!r}"
        for member, expected in (
            ("issuer", settings.token.issuer),
            ("jwks_uri", settings.token.jwks_uri),
        )
        if document.get(member) != expected
    ]
    if wrong:
        return Check(name, Verdict.FAIL, f"{url}: {'; '.join(wrong)}")
    return Check(name, Verdict.PASS, url)


def check_public_jwks(keyring: Keyring, public: PublicKeys) -> Check:
    name = "JwksUri holds the signing key and no revoked key"
    if public.error is not None:
        return Check(name, Verdict.FAIL, f"{public.url}: {public.error}")
    if keyring.signing is None:
        return Check(name, Verdict.FAIL, f"no key may sign: {keyring.unable_to_sign}")
    problems = []
    if not public.holds(keyring.signing.kid):
        problems.append(f"the signing key {keyring.signing.kid} is missing")
    revoked = sorted(public.kids & keyring.revoked_kids)
    if revoked:
        problems.append(f"revoked key(s) still published: {', '.join(revoked)}")
    if problems:
        return Check(name, Verdict.FAIL, f"{public.url}: {'; '.join(problems)} (run the publisher)")
    return Check(name, Verdict.PASS, f"{public.url}: signing {keyring.signing.kid}")


def check_instances(keyring: Keyring, instances: list[Instance]) -> Check:
    name = "every live instance uses this keyring"
    if not instances:
        return Check(name, Verdict.FAIL, "no live instance reports a heartbeat to this database")
    signing = keyring.signing.kid if keyring.signing is not None else None
    published = set(keyring.published_kids)
    behind = [
        f"{instance.name} signs {instance.signing_kid or 'nothing'}"
        for instance in instances
        if instance.signing_kid != signing or set(instance.published_kids) != published
    ]
    if behind:
        return Check(name, Verdict.FAIL, "; ".join(behind))
    return Check(name, Verdict.PASS, f"{len(instances)} instance(s) sign {signing}")


def fetch_fresh_token(
    idp_url: str, client: CheckClient, post: Callable[..., requests.Response]
) -> tuple[str | None, str]:
    """A client_credentials token from the IdP's token endpoint, or None and why not."""
    form = {"grant_type": "client_credentials"}
    if client.scope:
        form["scope"] = client.scope
    url = idp_url.rstrip("/") + TOKEN_PATH
    try:
        response = post(
            url, data=form, auth=(client.client_id, client.secret), timeout=HTTP_TIMEOUT_SECONDS
        )
    except requests.RequestException as error:
        return None, f"{url}: {_reason(error)}"
    if response.status_code != 200:
        return None, f"{url} answered {response.status_code}: {response.text[:200]}"
    try:
        return str(response.json()["access_token"]), url
    except (ValueError, KeyError):
        return None, f"{url}: no access_token in the answer"


def check_token_validates(
    settings: Settings, keyring: Keyring, token: str, public: PublicKeys
) -> Check:
    name = "a fresh token validates against JwksUri"
    if public.response.body is None:
        return Check(name, Verdict.FAIL, f"{public.url}: {public.error}")
    try:
        keys = parse_jwks(public.response.body).keys
        validated = validate_token_with_keys(
            token, keys=keys, issuer=settings.token.issuer, audience=settings.token.audience
        )
    except (TokenValidationError, ValueError) as error:
        return Check(name, Verdict.FAIL, str(error))
    signing = keyring.signing.kid if keyring.signing is not None else None
    kid = validated.kid
    if kid != signing:
        return Check(name, Verdict.FAIL, f"signed by {kid}, not the signing key {signing}")
    return Check(name, Verdict.PASS, f"kid {kid}, subject {validated.subject}")


def check_api_accepts(api_url: str, token: str, get: Callable[..., requests.Response]) -> Check:
    name = "the downstream API accepts it"
    try:
        response = get(
            api_url, headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT_SECONDS
        )
    except requests.RequestException as error:
        return Check(name, Verdict.FAIL, f"{api_url}: {_reason(error)}")
    if response.status_code >= 400:
        challenge = response.headers.get("WWW-Authenticate", "")
        return Check(
            name, Verdict.FAIL, f"{api_url} answered {response.status_code} {challenge}".strip()
        )
    return Check(name, Verdict.PASS, f"{api_url} answered {response.status_code}")


def check_cache_lifetime(settings: Settings, public: PublicKeys) -> Check:
    name = "the published cache lifetime fits KeyActivationDelay"
    delay = settings.token.key_activation_delay_seconds
    if public.error is not None:
        return Check(name, Verdict.FAIL, f"{public.url}: {public.error}")
    max_age = max_age_seconds(public.response.cache_control)
    if max_age is None:
        return Check(
            name,
            Verdict.FAIL,
            f"{public.url} sends no Cache-Control max-age: validators may cache it for "
            "any time, so no activation delay is long enough",
        )
    if 2 * max_age > delay:
        return Check(
            name,
            Verdict.FAIL,
            f"max-age={max_age} s, but TokenOptions:KeyActivationDelay ({delay} s) needs it "
            f"at most {delay // 2} s: a validator could meet a new key before its copy has it",
        )
    return Check(name, Verdict.PASS, f"max-age={max_age} s, delay {delay} s")


def _reason(error: Exception) -> str:
    if isinstance(error, requests.ConnectionError):
        return "cannot connect"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, ValueError):
        return "not JSON"
    return type(error).__name__
