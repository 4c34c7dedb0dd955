"""`tokenidp certs ...`: create, import and list certificates in a store folder."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click

from app.cli import cli
from app.cli.table import format_table
from app.config import STORE_LOCATIONS, TokenOptions, load_config
from app.errors import ConfigError, TokenIdpError
from app.keys.certificates import (
    create_self_signed,
    generate_private_key,
    is_development_certificate,
    key_description,
    parse_subject,
    pem_bytes,
    pkcs12_bytes,
    sha1_thumbprint,
)
from app.keys.store import (
    CERTIFICATE_SUFFIXES,
    StoreEntry,
    normalize_thumbprint,
    read_certificate_file,
    read_store,
)


def _store_options(command: click.Command) -> click.Command:
    """--store-root/--location/--name, defaulting to the configured store."""
    command = click.option("--name", "store_name", help="store name (TokenOptions default)")(
        command
    )
    command = click.option("--location", type=click.Choice(STORE_LOCATIONS), help="store location")(
        command
    )
    return click.option("--store-root", type=click.Path(path_type=Path), help="store root")(command)


def _store_folder(
    options: TokenOptions, store_root: Path | None, location: str | None, store_name: str | None
) -> Path:
    return (
        (store_root or options.certificate_store_root)
        / (location or options.certificate_store_location)
        / (store_name or options.certificate_store_name)
    )


@cli.group()
def certs() -> None:
    """Certificates in the store folder."""


@certs.command("create-self-signed")
@click.option("--subject", required=True, help="e.g. 'CN=id.example.com signing 2026'")
@click.option("--key-type", type=click.Choice(["rsa", "ec"]), default="rsa", show_default=True)
@click.option("--rsa-bits", type=click.IntRange(min=2048), default=2048, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=365, show_default=True)
@click.option(
    "--format", "file_format", type=click.Choice(["pfx", "pem"]), default="pfx", show_default=True
)
@click.option(
    "--password-env",
    metavar="VAR",
    help="encrypt the PKCS#12 with the password in this environment variable",
)
@click.option("--file-name", help="default: the thumbprint")
@_store_options
def create_self_signed_command(
    subject: str,
    key_type: str,
    rsa_bits: int,
    days: int,
    file_format: str,
    password_env: str | None,
    file_name: str | None,
    store_root: Path | None,
    location: str | None,
    store_name: str | None,
) -> None:
    """Create a key and self-signed signing certificate in the store; print its thumbprint."""
    folder = _store_folder(load_config().token, store_root, location, store_name)
    password = None
    if password_env:
        if file_format != "pfx":
            raise click.UsageError("--password-env applies to --format pfx")
        password = os.environ.get(password_env)
        if not password:
            raise click.UsageError(f"environment variable {password_env} is empty or unset")
    try:
        name = parse_subject(subject)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--subject") from None
    now = dt.datetime.now(dt.UTC)
    private_key = generate_private_key(key_type, rsa_bits=rsa_bits)  # type: ignore[arg-type]
    certificate = create_self_signed(
        private_key,
        subject=name,
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=days),
    )
    thumbprint = sha1_thumbprint(certificate)
    data = (
        pkcs12_bytes(private_key, certificate, password=password.encode() if password else None)
        if file_format == "pfx"
        else pem_bytes(private_key, certificate)
    )
    path = folder / f"{file_name or thumbprint}.{file_format}"
    _write_new_file(path, data)
    click.echo(f"{thumbprint}  {certificate.subject.rfc4514_string()}  -> {path}")


@certs.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--password-env", metavar="VAR", help="the PKCS#12 password's environment variable")
@_store_options
def import_command(
    source: Path,
    password_env: str | None,
    store_root: Path | None,
    location: str | None,
    store_name: str | None,
) -> None:
    """Copy a PKCS#12 or PEM file into the store after checking it can be read."""
    folder = _store_folder(load_config().token, store_root, location, store_name)
    password = os.environ.get(password_env) if password_env else None
    suffix = source.suffix.lower()
    if suffix not in CERTIFICATE_SUFFIXES:
        raise click.UsageError("only .pfx, .p12 and .pem files can be imported")
    entry = read_certificate_file(source, password=password)
    if entry.certificate is None:
        raise TokenIdpError(f"cannot import {source}: {entry.problem}")
    target = folder / f"{entry.sha1_thumbprint}{suffix}"
    _write_new_file(target, source.read_bytes())
    key_note = "with private key" if entry.private_key else "WITHOUT private key"
    click.echo(f"{entry.sha1_thumbprint}  {entry.subject}  ({key_note}) -> {target}")


@certs.command("list")
@_store_options
def list_command(store_root: Path | None, location: str | None, store_name: str | None) -> None:
    """Every certificate in the store: thumbprint, subject, validity, key and status."""
    settings = load_config()
    folder = _store_folder(settings.token, store_root, location, store_name)
    entries = read_store(folder, password=settings.token.certificate_password)
    revoked = {
        normalize_thumbprint(value, setting="TokenOptions:RevokedCertificateThumbprints")[0]
        for value in settings.token.revoked_certificate_thumbprints
    }
    now = dt.datetime.now(dt.UTC)
    click.echo(f"store: {folder}")
    rows = [_list_row(entry, revoked, now) for entry in entries]
    click.echo(
        format_table(
            ("THUMBPRINT", "SUBJECT", "KEY", "NOT BEFORE", "NOT AFTER", "STATUS", "FILE"), rows
        )
    )


def _list_row(entry: StoreEntry, revoked: set[str], now: dt.datetime) -> tuple[str, ...]:
    certificate = entry.certificate
    if certificate is None:
        return ("?", "?", "?", "", "", f"unreadable: {entry.problem}", entry.path.name)
    statuses = []
    if entry.sha1_thumbprint in revoked:
        statuses.append("revoked")
    if now < certificate.not_valid_before_utc:
        statuses.append("not yet valid")
    if now >= certificate.not_valid_after_utc:
        statuses.append("expired")
    if entry.private_key is None:
        statuses.append("no private key")
    if is_development_certificate(certificate):
        statuses.append("development")
    return (
        entry.sha1_thumbprint,
        entry.subject,
        key_description(certificate.public_key()),
        certificate.not_valid_before_utc.strftime("%Y-%m-%d"),
        certificate.not_valid_after_utc.strftime("%Y-%m-%d"),
        ", ".join(statuses) or "ok",
        entry.path.name,
    )


def _write_new_file(path: Path, data: bytes) -> None:
    """Create the file with mode 0600, never overwriting one that exists."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise TokenIdpError(f"{path} exists already; nothing was written") from None
    except OSError as error:
        raise ConfigError(
            "TokenOptions:CertificateStoreRoot", f"cannot write {path}: {error}"
        ) from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
