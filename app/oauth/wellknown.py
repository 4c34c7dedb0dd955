"""Discovery and JWKS: precomputed responses with a strong ETag, 304 when the client has them.

Validators and CDNs hit these hardest, so every answer is built once per document. Both
answer CORS requests from any origin, since browser-based clients and validators fetch
them; the token endpoint never does.
"""

from __future__ import annotations

from app.documents import JWKS_PATH, Document
from app.http.messages import OAuthRequest, OAuthResponse, response
from app.keys.live import LiveKeys
from app.oauth.errors import MethodNotAllowedError
from app.ops.metrics import document_counters

# Public documents: any origin may read them, and see the ETag to revalidate.
CORS_HEADERS = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag"),
)
PREFLIGHT_HEADERS = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD"),
    (b"access-control-allow-headers", b"If-None-Match"),
    (b"access-control-max-age", b"86400"),
)
ALLOWED_METHODS = "GET, HEAD, OPTIONS"


class DocumentEndpoint:
    """GET or HEAD one published document; OPTIONS answers a CORS preflight.

    The document follows the live keyring (app/keys/live.py): its responses are built
    once per document, when a request first meets a new one.
    """

    reads_body = False

    def __init__(self, keys: LiveKeys, path: str) -> None:
        self.keys = keys
        self.path = path
        self.responses: DocumentResponses | None = None
        self.count_ok, self.count_not_modified = document_counters(
            "jwks" if path == JWKS_PATH else "discovery"
        )
        self.preflight = response(
            204, b"", (*PREFLIGHT_HEADERS, (b"allow", ALLOWED_METHODS.encode()))
        )

    async def handle(self, request: OAuthRequest) -> OAuthResponse:
        method = request.method
        if method == "GET" or method == "HEAD":
            responses = self.current()
            if_none_match = request.header(b"if-none-match")
            if if_none_match and etag_matches(if_none_match, responses.etag):
                self.count_not_modified()
                return responses.not_modified
            self.count_ok()
            return responses.ok if method == "GET" else responses.head
        if method == "OPTIONS":
            return self.preflight
        raise MethodNotAllowedError(method, allowed=ALLOWED_METHODS)

    def current(self) -> DocumentResponses:
        state = self.keys.state
        document = state.documents.jwks if self.path == JWKS_PATH else state.documents.discovery
        responses = self.responses
        if responses is None or responses.document is not document:
            responses = self.responses = DocumentResponses(document)
        return responses


class DocumentResponses:
    """The three answers for one document's bytes: 200, HEAD and 304."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.etag = document.etag
        cache_headers = (
            (b"cache-control", document.cache_control.encode()),
            (b"etag", document.etag.encode()),
            *CORS_HEADERS,
        )
        self.ok = response(
            200, document.body, ((b"content-type", document.content_type.encode()), *cache_headers)
        )
        # HEAD: the GET's headers, Content-Length included, without the body (RFC 9110 §9.3.2).
        self.head = OAuthResponse(200, self.ok.headers, b"")
        self.not_modified = OAuthResponse(304, cache_headers, b"")


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison, a list of tags, or `*`."""
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False
