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


@pytest.mark.parametrize(
    ("issuer", "why"),
    [
        ("http://id.example.test", "must use https outside Development"),
        ("not a url", "contains spaces"),
        ("id.example.test", "is not an absolute URL"),
        ("https://id.example.test/?tenant=a", "must have no a query or fragment"),
        ("https://id.example.test/#top", "must have no a query or fragment"),
        ("https://user:pw@id.example.test", "must not carry a user name or password"),
        ("ftp://id.example.test", "is not an absolute URL"),
        ("https://id.example.test:99999", "invalid port"),
    ],
)
def test_issuer_outside_development_is_an_absolute_https_url(tmp_path, issuer, why):
    with pytest.raises(ConfigError) as refused:
        load_config({"TokenOptions__Issuer": issuer}, config_dir=tmp_path)
    assert refused.value.setting == "TokenOptions:Issuer"
    assert why in str(refused.value)


@pytest.mark.parametrize(
    "issuer", ["http://127.0.0.1:5000", "http://localhost:8080", "http://[::1]"]
)
def test_http_issuer_is_allowed_for_loopback_hosts(tmp_path, issuer):
    assert load_config({"TokenOptions__Issuer": issuer}, config_dir=tmp_path).token.issuer == issuer


def test_jwks_uri_outside_development_is_https(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_config(
            {
                "TokenOptions__Issuer": "https://id.example.test",
                "TokenOptions__JwksUri": "http://keys.example.test/.well-known/jwks.json",
            },
            config_dir=tmp_path,
        )
    assert refused.value.setting == "TokenOptions:JwksUri"


def test_development_allows_http_issuers_but_not_broken_ones(tmp_path):
    development = {"TOKENIDP_ENVIRONMENT": "Development"}
    settings = load_config(
        {**development, "TokenOptions__Issuer": "http://idp.internal:5000"}, config_dir=tmp_path
    )
    assert settings.token.issuer == "http://idp.internal:5000"
    with pytest.raises(ConfigError, match="TokenOptions:Issuer"):
        load_config({**development, "TokenOptions__Issuer": "not a url"}, config_dir=tmp_path)


@pytest.mark.parametrize(
    ("content", "setting", "message"),
    [
        ('{"TokenOptions": "x"}', "TokenOptions", "expected an object of settings"),
        ('[{"TokenOptions": {}}]', "appsettings.json", "must be an object of sections"),
        ('"just a string"', "appsettings.json", "must be an object of sections"),
        ("[" * 100_000 + "]" * 100_000, "appsettings.json", "nested too deeply"),
        ('{"Clients": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}", None, "nested more than"),
        ('{"Clients": {"first": {}}}', "Clients", "expected a list"),
        ('{"TokenOptions": {"Audience": ["a"]}}', "TokenOptions:Audience", "expected a string"),
    ],
    ids=["section-string", "top-array", "top-string", "deep-json", "deep-tree", "clients", "list"],
)
def test_a_malformed_settings_file_is_one_line_naming_what_to_fix(
    tmp_path, content, setting, message
):
    (tmp_path / "appsettings.json").write_text(content)
    with pytest.raises(ConfigError) as refused:
        load_config({"TokenOptions__Issuer": "https://id"}, config_dir=tmp_path)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 400
    if setting:
        assert refused.value.setting == setting


def test_values_echoed_in_messages_are_cut_to_a_readable_length(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_config(
            {"TokenOptions__Issuer": "https://id", "TokenOptions__JwksCacheMaxAge": "9" * 5000},
            config_dir=tmp_path,
        )
    assert len(str(refused.value)) < 200


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            {"file": {"TokenOptions": {"Isuer": "https://id"}}},
            "unknown setting TokenOptions:Isuer (did you mean TokenOptions:Issuer?)",
        ),
        (
            {"file": {"TokenOption": {"Issuer": "https://id"}}},
            "unknown setting TokenOption (did you mean TokenOptions?)",
        ),
        (
            {"environ": {"TokenOptions__CertificateThumbprnt": "AB"}},
            "$TokenOptions__CertificateThumbprnt: unknown setting "
            "TokenOptions:CertificateThumbprnt (did you mean TokenOptions:CertificateThumbprint?)",
        ),
        (
            {
                "environ": {
                    "Clients__0__ClientId": "a",
                    "Clients__0__ClientSecrets__0__Value": hash_client_secret("one"),
                    "Clients__0__AllowedScope__0": "read",
                }
            },
            "unknown setting Clients:0:AllowedScope (did you mean Clients:0:AllowedScopes?)",
        ),
    ],
    ids=["file-key", "file-section", "variable-key", "client-key"],
)
def test_misspelled_settings_are_warned_with_the_closest_known_name(tmp_path, source, expected):
    if "file" in source:
        _write(tmp_path, "appsettings.json", source["file"])
    environ = {"TokenOptions__Issuer": "https://id", **source.get("environ", {})}
    settings = load_config(environ, config_dir=tmp_path)
    assert any(expected in warning for warning in settings.warnings), settings.warnings


