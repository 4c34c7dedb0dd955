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
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import boto3  # noqa: E402
from cdn_stand_in import create_distribution  # noqa: E402
from idp_support import CertStore, free_port, new_key  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from publisher.cli import run  # noqa: E402


def make_store(root: Path, count: int) -> list[str]:
    """`count` certificates in a store folder; returns thumbprints, signing key first."""
    store = CertStore(root)
    now = dt.datetime.now(dt.UTC)
    return [
        store.add(
            key=new_key("rsa"),
            subject=f"CN=tokenidp bench {index}",
            not_before=now - dt.timedelta(days=2, minutes=index),
        ).thumbprint
        for index in range(count)
    ]


def environ_for(store_root: Path, thumbprints: list[str]) -> dict[str, str]:
    return {
        **CertStore(store_root).environ(
            CertificateThumbprint=thumbprints[0],
            AdditionalValidationCertificates=",".join(thumbprints[1:]),
        ),
        "TOKENIDP_CONFIG_DIR": str(store_root),
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
            distribution_id = create_distribution(cloudfront, bucket=bucket)
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
