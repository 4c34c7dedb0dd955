"""Refused credentials are reported as credentials, not as missing permissions.

moto's HTTP server checks signatures and IAM policies once IAM authentication is on
(`moto.core.enable_iam_authentication`: the server runs in this process, so the switch
reaches it). Users and the bucket are made before the switch, as an account admin would.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import enable_iam_authentication
from publisher_support import REGION, run_publisher

from publisher.aws_errors import CREDENTIALS_REFUSED_CODES, describe_aws_error

BUCKET = "keys-credentials"
REFUSED = "the AWS credentials were refused"
CHECK = "check AWS_ACCESS_KEY_ID / the deploy role"
PERMISSIONS = "access denied (check the deploy role's S3 permissions)"


def deploy_role_policy(bucket: str) -> str:
    """The S3 part of the README's deploy role, nothing more."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": f"arn:aws:s3:::{bucket}/.well-known/*",
                },
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": f"arn:aws:s3:::{bucket}",
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def accounts(moto_server):
    """The bucket and two IAM users: `deployer` holds the deploy role, `visitor` nothing."""
    admin = session_for("testing", "testing")  # any key, while IAM checks are off
    admin.client("s3", endpoint_url=moto_server).create_bucket(Bucket=BUCKET)
    iam = admin.client("iam", endpoint_url=moto_server)
    keys = {}
    for user in ("deployer", "visitor"):
        iam.create_user(UserName=user)
        keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
    iam.put_user_policy(
        UserName="deployer", PolicyName="deploy-role", PolicyDocument=deploy_role_policy(BUCKET)
    )
    return keys


def session_for(access_key_id: str, secret_access_key: str) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=REGION,
    )


def publish_with_iam_checks(moto_server, environ, session):
    with enable_iam_authentication():
        return run_publisher(
            f"--target=s3://{BUCKET}",
            f"--endpoint-url={moto_server}",
            environ=environ,
            session=session,
        )


def test_deploy_role_publishes_with_iam_checks_on(moto_server, accounts, environ):
    deployer = accounts["deployer"]

    result = publish_with_iam_checks(
        moto_server, environ, session_for(deployer["AccessKeyId"], deployer["SecretAccessKey"])
    )

    assert result.status == 0, result.stderr


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("unknown-key", f"{REFUSED} (InvalidAccessKeyId): {CHECK}"),
        ("wrong-secret", f"{REFUSED} (SignatureDoesNotMatch): {CHECK}"),
        ("no-permission", PERMISSIONS),
    ],
    ids=["unknown-key", "wrong-secret", "no-permission"],
)
def test_refused_credentials_and_missing_permissions_read_differently(
    moto_server, accounts, environ, who, expected
):
    deployer, visitor = accounts["deployer"], accounts["visitor"]
    session = {
        "unknown-key": lambda: session_for("AKIAIOSFODNN7EXAMPLE", "not a real secret"),
        "wrong-secret": lambda: session_for(deployer["AccessKeyId"], "a wrong secret key"),
        "no-permission": lambda: session_for(visitor["AccessKeyId"], visitor["SecretAccessKey"]),
    }[who]()

    result = publish_with_iam_checks(moto_server, environ, session)

    assert result.status == 1
    assert result.stderr == (
        f"publisher: reading s3://{BUCKET}/.well-known/jwks.json: {expected}\n"
    )  # the first request is a HEAD, whose 403 carries no code; the line still says which


@pytest.mark.parametrize("code", sorted(CREDENTIALS_REFUSED_CODES))
def test_every_refused_credentials_code_reads_as_credentials(code):
    error = ClientError(
        {
            "Error": {"Code": code, "Message": "refused"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        },
        "PutObject",
    )

    line = describe_aws_error(error, service="S3", action="writing s3://b/k")

    assert line == f"writing s3://b/k: {REFUSED} ({code}): {CHECK}"


@pytest.mark.parametrize("code", ["AccessDenied", "AllAccessDisabled", "403"])
def test_access_denied_codes_read_as_permissions(code):
    error = ClientError({"Error": {"Code": code, "Message": ""}}, "PutObject")

    line = describe_aws_error(error, service="S3", action="writing s3://b/k")

    assert line == f"writing s3://b/k: {PERMISSIONS}"


def test_dry_run_bucket_check_reports_refused_credentials_as_such(moto_server, accounts, environ):
    with enable_iam_authentication():
        result = run_publisher(
            f"--target=s3://{BUCKET}",
            f"--endpoint-url={moto_server}",
            "--dry-run",
            environ=environ,
            session=session_for("AKIAIOSFODNN7EXAMPLE", "not a real secret"),
        )

    assert result.status == 1
    assert result.stderr == (
        f"publisher: checking s3://{BUCKET}: {REFUSED} (InvalidAccessKeyId): {CHECK}\n"
    )
