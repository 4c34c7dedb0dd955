"""What the end-to-end runbook tests share: the bucket the publisher writes and an AWS
environment that can only reach moto (no real credentials, no profile files)."""

from __future__ import annotations

BUCKET = "tokenidp-keys"
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
}
