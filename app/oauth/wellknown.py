"""Discovery and JWKS: precomputed bytes with a strong ETag, 304 when the client has them."""

from __future__ import annotations

from flask import Blueprint, Response, request

from app.documents import DISCOVERY_PATH, JWKS_PATH, Document
from app.services import idp

bp = Blueprint("wellknown", __name__)


@bp.get(JWKS_PATH)
def jwks() -> Response:
    return serve_document(idp().documents.jwks)


@bp.get(DISCOVERY_PATH)
def discovery() -> Response:
    return serve_document(idp().documents.discovery)


def serve_document(document: Document) -> Response:
    headers = {"Cache-Control": document.cache_control, "ETag": document.etag}
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and _etag_matches(if_none_match, document.etag):
        return Response(status=304, headers=headers)
    return Response(document.body, headers=headers, content_type=document.content_type)


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison, a list of tags, or `*`."""
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False
