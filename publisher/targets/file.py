"""A folder origin (served by any web server): each document replaced atomically.

A folder keeps no metadata, so the signing kid recorded with the JWKS lives in a small
file beside `.well-known/`: `DIR/.tokenidp-publisher.json`. It holds nothing secret (every
token's header names its kid) and nothing a validator reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from app.documents import JWKS_PATH, Document
from publisher.errors import OriginError
from publisher.plan import PublishedObject

RECORD_FILE = ".tokenidp-publisher.json"


class FileTarget:
    """Documents stored as `DIR/.well-known/...` files; headers are the web server's job."""

    supports_cdn_marker = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = folder.as_uri()
        self.record_path = folder / RECORD_FILE

    def file_path(self, path: str) -> Path:
        return self.folder / path.lstrip("/")

    def check_origin(self) -> str:
        """Whether the folder is there (a run creates it); the dry run's check."""
        if self.folder.is_dir():
            return f"Origin: folder {self.folder} exists"
        if self.folder.exists():
            raise OriginError(f"{self.folder} is not a folder (fix --target)")
        return f"Origin: folder {self.folder} does not exist yet (a run creates it)"

    def find(self, path: str) -> PublishedObject | None:
        """A folder records no headers or hash: hash the file itself (one read)."""
        file_path = self.file_path(path)
        try:
            body = file_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise OriginError(f"reading {file_path}: {error.strerror or error}") from None
        return PublishedObject(
            path=path,
            sha256_hex=hashlib.sha256(body).hexdigest(),
            signing_kid=self._recorded_signing_kid() if path == JWKS_PATH else None,
        )

    def read_body(self, path: str) -> bytes:
        file_path = self.file_path(path)
        try:
            return file_path.read_bytes()
        except OSError as error:
            raise OriginError(f"reading back {file_path}: {error.strerror or error}") from None

    def write(
        self, document: Document, *, invalidation_pending: bool, signing_kid: str | None
    ) -> None:
        """Replace the file unless it already holds these bytes (its mtime, and so the web
        server's ETag, stay); then record the signing kid, if any."""
        file_path = self.file_path(document.path)
        try:
            unchanged = file_path.read_bytes() == document.body
        except OSError:
            unchanged = False
        if not unchanged:
            _replace(file_path, document.body)
        if signing_kid is not None:
            record = {"signing_kid": signing_kid}
            _replace(self.record_path, json.dumps(record, sort_keys=True).encode() + b"\n")

    def _recorded_signing_kid(self) -> str | None:
        """The signing kid from the record file; None when absent or unreadable as one."""
        try:
            record = json.loads(self.record_path.read_bytes())
        except FileNotFoundError:
            return None
        except OSError as error:
            raise OriginError(f"reading {self.record_path}: {error.strerror or error}") from None
        except ValueError:
            return None
        kid = record.get("signing_kid") if isinstance(record, dict) else None
        return kid if isinstance(kid, str) else None


def _replace(file_path: Path, data: bytes) -> None:
    """Write a temporary file beside the target, fsync, then rename over it (atomic)."""
    temporary: str | None = None
    try:
        file_path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{file_path.name}.", suffix=".tmp", dir=file_path.parent
        )
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, file_path)
        temporary = None
    except OSError as error:
        raise OriginError(f"writing {file_path}: {error.strerror or error}") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
