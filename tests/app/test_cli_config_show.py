"""`tokenidp config show`: the effective configuration, where each value came from, and never
a secret."""

from __future__ import annotations

import json

import pytest
from idp_support import AUDIENCE, ISSUER, client_environ, invoke_tokenidp

from app.config import hash_client_secret

PASSWORD = "hunter2-pfx-password"


def _show(environ, *options):
    result = invoke_tokenidp("config", "show", *options, environ=environ)
    assert result.exit_code == 0, result.stderr
    return result


def _by_name(result) -> dict[str, dict]:
    return {item["name"]: item for item in json.loads(result.stdout)["settings"]}


@pytest.fixture
def environ(config_dir):
    return {
        "TOKENIDP_CONFIG_DIR": str(config_dir),
        "TOKENIDP_ENVIRONMENT": None,
        "TokenOptions__Issuer": ISSUER,
        **client_environ(),
    }


def test_config_show_says_where_each_value_came_from(config_dir, environ):
    (config_dir / "appsettings.json").write_text(
        json.dumps({"TokenOptions": {"Audience": "from-base-file", "JwksCacheMaxAge": 600}})
    )
    (config_dir / "appsettings.Production.json").write_text(
        json.dumps({"TokenOptions": {"Audience": AUDIENCE}})
    )

    settings = _by_name(_show(environ, "--json"))

    assert settings["TOKENIDP_ENVIRONMENT"] == {
        "name": "TOKENIDP_ENVIRONMENT",
        "value": "Production",
        "source": "default",
    }
    assert settings["TOKENIDP_CONFIG_DIR"]["source"] == "$TOKENIDP_CONFIG_DIR"
    assert settings["TOKENIDP_INSTANCE_DIR"]["value"] == str(config_dir / "instance")
    assert settings["TokenOptions:Issuer"]["source"] == "$TokenOptions__Issuer"
    assert settings["TokenOptions:Audience"] == {
        "name": "TokenOptions:Audience",
        "value": AUDIENCE,
        "source": str(config_dir / "appsettings.Production.json"),
    }
    assert settings["TokenOptions:JwksCacheMaxAge"]["value"] == 600
    assert settings["TokenOptions:JwksCacheMaxAge"]["source"] == str(
        config_dir / "appsettings.json"
    )
    assert settings["TokenOptions:JwksUri"] == {
        "name": "TokenOptions:JwksUri",
        "value": f"{ISSUER}/.well-known/jwks.json",
        "source": "default",
    }
    assert settings["TokenOptions:CertificateStoreName"]["value"] == "My"
    assert settings["TokenOptions:CertificateThumbprint"]["value"] is None


def test_config_show_lists_every_token_setting_the_schema_knows(environ):
    from app.config.schema import TOKEN_SETTINGS

    names = list(_by_name(_show(environ, "--json")))

    assert names == [
        "TOKENIDP_ENVIRONMENT",
        "TOKENIDP_CONFIG_DIR",
        "TOKENIDP_INSTANCE_DIR",
        *(setting.name for setting in TOKEN_SETTINGS),
        "Metrics:AllowedNetworks",
        "Metrics:BearerSecretSha256",
        "RateLimits:FailuresPerAddress",
        "RateLimits:FailuresPerId",
        "TOKENIDP_REDIS_URL",
        "TOKENIDP_REDIS_KEY_PREFIX",
        "TOKENIDP_TRUSTED_PROXIES",
        "TOKENIDP_LOG_FORMAT",
    ]


def test_config_show_names_operations_settings_and_hides_their_secrets(environ):
    environ["TOKENIDP_REDIS_URL"] = "redis://:hunter2@127.0.0.1:6379/0"
    environ["Metrics__AllowedNetworks"] = "10.20.0.0/16"
    environ["Metrics__BearerSecretSha256"] = hash_client_secret("scrape me")
    result = _show(environ, "--json")
    settings = _by_name(result)

    assert settings["TOKENIDP_REDIS_URL"] == {
        "name": "TOKENIDP_REDIS_URL",
        "value": "(set)",
        "source": "$TOKENIDP_REDIS_URL",
    }
    assert settings["Metrics:AllowedNetworks"]["value"] == ["10.20.0.0/16"]
    assert settings["Metrics:BearerSecretSha256"]["value"] == "(set)"
    assert settings["RateLimits:FailuresPerAddress"]["source"] == "default"
    assert "hunter2" not in json.dumps(settings)


