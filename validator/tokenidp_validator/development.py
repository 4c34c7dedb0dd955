"""Development key material: the IdP marks it, and validators refuse it unless told otherwise."""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.x509.oid import NameOID

# The OU the IdP writes into the subject of its development certificate.
DEVELOPMENT_KEY_MARKER = "TokenIDP development key - not for production"


def x5c_is_development_material(x5c: object) -> bool:
    """Whether a certificate of an x5c chain carries the marker as an OU of its subject.

    x5c is a non-empty list of base64 (not base64url) DER certificates (RFC 7517 §4.7);
    anything else raises ValueError, since a chain we cannot read cannot be cleared.
    """
    if not isinstance(x5c, list) or not x5c or not all(isinstance(item, str) for item in x5c):
        raise ValueError("x5c is not a non-empty list of strings")
    for item in x5c:
        try:
            certificate = x509.load_der_x509_certificate(base64.b64decode(item, validate=True))
        except (binascii.Error, ValueError) as e:
            raise ValueError("x5c holds something other than a base64 DER certificate") from e
        units = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        if any(unit.value == DEVELOPMENT_KEY_MARKER for unit in units):
            return True
    return False
