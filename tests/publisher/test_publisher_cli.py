"""The command line: target from the environment, exit statuses, and the file:// target."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from idp_support import ROOT
from publisher_support import run_publisher

from app import create_app
from app.config import load_config
from publisher.targets import S3Location, parse_target_url


def test_target_comes_from_the_environment_for_the_procfile_release_line(tmp_path, environ):
    folder = tmp_path / "site"

    result = run_publisher(environ={**environ, "TOKENIDP_PUBLISH_TARGET": folder.as_uri()})

    assert result.status == 0, result.stderr
    assert (folder / ".well-known/jwks.json").is_file()


def test_file_target_is_byte_for_byte_what_the_idp_serves_and_idempotent(tmp_path, environ):
    folder = tmp_path / "site"
    idp = create_app(load_config(environ)).test_client()

    first = run_publisher(f"--target={folder.as_uri()}", environ=environ)
    second = run_publisher(f"--target={folder.as_uri()}", environ=environ)

    assert first.status == second.status == 0
    for path in ("/.well-known/jwks.json", "/.well-known/openid-configuration"):
        assert (folder / path.lstrip("/")).read_bytes() == idp.get(path).data
    assert "No changes required." in second.stdout
    assert sorted(p.name for p in (folder / ".well-known").iterdir()) == [
        "jwks.json",
        "openid-configuration",
    ]  # no temporary files left behind


def test_file_target_replaces_documents_by_rename_never_in_place(tmp_path, environ):
    folder = tmp_path / "site"
    assert run_publisher(f"--target={folder.as_uri()}", environ=environ).status == 0
    discovery = folder / ".well-known/openid-configuration"
    jwks_inode = (folder / ".well-known/jwks.json").stat().st_ino
    old_document = discovery.read_bytes()
    moved = {**environ, "TokenOptions__Issuer": "https://id2.example.test"}

    with discovery.open("rb") as reader_of_the_old_file:
        assert (
            run_publisher(f"--target={discovery.parent.parent.as_uri()}", environ=moved).status == 0
        )
        assert reader_of_the_old_file.read() == old_document  # complete, never half-written

    assert b"https://id2.example.test" in discovery.read_bytes()
    assert (folder / ".well-known/jwks.json").stat().st_ino == jwks_inode  # unchanged: untouched


@pytest.mark.parametrize(
    ("args", "extra_environ", "message"),
    [
        ((), {}, "publisher: no target: pass --target s3://BUCKET/PREFIX or file:///DIR"),
        (("--target=ftp://example.test/x",), {}, "expected s3://BUCKET/PREFIX or file:///DIR"),
        (("--target=file://relative/dir",), {}, "use an absolute folder, file:///DIR"),
        (("--target=file:///tmp/x", "--cdn-distribution-id=E1"), {}, "s3:// targets only"),
        (
            ("--target=s3://tokenidp-keys",),
            {"TokenOptions__CertificateThumbprint": ""},
            "publisher: TokenOptions:CertificateThumbprint: no signing certificate configured",
        ),
        (
            ("--target=s3://tokenidp-keys",),
            {"TokenOptions__CertificateThumbprint": "00" * 20},
            "publisher: TokenOptions:CertificateThumbprint: no certificate 0000",
        ),
    ],
    ids=["no-target", "bad-scheme", "relative-file", "cdn-for-file", "no-cert", "unknown-cert"],
)
def test_usage_and_configuration_errors_exit_2_with_one_line(environ, args, extra_environ, message):
    result = run_publisher(*args, environ={**environ, **extra_environ})

    assert result.status == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert result.stdout == ""


def test_unknown_option_exits_2():
    assert run_publisher("--no-such-option", environ={}).status == 2


def test_python_dash_m_publisher_runs_the_release_step(tmp_path, environ):
    folder = tmp_path / "site"
    env = {**os.environ, **environ, "TOKENIDP_PUBLISH_TARGET": folder.as_uri()}

    completed = subprocess.run(
        [sys.executable, "-m", "publisher"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr
    assert "Key change: 1 added, 0 removed, 0 kept" in completed.stdout
    assert Path(folder / ".well-known/openid-configuration").is_file()


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("s3://tokenidp-keys/a//b", "empty segment ('//') in the prefix"),
        ("s3://tokenidp-keys//a", "empty segment ('//') in the prefix"),
        ("s3://tokenidp-keys/a//", "empty segment ('//') in the prefix"),
        ("s3://tokenidp-keys/../x", "'..' segment in the prefix"),
        ("s3://tokenidp-keys/a/..", "'..' segment in the prefix"),
        ("s3://tokenidp-keys/a/./b", "'.' segment in the prefix"),
        ("s3://tokenidp-keys/a\\b", "backslash in the prefix"),
        ("s3://tokenidp-keys/%2e%2e/x", "percent-escapes are not allowed in the prefix"),
        ("s3://tokenidp-keys/a\nb", "control or invisible character U+000A"),
        ("s3://tokenidp-keys/a\x1bb", "control or invisible character U+001B"),
        ("s3://tokenidp-keys/tenant\u200e", "control or invisible character U+200E"),
        ("s3://../x", "'..' is not a bucket name"),
        ("file:///srv/site/../etc", "'..' is not allowed in the folder"),
        ("file:///srv/site/%2E%2E/etc", "'..' is not allowed in the folder"),
        ("file:///srv/site%00", "the folder holds control or invisible character U+0000"),
    ],
    ids=[
        "s3-empty-segment", "s3-leading-empty", "s3-trailing-double-slash", "s3-dotdot",
        "s3-trailing-dotdot", "s3-dot", "s3-backslash", "s3-percent", "s3-newline", "s3-escape",
        "s3-invisible", "s3-dotdot-bucket", "file-dotdot", "file-escaped-dotdot", "file-nul",
    ],
)  # fmt: skip
def test_target_naming_another_path_is_a_usage_error_and_nothing_is_written(
    tmp_path, environ, session, recorder, target, reason
):
    result = run_publisher(f"--target={target}", environ=environ, session=session)

    assert result.status == 2
    assert result.stderr.startswith("publisher: --target ")
    assert result.stderr.count("\n") == 1 and reason in result.stderr, result.stderr
    assert result.stdout == ""
    assert recorder.reached == []


@pytest.mark.parametrize(
    ("target", "prefix"),
    [
        ("s3://tokenidp-keys", ""),
        ("s3://tokenidp-keys/", ""),
        ("s3://tokenidp-keys/tenants/a", "tenants/a"),
        ("s3://tokenidp-keys/tenants/a/", "tenants/a"),
        ("s3://tokenidp-keys/v1.2/..well/a..b", "v1.2/..well/a..b"),
    ],
)
def test_plain_prefixes_are_accepted(target, prefix):
    location = parse_target_url(target)

    assert location == S3Location("tokenidp-keys", prefix)


def test_dry_run_to_a_missing_folder_says_a_run_creates_it_and_creates_nothing(tmp_path, environ):
    folder = tmp_path / "site"

    result = run_publisher(f"--target={folder.as_uri()}", "--dry-run", environ=environ)

    assert result.status == 0, result.stderr
    assert f"Origin: folder {folder} does not exist yet (a run creates it)" in result.stdout
    assert not folder.exists()


def test_dry_run_to_a_file_instead_of_a_folder_fails_with_one_line(tmp_path, environ):
    not_a_folder = tmp_path / "site"
    not_a_folder.write_text("")

    result = run_publisher(f"--target={not_a_folder.as_uri()}", "--dry-run", environ=environ)

    assert result.status == 1
    assert result.stderr == f"publisher: {not_a_folder} is not a folder (fix --target)\n"
