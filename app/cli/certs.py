"""`tokenidp certs ...`: create, import and list the certificates in a store folder.

Statuses come from `app.keys.policy` (the rules start-up applies) and roles from the
keyring, so a listing never disagrees with what the IdP would do under this configuration.
Every key file gets a `.crt` companion, named by thumbprint, holding the certificate alone:
the publisher's release role publishes from it without the private key or its password.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.cli import cli, command_key_records, command_settings
from app.cli.table import TERMINAL_WIDTH, Column, render_table, shorten
from app.config import STORE_LOCATIONS, Settings, TokenOptions
from app.errors import ConfigError, TokenIdpError
from app.keys.certificates import (
    create_self_signed,
    generate_private_key,
    key_description,
    parse_subject,
    pem_bytes,
    pkcs12_bytes,
    sha1_thumbprint,
)
from app.keys.keyring import KeyRole, load_keyring, revocations
from app.keys.policy import Refusal, publishing_refusals, signing_refusals
from app.keys.store import (
    CERTIFICATE_ONLY_SUFFIXES,
    CERTIFICATE_SUFFIXES,
    StoreEntry,
    read_certificate_file,
    read_store,
)

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEY_FILE_MODE = 0o600
CERTIFICATE_FILE_MODE = 0o644
COMPANION_SUFFIX = ".crt"
NOT_YET_VALID = "not yet valid"  # policy's status for a certificate time will make valid


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


def _password_from(variable: str) -> str:
    """The password in environment variable `variable`; errors never echo what was given.

    Given a password instead of a name, echoing it would put it in logs and terminals.
    """
    if not VARIABLE_NAME.fullmatch(variable):
        raise click.BadParameter(
            "takes the NAME of an environment variable that holds the password (e.g. "
            "SIGNING_PFX_PASSWORD), not the password; what was given is not shown",
            param_hint="--password-env",
        )
    password = os.environ.get(variable)
    if not password:
        raise click.BadParameter(
            "the environment variable it names is unset or empty (its name is not shown, in "
            "case it was the password); export it first",
            param_hint="--password-env",
        )
    return password


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
    """Create a key and self-signed signing certificate in the store; print its thumbprint.

    Writes the key file (mode 0600) and `THUMBPRINT.crt`, the certificate alone (0644).
    """
    folder = _store_folder(command_settings().token, store_root, location, store_name)
    if password_env and file_format != "pfx":
        raise click.UsageError("--password-env applies to --format pfx")
    password = _password_from(password_env) if password_env else None
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
    key_path = folder / f"{file_name or thumbprint}.{file_format}"
    companion = folder / f"{thumbprint}{COMPANION_SUFFIX}"
    _refuse_existing(key_path, companion)
    _write_new_file(key_path, data, mode=KEY_FILE_MODE)
    _write_new_file(companion, _certificate_pem(certificate), mode=CERTIFICATE_FILE_MODE)
    described = f"{thumbprint}  {certificate.subject.rfc4514_string()}"
    click.echo(f"{described}  -> {key_path}")
    click.echo(f"{described}  -> {companion} (certificate only, for publishing)")
    if password is None:
        fix = "--password-env VAR" if file_format == "pfx" else "--format pfx --password-env VAR"
        click.echo(
            f"tokenidp: warning: the private key in {key_path} is unencrypted at rest; "
            f"keep it mode 0600 for the service user only, or create it with {fix}",
            err=True,
        )


@certs.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--password-env",
    metavar="VAR",
    help="the variable holding the file's password (default: TokenOptions:CertificatePassword)",
)
@_store_options
def import_command(
    source: Path,
    password_env: str | None,
    store_root: Path | None,
    location: str | None,
    store_name: str | None,
) -> None:
    """Copy a certificate file into the store, named by thumbprint, if start-up would use it.

    A file with a private key also gets `THUMBPRINT.crt`, the certificate alone (0644).
    Exit status 1, with the reason, when the file is unreadable or start-up would refuse it.
    """
    settings = command_settings()
    folder = _store_folder(settings.token, store_root, location, store_name)
    suffix = source.suffix.lower()
    if suffix not in CERTIFICATE_SUFFIXES:
        raise click.UsageError(f"only {', '.join(CERTIFICATE_SUFFIXES)} files can be imported")
    password = _password_from(password_env) if password_env else settings.token.certificate_password
    entry = read_certificate_file(source, password=password)
    if entry.certificate is None:
        hint = "; give its password with --password-env VAR" if entry.password_refused else ""
        raise TokenIdpError(f"cannot import {source}: {entry.problem}{hint}")
    refusals = _import_refusals(entry, settings, now=dt.datetime.now(dt.UTC))
    if refusals:
        raise TokenIdpError(
            f"cannot import {source}: certificate {entry.sha1_thumbprint} ({entry.subject}) "
            f"{refusals[0].reason}"
        )
    target = folder / f"{entry.sha1_thumbprint}{suffix}"
    companion = None
    if entry.private_key is not None:
        companion = folder / f"{entry.sha1_thumbprint}{COMPANION_SUFFIX}"
        if _holds_certificate(companion, entry.sha1_thumbprint):
            companion = None  # imported before, as a certificate alone
    _refuse_existing(target, *([companion] if companion else []))
    _write_new_file(
        target,
        source.read_bytes(),
        mode=CERTIFICATE_FILE_MODE if entry.private_key is None else KEY_FILE_MODE,
    )
    described = f"{entry.sha1_thumbprint}  {entry.subject}"
    key_note = "with private key" if entry.private_key else "certificate only"
    click.echo(f"{described}  ({key_note}) -> {target}")
    if companion is not None:
        _write_new_file(companion, _certificate_pem(entry.certificate), mode=CERTIFICATE_FILE_MODE)
        click.echo(f"{described}  -> {companion} (certificate only, for publishing)")
    _warn_if_the_store_cannot_open(target, entry, settings)


@certs.command("list")
@click.option("--wide", is_flag=True, help="every value in full, one line per file")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts")
@_store_options
def list_command(
    wide: bool,
    as_json: bool,
    store_root: Path | None,
    location: str | None,
    store_name: str | None,
) -> None:
    """Every file in the store: thumbprint, role, key, validity, what start-up would refuse."""
    settings = command_settings()
    folder = _store_folder(settings.token, store_root, location, store_name)
    snapshot = read_store(folder, password=settings.token.certificate_password)
    if snapshot.problem is not None:
        raise ConfigError(str(folder), f"cannot list the store folder: {snapshot.problem}")
    now = dt.datetime.now(dt.UTC)
    roles = _roles(settings, folder, now=now)
    revoked = _revoked(settings)
    listed = [_listed(entry, settings, revoked, roles, now=now) for entry in snapshot.entries]
    if as_json:
        document = {
            "environment": settings.environment,
            "store": str(folder),
            "files": [item.as_json() for item in listed],
        }
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(f"environment: {settings.environment}")
    click.echo(
        "store: "
        + (str(folder) if wide else shorten(str(folder), TERMINAL_WIDTH - len("store: "), "path"))
    )
    columns = (
        Column("THUMBPRINT"),
        Column("ROLE"),
        Column("KEY"),
        Column("NOT AFTER"),
        Column("STATUS", shrink="end", detail=True),
        Column("SUBJECT", shrink="end", detail=True),
        Column("NOT BEFORE", detail=True),
        Column("FILE", shrink="path", detail=True),
    )
    click.echo(render_table(columns, [item.row() for item in listed], wide=wide))


@dataclass(frozen=True)
class _Listed:
    """One store file as `certs list` shows it."""

    entry: StoreEntry
    status: str
    refusals: tuple[Refusal, ...]
    role: str | None

    def row(self) -> tuple[object, ...]:
        certificate = self.entry.certificate
        if certificate is None:
            return ("-", "-", "-", "-", self.status, "-", "-", self.entry.path.name)
        return (
            self.entry.sha1_thumbprint,
            self.role,
            key_description(certificate.public_key()),
            f"{certificate.not_valid_after_utc:%Y-%m-%d}",
            self.status,
            self.entry.subject,
            f"{certificate.not_valid_before_utc:%Y-%m-%d}",
            self.entry.path.name,
        )

    def as_json(self) -> dict[str, object]:
        certificate = self.entry.certificate
        return {
            "file": str(self.entry.path),
            "thumbprint": self.entry.sha1_thumbprint or None,
            "subject": self.entry.subject or None,
            "key": key_description(certificate.public_key()) if certificate else None,
            "private_key": self.entry.private_key is not None,
            "not_before": _utc(certificate.not_valid_before_utc) if certificate else None,
            "not_after": _utc(certificate.not_valid_after_utc) if certificate else None,
            "role": self.role,
            "status": self.status,
            "refusals": [refusal.reason for refusal in self.refusals],
        }


def _listed(
    entry: StoreEntry,
    settings: Settings,
    revoked: Mapping[str, str],
    roles: dict[str, KeyRole],
    *,
    now: dt.datetime,
) -> _Listed:
    """Status from the policy start-up applies: signing rules for key files, else publishing."""
    if entry.certificate is None:
        problem = entry.problem or "not a certificate"
        status = problem if problem.startswith("unreadable") else f"unreadable: {problem}"
        return _Listed(entry, status, (), None)
    environment = settings.environment
    if entry.path.suffix.lower() in CERTIFICATE_ONLY_SUFFIXES:
        refusals = publishing_refusals(entry.certificate, environment=environment, revoked=revoked)
        fine = "ok (certificate only: publishes, never signs)"
    else:
        refusals = signing_refusals(entry, environment=environment, revoked=revoked, now=now)
        fine = "ok"
    status = ", ".join(refusal.status for refusal in refusals) or fine
    if refusals and entry.problem:
        status += f" ({entry.problem})"
    role = roles.get(entry.sha1_thumbprint)
    return _Listed(entry, status, tuple(refusals), str(role) if role else None)


def _roles(settings: Settings, folder: Path, *, now: dt.datetime) -> dict[str, KeyRole]:
    """Each thumbprint's role in the keyring this configuration builds; notes why when none."""
    if folder != settings.token.store_folder:
        click.echo(
            f"note: ROLE is shown for the configured store only ({settings.token.store_folder})",
            err=True,
        )
        return {}
    try:
        keyring = load_keyring(settings, now=now, records=command_key_records(), strict=False)
    except ConfigError as error:
        click.echo(f"note: no roles, the configuration does not resolve: {error}", err=True)
        return {}
    roles = {key.kid: key.role for key in keyring.keys}
    roles.update({kid: KeyRole.REVOKED for kid in keyring.revoked_kids})
    return roles


