"""Where diagnose reads a JWKS: this configuration's bytes, or one HTTP GET (the I/O edge)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from app.documents import Document

ORIGIN = "origin"  # what the IdP itself publishes
CDN = "cdn"  # a copy that APIs fetch: the CDN, or any other JWKS address
MAX_JWKS_BYTES = 1 << 20


@dataclass(frozen=True)
class JwksResponse:
    """One source's answer: the body (or why there is none) and the headers caches obey."""

    label: str
    role: str
    uri: str | None
    fetched_at: float
    body: bytes | None = None
    error: str | None = None
    cache_control: str | None = None
    age: str | None = None
    etag: str | None = None
    last_modified: str | None = None


def configured_origin(document: Document, *, now: float) -> JwksResponse:
    """The JWKS this configuration renders: byte for byte what the IdP and the publisher serve."""
    return JwksResponse(
        label="origin (this configuration)",
        role=ORIGIN,
        uri=None,
        fetched_at=now,
        body=document.body,
        cache_control=document.cache_control,
        etag=document.etag,
    )


def fetch_jwks(
    uri: str,
    *,
    label: str,
    role: str,
    timeout_seconds: float,
    clock: Callable[[], float] = time.time,
) -> JwksResponse:
    """GET `uri` once, as an API would (no cache-busting headers); failures become `error`."""
    try:
        with requests.get(
            uri, headers={"Accept": "application/json"}, timeout=timeout_seconds, stream=True
        ) as response:
            body = bytearray()
            for chunk in response.iter_content(chunk_size=65536):
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    return _failed(uri, label, role, clock(), f"larger than {MAX_JWKS_BYTES} bytes")
            headers = response.headers
            return JwksResponse(
                label=label,
                role=role,
                uri=uri,
                fetched_at=clock(),
                body=bytes(body) if response.status_code == 200 else None,
                error=None if response.status_code == 200 else f"HTTP {response.status_code}",
                cache_control=headers.get("Cache-Control"),
                age=headers.get("Age"),
                etag=headers.get("ETag"),
                last_modified=headers.get("Last-Modified"),
            )
    except requests.Timeout:
        return _failed(uri, label, role, clock(), f"no answer within {timeout_seconds:g} s")
    except requests.RequestException as e:
        return _failed(uri, label, role, clock(), _transport_reason(e))


def _failed(uri: str, label: str, role: str, fetched_at: float, error: str) -> JwksResponse:
    return JwksResponse(label=label, role=role, uri=uri, fetched_at=fetched_at, error=error)


def _transport_reason(error: requests.RequestException) -> str:
    """The operating system's reason ("Connection refused"), not urllib3's nested repr."""
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    if isinstance(error, requests.ConnectionError):
        return f"cannot connect ({found.group(1).strip() if found else type(error).__name__})"
    return f"{type(error).__name__}: {found.group(1).strip() if found else error}"
