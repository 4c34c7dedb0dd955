"""gunicorn's C HTTP parser, gunicorn_h1c, with the 501 RFC 9112 asks for.

gunicorn_h1c parses a request in a fraction of the time of gunicorn's pure-Python parser
(measured here: 8 µs of 43 for a JWKS request, 17 µs of 105 for an ES256 token). Version
0.6.14 reports an unknown transfer coding as `UnsupportedTransferCoding`, which gunicorn
answers with 501 (RFC 9112 §6.1); 0.6.10, the newest on this registry, raises a generic
`InvalidHeader("Unsupported Transfer-Encoding")`, which gunicorn would answer with 400.
`name_unsupported_transfer_coding` gives 0.6.10 that name, matching exactly that error,
so gunicorn's own mapping applies. tests/app/test_slow_and_malformed_clients.py checks it.
"""

from __future__ import annotations

import gunicorn_h1c

UNSUPPORTED_TRANSFER_CODING = "Unsupported Transfer-Encoding"


class _UnsupportedTransferCodingType(type):
    def __instancecheck__(cls, instance: object) -> bool:
        return (
            isinstance(instance, gunicorn_h1c.InvalidHeader)
            and str(instance) == UNSUPPORTED_TRANSFER_CODING
        )


class UnsupportedTransferCoding(metaclass=_UnsupportedTransferCodingType):
    """gunicorn_h1c 0.6.10's error for a transfer coding it does not implement."""


def name_unsupported_transfer_coding() -> None:
    """Before gunicorn looks the name up (once per worker, at its first connection)."""
    if not hasattr(gunicorn_h1c, "UnsupportedTransferCoding"):
        gunicorn_h1c.UnsupportedTransferCoding = UnsupportedTransferCoding