def test_unrelated_variables_with_double_underscores_are_not_ours(tmp_path):
    environ = {"TokenOptions__Issuer": "https://id", "PYTHON__X": "1", "__CF_USER": "0"}
    assert load_config(environ, config_dir=tmp_path).warnings == ()


def test_activation_delay_shorter_than_twice_the_cache_lifetime_is_refused(tmp_path):
    environ = {
        "TokenOptions__Issuer": "https://id",
        "TokenOptions__JwksCacheMaxAge": "600",
        "TokenOptions__KeyActivationDelay": "1199",
    }
    with pytest.raises(ConfigError) as refused:
        load_config(environ, config_dir=tmp_path)
    assert refused.value.setting == "TokenOptions:KeyActivationDelay"
    assert "twice TokenOptions:JwksCacheMaxAge (1200 s)" in str(refused.value)
    development = load_config(
        {**environ, "TOKENIDP_ENVIRONMENT": "Development"}, config_dir=tmp_path
    )
    assert development.token.key_activation_delay_seconds == 1199


def test_a_password_in_a_settings_file_is_warned_about_in_production(tmp_path):
    _write(tmp_path, "appsettings.json", {"TokenOptions": {"CertificatePassword": "hunter2"}})
    settings = load_config({"TokenOptions__Issuer": "https://id"}, config_dir=tmp_path)
    [warning] = settings.warnings
    assert "TokenOptions:CertificatePassword is set in" in warning and "hunter2" not in warning
    from_environment = load_config(
        {"TokenOptions__Issuer": "https://id", "TokenOptions__CertificatePassword": "hunter2"},
        config_dir=tmp_path / "elsewhere",
    )
    assert from_environment.warnings == ()


def test_the_certificate_password_can_come_from_a_file(tmp_path):
    (tmp_path / "pfx-password").write_text("s3cret\n")
    settings = load_config(
        {
            "TokenOptions__Issuer": "https://id",
            "TokenOptions__CertificatePasswordFile": "pfx-password",
        },
        config_dir=tmp_path,
    )
    assert settings.token.certificate_password == "s3cret"
    with pytest.raises(ConfigError) as refused:
        load_config(
            {
                "TokenOptions__Issuer": "https://id",
                "TokenOptions__CertificatePasswordFile": "absent",
            },
            config_dir=tmp_path,
        )
    assert refused.value.setting == "TokenOptions:CertificatePasswordFile"
    assert "No such file" in str(refused.value)


def test_settings_remember_where_each_value_came_from(tmp_path):
    _write(tmp_path, "appsettings.json", {"TokenOptions": {"Audience": "orders"}})
    settings = load_config({"TokenOptions__Issuer": "https://id"}, config_dir=tmp_path)
    assert settings.origin("TokenOptions:Audience") == str(tmp_path / "appsettings.json")
    assert settings.origin("TokenOptions:Issuer") == "$TokenOptions__Issuer"
    assert settings.origin("TokenOptions:JwksCacheMaxAge") == "default"


def test_the_readme_settings_table_names_every_setting_and_only_those():
    """One name per setting everywhere: the schema and the README's table agree."""
    import re

    from idp_support import ROOT

    from app.config.schema import CLIENT_KEYS, TOKEN_SETTINGS

    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration reference", 1)[1].split("\n### ", 1)[0]
    documented = set(re.findall(r"^\| `((?:TokenOptions|Clients):[\w:]+)`", table, flags=re.M))
    known = {setting.name for setting in TOKEN_SETTINGS}
    known |= {f"Clients:N:{key}" for key in CLIENT_KEYS if key != "ClientSecrets"}
    known.add("Clients:N:ClientSecrets:M:Value")
    assert documented == known
