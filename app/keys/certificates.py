"""Facts about X.509 certificates and their keys, and making new ones (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tokenidp_validator import DEVELOPMENT_KEY_MARKER, has_roca_fingerprint

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
KeyType = Literal["rsa", "ec"]

# Marks material generated for Development so Production, the publisher and downstream
# validators can refuse it wherever it is found (the validator owns the marker's text).
DEVELOPMENT_MARKER = DEVELOPMENT_KEY_MARKER


def sha1_thumbprint(certificate: x509.Certificate) -> str:
    """The certificate's thumbprint and kid: SHA-1 of the DER, upper-case hex."""
    return certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - thumbprint, not security


def sha256_thumbprint(certificate: x509.Certificate) -> bytes:
    return certificate.fingerprint(hashes.SHA256())


def subject_text(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def common_name(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def is_development_certificate(certificate: x509.Certificate) -> bool:
    units = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return any(unit.value == DEVELOPMENT_MARKER for unit in units)


def key_description(public_key: object) -> str:
    """ "RSA-2048", "EC P-256": how operators name key types."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC {_curve_name(public_key.curve)}"
    return type(public_key).__name__


def signing_algorithm(public_key: object) -> str | None:
    """RS256 for RSA >= 2048 bits, ES256 for P-256; None for anything we will not sign with."""
    if unusable_key_reason(public_key) is not None:
        return None
    return "RS256" if isinstance(public_key, rsa.RSAPublicKey) else "ES256"


def unusable_key_reason(public_key: object) -> str | None:
    """Why a key must never sign or be published, or None when it is fit."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            return "RSA keys need 2048 bits or more"
        if has_roca_fingerprint(public_key.public_numbers().n):
            return (
                "it has the ROCA fingerprint (CVE-2017-15361): its private key can be "
                "computed from the public key; replace it with a key from a fixed generator"
            )
        return None
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ec.SECP256R1):
            return "of EC keys only P-256 signs (ES256)"
        return None
    return "only RSA (2048 bits or more) and EC P-256 keys sign"


def keys_match(private_key: PrivateKey, certificate: x509.Certificate) -> bool:
    """The private key is the one the certificate's public key belongs to."""
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    mine = private_key.public_key().public_bytes(der, spki)
    return mine == certificate.public_key().public_bytes(der, spki)


def generate_private_key(key_type: KeyType, *, rsa_bits: int = 2048) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    return ec.generate_private_key(ec.SECP256R1())


def create_self_signed(
    private_key: PrivateKey,
    *,
    subject: x509.Name,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    """A self-signed certificate fit for JWT signing (digital signature only)."""
    public_key = private_key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(private_key, hashes.SHA256())
    )


def parse_subject(text: str) -> x509.Name:
    """`CN=signing, O=Example` or a bare common name."""
    if "=" not in text:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])
    return x509.Name.from_rfc4514_string(re.sub(r"(?<!\\),\s+", ",", text.strip()))


def pkcs12_bytes(
    private_key: PrivateKey, certificate: x509.Certificate, *, password: bytes | None
) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    name = (common_name(certificate) or "tokenidp").encode()
    return pkcs12.serialize_key_and_certificates(name, private_key, certificate, None, encryption)


def pem_bytes(private_key: PrivateKey, certificate: x509.Certificate) -> bytes:
    """Certificate then unencrypted PKCS#8 key: the store's `.pem` layout."""
    return certificate.public_bytes(serialization.Encoding.PEM) + private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _curve_name(curve: ec.EllipticCurve) -> str:
    return {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(
        curve.name, curve.name
    )
