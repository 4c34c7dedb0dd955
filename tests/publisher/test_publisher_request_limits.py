"""Bounded waiting: a hung endpoint fails the run within the stated time, one line per retry."""

from __future__ import annotations

import socket
import time

import pytest
from publisher_support import quiet_session, run_publisher

from publisher.cli import run
from publisher.request_limits import RequestLimits


@pytest.fixture
def silent_endpoint():
    """A loopback TCP server that accepts connections (the kernel completes the handshake
    into the listen queue) and never answers: an endpoint that hangs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener
    finally:
        listener.close()


def connections_made(listener: socket.socket) -> int:
    listener.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def test_hung_endpoint_fails_within_the_limits_with_a_line_per_retry(environ, silent_endpoint):
    port = silent_endpoint.getsockname()[1]
    limits = RequestLimits(connect_timeout_seconds=1, read_timeout_seconds=0.2, attempts=3)
    started = time.monotonic()

    result = run_publisher(
        "--target=s3://tokenidp-keys",
        f"--endpoint-url=http://127.0.0.1:{port}",
        environ=environ,
        session=quiet_session(),
        request_limits=limits,
    )

    elapsed = time.monotonic() - started
    assert result.status == 1
    retries = [line for line in result.stdout.splitlines() if line.startswith("retrying")]
    assert retries == [
        "retrying S3 HEAD …/jwks.json (attempt 2 of 3): read timed out after 0.2 s",
        "retrying S3 HEAD …/jwks.json (attempt 3 of 3): read timed out after 0.2 s",
    ]
    assert result.stderr == (
        "publisher: reading s3://tokenidp-keys/.well-known/jwks.json: the S3 endpoint "
        f"http://127.0.0.1:{port}/tokenidp-keys/.well-known/jwks.json did not answer in time "
        "(read timeout)\n"
    )
    assert connections_made(silent_endpoint) == 3  # one connection per attempt, no more
    assert 0.6 <= elapsed < limits.worst_case_seconds  # 3 × 0.2 s read, plus start-up


def test_transient_server_error_is_retried_with_a_progress_line_and_the_run_publishes(
    environ, session, bucket, recorder
):
    recorder.fail("PutObject", "server-error", key_suffix="jwks.json", times=1)

    result = run_publisher(f"--target=s3://{bucket}", environ=environ, session=session)

    assert result.status == 0, result.stderr
    assert (
        "retrying S3 PUT …/jwks.json (attempt 2 of 3): S3 answered 500 InternalError"
        in result.stdout.splitlines()
    )
    assert result.stderr == ""


def test_persistent_server_error_stops_after_the_stated_attempts(
    environ, session, bucket, recorder
):
    recorder.fail("PutObject", "server-error", key_suffix="jwks.json")

    result = run_publisher(f"--target=s3://{bucket}", environ=environ, session=session)

    assert result.status == 1
    assert result.stdout.count("retrying S3 PUT …/jwks.json") == RequestLimits().attempts - 1
    assert result.stderr == (
        f"publisher: writing s3://{bucket}/.well-known/jwks.json: S3 answered InternalError: "
        "We hit a snag\n"
    )


def test_help_states_the_time_bound(capsys):
    result = run(["--help"])

    assert result.exit_status == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert (
        "each S3 and CloudFront request gets 3 attempts of at most 5 s to connect and 10 s to "
        "read, so a request to an endpoint that stops answering fails within 46 s, and the run "
        "with it (exit 1)" in shown
    )
