"""A folder origin (served by any web server): each document replaced atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from app.documents import Document
from publisher.errors import OriginError
from publisher.plan import PublishedObject


class FileTarget:
    """Documents stored as `DIR/.well-known/...` files; headers are the web server's job."""

    supports_cdn_marker = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = folder.as_uri()

    def file_path(self, path: str) -> Path:
        return self.folder / path.lstrip("/")

    def find(self, path: str) -> PublishedObject | None:
        """A folder records no headers or hash: hash the file itself (one read)."""
        file_path = self.file_path(path)
        try:
            body = file_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise OriginError(f"reading {file_path}: {error.strerror or error}") from None
        return PublishedObject(path=path, sha256_hex=hashlib.sha256(body).hexdigest())

    def read_body(self, path: str) -> bytes:
        file_path = self.file_path(path)
        try:
            return file_path.read_bytes()
        except OSError as error:
            raise OriginError(f"reading back {file_path}: {error.strerror or error}") from None

    def write(self, document: Document, *, invalidation_pending: bool) -> None:
        """Write a temporary file beside the target, fsync, then rename over it (atomic)."""
        file_path = self.file_path(document.path)
        temporary: str | None = None
        try:
            file_path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(
                prefix=f".{file_path.name}.", suffix=".tmp", dir=file_path.parent
            )
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(document.body)
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
