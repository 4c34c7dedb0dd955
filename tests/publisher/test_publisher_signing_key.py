"""A change of signing key is named, even when the JWKS bytes stay the same.

The JWKS is ordered by kid and names no roles, so switching the signing key between two
published keys does not change it. The publisher records the signing kid with the JWKS
(S3 metadata `x-amz-meta-signing-kid`, or a record file beside a folder's `.well-known/`)
and names the switch from that record.
"""

from __future__ import annotations

import json

import pytest
from publisher_support import JWKS_KEY, REGION, published_objects, run_publisher

from publisher.targets.file import RECORD_FILE


@pytest.fixture
def two_keys(store, config_dir, rsa_key, other_rsa_key):
    """Two published keys, `a` signing first; `switched` makes `b` sign, `a` stays published."""
    a = store.add(key=rsa_key, subject="CN=tokenidp signing a")
    b = store.add(key=other_rsa_key, subject="CN=tokenidp signing b")
    base = {"TOKENIDP_CONFIG_DIR": str(config_dir)}

    def signing(signer, other) -> dict[str, str]:
        options = {"AdditionalValidationCertificates": other.thumbprint}
        return {**store.environ(CertificateThumbprint=signer.thumbprint, **options), **base}

    first, switched = signing(a, b), signing(b, a)
    return a.thumbprint, b.thumbprint, first, switched


def signing_kid_metadata(bucket: str, session) -> str | None:
    head = session.client("s3", region_name=REGION).head_object(Bucket=bucket, Key=JWKS_KEY)
    return head["Metadata"].get("signing-kid")


def test_first_publication_names_the_signing_key_and_records_it(two_keys, session, bucket):
    a, _, first, _ = two_keys

    result = run_publisher(f"--target=s3://{bucket}", environ=first, session=session)

    assert result.status == 0, result.stderr
    assert f"Signing key: {a}" in result.stdout.splitlines()
    assert signing_kid_metadata(bucket, session) == a


def test_switch_between_published_keys_names_the_signing_change_without_an_invalidation(
    two_keys, session, bucket, distribution_id, recorder
):
    a, b, first, switched = two_keys
    args = (f"--target=s3://{bucket}", f"--cdn-distribution-id={distribution_id}")
    assert run_publisher(*args, environ=first, session=session).status == 0
    jwks_before = published_objects(session)[JWKS_KEY]
    recorder.clear()

    result = run_publisher(*args, environ=switched, session=session)

    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Key change: 0 added, 0 removed, 2 kept" in lines
    assert f"Signing key: {a} -> {b}" in lines
    assert not any(line.startswith("Key change: none") for line in lines)
    assert (
        f"uploading /.well-known/jwks.json: signing key changed ({a} -> {b}): same bytes, "
        "no invalidation" in lines
    )
    assert published_objects(session)[JWKS_KEY] == jwks_before  # the same bytes
    assert signing_kid_metadata(bucket, session) == b
    assert recorder.operations("s3").count("PutObject") == 1  # the record, in one PUT
    assert recorder.count("cloudfront") == 0
    recorder.clear()

    settled = run_publisher(*args, environ=switched, session=session)

    assert settled.status == 0, settled.stderr
    assert f"Key change: none (2 published; signing {b} RS256)" in settled.stdout
    assert "Signing key:" not in settled.stdout
    assert recorder.operations("s3") == ["HeadObject", "HeadObject"]


def test_dry_run_names_the_signing_change_and_writes_nothing(two_keys, session, bucket, recorder):
    a, b, first, switched = two_keys
    assert run_publisher(f"--target=s3://{bucket}", environ=first, session=session).status == 0
    recorder.clear()

    result = run_publisher(
        f"--target=s3://{bucket}", "--dry-run", environ=switched, session=session
    )

    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"Signing key: {a} -> {b}" in lines
    assert (
        f"would upload /.well-known/jwks.json: signing key changed ({a} -> {b}): same bytes, "
        "no invalidation" in lines
    )
    assert recorder.count("s3", "PutObject") == 0
    assert signing_kid_metadata(bucket, session) == a


def test_rotation_names_the_added_key_and_the_signing_change(two_keys, store, session, bucket):
    a, b, first, _ = two_keys
    only_a = {**first, "TokenOptions__AdditionalValidationCertificates": ""}
    assert run_publisher(f"--target=s3://{bucket}", environ=only_a, session=session).status == 0
    rotated = {
        **first,
        "TokenOptions__CertificateThumbprint": b,
        "TokenOptions__AdditionalValidationCertificates": a,
    }

    result = run_publisher(f"--target=s3://{bucket}", environ=rotated, session=session)

    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Key change: 1 added, 0 removed, 1 kept" in lines
    assert f"  + {b} signing RS256 CN=tokenidp signing b" in lines
    assert f"Signing key: {a} -> {b}" in lines


def test_jwks_published_without_a_record_gets_one_without_an_invalidation(
    two_keys, session, bucket, distribution_id, recorder
):
    a, _, first, _ = two_keys
    args = (f"--target=s3://{bucket}", f"--cdn-distribution-id={distribution_id}")
    assert run_publisher(*args, environ=first, session=session).status == 0
    s3 = session.client("s3", region_name=REGION)
    head = s3.head_object(Bucket=bucket, Key=JWKS_KEY)
    s3.put_object(  # as an earlier publisher wrote it: no signing kid recorded
        Bucket=bucket,
        Key=JWKS_KEY,
        Body=published_objects(session)[JWKS_KEY],
        ContentType=head["ContentType"],
        CacheControl=head["CacheControl"],
        Metadata={"sha256": head["Metadata"]["sha256"]},
    )
    recorder.clear()

    result = run_publisher(*args, environ=first, session=session)

    assert result.status == 0, result.stderr
    assert f"Signing key: (not recorded) -> {a}" in result.stdout.splitlines()
    assert signing_kid_metadata(bucket, session) == a
    assert recorder.count("cloudfront") == 0


def test_folder_target_records_the_signing_key_beside_well_known(two_keys, tmp_path):
    a, b, first, switched = two_keys
    folder = tmp_path / "site"
    assert run_publisher(f"--target={folder.as_uri()}", environ=first).status == 0
    jwks = folder / ".well-known/jwks.json"
    inode, body = jwks.stat().st_ino, jwks.read_bytes()

    result = run_publisher(f"--target={folder.as_uri()}", environ=switched)

    assert result.status == 0, result.stderr
    assert f"Signing key: {a} -> {b}" in result.stdout.splitlines()
    assert json.loads((folder / RECORD_FILE).read_text()) == {"signing_kid": b}
    assert (jwks.stat().st_ino, jwks.read_bytes()) == (inode, body)  # the file is untouched
    assert sorted(path.name for path in (folder / ".well-known").iterdir()) == [
        "jwks.json",
        "openid-configuration",
    ]
    again = run_publisher(f"--target={folder.as_uri()}", environ=switched)
    assert "No changes required." in again.stdout
