"""Runbook, end to end: publish to moto's HTTP server, read through a CDN, verify an IdP token.

moto runs as a real HTTP server on loopback; the publisher talks to it over HTTP with
signed requests; a validator fetches over plain HTTP from the CDN stand-in, as it would
from CloudFront.
"""

from __future__ import annotations

import base64

import boto3
import jwt
import pytest
import requests
from cdn_stand_in import CdnStandIn
from idp_support import AUDIENCE, CLIENT_ID, CLIENT_SECRET, ISSUER
from publisher_support import AwsRecorder, create_distribution, quiet_session, run_publisher

from app import create_app
from app.config import load_config

WELL_KNOWN = ("/.well-known/jwks.json", "/.well-known/openid-configuration")


@pytest.fixture
def origin(moto_server, request):
    """A private bucket and a distribution on moto's server, named after the test."""
    bucket = f"keys-{abs(hash(request.node.name)) % 10**8}"
    session = quiet_session()
    session.client("s3", endpoint_url=moto_server).create_bucket(Bucket=bucket)
    distribution_id = create_distribution(
        session.client("cloudfront", endpoint_url=moto_server), bucket=bucket
    )
    return bucket, distribution_id


def issue_token(idp) -> str:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    response = idp.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "scope": "orders.read"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def test_validator_reads_through_the_cdn_what_the_idp_serves_and_verifies_its_token(
    moto_server, origin, environ
):
    bucket, distribution_id = origin
    publisher_session = quiet_session()
    recorder = AwsRecorder(publisher_session)
    args = (
        f"--target=s3://{bucket}/idp",
        f"--endpoint-url={moto_server}",
        f"--cdn-distribution-id={distribution_id}",
        f"--cdn-endpoint-url={moto_server}",
    )

    published = run_publisher(*args, environ=environ, session=publisher_session)
    assert published.status == 0, published.stderr

    edge_session = boto3.Session()  # the CDN's own origin-access credentials
    idp = create_app(load_config(environ)).test_client()
    with CdnStandIn(
        edge_session.client("s3", endpoint_url=moto_server),
        bucket,
        origin_path="/idp",
        cloudfront_client=edge_session.client("cloudfront", endpoint_url=moto_server),
        distribution_id=distribution_id,
    ) as cdn:
        for path in WELL_KNOWN:
            from_cdn = requests.get(f"{cdn.url}{path}", timeout=5)
            from_idp = idp.get(path)
            assert from_cdn.status_code == 200
            assert from_cdn.content == from_idp.data  # byte for byte
            assert from_cdn.headers["Content-Type"] == from_idp.headers["Content-Type"]
            assert from_cdn.headers["Cache-Control"] == from_idp.headers["Cache-Control"]
            assert from_cdn.headers["ETag"].startswith('"') and from_cdn.headers["Age"] == "0"
            again = requests.get(
                f"{cdn.url}{path}", headers={"If-None-Match": from_cdn.headers["ETag"]}, timeout=5
            )
            assert again.status_code == 304

        jwks = requests.get(f"{cdn.url}/.well-known/jwks.json", timeout=5).json()
        token = issue_token(idp)
        kid = jwt.get_unverified_header(token)["kid"]
        key = jwt.PyJWK(next(entry for entry in jwks["keys"] if entry["kid"] == kid))
        claims = jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
        )
        assert claims["client_id"] == CLIENT_ID
        assert jwt.get_unverified_header(token)["typ"] == "at+jwt"

    recorder.clear()
    unchanged = run_publisher(*args, environ=environ, session=publisher_session)

    assert unchanged.status == 0 and "No changes required." in unchanged.stdout
    assert recorder.operations("s3") == ["HeadObject", "HeadObject"]
    assert recorder.count("cloudfront") == 0
