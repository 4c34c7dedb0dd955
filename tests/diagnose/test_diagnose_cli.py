"""`tokenidp diagnose` end to end, as the runbook step: paste the token, read the verdict."""

from __future__ import annotations

import json

import pytest
from diagnose_support import issue_token, origin_jwks
from idp_support import run_tokenidp as tokenidp


@pytest.fixture
def environ(store, signing):
    return store.environ(CertificateThumbprint=signing.thumbprint)


def test_token_that_validates_at_origin_and_cdn_exits_0(environ, config_dir, settings, token, cdn):
    document = origin_jwks(settings)
    cdn.serve(document.body, Cache_Control=document.cache_control, Age="12", ETag='"s3-md5"')

    result = tokenidp("diagnose", token, "--jwks-uri", cdn.url, environ=environ, cwd=config_dir)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("verdict: the token validates at every source")
    assert "source: origin (this configuration)" in lines
    assert f"source: CDN {cdn.url}" in lines
    assert "  content        same as origin (this configuration)" in lines
    assert token not in result.stdout + result.stderr
    assert token.split(".")[2] not in result.stdout + result.stderr


def test_new_key_not_yet_at_cdn_exits_1_with_the_wait(
    store, config_dir, signing, other_rsa_key, settings, cdn
):
    new = store.add(key=other_rsa_key, subject="CN=tokenidp signing 2027")
    rotated = store.environ(
        CertificateThumbprint=new.thumbprint, AdditionalValidationCertificates=signing.thumbprint
    )
    token = issue_token(
        store.settings(
            config_dir,
            CertificateThumbprint=new.thumbprint,
            AdditionalValidationCertificates=signing.thumbprint,
        )
    )
    cdn.serve(origin_jwks(settings).body, Cache_Control="public, max-age=300", Age="240")

    result = tokenidp(
        "diagnose", "-", "--jwks-uri", cdn.url, environ=rotated, cwd=config_dir, stdin=token + "\n"
    )

    assert result.returncode == 1, result.stderr
    verdict = result.stdout.splitlines()[-1]
    assert verdict.startswith(f"verdict: kid {new.thumbprint} is at the origin but not yet at CDN")
    assert "240 s old with max-age 300: wait 60 s or invalidate the CDN path" in verdict
    assert [line for line in result.stdout.splitlines() if line.startswith("verdict:")] == [verdict]


def test_unreachable_cdn_exits_1_without_a_traceback(environ, config_dir, token):
    from idp_support import free_port

    url = f"http://127.0.0.1:{free_port()}/.well-known/jwks.json"
    result = tokenidp("diagnose", token, "--jwks-uri", url, environ=environ, cwd=config_dir)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "unreadable: cannot connect (Connection refused)" in result.stdout


@pytest.mark.parametrize("not_a_jwt", ["not-a-token", "Bearer a.b"])
def test_not_a_jwt_exits_2_with_one_line(environ, config_dir, not_a_jwt):
    result = tokenidp("diagnose", not_a_jwt, environ=environ, cwd=config_dir)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "tokenidp: TOKEN: not a JWT (the token is not a JWS compact serialization)"
    ]


def test_jwks_uri_that_is_not_a_url_exits_2(environ, config_dir, token):
    result = tokenidp(
        "diagnose", token, "--jwks-uri", "cdn.example.com", environ=environ, cwd=config_dir
    )

    assert result.returncode == 2
    assert result.stderr.strip() == "tokenidp: --jwks-uri: 'cdn.example.com' is not an http(s) URL"


def test_configuration_error_exits_2_naming_the_setting(store, config_dir, token):
    result = tokenidp("diagnose", token, environ=store.environ(), cwd=config_dir)

    assert result.returncode == 2
    assert result.stderr.startswith("tokenidp: TokenOptions:CertificateThumbprint: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_running_idp_behind_this_configuration_is_named_with_origin_url(
    store, config_dir, signing, other_rsa_key, settings, cdn
):
    new = store.add(key=other_rsa_key, subject="CN=tokenidp signing 2027")
    options = {"CertificateThumbprint": new.thumbprint}
    token = issue_token(store.settings(config_dir, **options))
    cdn.serve(origin_jwks(settings).body, Cache_Control="public, max-age=300")  # the old IdP

    result = tokenidp(
        "diagnose", token, "--origin-url", cdn.url, environ=store.environ(**options), cwd=config_dir
    )

    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        f"verdict: kid {new.thumbprint} is published by origin (this configuration) but not by "
        "origin URL: the running IdP has an older configuration; deploy this one and restart it"
    )
    assert f"  url            {cdn.url}" in result.stdout.splitlines()
    assert "add --jwks-uri to check that copy too" in result.stderr


def test_diagnose_accepts_the_json_token_response(environ, config_dir, token):
    response = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    result = tokenidp(
        "diagnose", "-", environ=environ, cwd=config_dir, stdin=json.dumps(response, indent=2)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("verdict: the token validates")


def test_diagnose_accepts_an_authorization_header_as_the_argument(environ, config_dir, token):
    result = tokenidp("diagnose", f"Authorization: Bearer {token}", environ=environ, cwd=config_dir)

    assert result.returncode == 0, result.stdout + result.stderr


def test_pasted_json_without_an_access_token_is_one_line_and_exit_2(environ, config_dir, token):
    result = tokenidp("diagnose", json.dumps({"id_token": token}), environ=environ, cwd=config_dir)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "tokenidp: TOKEN: a JSON object without an access_token string"
    ]
    assert token not in result.stdout + result.stderr


def test_an_unreadable_unrelated_store_file_does_not_stop_diagnose(
    store, environ, config_dir, token, other_rsa_key
):
    unrelated = store.add(key=other_rsa_key, subject="CN=unrelated", file_name="unrelated")
    unrelated.path.chmod(0)
    try:
        result = tokenidp("diagnose", token, environ=environ, cwd=config_dir, as_service_user=True)
    finally:
        unrelated.path.chmod(0o600)

    assert result.returncode == 0, result.stdout + result.stderr


def test_an_unreadable_store_folder_stops_diagnose_with_one_line_and_exit_2(
    store, environ, config_dir, token
):
    store.folder.chmod(0)
    try:
        result = tokenidp("diagnose", token, environ=environ, cwd=config_dir, as_service_user=True)
    finally:
        store.folder.chmod(0o755)

    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert f"{store.folder}: the folder is unreadable: permission denied" in result.stderr
