"""A CDN in front of moto's S3 server: the public address validators fetch keys from."""

from __future__ import annotations

import boto3
import pytest
import requests
from cdn_stand_in import CdnStandIn, create_distribution
from runbook_support import AWS_ENVIRONMENT, BUCKET


@pytest.fixture
def cdn(moto_server, monkeypatch):
    # moto's backends are per process, not per server: start each test from nothing.
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket=BUCKET)
    cloudfront = boto3.client("cloudfront", endpoint_url=moto_server)
    distribution = create_distribution(cloudfront, bucket=BUCKET)
    with CdnStandIn(s3, BUCKET, cloudfront_client=cloudfront, distribution_id=distribution) as cdn:
        cdn.distribution = distribution
        yield cdn
