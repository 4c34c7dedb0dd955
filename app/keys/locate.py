"""When a certificate is not in the configured store, say which setting points elsewhere.

Only runs on the error path: it reads the other stores under `CertificateStoreRoot`
(certificates only, no private keys) to find where the certificate actually is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from app.config import TokenOptions
from app.errors import ConfigError
from app.keys.store import read_store

if TYPE_CHECKING:
    from app.keys.keyring import CertificateNotFoundError

ROOT = "TokenOptions:CertificateStoreRoot"
LOCATION = "TokenOptions:CertificateStoreLocation"
NAME = "TokenOptions:CertificateStoreName"
SUBJECT = "TokenOptions:CertificateSubjectName"


def explain_missing_certificate(
    error: CertificateNotFoundError, options: TokenOptions
) -> ConfigError:
    """A better error than "not found" when another store holds it or the folder is missing."""
    problem = error.snapshot.problem or ""
    if problem.startswith("unreadable"):
        return ConfigError(
            error.setting,
            f"cannot look for {error.what.removeprefix('no ')} in {options.store_folder}: the "
            f"folder is {problem}; give the service user read access (README: Deploying)",
        )
    elsewhere = _stores_holding(error, options)
    if elsewhere:
        return _found_elsewhere(error, options, elsewhere[0])
    if error.snapshot.problem == "no such folder":
        return _missing_folder(options)
    return error


def _stores_holding(error: CertificateNotFoundError, options: TokenOptions) -> list[Path]:
    root = options.certificate_store_root
    found = []
    for folder in _store_folders(root):
        if folder == options.store_folder:
            continue
        snapshot = read_store(folder, password=options.certificate_password, private_keys=False)
        if error.setting == SUBJECT:
            holds = bool(snapshot.find_by_subject(error.wanted))
        else:
            holds = snapshot.find_by_thumbprint(error.wanted) is not None
        if holds:
            found.append(folder)
    return found


def _found_elsewhere(
    error: CertificateNotFoundError, options: TokenOptions, folder: Path
) -> ConfigError:
    location, name = folder.parent.name, folder.name
    changes = []
    if location != options.certificate_store_location:
        changes.append(f"{LOCATION}={location}")
    if name != options.certificate_store_name:
        changes.append(f"{NAME}={name}")
    setting = LOCATION if location != options.certificate_store_location else NAME
    return ConfigError(
        setting,
        f"{error.what.removeprefix('no ')} is not in {options.store_folder} but in {folder}: "
        f"set {' and '.join(changes)} (or move the file)",
    )


def _missing_folder(options: TokenOptions) -> ConfigError:
    """Name the setting whose part of `{Root}/{Location}/{Name}` does not exist."""
    root = options.certificate_store_root
    location_folder = root / options.certificate_store_location
    if not root.is_dir():
        return ConfigError(ROOT, f"the store root {root} does not exist")
    if not location_folder.is_dir():
        return ConfigError(
            LOCATION,
            f"no {options.certificate_store_location} folder in {root}{_there(root)}",
        )
    return ConfigError(
        NAME,
        f"no store {options.certificate_store_name!r} in {location_folder}"
        f"{_there(location_folder)}",
    )


def _store_folders(root: Path) -> list[Path]:
    return [name for location in _subfolders(root) for name in _subfolders(location)]


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(path for path in folder.iterdir() if path.is_dir())
    except OSError:
        return []


def _there(folder: Path) -> str:
    names = [path.name for path in _subfolders(folder)]
    return f" (there: {', '.join(names)})" if names else " (it is empty)"