@pytest.mark.parametrize("where", ["variable", "file"])
def test_config_show_masks_the_certificate_password(config_dir, environ, where):
    if where == "variable":
        environ["TokenOptions__CertificatePassword"] = PASSWORD
    else:
        (config_dir / "appsettings.json").write_text(
            json.dumps({"TokenOptions": {"CertificatePassword": PASSWORD}})
        )

    table = _show(environ)
    wide = _show(environ, "--wide")
    as_json = _show(environ, "--json")

    for result in (table, wide, as_json):
        assert PASSWORD not in result.stdout + result.stderr
    assert _by_name(as_json)["TokenOptions:CertificatePassword"]["value"] == "(set)"
    row = next(line for line in table.stdout.splitlines() if "CertificatePassword " in line)
    assert row.split()[1] == "(set)"


def test_config_show_names_the_password_file_but_never_its_content(config_dir, environ):
    (config_dir / "pfx-password.txt").write_text(PASSWORD + "\n")
    environ["TokenOptions__CertificatePasswordFile"] = "pfx-password.txt"

    as_json = _show(environ, "--json")
    wide = _show(environ, "--wide")

    settings = _by_name(as_json)
    password_file = str(config_dir / "pfx-password.txt")
    assert settings["TokenOptions:CertificatePasswordFile"] == {
        "name": "TokenOptions:CertificatePasswordFile",
        "value": password_file,
        "source": "$TokenOptions__CertificatePasswordFile",
    }
    assert settings["TokenOptions:CertificatePassword"]["value"] == f"(from file {password_file})"
    assert settings["TokenOptions:CertificatePassword"]["source"] == (
        "$TokenOptions__CertificatePasswordFile"
    )
    assert PASSWORD not in as_json.stdout + wide.stdout + as_json.stderr + wide.stderr


def test_config_show_lists_clients_with_grants_scopes_secret_count_and_source(config_dir, environ):
    (config_dir / "appsettings.json").write_text(
        json.dumps(
            {
                "Clients": [
                    {
                        "ClientId": "billing",
                        "ClientSecrets": [
                            {"Value": hash_client_secret("old secret")},
                            {"Value": hash_client_secret("new secret")},
                        ],
                        "AllowedScopes": ["billing.read"],
                    }
                ]
            }
        )
    )
    environ = {key: value for key, value in environ.items() if not key.startswith("Clients__")}
    environ.update(client_environ("orders-service", index=1))

    result = _show(environ, "--json")

    assert json.loads(result.stdout)["clients"] == [
        {
            "client_id": "billing",
            "grant_types": ["client_credentials"],
            "scopes": ["billing.read"],
            "secrets": 2,
            "source": str(config_dir / "appsettings.json"),
        },
        {
            "client_id": "orders-service",
            "grant_types": ["client_credentials"],
            "scopes": ["orders.read", "orders.write"],
            "secrets": 1,
            "source": ", ".join(sorted(f"${name}" for name in client_environ(index=1))),
        },
    ]
    assert hash_client_secret("old secret") not in result.stdout


def test_config_show_fits_80_columns_and_wide_shows_every_value(config_dir, environ):
    environ["TokenOptions__JwksUri"] = "https://keys.example.com/tenants/production/jwks.json"

    table = _show(environ)
    wide = _show(environ, "--wide")

    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    jwks_row = next(line for line in table.stdout.splitlines() if "JwksUri" in line)
    assert jwks_row.split()[1].startswith("https://") and jwks_row.split()[1].endswith("…")
    assert jwks_row.split()[2] == "variable"
    wide_row = next(line for line in wide.stdout.splitlines() if "JwksUri" in line)
    assert wide_row.split()[1:] == [
        "https://keys.example.com/tenants/production/jwks.json",
        "$TokenOptions__JwksUri",
    ]
    assert "orders-service" in table.stdout
