"""Configuration clients for the browser flows: `RedirectUris`, `PostLogoutRedirectUris` and
`Public`, checked as the CLI checks database clients, each refusal naming its setting."""

from __future__ import annotations

import json

import pytest

from app.clients import Client
from app.config import hash_client_secret, load_config
from app.errors import ConfigError


def settings_with(config_dir, client: dict):
    (config_dir / "appsettings.json").write_text(
        json.dumps(
            {
                "TokenOptions": {"Issuer": "https://id.example.test"},
                "Clients": [{"ClientId": "web", "AllowedScopes": ["orders.read"], **client}],
            }
        )
    )
    return load_config({"TOKENIDP_ENVIRONMENT": "Production"}, config_dir=config_dir)


def test_a_public_client_has_redirect_uris_and_no_secret(config_dir):
    settings = settings_with(
        config_dir,
        {
            "Public": True,
            "RedirectUris": ["https://app.example.com/callback", "http://127.0.0.1:8400/cb"],
            "PostLogoutRedirectUris": ["https://app.example.com/bye"],
        },
    )
    client = Client.from_config(settings.clients[0])
    assert client.is_public and client.secrets == ()
    assert client.redirect_uris == ("https://app.example.com/callback", "http://127.0.0.1:8400/cb")
    assert client.post_logout_redirect_uris == ("https://app.example.com/bye",)
    assert settings.warnings == ()


@pytest.mark.parametrize(
    ("client", "setting", "message"),
    [
        ({"Public": True, "ClientSecrets": [{"Value": hash_client_secret("s")}]},
         "Clients:0:ClientSecrets", "Public"),
        ({"Public": "maybe"}, "Clients:0:Public", "not true or false"),
        ({"Public": True, "RedirectUris": ["http://app.example.com/cb"]}, "Clients:0:RedirectUris",
         "only loopback hosts"),
        ({"Public": True, "RedirectUris": ["https://app.example.com/cb#x"]},
         "Clients:0:RedirectUris", "fragment"),
        ({"Public": True, "PostLogoutRedirectUris": ["/relative"]},
         "Clients:0:PostLogoutRedirectUris", "absolute"),
        ({"Public": True, "AllowedGrantTypes": ["client_credentials"]},
         "Clients:0:AllowedGrantTypes", "Public"),
    ],
)  # fmt: skip
def test_a_bad_web_client_setting_is_refused_by_name(config_dir, client, setting, message):
    with pytest.raises(ConfigError) as refused:
        settings_with(config_dir, client)
    assert refused.value.setting == setting
    assert message in str(refused.value)
