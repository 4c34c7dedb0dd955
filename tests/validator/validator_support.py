"""Test support for the validator: signers with certificates, a token minter, a JWKS server."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

ISSUER = "https://id.example.test"
AUDIENCE = "orders-api"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def _int_b64url(number: int, length: int | None = None) -> str:
    length = length or (number.bit_length() + 7) // 8
    return b64url(number.to_bytes(length, "big"))


@dataclass(frozen=True)
class Signer:
    """A private key with its self-signed certificate, kid and public JWK, as the IdP has."""

    private_key: Any
    certificate: x509.Certificate
    alg: str

    @property
    def kid(self) -> str:
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self, **overrides: Any) -> dict[str, Any]:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        numbers = self.private_key.public_key().public_numbers()
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            entry = {"kty": "RSA", "n": _int_b64url(numbers.n), "e": _int_b64url(numbers.e)}
        else:
            entry = {
                "kty": "EC",
                "crv": "P-256",
                "x": _int_b64url(numbers.x, 32),
                "y": _int_b64url(numbers.y, 32),
            }
        entry.update(
            use="sig",
            alg=self.alg,
            kid=self.kid,
            x5t=b64url(hashlib.sha1(der).digest()),
            **{"x5t#S256": b64url(hashlib.sha256(der).digest())},
            x5c=[base64.b64encode(der).decode()],
        )
        entry.update(overrides)
        return entry

    def sign(self, signing_input: bytes) -> bytes:
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return self.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        r, s = decode_dss_signature(self.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


# Nemec et al., "The Return of Coppersmith's Attack" (ACM CCS 2017), Table 1: for 2048-bit
# keys the flawed generator (CVE-2017-15361) uses M = the product of the first 126 primes.
def make_signer(private_key: Any, alg: str, name: str) -> Signer:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(private_key, hashes.SHA256())
    )
    return Signer(private_key=private_key, certificate=certificate, alg=alg)


@dataclass
class JWKSStub:
    """What the loopback JWKS server serves; tests change it between requests."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    cache_control: str | None = "public, max-age=300"
    mode: str = "ok"  # ok | unavailable (503) | garbage (200, not JSON)
    delay_seconds: float = 0.0
    requests: list[dict[str, str]] = field(default_factory=list)

    def body(self) -> bytes:
        return json.dumps({"keys": self.keys}, sort_keys=True, separators=(",", ":")).encode()

    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body()).hexdigest()[:32] + '"'

    @property
    def fetch_count(self) -> int:
        return len(self.requests)


class _JWKSHandler(http.server.BaseHTTPRequestHandler):
    stub: JWKSStub

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        stub = self.server.stub  # type: ignore[attr-defined]
        stub.requests.append(dict(self.headers))
        if stub.delay_seconds:
            time.sleep(stub.delay_seconds)
        if stub.mode == "unavailable":
            self._send(503, b"upstream unavailable", {"Content-Type": "text/plain"})
            return
        if stub.mode == "garbage":
            self._send(200, b"<html>oops</html>", {"Content-Type": "application/json"})
            return
        headers = {"Content-Type": "application/json", "ETag": stub.etag()}
        if stub.cache_control is not None:
            headers["Cache-Control"] = stub.cache_control
        if self.headers.get("If-None-Match") == stub.etag():
            self._send(304, b"", headers)
            return
        self._send(200, stub.body(), headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class JWKSServer:
    """A real HTTP server on 127.0.0.1, in a thread; `stop()` makes it refuse connections."""

    def __init__(self, stub: JWKSStub) -> None:
        self.stub = stub
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JWKSHandler)
        self._server.daemon_threads = True
        self._server.stub = stub  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self._server.shutdown()
            self._server.server_close()
            self.running = False


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def default_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "client-42",
        "client_id": "client-42",
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "scope": "orders.read orders.write",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def mint_token(
    signer: Signer,
    *,
    claims: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
) -> str:
    """Sign by hand: header and payload as given, so tests can forge anything."""
    full_header = {"alg": signer.alg, "kid": signer.kid, "typ": "at+jwt"}
    full_header.update(header or {})
    full_header = {name: value for name, value in full_header.items() if value is not None}
    signing_input = f"{b64url_json(full_header)}.{b64url_json(claims or default_claims())}"
    return f"{signing_input}.{b64url(signer.sign(signing_input.encode()))}"
