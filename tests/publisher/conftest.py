"""Fixtures: fake AWS credentials, moto in-process S3 and CloudFront, a store with real keys."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from publisher_support import (
    BUCKET,
    AwsRecorder,
    create_distribution,
    quiet_session,
)


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch):
    """No real account is ever reachable: fake credentials, a fixed region, no profiles."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


@pytest.fixture
def aws():
    """moto's in-process S3 and CloudFront (every boto3 call in the test stays in memory)."""
    with mock_aws():
        yield


@pytest.fixture
def session(aws) -> boto3.Session:
    return quiet_session()


@pytest.fixture
def recorder(session) -> AwsRecorder:
    """Counts, and can fail, requests as they leave for S3 and CloudFront."""
    return AwsRecorder(session)


@pytest.fixture
def bucket(session) -> str:
    session.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def distribution_id(session) -> str:
    return create_distribution(session.client("cloudfront", region_name="us-east-1"), bucket=BUCKET)


@pytest.fixture
def signing(store, rsa_key):
    return store.add(key=rsa_key, subject="CN=tokenidp signing")


@pytest.fixture
def environ(store, config_dir, signing) -> dict[str, str]:
    """Production settings, as the release phase sees them: one signing certificate."""
    return {
        **store.environ(CertificateThumbprint=signing.thumbprint),
        "TOKENIDP_CONFIG_DIR": str(config_dir),
    }