def _import_refusals(entry: StoreEntry, settings: Settings, *, now: dt.datetime) -> list[Refusal]:
    """What start-up would refuse, except a validity that only has to begin (a staged key)."""
    revoked = _revoked(settings)
    if entry.path.suffix.lower() in CERTIFICATE_ONLY_SUFFIXES:
        return publishing_refusals(
            entry.certificate, environment=settings.environment, revoked=revoked
        )
    refusals = signing_refusals(entry, environment=settings.environment, revoked=revoked, now=now)
    return [refusal for refusal in refusals if refusal.status != NOT_YET_VALID]


def _warn_if_the_store_cannot_open(target: Path, entry: StoreEntry, settings: Settings) -> None:
    """A key the configured password cannot open would be refused at start-up: say so now."""
    if entry.private_key is None:
        return
    stored = read_certificate_file(target, password=settings.token.certificate_password)
    if stored.private_key is None:
        click.echo(
            f"tokenidp: warning: TokenOptions:CertificatePassword does not open {target} "
            f"({stored.problem}): start-up cannot sign with it until it does",
            err=True,
        )


def _revoked(settings: Settings) -> Mapping[str, str]:
    """Revoked kids, from the setting and the database (`tokenidp keys revoke`)."""
    return revocations(settings, command_key_records(), [])


def _holds_certificate(path: Path, thumbprint: str) -> bool:
    return (
        path.exists() and read_certificate_file(path, password=None).sha1_thumbprint == thumbprint
    )


def _certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _utc(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _refuse_existing(*paths: Path) -> None:
    """Check every target first, so a refusal leaves nothing half written."""
    for path in paths:
        if path.exists():
            raise TokenIdpError(f"{path} exists already; nothing was written")


def _write_new_file(path: Path, data: bytes, *, mode: int) -> None:
    """Create the file with exactly `mode` (whatever the umask), never overwriting one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise TokenIdpError(f"{path} exists already; nothing was written") from None
    except OSError as error:
        raise ConfigError(
            "TokenOptions:CertificateStoreRoot", f"cannot write {path}: {error.strerror}"
        ) from None
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(data)
