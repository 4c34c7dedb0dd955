"""Publisher figures against moto's HTTP server on loopback: requests made and seconds.

    .venv/bin/python bench/publisher_bench.py [--keys 1 50] [--repeat 5]

For each key count: a first publish (both documents new), an unchanged republish, and a
publish that adds one key (JWKS only), each with a CloudFront invalidation. The request
counts and seconds are the publisher's own figures (its `S3: ...; CloudFront: ...` line);
seconds are the median of --repeat runs of the unchanged case.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from app.config import hash_client_secret  # noqa: E402
from app.keys.certificates import (  # noqa: E402
    create_self_signed,
    generate_private_key,
    parse_subject,
    pkcs12_bytes,
    sha1_thumbprint,
)
from publisher.cli import run  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_store(root: Path, count: int) -> list[str]:
    """`count` certificates in a store folder; returns thumbprints, signing key first."""
    folder = root / "LocalMachine" / "My"
    folder.mkdir(parents=True)
    now = dt.datetime.now(dt.UTC)
    thumbprints = []
    for index in range(count):
        key = generate_private_key("rsa")
        certificate = create_self_signed(
            key,
            subject=parse_subject(f"CN=tokenidp bench {index}"),
            not_before=now - dt.timedelta(days=2, minutes=index),
            not_after=now + dt.timedelta(days=90),
        )
        thumbprint = sha1_thumbprint(certificate)
        (folder / f"{thumbprint}.pfx").write_bytes(pkcs12_bytes(key, certificate, password=None))
        thumbprints.append(thumbprint)
    return thumbprints


def environ_for(store_root: Path, thumbprints: list[str]) -> dict[str, str]:
    return {
        "TOKENIDP_ENVIRONMENT": "Production",
        "TOKENIDP_CONFIG_DIR": str(store_root),
        "TokenOptions__Issuer": "https://id.example.test",
        "TokenOptions__CertificateStoreRoot": str(store_root),
        "TokenOptions__CertificateStoreLocation": "LocalMachine",
        "TokenOptions__CertificateThumbprint": thumbprints[0],
        "TokenOptions__AdditionalValidationCertificates": ",".join(thumbprints[1:]),
        "Clients__0__ClientId": "bench",
        "Clients__0__ClientSecrets__0__Value": hash_client_secret("bench"),
        "Clients__0__AllowedScopes__0": "orders.read",
    }


def publish_once(args: list[str], environ: dict[str, str], session: boto3.Session):
    """One `python -m publisher` run in-process: its figures, output, and whole-run seconds."""
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    result = run(args, environ=environ, session=session, stdout=out, stderr=err)
    wall_seconds = time.perf_counter() - started
    if result.exit_status != 0:
        raise SystemExit(f"publisher failed: {err.getvalue()}")
    return result.figures, out.getvalue(), wall_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    session = boto3.Session()
    s3 = session.client("s3", endpoint_url=endpoint)
    cloudfront = session.client("cloudfront", endpoint_url=endpoint)
    rows = []
    try:
        for count in options.keys:
            bucket = f"bench-keys-{count}"
            s3.create_bucket(Bucket=bucket)
            distribution_id = cloudfront.create_distribution(
                DistributionConfig={
                    "CallerReference": bucket,
                    "Comment": "",
                    "Enabled": True,
                    "Origins": {
                        "Quantity": 1,
                        "Items": [
                            {
                                "Id": "o",
                                "DomainName": f"{bucket}.s3.amazonaws.com",
                                "S3OriginConfig": {"OriginAccessIdentity": ""},
                            }
                        ],
                    },
                    "DefaultCacheBehavior": {
                        "TargetOriginId": "o",
                        "ViewerProtocolPolicy": "https-only",
                        "TrustedSigners": {"Enabled": False, "Quantity": 0},
                        "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                        "MinTTL": 0,
                    },
                }
            )["Distribution"]["Id"]
            with tempfile.TemporaryDirectory() as folder:
                root = Path(folder)
                thumbprints = make_store(root, count + 1)  # one more, added in the last case
                environ = environ_for(root, thumbprints[:count])
                args = [
                    f"--target=s3://{bucket}/idp",
                    f"--endpoint-url={endpoint}",
                    f"--cdn-distribution-id={distribution_id}",
                    f"--cdn-endpoint-url={endpoint}",
                ]
                first, _, first_wall = publish_once(args, environ, session)
                runs = [publish_once(args, environ, session) for _ in range(options.repeat)]
                assert all("No changes required." in output for _, output, _ in runs)
                unchanged = runs[0][0]
                seconds = statistics.median(figures.seconds for figures, _, _ in runs)
                wall = statistics.median(wall for _, _, wall in runs)
                added, _, added_wall = publish_once(args, environ_for(root, thumbprints), session)
            rows.append((count, "first publish", first, first.seconds, first_wall))
            rows.append((count, "unchanged", unchanged, seconds, wall))
            rows.append((count + 1, "one key added", added, added.seconds, added_wall))
    finally:
        server.stop()

    print(f"publisher against moto's HTTP server on loopback ({sys.platform})")
    print("seconds: the publisher's own (reads, diff, writes, invalidation); run: the whole")
    print("command in-process, including configuration and the certificate store's keys")
    print(f"{'keys':>4}  {'case':<14} {'S3 req':>6} {'CF req':>6} {'seconds':>8} {'run':>7}")
    for count, case, figures, seconds, wall in rows:
        print(
            f"{count:>4}  {case:<14} {figures.s3_requests:>6} {figures.cloudfront_requests:>6} "
            f"{seconds:>8.3f} {wall:>7.3f}  {figures.summary.rsplit(';', 1)[0]}"
        )


if __name__ == "__main__":
    main()
