"""`tokenidp config show`: the effective configuration and where each value came from.

Sources are a settings file, an environment variable (`$Name`) or `default` (derived
defaults such as JwksUri included). Secrets are never printed, only whether they are set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from app.cli import cli, command_settings
from app.cli.table import Column, render_table
from app.config import Settings
from app.config.schema import SECRET_SETTINGS, TOKEN_SETTINGS, TokenSetting

PASSWORD_FILE = "TokenOptions:CertificatePasswordFile"
SET = "(set)"
DEFAULT = "default"

SETTING_COLUMNS = (
    Column("NAME"),
    Column("VALUE", shrink="auto"),
    Column("SOURCE", shrink="path"),
)
CLIENT_COLUMNS = (
    Column("CLIENT ID"),
    Column("GRANT TYPES", shrink="end"),
    Column("SCOPES", shrink="end"),
    Column("SECRETS"),
    Column("SOURCE", shrink="path"),
)


@dataclass(frozen=True)
class _Shown:
    """One setting as shown: `value` is already masked when the setting is a secret."""

    name: str
    value: object
    source: str


@cli.group()
def config() -> None:
    """The configuration TokenIDP reads."""


@config.command("show")
@click.option("--wide", is_flag=True, help="every value in full")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts")
def show(wide: bool, as_json: bool) -> None:
    """The effective configuration: each setting's value and source; secrets masked."""
    settings = command_settings()
    password_file = settings.token.certificate_password_file
    shown = (
        _process_settings(settings, os.environ)
        + [
            _token_setting(setting, settings, password_file=password_file)
            for setting in TOKEN_SETTINGS
        ]
        + _operations_settings(settings, os.environ)
    )
    client_sources = _client_sources(settings)
    if as_json:
        document = {
            "settings": [
                {"name": item.name, "value": _json_value(item.value), "source": item.source}
                for item in shown
            ],
            "clients": [
                {
                    "client_id": client.client_id,
                    "grant_types": list(client.allowed_grant_types),
                    "scopes": list(client.allowed_scopes),
                    "secrets": len(client.secret_sha256_digests),
                    "source": source,
                }
                for client, source in zip(settings.clients, client_sources, strict=True)
            ],
            "warnings": list(settings.warnings),
        }
        click.echo(json.dumps(document, indent=2))
        return
    rows = [
        (item.name, _text(item.value), _shown_source(item.source, settings, wide=wide))
        for item in shown
    ]
    click.echo(render_table(SETTING_COLUMNS, rows, wide=wide))
    click.echo()
    client_rows = [
        (
            client.client_id,
            _text(client.allowed_grant_types),
            _text(client.allowed_scopes),
            len(client.secret_sha256_digests),
            _shown_source(source, settings, wide=wide),
        )
        for client, source in zip(settings.clients, client_sources, strict=True)
    ]
    click.echo(render_table(CLIENT_COLUMNS, client_rows, wide=wide))


def _process_settings(settings: Settings, environ: Mapping[str, str]) -> list[_Shown]:
    """The three settings read from the process environment only, not from files."""

    def source(variable: str) -> str:
        return f"${variable}" if environ.get(variable) else DEFAULT

    return [
        _Shown("TOKENIDP_ENVIRONMENT", settings.environment, source("TOKENIDP_ENVIRONMENT")),
        _Shown("TOKENIDP_CONFIG_DIR", settings.config_dir, source("TOKENIDP_CONFIG_DIR")),
        _Shown("TOKENIDP_INSTANCE_DIR", settings.instance_dir, source("TOKENIDP_INSTANCE_DIR")),
    ]


def _operations_settings(settings: Settings, environ: Mapping[str, str]) -> list[_Shown]:
    """Metrics, rate limits, logs and proxies (README: Operations); the Redis URL and the
    metrics secret's digest show only whether they are set."""

    def variable(name: str, value: object) -> _Shown:
        return _Shown(name, value, f"${name}" if environ.get(name) else DEFAULT)

    def setting(name: str, value: object) -> _Shown:
        return _Shown(name, value, settings.origin(name))

    metrics, limits = settings.metrics, settings.rate_limits
    return [
        setting("Metrics:AllowedNetworks", tuple(map(str, metrics.allowed_networks))),
        setting("Metrics:BearerSecretSha256", SET if metrics.bearer_secret_sha256 else None),
        setting("RateLimits:FailuresPerAddress", limits.per_address),
        setting("RateLimits:FailuresPerId", limits.per_id),
        variable("TOKENIDP_REDIS_URL", SET if settings.redis_url else None),
        variable("TOKENIDP_REDIS_KEY_PREFIX", limits.redis_key_prefix),
        variable("TOKENIDP_TRUSTED_PROXIES", tuple(map(str, settings.trusted_proxies))),
        variable("TOKENIDP_LOG_FORMAT", environ.get("TOKENIDP_LOG_FORMAT") or "text"),
    ]


def _token_setting(
    setting: TokenSetting, settings: Settings, *, password_file: Path | None
) -> _Shown:
    """A TokenOptions value; a secret shows only `(set)` or the file it was read from."""
    source = settings.origin(setting.name)
    if setting.name == PASSWORD_FILE:
        return _Shown(setting.name, password_file, source)
    value = getattr(settings.token, setting.attribute)
    if not (setting.secret or setting.name in SECRET_SETTINGS) or value is None:
        return _Shown(setting.name, value, source)
    if source == DEFAULT and password_file is not None:
        return _Shown(setting.name, f"(from file {password_file})", settings.origin(PASSWORD_FILE))
    return _Shown(setting.name, SET, source)


def _client_sources(settings: Settings) -> list[str]:
    """Every source that set a value of each client, in the order they were applied."""
    keys = sorted(
        {path.split(":")[1] for path in settings.origins if path.startswith("clients:")},
        key=lambda key: int(key) if key.isdigit() else -1,
    )
    if len(keys) != len(settings.clients):
        return ["-"] * len(settings.clients)
    files = list(settings.sources)

    def applied(source: str) -> tuple[int, str]:
        """Files in reading order, then variables by name: the order load_config applies them."""
        return (files.index(source), "") if source in files else (len(files), source)

    return [
        ", ".join(
            sorted(
                {
                    source
                    for path, source in settings.origins.items()
                    if path.startswith(f"clients:{key}:") or path == f"clients:{key}"
                },
                key=applied,
            )
        )
        for key in keys
    ]


def _shown_source(source: str, settings: Settings, *, wide: bool) -> str:
    """In 80 columns: files in the config folder by name, variables as `variable` (the row's
    name says which); `--wide` shows every variable's name and every file's path."""
    if wide:
        return source
    parts = []
    for part in source.split(", "):
        if part.startswith("$"):
            parts.append("variable")
        elif Path(part).parent == settings.config_dir:
            parts.append(Path(part).name)
        else:
            parts.append(part)
    return ", ".join(dict.fromkeys(parts))


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple | list):
        return ", ".join(map(str, value)) or "-"
    return str(value)


def _json_value(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value
