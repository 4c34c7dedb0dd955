"""Configuration as the contract says: files, then environment; keys case-insensitive."""

from __future__ import annotations

import json

import pytest

from app.config import hash_client_secret, load_config
from app.errors import ConfigError


def _write(folder, name, document):
    (folder / name).write_text(json.dumps(document))


def test_environment_defaults_to_production(tmp_path):
    with pytest.raises(ConfigError, match=r"^TokenOptions:Issuer: required in Production"):
        load_config({}, config_dir=tmp_path)
    assert load_config({"TokenOptions__Issuer": "https://x"}, config_dir=tmp_path).environment == (
        "Production"
    )


def test_later_sources_win_and_keys_ignore_case(tmp_path):
    _write(
        tmp_path, "appsettings.json", {"TokenOptions": {"Issuer": "https://base", "Audience": "a"}}
    )
    _write(
        tmp_path,
        "appsettings.Staging.json",
        {"tokenoptions": {"AUDIENCE": "b", "JwksCacheMaxAge": 60}},
    )
    settings = load_config(
        {"TOKENIDP_ENVIRONMENT": "staging", "TOKENOPTIONS__jwkscachemaxage": "120"},
        config_dir=tmp_path,
    )
    assert settings.environment == "Staging"
    assert settings.token.issuer == "https://base"
    assert settings.token.audience == "b"
    assert settings.token.jwks_cache_max_age_seconds == 120


def test_environment_variables_address_list_items(tmp_path):
    _write(
        tmp_path,
        "appsettings.json",
        {
            "TokenOptions": {"Issuer": "https://id"},
            "Clients": [
                {
                    "ClientId": "a",
                    "ClientSecrets": [{"Value": hash_client_secret("one")}],
                    "AllowedScopes": ["read"],
                }
            ],
        },
    )
    settings = load_config(
        {
            "Clients__0__ClientSecrets__1__Value": hash_client_secret("two"),
            "Clients__0__AllowedScopes__1": "write",
        },
        config_dir=tmp_path,
    )
    [client] = settings.clients
    assert len(client.secret_sha256_digests) == 2
    assert client.allowed_scopes == ("read", "write")


BAD_SETTINGS = [
    ({"TOKENIDP_ENVIRONMENT": "Prod"}, "TOKENIDP_ENVIRONMENT"),
    (
        {"TokenOptions__CertificateStoreLocation": "Everywhere"},
        "TokenOptions:CertificateStoreLocation",
    ),
    ({"TokenOptions__JwksCacheMaxAge": "five minutes"}, "TokenOptions:JwksCacheMaxAge"),
    ({"TokenOptions__KeyActivationDelay": "-1"}, "TokenOptions:KeyActivationDelay"),
    (
        {"Clients__0__ClientId": "a", "Clients__0__ClientSecrets__0__Value": "plaintext"},
        "Clients:0:ClientSecrets:0:Value",
    ),
    ({"Clients__0__ClientId": "a"}, "Clients:0:ClientSecrets"),
    ({"Clients__0__ClientSecrets__0__Value": hash_client_secret("x")}, "Clients:0:ClientId"),
]


@pytest.mark.parametrize(("environ", "setting"), BAD_SETTINGS, ids=[s for _, s in BAD_SETTINGS])
def test_bad_settings_name_themselves(tmp_path, environ, setting):
    with pytest.raises(ConfigError) as refused:
        load_config({"TokenOptions__Issuer": "https://id", **environ}, config_dir=tmp_path)
    assert refused.value.setting == setting


def test_broken_json_names_the_file_and_line(tmp_path):
    (tmp_path / "appsettings.json").write_text('{"TokenOptions": {"Issuer": }')
    with pytest.raises(ConfigError, match=r"^appsettings.json: not valid JSON at line 1"):
        load_config({}, config_dir=tmp_path)


def test_hash_secret_is_base64_sha256():
    assert hash_client_secret("demo-secret") == "zVd/4lYev/I1BdsLsAYwDHzey9RrwOA8RJr6+sosJb8="
