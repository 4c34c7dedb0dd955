"""The publisher against in-process moto S3 and CloudFront: order, headers, idempotency."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from idp_support import ISSUER
from publisher_support import (
    BUCKET,
    DISCOVERY_KEY,
    JWKS_KEY,
    REGION,
    published_objects,
    rotation,
    run_publisher,
)

from app import create_app
from app.config import load_config
from app.documents import render_documents
from app.keys.keyring import load_keyring
from app.keys.records import NO_RECORDS
from publisher.errors import UnsafeKeySetError
from publisher.publish import publish
from publisher.targets import S3Location
from publisher.targets.s3 import S3Target


def idp_responses(environ):
    """What the IdP itself serves at /.well-known/..., for byte-for-byte comparison."""
    client = create_app(load_config(environ)).test_client()
    return {
        JWKS_KEY: client.get("/.well-known/jwks.json"),
        DISCOVERY_KEY: client.get("/.well-known/openid-configuration"),
    }


def test_objects_are_byte_for_byte_what_the_idp_serves_with_its_headers(
    environ, session, bucket, recorder
):
    result = run_publisher(f"--target=s3://{bucket}", environ=environ, session=session)

    assert result.status == 0, result.stderr
    s3 = session.client("s3", region_name=REGION)
    for key, response in idp_responses(environ).items():
        stored = s3.get_object(Bucket=bucket, Key=key)
        assert stored["Body"].read() == response.data
        assert stored["ContentType"] == response.headers["Content-Type"]
        assert (
            stored["CacheControl"] == response.headers["Cache-Control"] == ("public, max-age=300")
        )
        assert response.headers["ETag"].strip('"') in stored["Metadata"]["sha256"]


def test_jwks_is_written_and_read_back_before_discovery(environ, session, bucket, recorder):
    result = run_publisher(f"--target=s3://{bucket}", environ=environ, session=session)

    assert result.status == 0, result.stderr
    writes_and_reads = [
        (operation, url.rsplit("/", 1)[-1])
        for service, operation, url in recorder.reached
        if operation in ("PutObject", "GetObject")
    ]
    assert writes_and_reads == [
        ("PutObject", "jwks.json"),
        ("GetObject", "jwks.json"),
        ("PutObject", "openid-configuration"),
    ]
    assert "read back /.well-known/jwks.json" in result.stdout


def test_objects_go_under_the_prefix(environ, session, bucket):
    result = run_publisher(f"--target=s3://{bucket}/tenants/a/", environ=environ, session=session)

    assert result.status == 0, result.stderr
    assert sorted(published_objects(session)) == [
        f"tenants/a/{JWKS_KEY}",
        f"tenants/a/{DISCOVERY_KEY}",
    ]


def test_second_publish_without_key_change_makes_no_put_and_no_invalidation(
    environ, session, bucket, distribution_id, recorder
):
    args = (f"--target=s3://{bucket}", f"--cdn-distribution-id={distribution_id}")
    first = run_publisher(*args, environ=environ, session=session)
    assert first.status == 0, first.stderr
    assert recorder.count("cloudfront", "CreateInvalidation") == 1
    recorder.clear()

    second = run_publisher(*args, environ=environ, session=session)

    assert second.status == 0, second.stderr
    assert recorder.operations("s3") == ["HeadObject", "HeadObject"]  # one read per document
    assert recorder.count("cloudfront") == 0
    assert "No changes required." in second.stdout
    assert "S3: 2 requests (2 HEAD); CloudFront: 0 requests" in second.stdout


def test_first_publish_invalidates_once_and_clears_the_pending_marker(
    environ, session, bucket, distribution_id, recorder
):
    result = run_publisher(
        f"--target=s3://{bucket}",
        f"--cdn-distribution-id={distribution_id}",
        environ=environ,
        session=session,
    )

    assert result.status == 0, result.stderr
    cloudfront = session.client("cloudfront", region_name=REGION)
    items = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"][
        "Items"
    ]
    assert len(items) == 1
    batch = cloudfront.get_invalidation(DistributionId=distribution_id, Id=items[0]["Id"])[
        "Invalidation"
    ]["InvalidationBatch"]
    assert sorted(batch["Paths"]["Items"]) == [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
    ]
    s3 = session.client("s3", region_name=REGION)
    for key in (JWKS_KEY, DISCOVERY_KEY):
        assert "cdn-invalidation" not in s3.head_object(Bucket=bucket, Key=key)["Metadata"]


def test_new_key_prints_kid_added_and_invalidates_only_the_jwks(
    store, config_dir, rsa_key, other_rsa_key, session, bucket, distribution_id, recorder
):
    signing = store.add(key=rsa_key, subject="CN=tokenidp signing")
    upcoming = store.add(key=other_rsa_key, subject="CN=tokenidp next")
    base = {**store.environ(CertificateThumbprint=signing.thumbprint)}
    base["TOKENIDP_CONFIG_DIR"] = str(config_dir)
    args = (f"--target=s3://{bucket}", f"--cdn-distribution-id={distribution_id}")
    assert run_publisher(*args, environ=base, session=session).status == 0
    recorder.clear()

    with_next = {**base, "TokenOptions__AdditionalValidationCertificates": upcoming.thumbprint}
    added = run_publisher(*args, environ=with_next, session=session)

    assert added.status == 0, added.stderr
    assert "Key change: 1 added, 0 removed, 1 kept" in added.stdout
    assert f"  + {upcoming.thumbprint} " in added.stdout
    assert "uploading /.well-known/jwks.json: content changed" in added.stdout
    assert "openid-configuration:" not in added.stdout
    assert recorder.count("s3", "PutObject") == 2  # the JWKS, then its marker cleared
    assert recorder.count("cloudfront", "CreateInvalidation") == 1
    assert "invalidated /.well-known/jwks.json on CloudFront" in added.stdout
    recorder.clear()

    removed = run_publisher(*args, environ=base, session=session)

    assert removed.status == 0, removed.stderr
    assert "Key change: 0 added, 1 removed, 1 kept" in removed.stdout
    assert f"  - {upcoming.thumbprint}" in removed.stdout


def test_cache_policy_change_is_uploaded_with_its_reason(environ, session, bucket):
    assert run_publisher(f"--target=s3://{bucket}", environ=environ, session=session).status == 0

    longer = {**environ, "TokenOptions__JwksCacheMaxAge": "900"}
    result = run_publisher(f"--target=s3://{bucket}", environ=longer, session=session)

    assert result.status == 0, result.stderr
    assert "Key change: none" in result.stdout
    assert (
        "uploading /.well-known/jwks.json: Cache-Control changed "
        "('public, max-age=300' -> 'public, max-age=900')" in result.stdout
    )
    head = session.client("s3", region_name=REGION).head_object(Bucket=bucket, Key=JWKS_KEY)
    assert head["CacheControl"] == "public, max-age=900"


def test_dry_run_prints_the_key_change_and_writes_nothing(environ, session, bucket, recorder):
    result = run_publisher(f"--target=s3://{bucket}", "--dry-run", environ=environ, session=session)

    assert result.status == 0, result.stderr
    assert "Key change: 1 added, 0 removed, 0 kept" in result.stdout
    assert "would upload /.well-known/jwks.json: missing at the origin" in result.stdout
    assert recorder.count("s3", "PutObject") == 0
    assert published_objects(session) == {}


def test_dry_run_checks_the_bucket_and_says_what_it_found(environ, session, bucket, recorder):
    result = run_publisher(f"--target=s3://{bucket}", "--dry-run", environ=environ, session=session)

    assert result.status == 0, result.stderr
    assert f"Origin: bucket {bucket} exists (region us-east-1)" in result.stdout.splitlines()
    assert recorder.operations("s3") == ["HeadBucket", "HeadObject", "HeadObject"]


def test_bucket_stays_private_unless_public_read_is_asked_for(environ, session, bucket):
    s3 = session.client("s3", region_name=REGION)
    all_users = "http://acs.amazonaws.com/groups/global/AllUsers"

    assert run_publisher(f"--target=s3://{bucket}", environ=environ, session=session).status == 0
    grants = s3.get_object_acl(Bucket=bucket, Key=JWKS_KEY)["Grants"]
    assert all(grant["Grantee"].get("URI") != all_users for grant in grants)

    assert (
        run_publisher(
            f"--target=s3://{bucket}/public", "--public-read", environ=environ, session=session
        ).status
        == 0
    )
    grants = s3.get_object_acl(Bucket=bucket, Key=f"public/{JWKS_KEY}")["Grants"]
    assert {"URI": all_users, "Type": "Group"} in [grant["Grantee"] for grant in grants]


def test_jwks_without_the_signing_key_is_refused_before_any_request(
    store, config_dir, rsa_key, other_rsa_key, session, bucket, recorder
):
    generations = rotation(store, config_dir, rsa_key, other_rsa_key)
    now = dt.datetime.now(dt.UTC)
    old_settings = load_config(generations.before)
    stale_documents = render_documents(
        old_settings, load_keyring(old_settings, records=NO_RECORDS, now=now)
    )
    new_settings = load_config(generations.after)
    new_keyring = load_keyring(new_settings, records=NO_RECORDS, now=now)
    target = S3Target(session.client("s3", region_name=REGION), S3Location(bucket, ""))

    with pytest.raises(UnsafeKeySetError, match=f"without the signing key {generations.new_kid}"):
        publish(
            stale_documents, keyring=new_keyring, target=target, cdn=None, dry_run=False, say=print
        )

    assert recorder.reached == []


def test_jwks_holding_a_revoked_key_is_refused(
    store, config_dir, rsa_key, other_rsa_key, session, bucket, recorder
):
    generations = rotation(store, config_dir, rsa_key, other_rsa_key)
    now = dt.datetime.now(dt.UTC)
    after = load_config(generations.after)
    documents = render_documents(
        after, load_keyring(after, records=NO_RECORDS, now=now)
    )  # publishes the old kid
    revoking = load_config(
        {**generations.after, "TokenOptions__RevokedCertificateThumbprints": generations.old_kid}
    )
    keyring = load_keyring(revoking, records=NO_RECORDS, now=now)
    target = S3Target(session.client("s3", region_name=REGION), S3Location(bucket, ""))

    with pytest.raises(UnsafeKeySetError, match=f"revoked key\\(s\\) {generations.old_kid}"):
        publish(documents, keyring=keyring, target=target, cdn=None, dry_run=False, say=print)

    assert recorder.reached == []


def test_discovery_names_the_configured_jwks_uri(
    store, config_dir, rsa_key, other_rsa_key, session, bucket
):
    generations = rotation(store, config_dir, rsa_key, other_rsa_key)

    result = run_publisher(f"--target=s3://{bucket}", environ=generations.after, session=session)

    assert result.status == 0, result.stderr
    discovery = json.loads(published_objects(session, BUCKET)[DISCOVERY_KEY])
    assert discovery["issuer"] == ISSUER
    assert discovery["jwks_uri"] == "https://keys.example.test/.well-known/jwks.json"
